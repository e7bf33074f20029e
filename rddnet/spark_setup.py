"""The job's SparkContext: for the master spark-submit chose, quiet, one BLAS thread per Python
worker, and with the job's code shipped to the executors (shipping.py), so it runs on any cluster
from any working directory; and a script's run inside one, its failures as one line and an exit code."""

import logging
import os
import signal
import threading
from functools import partial

from rddnet.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED, tell_user, user_stderr
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
    for var in BLAS_THREAD_VARS:
        # one BLAS thread per Python worker: Spark already runs one worker per core
        conf.setIfMissing(f"spark.executorEnv.{var}", "1")
    sc = SparkContext(conf=conf)
    ship_code(sc)
    return sc


class Stopped(BaseException):
    """SIGINT or SIGTERM arrived: the run stops, each finally block cleaning up after it."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_signals = []  # the signals received
_stopping = []  # not empty once the run is stopping: Stopped was raised, or the run is ending anyway


def interrupted():
    """The signal that stopped this run, or None."""
    return _signals[0] if _signals else None


_uninterrupted = set()  # the code of functions a signal must not stop midway


def uninterrupted(function):
    """A decorator for a clean-up that must run to its end (publishing OUTPUT_DIR, removing a
    staging folder): a signal that arrives while it runs stops the run once it has returned."""
    _uninterrupted.add(function.__code__)
    return function


def in_java_call(frame):
    """True if the main thread, at ``frame``, waits on a call into the JVM (py4j)."""
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith("py4j"):
            return True
        frame = frame.f_back
    return False


def in_clean_up(frame):
    """True if the main thread, at ``frame``, runs a function marked uninterrupted."""
    while frame is not None:
        if frame.f_code in _uninterrupted:
            return True
        frame = frame.f_back
    return False


def cancel_jobs(sc):
    try:
        sc.cancelAllJobs()
    except Exception:  # the JVM already going
        pass


def stop_on_signals(sc=None):
    """SIGINT (Ctrl-C) and SIGTERM stop the run: Spark's jobs are cancelled, and Stopped is raised
    in the main thread once it is not waiting on the JVM (a call cut off mid-way leaves py4j's
    connection, and the JVM thread behind it, in a state that fails the SparkContext's stop with
    Java traces) nor running a clean-up marked uninterrupted. A cancelled job's call ends at once,
    with an error the caller turns into Stopped.

    PySpark's own SIGINT handler raises at once, whatever the main thread is doing.
    """
    def handler(signum, frame):
        if not _signals:
            _signals.append(signum)
            logging.getLogger("py4j").setLevel(logging.CRITICAL)  # no connection errors on the way out
            # At once, before the context stops under running tasks: from a thread, as the main
            # thread's py4j connection may be busy.
            threading.Thread(target=silence_spark_logs, daemon=True).start()
        if _stopping:  # Stopped once is enough: a second one would cut the clean-up short
            return
        if not in_java_call(frame) and not in_clean_up(frame):
            _stopping.append(signum)
            raise Stopped(_signals[0])
        # Cancel the jobs again at every look: a call into the JVM may have started the next one.
        if sc is not None:  # from a thread of its own: py4j gives each thread its own connection, and
            threading.Thread(target=cancel_jobs, args=(sc,), daemon=True).start()  # this one's is busy
        signal.setitimer(signal.ITIMER_REAL, 0.2)  # look again soon (SIGALRM)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):
        signal.signal(signum, handler)


def leave_ctrl_c_to_python():
    """Under spark-submit, from a terminal: the JVM ignores SIGINT, so that Ctrl-C stops the run
    from here, cleanly (the JVM ends when this script does). Otherwise Ctrl-C reaches the JVM too,
    whose shutdown stops the SparkContext under a running job with pages of Java traces."""
    from pyspark import SparkContext
    if not os.environ.get("PYSPARK_GATEWAY_PORT") or os.getpgrp() != os.getpgid(os.getppid()):
        return
    try:
        SparkContext._ensure_initialized()
        jvm = SparkContext._jvm
        jvm.sun.misc.Signal.handle(jvm.sun.misc.Signal("INT"), jvm.sun.misc.SignalHandler.SIG_IGN)
    except Exception:  # a JVM without sun.misc.Signal: Ctrl-C still stops the run, less quietly
        pass


def run_with_spark(prog, run, args, failures):
    """run(sc, args, log) in a SparkContext of its own; the exit code: EXIT_OK, or for an exception
    of a type in ``failures`` ({type: (exit code, its message)}) that code and one line on the
    user's stderr. Ctrl-C and SIGTERM stop it with one line and exit codes 130 and 143."""
    user_stderr()  # opened while the JVM is alive: an interrupted run may outlive it
    _signals.clear()  # a run of its own, in a process (a notebook, a test) that may have run others
    _stopping.clear()
    stop_on_signals()
    leave_ctrl_c_to_python()
    sc = None
    try:
        sc = start_spark()
        stop_on_signals(sc)  # again: the SparkContext installs a SIGINT handler of its own
        run(sc, args, log=partial(print, flush=True))
        _stopping.append(None)
        return EXIT_OK
    except BaseException as e:
        _stopping.append(None)  # whatever ended the run, a signal now changes nothing but the exit code
        if interrupted():  # whatever the signal's cancelled job or cut-off call raised
            return stopped(prog, interrupted())
        for kind, (code, message) in failures.items():
            if isinstance(e, kind):
                tell_user(f"{prog}: error: {message(e)}")
                return code
        raise
    finally:
        _stopping.append(None)
        signal.setitimer(signal.ITIMER_REAL, 0)
        if interrupted():
            silence_spark_logs()
        if sc is not None:
            try:
                sc.stop()
            except Exception:
                if not interrupted():
                    raise


def stopped(prog, signum):
    """One line for a run stopped by a signal, and its exit code."""
    name = "interrupted" if signum == signal.SIGINT else "terminated"
    tell_user(f"{prog}: {name} ({signal.Signals(signum).name})")
    return EXIT_INTERRUPTED if signum == signal.SIGINT else EXIT_TERMINATED
