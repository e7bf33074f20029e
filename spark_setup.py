"""The job's SparkContext: for the master spark-submit chose, quiet, one BLAS thread per Python
worker, and with the helper modules shipped to the executors, so it runs on any cluster from any
working directory; and a script's run inside one, its failures as one line and an exit code."""

import importlib
import os
import sys
from functools import partial

from errors import EXIT_OK

BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# What the executors import: shipped with the job.
HELPER_MODULES = ("errors", "nn_math", "hadoop_fs", "scaling", "data_io", "run_settings", "executor_tasks", "saved")


def quiet_spark_logs(conf):
    """Keep Spark's INFO lines off the console from the first line (WARN and above still show).

    spark-submit resets logging before the script runs and Spark would load its INFO
    defaults when the context starts, so initialise them now and lower the level.
    An explicit --conf spark.log.level wins.
    """
    from pyspark import SparkContext
    if conf.contains("spark.log.level"):
        return
    try:
        jvm = SparkContext._jvm
        getattr(getattr(jvm.org.apache.spark.util, "Utils$"), "MODULE$").initializeLogIfNecessary(False, True)
        log4j = jvm.org.apache.logging.log4j
        log4j.core.config.Configurator.setRootLevel(log4j.Level.WARN)
        log4j.core.config.Configurator.setLevel("org.apache.hadoop.util.NativeCodeLoader", log4j.Level.ERROR)
    except Exception:  # cosmetic only: fall back to sc.setLogLevel once the context is up
        conf.set("spark.log.level", "WARN")


def ship_helper_modules(sc):
    """Send the helper modules to the executors, from wherever this driver imported them
    (from a --py-files zip they are on the executors already)."""
    for name in HELPER_MODULES:
        path = importlib.import_module(name).__file__
        if os.path.isfile(path):
            sc.addPyFile(path)


def start_spark():
    """A SparkContext for the master spark-submit chose, with this job's modules shipped to executors."""
    from pyspark import SparkConf, SparkContext
    SparkContext._ensure_initialized()
    conf = SparkConf().setAppName("mnist-mlp-rdd")
    quiet_spark_logs(conf)
    conf.setIfMissing("spark.ui.showConsoleProgress", "false")
    for var in BLAS_THREAD_VARS:
        # one BLAS thread per Python worker: Spark already runs one worker per core
        conf.setIfMissing(f"spark.executorEnv.{var}", "1")
    sc = SparkContext(conf=conf)
    ship_helper_modules(sc)
    return sc


def run_with_spark(prog, run, args, failures):
    """run(sc, args, log) in a SparkContext of its own; the exit code: EXIT_OK, or for an exception
    of a type in ``failures`` ({type: (exit code, its message)}) that code and one line on stderr."""
    sc = start_spark()
    try:
        run(sc, args, log=partial(print, flush=True))
        return EXIT_OK
    except tuple(failures) as e:
        code, message = next(failures[kind] for kind in failures if isinstance(e, kind))
        print(f"{prog}: error: {message(e)}", file=sys.stderr)
        return code
    finally:
        sc.stop()
