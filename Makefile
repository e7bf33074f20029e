# make demo: virtual environment, CSVs from the bundled IDX files, a full-MNIST run, plots.
# make test: the test suite on Spark 4 and, side by side with it, what differs between Spark versions on
# Spark 3.5 (what CI runs; tools/run_tests.sh).
VENV   ?= .venv
VENV35 ?= .venv35
PYTHON := $(VENV)/bin/python
MASTER ?= local[2]
DATA   ?= data
OUT    ?= output/demo
ARGS   ?=

# Spark's Python workers must use the environment's interpreter; bind Spark to loopback.
export PYSPARK_PYTHON        := $(abspath $(PYTHON))
export PYSPARK_DRIVER_PYTHON := $(abspath $(PYTHON))
export SPARK_LOCAL_IP        ?= 127.0.0.1

# Faster start-up of every spark-submit run from here (the driver's JVM; docs/benchmarks.md has
# the figures): the classes Spark loads come mapped in from a class-data sharing archive, written
# once by a short run (tools/archive_spark_classes.py), and the JVM compiles with its quick
# compiler only, which on a few cores leaves them to Spark and the Python workers. SPARK_SUBMIT_OPTS=
# on the command line runs without them.
JSA  := $(VENV)/spark-classes.jsa
JAVA := $(or $(wildcard $(JAVA_HOME)/bin/java),$(shell readlink -f "$$(command -v java)" 2>/dev/null))
export SPARK_SUBMIT_OPTS ?= -XX:SharedArchiveFile=$(abspath $(JSA)) -XX:TieredStopAtLevel=1

INPUTS := $(DATA)/mnist_images_train.csv $(DATA)/mnist_labels_train.csv \
          $(DATA)/mnist_images_test.csv $(DATA)/mnist_labels_test.csv

.PHONY: demo test bench notebook venv data zip clean

demo: $(VENV)/.installed $(JSA) $(DATA)/.generated
	$(VENV)/bin/spark-submit --master '$(MASTER)' main_task.py $(INPUTS) $(OUT) --overwrite $(ARGS)
	$(PYTHON) generate_plots.py $(OUT) --test-images $(DATA)/mnist_images_test.csv \
	    --test-labels $(DATA)/mnist_labels_test.csv

test: $(VENV)/.installed $(JSA) $(VENV35)/.installed
	tools/run_tests.sh $(PYTHON) $(VENV35)/bin/python

# Speed and scale, side by side in one run (about 12 minutes): docs/benchmarks.md and .png.
# Keras, the peer it is measured against, goes in a virtual environment of the benchmark's own.
KERAS_VENV := bench/.venv-keras
bench: $(VENV)/.installed $(JSA) $(DATA)/.generated $(KERAS_VENV)/.installed
	$(PYTHON) bench/benchmark.py --out docs

$(KERAS_VENV)/.installed: bench/requirements-keras.txt
	python3 -m venv $(KERAS_VENV)
	$(KERAS_VENV)/bin/pip install --quiet --disable-pip-version-check -r bench/requirements-keras.txt
	touch $@

# The walkthrough: docs/walkthrough.ipynb in JupyterLab (installed into the venv the first time).
notebook: $(VENV)/.installed
	$(VENV)/bin/pip install --quiet --disable-pip-version-check 'jupyterlab>=4,<5'
	$(VENV)/bin/jupyter lab docs/walkthrough.ipynb

venv: $(VENV)/.installed $(JSA)
data: $(DATA)/.generated

# The job's code as one file for a cluster: spark-submit --py-files dist/rddnet.zip (docs/cluster.md).
zip: dist/rddnet.zip
dist/rddnet.zip: $(VENV)/.installed nn_math.py $(shell find rddnet -name '*.py')
	mkdir -p dist
	$(PYTHON) -c 'from rddnet import shipping; shipping.write_zip("$@")'

# The package installed from the checkout (pip install -e .: rddnet and nn_math), with its dependencies.
$(VENV)/.installed: requirements.txt tests/requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt -r tests/requirements.txt -e .
	$(VENV)/bin/python tools/pyspark_from_site_packages.py
	touch $@

$(JSA): $(VENV)/.installed tools/archive_spark_classes.py $(JAVA)
	$(PYTHON) tools/archive_spark_classes.py $@

# Spark 3.5 (Dataproc 2.2 and 2.3) with NumPy 1.x, for the second test run.
# Of the test-only packages it needs pytest alone (its pin is tests/requirements.txt's).
$(VENV35)/.installed: requirements.txt tests/requirements.txt tests/spark35-constraints.txt pyproject.toml
	python3 -m venv $(VENV35)
	$(VENV35)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt -e . \
	    "$$(grep '^pytest' tests/requirements.txt)" -c tests/spark35-constraints.txt
	$(VENV35)/bin/python tools/pyspark_from_site_packages.py
	touch $@

$(DATA)/.generated: $(VENV)/.installed generate_data.py data/train-images-idx3-ubyte.gz
	$(PYTHON) generate_data.py --out $(DATA)
	touch $@

clean:
	rm -rf output dist $(DATA)/*.csv $(DATA)/.generated
