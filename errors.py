"""How the job stops early: a user mistake or a diverged run, each reported in one line.

Exit codes: 0 done, 2 a user mistake (bad file, bad option, existing output), 3 diverged.
"""

EXIT_OK, EXIT_BAD_INPUT, EXIT_DIVERGED = 0, 2, 3


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
