"""What one Spark job costs with no work in it, for bench/benchmark.py.

    spark-submit bench/empty_jobs.py

Over a cached RDD of one element per core, in a warm application: the median seconds of a job
that runs only in the JVM (count), and of the smallest job shaped like an epoch: broadcast a
vector the size of the default network's weights, run a Python task per core that reads its
partition and the broadcast, treeAggregate the results. Prints one JSON line.
"""

import json
import statistics
import time

import numpy as np

from rddnet.spark_setup import start_spark

WARM_UP, TIMED = 10, 30
THETA_SIZE = 784 * 64 + 64 + 64 * 10 + 10  # the default 784-64-10 network's weights and biases


def median_seconds(job):
    """Median seconds of ``job()`` over TIMED runs, after WARM_UP untimed ones."""
    seconds = []
    for i in range(WARM_UP + TIMED):
        started = time.perf_counter()
        job()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds[WARM_UP:])


def empty_epoch(sc, rdd, theta):
    """An epoch's shape with no work: broadcast, a Python task per partition, treeAggregate."""
    theta_bc = sc.broadcast(theta)
    try:
        rdd.mapPartitions(lambda rows: [len(theta_bc.value) + sum(1 for _ in rows)]).treeAggregate(
            0, lambda a, x: a + x, lambda a, b: a + b)
    finally:
        theta_bc.destroy()


def main():
    sc = start_spark()
    try:
        cores = sc.defaultParallelism
        python_rdd = sc.parallelize(range(cores), cores).cache()
        python_rdd.count()
        jvm_rdd = sc._jsc.parallelize(sc._jvm.java.util.ArrayList(list(range(cores))), cores).cache()
        jvm_rdd.count()
        theta = np.zeros(THETA_SIZE, dtype=np.float32)
        print(json.dumps({"jvm": median_seconds(jvm_rdd.count),
                          "python": median_seconds(lambda: empty_epoch(sc, python_rdd, theta))}))
    finally:
        sc.stop()


if __name__ == "__main__":
    main()
