"""Measuring weights on a data set, on the executors: the test set's confusion matrix, the
validation rows' ValidationSums, and the training rows per class (for balanced class weights)."""

from functools import partial
from typing import NamedTuple

import numpy as np

import nn_math
from rddnet import sampling
from rddnet.training.sums import ValidationSums, combine_sums


def validation_sums_of(block, scale, theta_bc, net, rows):
    """The ValidationSums of a block's rows ``rows`` (a mask) at the broadcast weights, or None if it
    has none: one forward pass, no dropout, in the weights' dtype."""
    if not rows.any():
        return None
    P = nn_math.forward(theta_bc.value, net, block.inputs(scale, rows, theta_bc.value.dtype))[2]
    Y = nn_math.one_hot(block.labels[rows], net.sizes[-1], P.dtype)
    return ValidationSums(nn_math.LOSSES[net.loss].error(P, Y), nn_math.count_correct(P, Y), int(rows.sum()))



def block_predictions(block, scale, theta_bc, net):
    """(predicted classes (n,), true classes (n,)) of one block, in the broadcast theta's dtype."""
    X = block.inputs(scale, dtype=theta_bc.value.dtype)
    return nn_math.predict(theta_bc.value, net, X), block.labels


def partition_evaluation(blocks, scale, theta_bc, net, k, examples):
    """A partition's blocks -> [(confusion matrix (k, k), its first ``examples`` (prediction, label)
    pairs)], every block read (take() would stop the Python worker midway, and it then fails
    writing into a closed pipe)."""
    confusion, pairs = np.zeros((k, k), dtype=np.int64), []
    for block in blocks:
        predicted, true = block_predictions(block, scale, theta_bc, net)
        confusion += nn_math.confusion_matrix(true, predicted, k)
        room = examples - len(pairs)
        pairs.extend(zip(predicted[:room].tolist(), true[:room].tolist()))
    return [(confusion, pairs)]


class Evaluation(NamedTuple):
    """What an evaluation finds: the confusion matrix (k, k), rows the true classes, and the set's
    first (prediction, label) pairs, as many as were asked for."""

    confusion: np.ndarray
    examples: list


def evaluate(sc, data, theta, net, examples=0, dtype=np.float64):
    """The Evaluation of ``theta`` on a DataSet, its forward pass in ``dtype``, with the first
    ``examples`` (prediction, label) pairs. One pass over the set."""
    theta_bc = sc.broadcast(nn_math.in_dtype(theta, dtype))
    try:
        parts = data.blocks.mapPartitions(partial(partition_evaluation, scale=data.scaling, theta_bc=theta_bc,
                                                  net=net, k=data.classes, examples=examples)).collect()
    finally:
        theta_bc.destroy()
    confusion = sum((part for part, _ in parts), np.zeros((data.classes, data.classes), dtype=np.int64))
    return Evaluation(confusion, [pair for _, part in parts for pair in part][:examples])


def block_validation_sums(block, scale, theta_bc, net, seed, holdout):
    """The ValidationSums of a block's validation rows: those sampling.holdout_mask holds out with a
    ``holdout`` share, or all of them (holdout None: a validation set of its own)."""
    rows = block.row_numbers()
    held_out = sampling.holdout_mask(seed, rows, holdout) if holdout else np.ones(len(rows), dtype=bool)
    return validation_sums_of(block, scale, theta_bc, net, held_out)


def validation_sums(sc, data, theta, net, dtype=np.float64, seed=0, holdout=None):
    """The ValidationSums of a DataSet's validation rows (block_validation_sums) at ``theta``, in ``dtype``:
    one pass over the set."""
    theta_bc = sc.broadcast(nn_math.in_dtype(theta, dtype))
    try:
        return data.blocks.map(partial(block_validation_sums, scale=data.scaling, theta_bc=theta_bc, net=net, seed=seed,
                                       holdout=holdout)).treeAggregate(None, combine_sums, combine_sums)
    finally:
        theta_bc.destroy()


def block_class_counts(block, k, seed, holdout):
    """A block's training rows per class (k,): its rows but those held out for validation."""
    labels = block.labels[~sampling.holdout_mask(seed, block.row_numbers(), holdout)]
    return np.bincount(labels, minlength=k)


def class_counts(sc, data, seed=0, holdout=0.0):
    """The training rows per class (k,) int64 of a DataSet (for balanced class weights)."""
    return data.blocks.map(partial(block_class_counts, k=data.classes, seed=seed, holdout=holdout)).fold(
        np.zeros(data.classes, dtype=np.int64), np.add)
