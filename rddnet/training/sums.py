"""What the executors add up: an epoch's Sums (error, correct predictions, rows, gradient) and
the validation rows' ValidationSums (error, correct predictions, rows), each added with its
rounding error carried so that a total does not depend on how the rows were split into blocks
and partitions."""

from typing import NamedTuple

import numpy as np

import nn_math


class Sums(NamedTuple):
    """What a block, a partition or a whole epoch adds up.

    vector: the gradient dE/dtheta (data-parallel), or rows x the packed theta and moments a
    partition ends with (model averaging; optimizers.Optimizer.pack). error_lo and vector_lo carry
    the rounding errors of adding blocks and partitions (see combine).
    """

    error: float
    correct: int
    rows: int
    vector: np.ndarray
    error_lo: float = 0.0
    vector_lo: object = 0.0
    validation: object = None  # the ValidationSums of the held-out rows, measured in the same job
    counts: object = None  # rows per class (k,) int64, with class weights: their total weight is exact

    def weight(self, class_weights=None):
        """The rows' total weight: their number, or with class weights (k,), sum_c n_c w_c."""
        return self.rows if class_weights is None else float(self.counts @ class_weights)

    def combine(self, other):
        """The sum, keeping the rounding error of every addition: of two blocks' sums within a
        partition, and of two partitions' across them.

        treeAggregate combines partitions in whatever order their results arrive, and which
        blocks share a partition depends on how the input was split; with the error carried
        (nn_math.two_sum) the total depends on neither, so a run repeats bit for bit, on any
        partitioning.
        """
        error, error_lo = nn_math.two_sum(self.error, other.error)
        vector, vector_lo = nn_math.two_sum(self.vector, other.vector)
        counts = None if self.counts is None else self.counts + other.counts
        return Sums(error, self.correct + other.correct, self.rows + other.rows, vector,
                    self.error_lo + other.error_lo + error_lo, self.vector_lo + other.vector_lo + vector_lo,
                    combine_sums(self.validation, other.validation), counts)

    def mean_error(self, class_weights=None):
        """The error per row, or per unit of weight with class weights (scikit-learn's convention)."""
        return (self.error + self.error_lo) / self.weight(class_weights)

    def mean_vector(self, class_weights=None):
        return (self.vector + self.vector_lo) / self.weight(class_weights)


class ValidationSums(NamedTuple):
    """What the validation rows add up to at one set of weights: the (unweighted) error E and its
    rounding error, the rows predicted right, the rows."""

    error: float
    correct: int
    rows: int
    error_lo: float = 0.0

    def combine(self, other):
        """The sum, with the rounding error carried (as Sums.combine): the same on any split."""
        error, error_lo = nn_math.two_sum(self.error, other.error)
        return ValidationSums(error, self.correct + other.correct, self.rows + other.rows,
                    self.error_lo + other.error_lo + error_lo)

    def cost(self):
        return (self.error + self.error_lo) / self.rows

    def accuracy(self):
        return self.correct / self.rows


def combine_sums(a, b):
    """treeAggregate's seqOp and combOp: blocks into a partition's sum, partitions' sums into the
    total. None is the empty sum."""
    if a is None or b is None:
        return b if a is None else a
    return a.combine(b)
