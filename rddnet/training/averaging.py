"""A model-averaging epoch on the executors (--local-steps K > 1): every partition takes K
optimizer steps on its share of the sample, from the broadcast weights and moments, and the
partitions' results are summed weighted by their rows for the driver to average."""

import functools
from functools import partial

import numpy as np

import nn_math
from rddnet import sampling
from rddnet.training.epoch_tasks import masked_inputs
from rddnet.training.evaluation import validation_sums_of
from rddnet.training.sums import Sums, combine_sums


def partition_local_steps(blocks, scale, theta_bc, moments_bc, net, settings, epoch, lr):
    """A partition's blocks -> [Sums]: settings.local_steps optimizer steps on its own share of the
    epoch's sample, from the broadcast weights and moments. The weights and moments stay float64;
    each step's forward and backward passes run in settings.dtype.

    The vector is rows x (theta, then the moments), packed: treeAggregate adds the partitions'
    and the driver divides by the rows, a row-weighted average.
    """
    blocks = list(blocks)
    steps, optimizer = settings.local_steps, settings.optimizer
    theta, moments = optimizer.copied(theta_bc.value, moments_bc.value)  # the steps update them in place
    work = np.empty_like(theta)
    numbers = [block.row_numbers() for block in blocks]
    held_out = [sampling.holdout_mask(settings.seed, rows, settings.validation_fraction) for rows in numbers]
    picks = [sampling.local_batches(settings.seed, epoch, rows, settings.sample_fraction, steps, ~out)
             for rows, out in zip(numbers, held_out)]
    # The validation rows, measured at the weights the partitions start from (as a data-parallel
    # epoch measures them), before any local step.
    validation = functools.reduce(combine_sums, [validation_sums_of(block, scale, theta_bc, net, out)
                                                 for block, out in zip(blocks, held_out)], None)
    error = correct = count = 0
    counts = np.zeros(net.sizes[-1], dtype=np.int64)
    for step in range(steps):
        # The step's mini-batch: its rows of every block, stacked, so that one forward and
        # backward pass takes them all (a pass per block costs a few hundred microseconds of
        # Python each, and a local step sees only some dozens of rows per block).
        chosen = [(block, np.flatnonzero(keep)[minibatch == step]) for block, (keep, minibatch) in zip(blocks, picks)]
        chosen = [(block, picked) for block, picked in chosen if picked.size]
        if not chosen:
            continue
        e, right, labels, grad = local_gradient(chosen, scale, theta, net, settings, epoch)
        error, correct, count = error + e, correct + right, count + labels.size
        if settings.class_weights is not None:
            counts += np.bincount(labels, minlength=net.sizes[-1])
        moments = optimizer.step_in_place(theta, grad, lr, moments, work)
        if settings.max_norm:
            nn_math.max_norm(theta, net.sizes, settings.max_norm, in_place=True)
    return [Sums(error, correct, count, count * optimizer.pack(theta, moments), validation=validation,
                 counts=counts if settings.class_weights is not None else None)]


def local_gradient(chosen, scale, theta, net, settings, epoch):
    """(error, correct predictions, labels (m,), the mean gradient: float64, theta's shape, with
    the penalty's) of one local step's rows ``chosen`` (stacked_rows) at ``theta``. With class
    weights, each row's error and gradient are its class's weight times its own, and the mean is
    per unit of weight."""
    rows, X, labels = stacked_rows(chosen, scale, settings, epoch)
    Y = nn_math.one_hot(labels, net.sizes[-1], settings.dtype)
    masks = [sampling.dropout_mask(settings.seed, epoch, rows, layer, width, settings.dropout, settings.dtype)
             for layer, width in enumerate(net.sizes[1:-1], 1)] if settings.dropout else None
    w = None if settings.class_weights is None else settings.class_weights[labels]
    e, grad, P = nn_math.backprop(nn_math.in_dtype(theta, settings.dtype), net, X, Y, masks, outputs=True, w=w)
    grad /= rows.size if w is None else w.sum()  # a fresh array of backprop's: divided in place
    if settings.penalised:
        grad += nn_math.penalty_gradient(theta, net.sizes, settings.l1, settings.l2)
    return e, nn_math.count_correct(P, Y), labels, grad


def stacked_rows(chosen, scale, settings, epoch):
    """(global row numbers (m,), inputs (m, d), labels (m,)) of a local step's rows: ``chosen``,
    (Block, the indices picked in it) pairs, stacked; inputs scaled, in settings.dtype, masked by
    the input dropout."""
    rows = np.concatenate([block.start + picked for block, picked in chosen])
    X = np.concatenate([block.inputs(scale, picked, settings.dtype) for block, picked in chosen])
    labels = np.concatenate([block.labels[picked] for block, picked in chosen])
    return rows, masked_inputs(X, settings.seed, epoch, rows, settings.input_dropout), labels


def averaging_sums(sc, data, net, state, settings, epoch, lr):
    """The model-averaging epoch: every partition steps from the same weights and moments (Sums
    of the row-weighted packs)."""
    theta_bc, moments_bc = sc.broadcast(state.theta), sc.broadcast(state.moments)
    try:
        steps = partial(partition_local_steps, scale=data.scaling, theta_bc=theta_bc, moments_bc=moments_bc, net=net,
                        settings=settings, epoch=epoch, lr=lr)
        return data.blocks.mapPartitions(steps).treeAggregate(None, combine_sums, combine_sums)
    finally:
        theta_bc.destroy()
        moments_bc.destroy()
