"""How the job stops early: a user mistake or a diverged run, each reported in one line on the
user's stderr.

Exit codes: 0 done, 2 a user mistake (bad file, bad option, existing output), 3 diverged,
130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
"""

import os
import sys

EXIT_OK, EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 2, 3, 130, 143


def exit_codes(diverges=False, signals=True):
    """The exit codes a script returns, for its --help: training's diverge (3); the Spark jobs'
    stop on Ctrl-C and SIGTERM with a line of their own (130, 143)."""
    codes = ["0 done", "2 bad input or options (one line on stderr)"]
    if diverges:
        codes.append("3 training diverged (the outputs are still written)")
    if signals:
        codes += ["130 interrupted (Ctrl-C)", "143 terminated (SIGTERM)"]
    return "exit codes: " + "; ".join(codes)

_stderr = []  # the stream user_stderr() chose, once


def user_stderr():
    """The stream one-line errors go to: the stderr of the command the user ran.

    Under spark-submit this script is a child of the JVM, whose Python runner merges the child's
    stderr into its own stdout, so ``2> err.log`` would catch nothing. There the JVM's own stderr
    is opened (for appending: it may be a file) through /proc, once, while the JVM is alive; it
    stays open for an interrupted run whose JVM is already gone. Elsewhere, sys.stderr.
    """
    if not _stderr:
        stream = None  # sys.stderr, as it is at the time (a test may replace it)
        parent = f"/proc/{os.getppid()}"
        if os.environ.get("PYSPARK_GATEWAY_PORT") and os.path.exists(f"{parent}/fd/2"):  # spark-submit's child
            try:
                with open(f"{parent}/cmdline", "rb") as f:
                    if b"java" in f.read().split(b"\0")[0]:
                        stream = open(f"{parent}/fd/2", "a", buffering=1)
            except OSError:
                pass
        _stderr.append(stream)
    return _stderr[0] or sys.stderr


def tell_user(line):
    """Write one line on the user's stderr (user_stderr), after whatever the job printed so far."""
    try:
        sys.stdout.flush()
    except OSError:  # stdout is a pipe to a JVM that is gone
        pass
    print(line, file=user_stderr(), flush=True)


class DataError(Exception):
    """A user mistake: one line, exit code 2.

    Parsers running in Spark tasks do not let it escape: a failed task would be
    retried and logged with a traceback. They return it as data instead
    (``as_error``), and the driver raises the first one, by line number.
    """

    def __init__(self, message, line=0):
        super().__init__(message)
        self.line = line


class Diverged(Exception):
    """The cost or the weights stopped being finite; training keeps the last finite state."""

    def __init__(self, epoch, what):
        super().__init__(f"training diverged at epoch {epoch}: {what}; lower --lr")
        self.epoch = epoch


def as_error(exc):
    """A DataError as a picklable (line, message) pair."""
    return (exc.line, str(exc))


def first_error(errors):
    """Raise the DataError of the earliest line among (line, message) pairs, if any."""
    errors = [e for e in errors if e is not None]
    if errors:
        line, message = min(errors)
        raise DataError(message, line)
