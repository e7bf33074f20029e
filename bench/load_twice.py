"""The job's load, twice in one Spark application, for bench/benchmark.py.

    spark-submit bench/load_twice.py TRAIN_IMAGES TRAIN_LABELS TEST_IMAGES TEST_LABELS

The first load is what a run pays (the JVM's and the Python workers' first jobs included); the
second, in the now warm JVM, is what parsing and checking the files cost. Prints one JSON line.
"""

import json
import sys
import time

from rddnet.inputs.csv_input import load_data_set
from rddnet.spark_setup import start_spark


def load(sc, train_images, train_labels, test_images, test_labels):
    """Seconds to load both sets as main_task.py does; the cached blocks are dropped after."""
    started = time.perf_counter()
    train = load_data_set(sc, train_images, train_labels, 1024, "auto")
    test = load_data_set(sc, test_images, test_labels, 1024, train.scaling, n_classes=train.classes, width=train.width)
    seconds = time.perf_counter() - started
    train.cached.unpersist()
    test.cached.unpersist()
    return seconds


def main(paths):
    sc = start_spark()
    try:
        print(json.dumps({"first": load(sc, *paths), "second": load(sc, *paths)}))
    finally:
        sc.stop()


if __name__ == "__main__":
    main(sys.argv[1:5])
