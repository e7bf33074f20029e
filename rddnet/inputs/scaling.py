"""Input scaling: the statistics of the training features, and the map from a file's raw values
to the network's inputs, x' = (x - shift) / divisor. NumPy only.

    pixels:       shift 0, divisor 255 (integers 0-255) or 1 (values already in [0, 1])
    standardize:  shift = the mean of each feature, divisor = its standard deviation (1 where 0)
    none:         shift 0, divisor 1

The statistics come from the pass that parses the training set; the scaling is saved with
the model, so evaluation, predict, a resumed run and the ONNX file scale new data the same way.
"""

from collections import namedtuple

import numpy as np

SCALES = ("pixels", "standardize", "none")

# Features of n rows: per-feature mean and M2 (sum of squared deviations), (d,) each; the
# smallest and largest value; whether every value is a whole number.
Moments = namedtuple("Moments", "n mean M2 low high integers")


def moments_of(X):
    """Moments of a matrix of raw features (n, d)."""
    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=0)
    return Moments(len(X), mean, ((X - mean) ** 2).sum(axis=0), float(X.min()), float(X.max()),
                   bool(np.array_equal(X, np.round(X))))


# Features stored as whole steps k = x * unit (uint8) of n rows, summed exactly: sum k and sum
# k^2 per feature (int64, (d,)), the smallest and largest step, whether every k / unit is a whole
# number, and the unit. Added in any order, they give the same sums to the last bit.
StepSums = namedtuple("StepSums", "n s1 s2 low high whole unit")


def step_sums(steps, unit):
    """The StepSums of whole steps (uint8 k, n x d): integer sums, no float copy of the block."""
    s1 = steps.sum(axis=0, dtype=np.int64)
    squares = steps.astype(np.uint16)
    squares *= squares  # 255 ** 2 fits in 16 bits
    return StepSums(len(steps), s1, squares.sum(axis=0, dtype=np.int64), int(steps.min()), int(steps.max()),
                    unit == 1 or not (steps % unit).any(), unit)


def as_moments(statistics):
    """Moments of StepSums (or of Moments: as they are; None: None)."""
    if not isinstance(statistics, StepSums):
        return statistics
    n, s1, s2, unit = statistics.n, statistics.s1, statistics.s2, statistics.unit
    return Moments(n, s1 / (n * unit), (s2 - s1 * (s1 / n)) / unit ** 2, statistics.low / unit,
                   statistics.high / unit, statistics.whole)


def combine_moments(a, b):
    """The statistics of two sets of rows together: StepSums added exactly; Moments by Chan et
    al.'s parallel update, which rounds by the order it is given (blocks in row order). None is
    empty.
    """
    if a is None or b is None:
        return b if a is None else a
    if isinstance(a, StepSums) and isinstance(b, StepSums):
        return StepSums(a.n + b.n, a.s1 + b.s1, a.s2 + b.s2, min(a.low, b.low), max(a.high, b.high),
                        a.whole and b.whole, a.unit)
    a, b = as_moments(a), as_moments(b)
    n = a.n + b.n
    delta = b.mean - a.mean
    return Moments(n, a.mean + delta * (b.n / n), a.M2 + b.M2 + delta ** 2 * (a.n * b.n / n),
                   min(a.low, b.low), max(a.high, b.high), a.integers and b.integers)


# The two ways a set of values is read as pixels (Scaling.choose's rule), and the values that
# break each: a set is pixels if either holds for every value.
NOT_PIXEL = {"outside [0, 1]": lambda X: (X < 0) | (X > 1),
             "not a whole number in 0-255": lambda X: (X < 0) | (X > 255) | (X != np.round(X))}


def not_pixel_counts(X):
    """{way: (how many values of X (n, d) break NOT_PIXEL's way, (row, column) of the first)}; the
    ways no value breaks are left out."""
    found = {}
    for way, breaks in NOT_PIXEL.items():
        bad = breaks(X)
        if bad.any():
            found[way] = (int(bad.sum()), tuple(int(k) for k in np.argwhere(bad)[0]))
    return found


class Scaling(namedtuple("Scaling", "kind shift divisor")):
    """x' = (x - shift) / divisor; shift and divisor are floats or (d,) arrays."""

    __slots__ = ()

    @classmethod
    def choose(cls, kind, moments):
        """The scaling of ``kind`` ("auto" picks pixels when every value looks like a pixel:
        integers in [0, 255], or values in [0, 1]; standardize otherwise) for training Moments."""
        looks_like_pixels = moments.low >= 0 and (moments.high <= 1 or (moments.integers and moments.high <= 255))
        if kind == "auto":
            kind = "pixels" if looks_like_pixels else "standardize"
        if kind == "pixels":
            return cls("pixels", 0.0, 1.0 if moments.high <= 1 else 255.0)
        if kind == "standardize":
            std = np.sqrt(moments.M2 / moments.n)
            return cls("standardize", moments.mean, np.where(std > 0, std, 1.0))
        return cls("none", 0.0, 1.0)

    @classmethod
    def of(cls, how, moments):
        """The scaling of a data set with features of ``moments``: ``how`` is a kind, chosen from
        the moments (a training set), or a Scaling, used as it is (the training set's, a model's).
        A saved Scaling without its divisor (model files written before the divisor was saved)
        has it chosen from these moments, as those versions did."""
        if isinstance(how, str):
            return cls.choose(how, moments)
        return cls.choose(how.kind, moments) if how.divisor is None else how

    def apply(self, X, dtype=np.float64):
        """Network inputs (n, d) of ``dtype`` from raw features X (n, d), computed in float64."""
        return ((np.asarray(X, dtype=np.float64) - self.shift) / self.divisor).astype(dtype, copy=False)

    def apply_to_steps(self, steps, unit, dtype=np.float64):
        """Network inputs from whole steps (uint8 k = x * unit): one division, correctly rounded in
        ``dtype``, when there is no shift."""
        if np.ndim(self.shift) == 0 and self.shift == 0:
            return np.divide(steps, unit * self.divisor, dtype=dtype)
        return self.apply(steps / unit, dtype)

    def to_json(self):
        return {"kind": self.kind, "shift": np.asarray(self.shift).tolist(),
                "divisor": np.asarray(self.divisor).tolist()}

    @classmethod
    def from_json(cls, data):
        as_values = lambda v: np.array(v, dtype=np.float64) if isinstance(v, list) else float(v)  # noqa: E731
        return cls(data["kind"], as_values(data["shift"]), as_values(data["divisor"]))
