"""A script's run: in a SparkContext of its own (spark_setup.py), stopped cleanly by Ctrl-C or
SIGTERM (Spark's jobs cancelled, clean-ups run to their end, one line, exit 130 or 143), its
failures as one line on the user's stderr and an exit code."""

import logging
import os
import signal
import threading
from functools import partial

from rddnet.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED, tell_user, user_stderr
from rddnet.spark_setup import silence_spark_logs, start_spark


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
        for failure, (code, message) in failures.items():
            if isinstance(e, failure):
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
