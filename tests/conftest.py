"""Shared fixtures: one local[2] SparkContext per test session, small data sets, spark-submit."""

import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# Spark's Python workers must run this interpreter (the one with NumPy), and bind to loopback.
os.environ["PYSPARK_PYTHON"] = sys.executable
os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

import generate_data  # noqa: E402

FILES = ("mnist_images_train.csv", "mnist_labels_train.csv", "mnist_images_test.csv", "mnist_labels_test.csv")
SMALL_TRAIN, SMALL_TEST = 3000, 1000


@pytest.fixture(scope="session")
def sc():
    from pyspark import SparkConf, SparkContext
    conf = (SparkConf().setMaster("local[2]").setAppName("tests")
            .set("spark.ui.enabled", "false").set("spark.ui.showConsoleProgress", "false")
            .set("spark.executorEnv.OPENBLAS_NUM_THREADS", "1"))
    context = SparkContext(conf=conf)
    context.setLogLevel("ERROR")
    for module in ("nn_math.py", "main_task.py"):
        context.addPyFile(os.path.join(ROOT, module))
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


def load_csv(images_path, labels_path):
    """Independent reader for the compact format: X (n, 784) in [0, 1], labels (n,).

    X holds float32 values widened to float64, as the job's cached blocks do.
    """
    X = (np.loadtxt(images_path, delimiter=",") / 255.0).astype(np.float32).astype(np.float64)
    return X, np.loadtxt(labels_path, dtype=np.int64)


def spark_submit(*args, timeout=600):
    """Run ``spark-submit --master local[2] main_task.py ARGS``; returns the CompletedProcess."""
    launcher = os.path.join(os.path.dirname(sys.executable), "spark-submit")
    if not os.path.exists(launcher):
        import pyspark
        launcher = os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit")
    command = [launcher, "--master", "local[2]", os.path.join(ROOT, "main_task.py"), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def read_output(folder, name):
    """The lines of a Spark text output folder (all part files, in order)."""
    parts = sorted(p for p in os.listdir(os.path.join(folder, name)) if p.startswith("part-"))
    lines = []
    for part in parts:
        with open(os.path.join(folder, name, part)) as f:
            lines.extend(line.rstrip("\n") for line in f)
    return lines
