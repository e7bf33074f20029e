"""What runs on the executors: each epoch's chain of map steps and its sums, the model-averaging
partition steps, evaluation over the test blocks, and predict.py's output lines.

The data sets' RDDs hold blocks.Block records: consecutive rows' features as stored, their
labels and the number of the first row. In the epoch's chain of map steps a block becomes a
Batch, its sampled rows, to which each step of forward and backward propagation adds what the
next one needs. Consecutive maps run fused in one Python task per partition, so the chain costs
nothing over one big function. The driver
(main_task.py) calls the functions at the bottom of each section; the formulas are nn_math's.
"""

import functools
from functools import partial
from typing import NamedTuple

import numpy as np

import nn_math
import nn_sampling

# -------------------------------------------------------------------- sums


class Sums(NamedTuple):
    """What a block, a partition or a whole epoch adds up.

    vector: the gradient dE/dtheta (data-parallel), or rows x the packed theta and moments a
    partition ends with (model averaging; nn_optim.Optimizer.pack). error_lo and vector_lo carry
    the rounding errors of adding blocks and partitions (see combine).
    """

    error: float
    correct: int
    rows: int
    vector: np.ndarray
    error_lo: float = 0.0
    vector_lo: object = 0.0
    held: object = None  # the Held sums of the validation rows, measured in the same job
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
                    combine_sums(self.held, other.held), counts)

    def mean_error(self, class_weights=None):
        """The error per row, or per unit of weight with class weights (scikit-learn's convention)."""
        return (self.error + self.error_lo) / self.weight(class_weights)

    def mean_vector(self, class_weights=None):
        return (self.vector + self.vector_lo) / self.weight(class_weights)


class Held(NamedTuple):
    """What the validation rows add up to at one set of weights: the (unweighted) error E and its
    rounding error, the rows predicted right, the rows."""

    error: float
    correct: int
    rows: int
    error_lo: float = 0.0

    def combine(self, other):
        """The sum, with the rounding error carried (as Sums.combine): the same on any split."""
        error, error_lo = nn_math.two_sum(self.error, other.error)
        return Held(error, self.correct + other.correct, self.rows + other.rows,
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


# ------------------------------------------------- the epoch's map steps

class Batch:
    """A block's sampled rows on their way through the epoch's map steps.

    rows: the rows' numbers (m,); Y: their one-hot targets (m, k); h: the input X (m, d), then
    each hidden layer's output as forward propagation reaches it; gates: None for the input,
    then each hidden layer's f'(z), dropout masked. Forward propagation then adds z (one layer's
    pre-activation, while it is activated) and P, the network's outputs (m, k); backward
    propagation replaces P by error, correct and delta, and fills grad, the block's dE/dtheta.
    """

    __slots__ = ("rows", "Y", "h", "gates", "z", "P", "error", "correct", "delta", "grad", "held", "w", "counts")

    def __init__(self, rows, X, Y, held=None, w=None, counts=None):
        self.rows, self.Y, self.h, self.gates, self.held = rows, Y, [X], [None], held
        self.w, self.counts = w, counts  # with class weights: each row's (m,), the rows per class (k,)


def held_out_sums(block, scale, theta_bc, net, held):
    """The Held sums of a block's rows ``held`` (a mask) at the broadcast weights, or None if it
    has none: one forward pass, no dropout, in the weights' dtype."""
    if not held.any():
        return None
    P = nn_math.forward(theta_bc.value, net, block.inputs(scale, held, theta_bc.value.dtype))[2]
    Y = nn_math.one_hot(block.labels[held], net.sizes[-1], P.dtype)
    return Held(nn_math.LOSSES[net.loss].error(P, Y), nn_math.count_correct(P, Y), int(held.sum()))


def sample_map(block, scale, k, seed, epoch, fraction, dtype, holdout=0.0, theta_bc=None, net=None,
               class_weights=None, input_dropout=0.0):
    """Block -> the Batch of its sampled rows, inputs and targets of ``dtype``. With a ``holdout``
    share, the rows nn_sampling.holdout_mask holds out are never sampled; the Batch carries their
    Held sums at the broadcast weights (the epoch's validation, in the epoch's job). With
    ``class_weights`` (k,), it carries each sampled row's weight and the rows per class; with
    ``input_dropout``, its inputs are dropout masked."""
    rows = block.row_numbers()
    held = nn_sampling.holdout_mask(seed, rows, holdout)
    keep = nn_sampling.sample_mask(seed, epoch, rows, fraction) & ~held
    labels = block.labels[keep]
    weights = (class_weights[labels], np.bincount(labels, minlength=k)) if class_weights is not None else (None, None)
    X = masked_inputs(block.inputs(scale, keep, dtype), seed, epoch, rows[keep], input_dropout)
    return Batch(rows[keep], X, nn_math.one_hot(labels, k, dtype),
                 held_out_sums(block, scale, theta_bc, net, held) if holdout else None, *weights)


def masked_inputs(X, seed, epoch, rows, rate):
    """Inputs X (m, d) of the global rows ``rows``, dropout masked at ``rate`` (0: as they are)."""
    return X * nn_sampling.input_dropout_mask(seed, epoch, rows, X.shape[1], rate, X.dtype) if rate else X


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
        mask = nn_sampling.dropout_mask(seed, epoch, batch.rows, layer + 1, z.shape[1], dropout, z.dtype)
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
    return Sums(batch.error, batch.correct, len(batch.Y), batch.grad, held=batch.held, counts=batch.counts)


def epoch_sums(data, theta_bc, net, seed, epoch, fraction, dropout=0.0, dtype=np.float64, holdout=0.0,
               class_weights=None, input_dropout=0.0):
    """Forward and backward propagation over the sampled rows of every block of a DataSet, summed:
    Sums of the gradient, or None if there are no blocks. ``theta_bc`` holds theta in ``dtype``,
    the precision of the blocks' matrix products; the sums are float64. With a ``holdout`` share,
    the held-out rows are left out of the sample and their Held sums come with the Sums; with
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


# ------------------------------------------------------- model averaging

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
    helds = [nn_sampling.holdout_mask(settings.seed, rows, settings.validation_fraction) for rows in numbers]
    picks = [nn_sampling.local_batches(settings.seed, epoch, rows, settings.sample_fraction, steps, ~held)
             for rows, held in zip(numbers, helds)]
    # The validation rows, measured at the weights the partitions start from (as a data-parallel
    # epoch measures them), before any local step.
    held_sums = functools.reduce(combine_sums, [held_out_sums(block, scale, theta_bc, net, held)
                                                for block, held in zip(blocks, helds)], None)
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
    return [Sums(error, correct, count, count * optimizer.pack(theta, moments), held=held_sums,
                 counts=counts if settings.class_weights is not None else None)]


def local_gradient(chosen, scale, theta, net, settings, epoch):
    """(error, correct predictions, labels (m,), the mean gradient: float64, theta's shape, with
    the penalty's) of one local step's rows ``chosen`` (stacked_rows) at ``theta``. With class
    weights, each row's error and gradient are its class's weight times its own, and the mean is
    per unit of weight."""
    rows, X, labels = stacked_rows(chosen, scale, settings, epoch)
    Y = nn_math.one_hot(labels, net.sizes[-1], settings.dtype)
    masks = [nn_sampling.dropout_mask(settings.seed, epoch, rows, layer, width, settings.dropout, settings.dtype)
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


# ------------------------------------------------------------- evaluation

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


def block_held_sums(block, scale, theta_bc, net, seed, holdout):
    """The Held sums of a block's validation rows: those nn_sampling.holdout_mask holds out with a
    ``holdout`` share, or all of them (holdout None: a validation set of its own)."""
    rows = block.row_numbers()
    held = nn_sampling.holdout_mask(seed, rows, holdout) if holdout else np.ones(len(rows), dtype=bool)
    return held_out_sums(block, scale, theta_bc, net, held)


def validation_sums(sc, data, theta, net, dtype=np.float64, seed=0, holdout=None):
    """The Held sums of a DataSet's validation rows (block_held_sums) at ``theta``, in ``dtype``:
    one pass over the set."""
    theta_bc = sc.broadcast(nn_math.in_dtype(theta, dtype))
    try:
        return data.blocks.map(partial(block_held_sums, scale=data.scaling, theta_bc=theta_bc, net=net, seed=seed,
                                       holdout=holdout)).treeAggregate(None, combine_sums, combine_sums)
    finally:
        theta_bc.destroy()


def block_class_counts(block, k, seed, holdout):
    """A block's training rows per class (k,): its rows but those held out for validation."""
    labels = block.labels[~nn_sampling.holdout_mask(seed, block.row_numbers(), holdout)]
    return np.bincount(labels, minlength=k)


def class_counts(sc, data, seed=0, holdout=0.0):
    """The training rows per class (k,) int64 of a DataSet (for balanced class weights)."""
    return data.blocks.map(partial(block_class_counts, k=data.classes, seed=seed, holdout=holdout)).fold(
        np.zeros(data.classes, dtype=np.int64), np.add)


# ---------------------------------------------------------------- predict

def block_lines(block, scale, theta_bc, net, header):
    """(the block's first row, its output lines as one text): "line,class,scores..." per row."""
    P = nn_math.forward(theta_bc.value, net, block.inputs(scale))[2]
    lines = block.row_numbers() + 1 + header
    return block.start, "\n".join(f"{line},{c}," + ",".join(map(repr, p))
                                      for line, c, p in zip(lines.tolist(), P.argmax(axis=1).tolist(), P.tolist()))


def prediction_lines(sc, data, theta, net):
    """An RDD of the output lines, in input order: blocks sorted by their first row, since a
    compressed input is spread over the cores by a shuffle."""
    theta_bc = sc.broadcast(theta)
    texts = data.blocks.map(
        partial(block_lines, scale=data.scaling, theta_bc=theta_bc, net=net, header=data.format["header"]))
    return texts.sortByKey(numPartitions=data.blocks.getNumPartitions()).values()
