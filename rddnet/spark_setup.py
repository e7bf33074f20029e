"""The job's SparkContext: for the master spark-submit chose, quiet, one BLAS thread per Python
worker, and with the job's code shipped to the executors (shipping.py), so it runs on any cluster
from any working directory. script_run.py runs a script inside one."""


from rddnet.shipping import ship_code

BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

# The driver JVM's loggers that report a task's failure: when Ctrl-C reaches the Python workers
# too, their tasks fail while the run stops, with Java traces that race the job's own one line.
# Nothing is lost in a run that fails: the failed job's error reaches the driver, which says what
# was wrong in one line (or, for a fault of the job's own, with the trace). On a cluster, the
# executors keep their own logs. The scheduler's own lines stay (a lost executor is worth a line);
# those of a stopping context come after silence_spark_logs, which a signal calls first.
QUIET_LOGGERS = ("org.apache.spark.executor.Executor", "org.apache.spark.scheduler.TaskSetManager",
                 "org.apache.spark.api.python.PythonRunner", "org.apache.spark.internal.io.SparkHadoopWriter",
                 "org.apache.spark.sql.execution.datasources.FileFormatWriter")


def quiet_spark_logs(conf):
    """Keep Spark's INFO lines off the console from the first line (WARN and above still show),
    and the failed tasks' lines of a run that stops (QUIET_LOGGERS) off it altogether.

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
        # A local file's .crc that is not a checksum file is passed over (the file is read
        # unchecked), with a Java trace per read of the file.
        log4j.core.config.Configurator.setLevel("org.apache.hadoop.fs.FSInputChecker", log4j.Level.ERROR)
        for name in QUIET_LOGGERS:
            log4j.core.config.Configurator.setLevel(name, log4j.Level.OFF)
    except Exception:  # cosmetic only: fall back to sc.setLogLevel once the context is up
        conf.set("spark.log.level", "WARN")


def silence_spark_logs():
    """No more lines from the driver JVM's loggers: the run is stopping on a signal, and its
    shutdown (the SparkContext stopped under running tasks) is not the user's concern."""
    from pyspark import SparkContext
    try:
        log4j = SparkContext._jvm.org.apache.logging.log4j
        log4j.core.config.Configurator.setRootLevel(log4j.Level.OFF)
        log4j.core.config.Configurator.setLevel("org.apache.spark", log4j.Level.OFF)
    except Exception:  # no JVM yet, or already gone
        pass


def start_spark():
    """A SparkContext for the master spark-submit chose, with this job's modules shipped to executors."""
    from pyspark import SparkConf, SparkContext
    SparkContext._ensure_initialized()
    conf = SparkConf().setAppName("mnist-mlp-rdd")
    quiet_spark_logs(conf)
    conf.setIfMissing("spark.ui.showConsoleProgress", "false")
    # Spark's Parquet and ORC readers decode 4,096 rows at a time; rows of hundreds of values (a
    # table file read in pieces, inputs/pieces.py) then need vectors of tens of MB each, which a
    # local run's 1 GB heap fails to find room for now and then. 1,024 rows cost no measurable time.
    for reader in ("parquet", "orc"):
        conf.setIfMissing(f"spark.sql.{reader}.columnarReaderBatchSize", "1024")
    for var in BLAS_THREAD_VARS:
        # one BLAS thread per Python worker: Spark already runs one worker per core
        conf.setIfMissing(f"spark.executorEnv.{var}", "1")
    sc = SparkContext(conf=conf)
    ship_code(sc)
    return sc
