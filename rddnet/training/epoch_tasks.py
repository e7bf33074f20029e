"""An epoch's work on the executors (data-parallel): a chain of map steps over each cached block
(sample the rows, forward propagation layer by layer, the output delta, backward propagation),
then the blocks' Sums added up by treeAggregate for the driver's one step.

A blocks.Block (consecutive rows' features as stored, their labels, the number of the first row)
becomes a Batch, its sampled rows, to which each step adds what the next one needs. Consecutive
maps run fused in one Python task per partition, so the chain costs nothing over one big
function. The formulas are nn_math's; the loop that calls gradient_sums is loop.py.
"""

from functools import partial

import numpy as np

import nn_math
from rddnet import sampling
from rddnet.training.evaluation import validation_sums_of
from rddnet.training.sums import Sums, combine_sums


class Batch:
    """A block's sampled rows on their way through the epoch's map steps.

    rows: the rows' numbers (m,); Y: their one-hot targets (m, k); h: the input X (m, d), then
    each hidden layer's output as forward propagation reaches it; gates: None for the input,
    then each hidden layer's f'(z), dropout masked. Forward propagation then adds z (one layer's
    pre-activation, while it is activated) and P, the network's outputs (m, k); backward
    propagation replaces P by error, correct and delta, and fills grad, the block's dE/dtheta.
    """

    __slots__ = ("rows", "Y", "h", "gates", "z", "P", "error", "correct", "delta", "grad", "validation", "w",
                 "counts")

    def __init__(self, rows, X, Y, validation=None, w=None, counts=None):
        self.rows, self.Y, self.h, self.gates, self.validation = rows, Y, [X], [None], validation
        self.w, self.counts = w, counts  # with class weights: each row's (m,), the rows per class (k,)


def sample_map(block, scale, k, seed, epoch, fraction, dtype, holdout=0.0, theta_bc=None, net=None,
               class_weights=None, input_dropout=0.0):
    """Block -> the Batch of its sampled rows, inputs and targets of ``dtype``. With a ``holdout``
    share, the rows sampling.holdout_mask holds out are never sampled; the Batch carries their
    ValidationSums at the broadcast weights (the epoch's validation, in the epoch's job). With
    ``class_weights`` (k,), it carries each sampled row's weight and the rows per class; with
    ``input_dropout``, its inputs are dropout masked."""
    rows = block.row_numbers()
    held_out = sampling.holdout_mask(seed, rows, holdout)
    keep = sampling.sample_mask(seed, epoch, rows, fraction) & ~held_out
    labels = block.labels[keep]
    weights = (class_weights[labels], np.bincount(labels, minlength=k)) if class_weights is not None else (None, None)
    X = masked_inputs(block.inputs(scale, keep, dtype), seed, epoch, rows[keep], input_dropout)
    return Batch(rows[keep], X, nn_math.one_hot(labels, k, dtype),
                 validation_sums_of(block, scale, theta_bc, net, held_out) if holdout else None, *weights)


def masked_inputs(X, seed, epoch, rows, rate):
    """Inputs X (m, d) of the global rows ``rows``, dropout masked at ``rate`` (0: as they are)."""
    return X * sampling.input_dropout_mask(seed, epoch, rows, X.shape[1], rate, X.dtype) if rate else X


def pre_activation_map(batch, theta_bc, sizes, layer):
    """Forward, layer ``layer``: adds z = h W + b, (m, d[layer+1])."""
    W, b = nn_math.layer_views(theta_bc.value, sizes)[layer]
    batch.z = nn_math.pre_activation(batch.h[-1], W, b)
    return batch


def activation_map(batch, net, layer, dropout, seed, epoch):
    """Forward, layer ``layer``: z becomes a hidden layer's output h and gate f'(z), dropout
    masked, or the network's outputs P (m, k)."""
    z, batch.z = batch.z, None
    if layer == net.layers - 1:
        batch.P = nn_math.activate(net.activations[-1], z)
        return batch
    mask = None
    if dropout:
        mask = sampling.dropout_mask(seed, epoch, batch.rows, layer + 1, z.shape[1], dropout, z.dtype)
    h, gate = nn_math.hidden_layer(net.activation, z, mask)
    batch.h.append(h)
    batch.gates.append(gate)
    return batch


def output_delta_map(batch, net):
    """Backward, output layer: P becomes the batch's error E, correct count and output delta;
    adds the gradient vector to fill, float64 like theta."""
    P, Y, batch.P = batch.P, batch.Y, None
    loss = nn_math.LOSSES[net.loss]
    batch.error, batch.correct = loss.error(P, Y, batch.w), nn_math.count_correct(P, Y)
    batch.delta = loss.output_delta(P, Y, batch.w)
    batch.grad = np.empty(nn_math.parameter_count(net.sizes))
    return batch


def backward_map(batch, theta_bc, sizes, layer):
    """Backward, layer ``layer``: its dE/dW and dE/db into batch.grad, then the delta below it."""
    nabla_W, nabla_b = nn_math.layer_views(batch.grad, sizes)[layer]
    nabla_W[...], nabla_b[...] = nn_math.layer_gradients(batch.h[layer], batch.delta)
    if layer > 0:
        W = nn_math.layer_views(theta_bc.value, sizes)[layer][0]
        batch.delta = nn_math.hidden_delta(batch.delta, W, batch.gates[layer])
    return batch


def batch_sums(batch):
    return Sums(batch.error, batch.correct, len(batch.Y), batch.grad, validation=batch.validation, counts=batch.counts)


def epoch_sums(data, theta_bc, net, seed, epoch, fraction, dropout=0.0, dtype=np.float64, holdout=0.0,
               class_weights=None, input_dropout=0.0):
    """Forward and backward propagation over the sampled rows of every block of a DataSet, summed:
    Sums of the gradient, or None if there are no blocks. ``theta_bc`` holds theta in ``dtype``,
    the precision of the blocks' matrix products; the sums are float64. With a ``holdout`` share,
    the held-out rows are left out of the sample and their ValidationSums come with the Sums; with
    ``class_weights`` (k,), each row's error and gradient are weighted by its class's."""
    batches = data.blocks.map(partial(sample_map, scale=data.scaling, k=net.sizes[-1], seed=seed, epoch=epoch,
                                      fraction=fraction, dtype=dtype, holdout=holdout, theta_bc=theta_bc, net=net,
                                      class_weights=class_weights, input_dropout=input_dropout))
    for layer in range(net.layers):
        batches = batches.map(partial(pre_activation_map, theta_bc=theta_bc, sizes=net.sizes, layer=layer))
        batches = batches.map(partial(activation_map, net=net, layer=layer, dropout=dropout, seed=seed, epoch=epoch))
    batches = batches.map(partial(output_delta_map, net=net))
    for layer in reversed(range(net.layers)):
        batches = batches.map(partial(backward_map, theta_bc=theta_bc, sizes=net.sizes, layer=layer))
    return batches.map(batch_sums).treeAggregate(None, combine_sums, combine_sums)


def gradient_sums(sc, data, net, state, settings, epoch):
    """The data-parallel epoch's job: the Sums of the sample's errors and gradients at the
    broadcast weights (the step is the driver's)."""
    theta_bc = sc.broadcast(nn_math.in_dtype(state.theta, settings.dtype))
    try:
        return epoch_sums(data, theta_bc, net, settings.seed, epoch, settings.sample_fraction, settings.dropout,
                          settings.dtype, settings.validation_fraction, settings.class_weights, settings.input_dropout)
    finally:
        theta_bc.destroy()
