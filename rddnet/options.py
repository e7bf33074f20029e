"""Command-line parsing shared by the job's scripts: a parser whose mistakes are one line, and
option types that check a value as they parse it."""

import argparse
import sys

from rddnet.errors import EXIT_BAD_INPUT, exit_codes, tell_user


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a mistake is one line on the user's stderr (not the whole usage) and exit code
    2, and --help ends with the exit codes (``codes``: errors.exit_codes's)."""

    def __init__(self, codes=exit_codes(), **kwargs):
        super().__init__(epilog=codes, **kwargs)

    def error(self, message):
        tell_user(f"{self.prog}: error: {message} (see --help)")
        sys.exit(EXIT_BAD_INPUT)


def checked(convert, ok, wanted):
    """An argparse type: convert the text, then require ok(value)."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value
    return parse


positive = checked(float, lambda v: 0 < v < float("inf"), "a number > 0")
at_least_zero = checked(float, lambda v: 0 <= v < float("inf"), "a number >= 0")
count = checked(int, lambda v: v >= 1, "an integer >= 1")
whole = checked(int, lambda v: v >= 0, "an integer >= 0")
rate = checked(float, lambda v: 0 <= v < 1, "a number in [0, 1)")
label_column = checked(lambda text: int(text) if text.isdigit() else text, lambda v: v != "" and v != 0,
                       "first, last, a column number >= 1 or a column's name")
_listed = checked(lambda text: [name.strip() for name in text.split(",")], lambda v: all(v),
                  "column names like pixels or x1,x2,x3")


def names(text):
    """An argparse type: comma-separated column names, each named once."""
    listed = _listed(text)
    twice = next((name for i, name in enumerate(listed) if name in listed[:i]), None)
    if twice is not None:
        raise argparse.ArgumentTypeError(f"{twice!r} is named twice in {text!r}")
    return listed


layers = checked(lambda text: [int(n) for n in text.split(",")], lambda v: min(v) >= 1, "sizes >= 1 like 64 or 256,128")
_weights = checked(lambda text: "balanced" if text == "balanced" else [float(w) for w in text.split(",")],
                   lambda v: v == "balanced" or all(0 <= w < float("inf") for w in v),
                   "balanced, or one weight >= 0 per class like 1,1,5")


def class_weight(text):
    """An argparse type: "balanced", or one weight >= 0 per class, not all of them 0."""
    weights = _weights(text)
    if weights != "balanced" and not any(weights):
        raise argparse.ArgumentTypeError(f"every weight of {text!r} is 0: no class would be trained on; give at "
                                         "least one weight > 0")
    return weights
