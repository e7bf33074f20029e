"""Shared fixtures: one local[2] SparkContext per test session, small data sets, spark-submit."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Spark's Python workers must run this interpreter (the one with NumPy), and bind to loopback.
os.environ["PYSPARK_PYTHON"] = sys.executable
os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

import generate_data  # noqa: E402
from rddnet import shipping  # noqa: E402

FILES = ("mnist_images_train.csv", "mnist_labels_train.csv", "mnist_images_test.csv", "mnist_labels_test.csv")
SMALL_TRAIN, SMALL_TEST = 3000, 1000


@pytest.fixture(scope="session")
def sc(tmp_path_factory):
    from pyspark import SparkConf, SparkContext
    conf = (SparkConf().setMaster("local[2]").setAppName("tests")
            .set("spark.ui.enabled", "false").set("spark.ui.showConsoleProgress", "false")
            .set("spark.executorEnv.OPENBLAS_NUM_THREADS", "1")
            .set("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("warehouse"))))  # not in the checkout
    context = SparkContext(conf=conf)
    context.setLogLevel("ERROR")
    shipping.ship_code(context)
    yield context
    context.stop()


def write_data(folder, *args):
    """Run generate_data.py into ``folder``; returns the four paths in command-line order."""
    assert generate_data.main(["--out", str(folder), *args]) == 0
    return [os.path.join(folder, name) for name in FILES]


@pytest.fixture(scope="session")
def small_compact(tmp_path_factory):
    """The first 3000 training and 1000 test rows of MNIST, compact format."""
    return write_data(tmp_path_factory.mktemp("compact"), "--limit-train", str(SMALL_TRAIN),
                      "--limit-test", str(SMALL_TEST))


@pytest.fixture(scope="session")
def small_seed(tmp_path_factory):
    """The same rows in the original tutorial's layout (floats, one-hot labels)."""
    return write_data(tmp_path_factory.mktemp("seed"), "--format", "seed", "--limit-train", str(SMALL_TRAIN),
                      "--limit-test", str(SMALL_TEST))


def load(sc, images, labels, block_size, scale="auto", **options):
    """csv_input.load_data_set, scaled as the job scales a training set (--scale ``scale``)."""
    from rddnet.inputs import csv_input
    return csv_input.load_data_set(sc, images, labels, block_size, scale, **options)


def inputs_of(blocks, data):
    """The network inputs of a list of blocks of ``data``, rows in block order."""
    return np.concatenate([b.inputs(data.scaling) for b in blocks])


def load_csv(images_path, labels_path):
    """Independent reader for the compact format: X (n, 784) float64 in [0, 1], labels (n,)."""
    X = np.loadtxt(images_path, delimiter=",") / 255.0
    return X, np.loadtxt(labels_path, dtype=np.int64)


def spark_home():
    import pyspark
    return os.path.dirname(pyspark.__file__)


def submit_command(*args, master="local[2]", script="main_task.py", conf=None):
    """The spark-submit command line for a script of this project; ``conf``: {Spark setting: value}."""
    # Without Spark's web UI: nothing here looks at it, and runs side by side would contend for its port.
    conf = {"spark.ui.enabled": "false", **(conf or {})}
    settings = [item for key, value in conf.items() for item in ("--conf", f"{key}={value}")]
    return [os.path.join(spark_home(), "bin", "spark-submit"), "--master", master, *settings,
            os.path.join(ROOT, script), *map(str, args)]


def spark_submit(*args, master="local[2]", script="main_task.py", timeout=600):
    """Run ``spark-submit --master MASTER main_task.py ARGS``; returns the CompletedProcess."""
    return subprocess.run(submit_command(*args, master=master, script=script), capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(condition, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            if condition():
                return
        time.sleep(0.5)
    raise TimeoutError(f"gave up waiting for {what}")


@contextlib.contextmanager
def standalone_cluster(folder, workers=2):
    """A Spark standalone master and ``workers`` one-core workers on 127.0.0.1, started with
    spark-class and stopped afterwards. Yields (master URL, {worker number: Popen})."""
    # The daemons and the executors they start compile with the JVM's quick compiler only, as
    # spark-submit does here (SPARK_SUBMIT_OPTS): on two cores, the optimising compiler's threads
    # take the time of the Python workers and the tests around.
    quick = "-XX:TieredStopAtLevel=1"
    env = dict(os.environ, SPARK_HOME=spark_home(), SPARK_LOCAL_IP="127.0.0.1", SPARK_WORKER_DIR=str(folder),
               SPARK_NO_DAEMONIZE="1", SPARK_DAEMON_JAVA_OPTS=quick,
               SPARK_WORKER_OPTS=f"-Dspark.executor.extraJavaOptions={quick}")
    spark_class = os.path.join(spark_home(), "bin", "spark-class")
    port, web = free_port(), free_port()
    processes = {}

    def start(name, *command):
        log = open(os.path.join(folder, f"{name}.log"), "w")
        processes[name] = subprocess.Popen([spark_class, *command], env=env, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True)

    def alive_workers():
        with urllib.request.urlopen(f"http://127.0.0.1:{web}/json/", timeout=2) as answer:
            return json.load(answer)["aliveworkers"]

    try:
        start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
              "--webui-port", str(web))
        url = f"spark://127.0.0.1:{port}"
        for i in range(workers):  # started beside the master: a worker retries until it is up
            start(i, "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1", "--cores", "1",
                  "--memory", "1g", "--webui-port", str(free_port()), "--work-dir", str(folder))
        _wait_for(lambda: alive_workers() == workers, f"{workers} standalone workers")
        yield url, {i: processes[i] for i in range(workers)}
    finally:
        for process in processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def read_output(folder, name):
    """The lines of a Spark text output folder (all part files, in order)."""
    parts = sorted(p for p in os.listdir(os.path.join(folder, name)) if p.startswith("part-"))
    lines = []
    for part in parts:
        with open(os.path.join(folder, name, part)) as f:
            lines.extend(line.rstrip("\n") for line in f)
    return lines


def wine_like(rows=178, features=13, classes=3, seed=7):
    """(X (rows, features), classes (rows,), column names): measurements on scales of their own in
    overlapping classes, as scikit-learn's wine data has them (seeded Gaussian clusters, so that
    Spark 3.5's environment, which has no scikit-learn, runs the same tests)."""
    rng = np.random.default_rng(seed)
    target = rng.integers(0, classes, rows)
    X = (rng.normal(size=(classes, features))[target] + 0.8 * rng.normal(size=(rows, features))) \
        * rng.uniform(0.5, 50, features) + 10
    return X, target, [f"m{j}" for j in range(features)]
