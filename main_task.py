"""Train a fully connected network on MNIST with PySpark RDDs: map steps, then a tree reduce.

    spark-submit main_task.py TRAIN_IMAGES TRAIN_LABELS TEST_IMAGES TEST_LABELS OUTPUT_DIR [options]

    spark-submit --master 'local[2]' main_task.py data/mnist_images_train.csv \\
        data/mnist_labels_train.csv data/mnist_images_test.csv data/mnist_labels_test.csv output/run

Each RDD element is a block of rows: an image matrix X and a one-hot target matrix Y,
parsed once per partition and cached. Every epoch:
  1. broadcast the weights theta;
  2. map: keep the sampled rows of each block (a mask fixed by seed, epoch and row number);
  3. map, per layer: the pre-activation z = h W + b, then the activation h = f(z)
     (with an inverted-dropout mask fixed by seed, epoch and row number, if asked);
  4. map: the output delta, then per layer (last first) its gradients and the delta below;
  5. treeAggregate the sums (error, correct predictions, rows, gradient);
  6. on the driver: divide once by the rows, add any L1/L2 penalty, set the learning
     rate (bold driver by default), and take one optimizer step.
The formulas live in nn_math.py and the input parsing in data_io.py; this file orchestrates.
"""

import argparse
import json
import os
import sys
import time
from functools import partial

import numpy as np

import nn_math
from data_io import (
    DataError,
    OneLineParser,
    cached_bytes,
    delete_path,
    input_exists,
    list_names,
    load_data_set,
    load_last_checkpoint,
    path_exists,
    pixels,
    rename_path,
    save_checkpoint,
)

HERE = os.path.dirname(os.path.abspath(__file__))
EXIT_OK, EXIT_BAD_INPUT, EXIT_DIVERGED = 0, 2, 3
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# Settings that must match for --resume to continue the same run (--epochs may grow).
RESUME_SETTINGS = ("hidden", "activation", "loss", "init", "optimizer", "momentum", "beta1", "beta2", "l1", "l2",
                   "dropout", "lr", "lr_schedule", "bold_up", "bold_down", "lr_decay", "lr_step", "sample_fraction",
                   "seed", "local_steps")
N_EXAMPLES = 100  # (prediction, label) pairs written to tests/


# ------------------------------------------------------------- command line

def _checked(convert, ok, wanted):
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


def _layer_list(text):
    return [int(n) for n in text.split(",")]


def parse_args(argv):
    parser = OneLineParser(
        prog="main_task.py",
        description="Train a fully connected network on MNIST CSV files with Spark RDDs.")
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        parser.add_argument(name, help="CSV file (any Hadoop path, plain or .gz)")
    parser.add_argument("output_dir", help="folder to create for the outputs (any Hadoop path)")
    positive = _checked(float, lambda v: 0 < v < float("inf"), "a number > 0")
    at_least_zero = _checked(float, lambda v: 0 <= v < float("inf"), "a number >= 0")
    count = _checked(int, lambda v: v >= 1, "an integer >= 1")

    network = parser.add_argument_group("network (taken from --init-model when given)")
    network.add_argument("--hidden", type=_checked(_layer_list, lambda v: min(v) >= 1, "sizes >= 1 like 64 or 256,128"),
                         help="hidden layer sizes, comma-separated (default: 64)")
    network.add_argument("--activation", choices=nn_math.HIDDEN_ACTIVATIONS, help="hidden layers (default: tanh)")
    network.add_argument("--loss", choices=tuple(nn_math.LOSSES),
                         help="sse: sigmoid outputs, 1/2 sum (y - y*)^2, as the original; "
                              "cross-entropy: softmax outputs (default: sse)")
    network.add_argument("--init", choices=("uniform", "xavier", "he"), default="uniform",
                         help="initial weights: uniform in [-0.5, 0.5) as the original, xavier or he "
                              "(default: %(default)s)")
    network.add_argument("--init-model", metavar="PATH",
                         help="start from the model/ folder of an earlier run; with --epochs 0, only evaluate it")

    training = parser.add_argument_group("training")
    training.add_argument("--epochs", type=_checked(int, lambda v: v >= 0, "an integer >= 0"), default=100,
                          help="epochs; each is one gradient step, or --local-steps steps in every partition "
                               "(default: %(default)s)")
    training.add_argument("--sample-fraction", type=_checked(float, lambda v: 0 < v <= 1, "a number in (0, 1]"),
                          default=0.7, help="share of the training rows in each epoch's mini-batch "
                                            "(default: %(default)s)")
    training.add_argument("--optimizer", choices=nn_math.OPTIMIZERS, default="sgd",
                          help="sgd as the original, momentum or adam (default: %(default)s)")
    training.add_argument("--momentum", type=_checked(float, lambda v: 0 <= v < 1, "a number in [0, 1)"),
                          default=0.9, help="for --optimizer momentum (default: %(default)s)")
    training.add_argument("--beta1", type=_checked(float, lambda v: 0 <= v < 1, "a number in [0, 1)"),
                          default=0.9, help="for --optimizer adam (default: %(default)s)")
    training.add_argument("--beta2", type=_checked(float, lambda v: 0 <= v < 1, "a number in [0, 1)"),
                          default=0.999, help="for --optimizer adam (default: %(default)s)")
    training.add_argument("--local-steps", type=count, default=1,
                          help="K > 1: each partition takes K optimizer steps on its share of the epoch's sample, "
                               "then the driver averages the weights (model averaging); 1 = one data-parallel "
                               "gradient step per epoch (default: %(default)s)")
    training.add_argument("--l2", type=at_least_zero, default=0.0, help="weight decay: + l2/2 sum W^2 (default: 0)")
    training.add_argument("--l1", type=at_least_zero, default=0.0, help="+ l1 sum |W| (default: 0)")
    training.add_argument("--dropout", type=_checked(float, lambda v: 0 <= v < 1, "a number in [0, 1)"),
                          default=0.0, help="inverted dropout rate on hidden units while training (default: 0)")

    schedule = parser.add_argument_group("learning rate")
    schedule.add_argument("--lr", type=positive, default=0.1, help="initial learning rate (default: %(default)s)")
    schedule.add_argument("--lr-schedule", choices=nn_math.SCHEDULES, default="bold-driver",
                          help="bold-driver: x up when the cost fell, x down otherwise; step: x decay every "
                               "--lr-step epochs; exponential: x decay every epoch (default: %(default)s)")
    schedule.add_argument("--bold-up", type=positive, default=1.05,
                          help="bold driver: factor when the cost fell (default: %(default)s)")
    schedule.add_argument("--bold-down", type=positive, default=0.5,
                          help="bold driver: factor when it did not (default: %(default)s)")
    schedule.add_argument("--lr-decay", type=positive, default=0.5,
                          help="factor for step and exponential (default: %(default)s)")
    schedule.add_argument("--lr-step", type=count, default=10, help="epochs per step (default: %(default)s)")

    run = parser.add_argument_group("run")
    run.add_argument("--eval-every", type=_checked(int, lambda v: v >= 0, "an integer >= 0"), default=0,
                     help="test accuracy every N epochs, 0 = only at the end (default: 0)")
    run.add_argument("--block-size", type=count, default=1024,
                     help="rows per RDD element; 1 = the original's one row per element (default: %(default)s)")
    run.add_argument("--seed", type=_checked(int, lambda v: 0 <= v < 2 ** 63, "an integer >= 0"), default=42,
                     help="seeds the initial weights, every sample and dropout mask (default: %(default)s)")
    run.add_argument("--overwrite", action="store_true",
                     help="replace OUTPUT_DIR if it exists: at the end, or at the start with --checkpoint-every")
    run.add_argument("--checkpoint-every", type=_checked(int, lambda v: v >= 0, "an integer >= 0"), default=0,
                     help="save the training state under OUTPUT_DIR/checkpoints every N epochs (default: 0, never)")
    run.add_argument("--resume", action="store_true",
                     help="continue from the last complete checkpoint in OUTPUT_DIR, with its settings")
    args = parser.parse_args(argv)
    args.given = options_given(parser, argv)
    return args


def options_given(parser, argv):
    """The names of the options the command line spelled out (not left at their defaults)."""
    defaults = {action.dest: action.default for action in parser._actions}
    for action in parser._actions:
        action.default = argparse.SUPPRESS
    try:
        return set(vars(parser.parse_args(argv)))
    finally:
        for action in parser._actions:
            action.default = defaults[action.dest]


# ------------------------------------------------------------ Spark set-up

def quiet_spark_logs(conf):
    """Keep Spark's INFO lines off the console from the first line (WARN and above still show).

    spark-submit resets logging before the script runs and Spark would load its INFO
    defaults when the context starts, so initialise them now and lower the level.
    An explicit --conf spark.log.level wins.
    """
    from pyspark import SparkContext
    if conf.contains("spark.log.level"):
        return
    try:
        jvm = SparkContext._jvm
        getattr(getattr(jvm.org.apache.spark.util, "Utils$"), "MODULE$").initializeLogIfNecessary(False, True)
        log4j = jvm.org.apache.logging.log4j
        log4j.core.config.Configurator.setRootLevel(log4j.Level.WARN)
        log4j.core.config.Configurator.setLevel("org.apache.hadoop.util.NativeCodeLoader", log4j.Level.ERROR)
    except Exception:  # cosmetic only: fall back to sc.setLogLevel once the context is up
        conf.set("spark.log.level", "WARN")


def start_spark():
    """A SparkContext for the master spark-submit chose, with this job's modules shipped to executors."""
    from pyspark import SparkConf, SparkContext
    SparkContext._ensure_initialized()
    conf = SparkConf().setAppName("mnist-mlp-rdd")
    quiet_spark_logs(conf)
    conf.setIfMissing("spark.ui.showConsoleProgress", "false")
    for var in BLAS_THREAD_VARS:
        # one BLAS thread per Python worker: Spark already runs one worker per core
        conf.setIfMissing(f"spark.executorEnv.{var}", "1")
    sc = SparkContext(conf=conf)
    for module in ("nn_math.py", "data_io.py"):  # so executors can import them on any cluster
        sc.addPyFile(os.path.join(HERE, module))
    return sc


# ---------------------------------------------------- one epoch, map steps

def sample_step(block, seed, epoch, fraction):
    """Block -> the state of its sampled rows: {"h": [X (m, d)], "gates": [None], "Y", "rows"}."""
    rows = block["start"] + np.arange(len(block["Y"]))
    keep = nn_math.sample_mask(seed, epoch, rows, fraction)
    return {"h": [pixels(block["X"][keep])], "gates": [None], "Y": block["Y"][keep].astype(np.float64),
            "rows": rows[keep]}


def pre_activation_step(state, theta_bc, sizes, layer):
    """Forward, layer ``layer``: z = h W + b."""
    W, b = nn_math.layer_views(theta_bc.value, sizes)[layer]
    state["z"] = nn_math.pre_activation(state["h"][-1], W, b)
    return state


def activation_step(state, net, layer, dropout, seed, epoch):
    """Forward, layer ``layer``: a hidden layer's output h and gate f'(z), dropout masked,
    or the network's outputs P."""
    z = state.pop("z")
    if layer == net.layers - 1:
        state["P"] = nn_math.activate(net.activations[-1], z)
        return state
    mask = nn_math.dropout_mask(seed, epoch, state["rows"], layer + 1, z.shape[1], dropout) if dropout else None
    h, gate = nn_math.hidden_layer(net.activation, z, mask)
    state["h"].append(h)
    state["gates"].append(gate)
    return state


def output_delta_step(state, net):
    """Backward, output layer: the block's error, correct count and output delta."""
    P, Y = state.pop("P"), state["Y"]
    loss = nn_math.LOSSES[net.loss]
    state["error"], state["correct"] = loss.error(P, Y), nn_math.count_correct(P, Y)
    state["delta"] = loss.output_delta(P, Y)
    state["grad"] = np.empty(nn_math.parameter_count(net.sizes))
    return state


def gradient_step(state, theta_bc, sizes, layer):
    """Backward, layer ``layer``: its gradients into state["grad"], then the delta below it."""
    nabla_W, nabla_b = nn_math.layer_views(state["grad"], sizes)[layer]
    nabla_W[...], nabla_b[...] = nn_math.layer_gradients(state["h"][layer], state["delta"])
    if layer > 0:
        W = nn_math.layer_views(theta_bc.value, sizes)[layer][0]
        state["delta"] = nn_math.hidden_delta(state["delta"], W, state["gates"][layer])
    return state


def block_sums(state):
    """The sums one block contributes: [error, correct, rows, gradient, error's and gradient's
    rounding errors (see combine_sums)]."""
    return [state["error"], state["correct"], len(state["Y"]), state["grad"], 0.0, 0.0]


def add_sums(total, part):
    """Add a block's sums into a partition's running total, in place; None is the empty sum."""
    if total is None:
        return part
    if part is not None:
        for i in range(3):
            total[i] += part[i]
        total[3] += part[3]
    return total


def combine_sums(a, b):
    """Add two partitions' sums, keeping the rounding error of every addition.

    treeAggregate combines partitions in whatever order their results arrive; with the
    error carried (nn_math.two_sum) the total does not depend on that order, so a run
    repeats bit for bit.
    """
    if a is None or b is None:
        return b if a is None else a
    error, error_lo = nn_math.two_sum(a[0], b[0])
    grad, grad_lo = nn_math.two_sum(a[3], b[3])
    return [error, a[1] + b[1], a[2] + b[2], grad, a[4] + b[4] + error_lo, a[5] + b[5] + grad_lo]


def epoch_sums(blocks, theta_bc, net, seed, epoch, fraction, dropout=0.0):
    """Forward and backward propagation over the sampled rows of every block, summed.

    Returns (sum of errors, correct predictions, rows, gradient sum (flat)), or None
    if no row was sampled. Consecutive maps run fused in one Python task per partition.
    """
    steps = blocks.map(partial(sample_step, seed=seed, epoch=epoch, fraction=fraction))
    for layer in range(net.layers):
        steps = steps.map(partial(pre_activation_step, theta_bc=theta_bc, sizes=net.sizes, layer=layer))
        steps = steps.map(partial(activation_step, net=net, layer=layer, dropout=dropout, seed=seed, epoch=epoch))
    steps = steps.map(partial(output_delta_step, net=net))
    for layer in reversed(range(net.layers)):
        steps = steps.map(partial(gradient_step, theta_bc=theta_bc, sizes=net.sizes, layer=layer))
    sums = steps.map(block_sums).treeAggregate(None, add_sums, combine_sums)
    if sums is None:
        return None
    error, correct, rows, grad, error_lo, grad_lo = sums
    return error + error_lo, correct, rows, grad + grad_lo


# ---------------------------------------------------------------- training

class Diverged(Exception):
    """The cost or the weights stopped being finite; the state is the last finite one."""

    def __init__(self, epoch, what):
        super().__init__(f"training diverged at epoch {epoch}: {what}; lower --lr")
        self.epoch = epoch


def initial_state(theta, args):
    """Everything training carries from epoch to epoch (and a checkpoint saves)."""
    return {"epoch": 0, "theta": theta, "optimizer": nn_math.optimizer_state(args.optimizer, theta),
            "lr": args.lr, "previous_cost": None,
            "history": {"cost": [], "accuracy": [], "lr": [], "sample": [], "seconds": [], "test_accuracy": []}}


def gradient_epoch(sc, data, net, state, args, epoch):
    """One data-parallel step: the gradient of the epoch's sample, then one optimizer step.

    Returns (cost, correct, rows, lr, theta, optimizer state).
    """
    theta = state["theta"]
    theta_bc = sc.broadcast(theta)
    sums = epoch_sums(data.blocks, theta_bc, net, args.seed, epoch, args.sample_fraction, args.dropout)
    theta_bc.destroy()
    if sums is None or sums[2] == 0:
        raise DataError(f"epoch {epoch}: the sample is empty; raise --sample-fraction or add rows")
    error, correct, count, grad = sums
    cost, gradient = error / count, grad / count
    if args.l1 > 0 or args.l2 > 0:
        cost += nn_math.penalty(theta, net.sizes, args.l1, args.l2)
        gradient += nn_math.penalty_gradient(theta, net.sizes, args.l1, args.l2)
    if not np.isfinite(cost):
        raise Diverged(epoch, f"the cost is {cost}")
    lr = nn_math.learning_rate(args.lr_schedule, epoch, args.lr, state["lr"], cost, state["previous_cost"],
                               args.lr_decay, args.lr_step, args.bold_up, args.bold_down)
    theta, optimizer = nn_math.optimizer_step(args.optimizer, theta, gradient, lr, state["optimizer"],
                                              args.momentum, args.beta1, args.beta2)
    return cost, correct, count, lr, theta, optimizer


def partition_steps(blocks, theta_bc, optimizer_bc, net, args, epoch, lr):
    """A partition's blocks -> [its sums]: args.local_steps optimizer steps on its own sample,
    from the broadcast weights and optimizer state.

    The sums are [error, correct, rows, rows * (theta, then each optimizer array), 0, 0], so
    treeAggregate adds them and the driver divides by the rows: a row-weighted average.
    """
    blocks = list(blocks)
    theta, optimizer = theta_bc.value, optimizer_bc.value
    picks = [nn_math.local_batches(args.seed, epoch, b["start"] + np.arange(len(b["Y"])), args.sample_fraction,
                                   args.local_steps) for b in blocks]
    error = correct = count = 0
    for step in range(args.local_steps):
        grad, rows = np.zeros_like(theta), 0
        for block, (keep, batch) in zip(blocks, picks):
            chosen = np.flatnonzero(keep)[batch == step]
            if chosen.size == 0:
                continue
            masks = [nn_math.dropout_mask(args.seed, epoch, block["start"] + chosen, layer, width, args.dropout)
                     for layer, width in enumerate(net.sizes[1:-1], 1)] if args.dropout else None
            Y = block["Y"][chosen].astype(np.float64)
            e, g, P = nn_math.backprop(theta, net, pixels(block["X"][chosen]), Y, masks, outputs=True)
            grad += g
            rows += chosen.size
            error, correct = error + e, correct + nn_math.count_correct(P, Y)
        if rows:
            grad = grad / rows
            if args.l1 > 0 or args.l2 > 0:
                grad += nn_math.penalty_gradient(theta, net.sizes, args.l1, args.l2)
            theta, optimizer = nn_math.optimizer_step(args.optimizer, theta, grad, lr, optimizer,
                                                      args.momentum, args.beta1, args.beta2)
            count += rows
    arrays = [theta] + [optimizer[key] for key in sorted(optimizer) if key != "t"]
    return [[error, correct, count, count * np.concatenate(arrays), 0.0, 0.0]]


def averaging_epoch(sc, data, net, state, args, epoch):
    """Synchronous model averaging: every partition takes args.local_steps steps from the same
    weights, the driver averages the weights and optimizer state, weighted by rows.

    The learning rate is set before the epoch, so the bold driver compares the two previous
    epochs' costs. Returns (cost, correct, rows, lr, theta, optimizer state).
    """
    history = state["history"]
    lr = nn_math.learning_rate(args.lr_schedule, epoch, args.lr, state["lr"], state["previous_cost"],
                               history["cost"][-2] if len(history["cost"]) > 1 else None,
                               args.lr_decay, args.lr_step, args.bold_up, args.bold_down)
    theta_bc, optimizer_bc = sc.broadcast(state["theta"]), sc.broadcast(state["optimizer"])
    sums = (data.blocks.mapPartitions(partial(partition_steps, theta_bc=theta_bc, optimizer_bc=optimizer_bc, net=net,
                                              args=args, epoch=epoch, lr=lr))
            .treeAggregate(None, add_sums, combine_sums))
    theta_bc.destroy()
    optimizer_bc.destroy()
    if sums is None or sums[2] == 0:
        raise DataError(f"epoch {epoch}: the sample is empty; raise --sample-fraction or add rows")
    error, correct, count, weighted, error_lo, weighted_lo = sums
    cost = (error + error_lo) / count + nn_math.penalty(state["theta"], net.sizes, args.l1, args.l2)
    if not np.isfinite(cost):
        raise Diverged(epoch, f"the cost is {cost}")
    average = (weighted + weighted_lo) / count
    size = state["theta"].size
    theta, optimizer = average[:size], dict(state["optimizer"])
    for i, key in enumerate(k for k in sorted(optimizer) if k != "t"):
        optimizer[key] = average[size * (i + 1):size * (i + 2)]
    if "t" in optimizer:
        optimizer["t"] += args.local_steps
    return cost, correct, count, lr, theta, optimizer


def train(sc, data, net, state, args, log=print, test_set=None, checkpoint=None):
    """Run epochs state["epoch"] + 1 .. args.epochs, updating ``state`` after each; returns it.

    With ``test_set`` and args.eval_every = N > 0, the test accuracy is measured every N epochs;
    with ``checkpoint`` and args.checkpoint_every = N > 0, checkpoint(state) runs every N epochs.
    Raises Diverged, leaving ``state`` at the last epoch whose cost and weights were finite.
    """
    history = state["history"]
    epoch_step = averaging_epoch if args.local_steps > 1 else gradient_epoch
    for epoch in range(state["epoch"] + 1, args.epochs + 1):
        started = time.perf_counter()
        cost, correct, count, lr, theta, optimizer = epoch_step(sc, data, net, state, args, epoch)
        if not np.isfinite(theta).all():
            raise Diverged(epoch, "the weights overflowed")
        seconds = time.perf_counter() - started
        state.update(epoch=epoch, theta=theta, optimizer=optimizer, lr=lr, previous_cost=cost)
        for key, value in zip(history, (cost, correct / count, lr, count, seconds)):
            history[key].append(value)
        left = (args.epochs - epoch) * sum(history["seconds"]) / len(history["seconds"])
        line = (f"epoch {epoch:3d}/{args.epochs}  cost {cost:.6f}  train accuracy {correct / count:.4f}  "
                f"lr {lr:.6g}  sample {count}  {seconds:.2f} s  {count / seconds:,.0f} rows/s  "
                f"left {clock(left)}")
        if test_set is not None and args.eval_every and epoch % args.eval_every == 0:
            accuracy = accuracy_of(test_confusion(sc, test_set, theta, net))
            history["test_accuracy"].append((epoch, accuracy))
            line += f"  test accuracy {accuracy:.4f}"
        log(line)
        if checkpoint is not None and args.checkpoint_every and epoch % args.checkpoint_every == 0:
            checkpoint(state)
    return state


def clock(seconds):
    """12.3 s -> '0:12', 3725 s -> '1:02:05'."""
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


# -------------------------------------------------------------- evaluation

def block_predictions(block, theta_bc, net):
    """(predicted classes (n,), true classes (n,)) of one block."""
    return nn_math.predict(theta_bc.value, net, pixels(block["X"])), block["Y"].argmax(axis=1)


def partition_evaluation(blocks, theta_bc, net, k, examples):
    """A partition's blocks -> [(confusion matrix (k, k), its first ``examples`` (prediction, label)
    pairs)], every block read (take() would stop the Python worker midway, and it then fails
    writing into a closed pipe)."""
    confusion, pairs = np.zeros((k, k), dtype=np.int64), []
    for block in blocks:
        predicted, true = block_predictions(block, theta_bc, net)
        confusion += nn_math.confusion_matrix(true, predicted, k)
        room = examples - len(pairs)
        pairs.extend(zip(predicted[:room].tolist(), true[:room].tolist()))
    return [(confusion, pairs)]


def test_confusion(sc, data, theta, net, examples=0):
    """Confusion matrix (k, k) of ``theta`` on a DataSet; with ``examples`` > 0, also the
    first that many (prediction, label) pairs. One pass over the set."""
    theta_bc = sc.broadcast(theta)
    parts = data.blocks.mapPartitions(partial(partition_evaluation, theta_bc=theta_bc, net=net, k=data.classes,
                                              examples=examples)).collect()
    theta_bc.destroy()
    confusion = sum((part for part, _ in parts), np.zeros((data.classes, data.classes), dtype=np.int64))
    if not examples:
        return confusion
    return confusion, [pair for _, part in parts for pair in part][:examples]


def accuracy_of(confusion):
    return float(np.trace(confusion) / confusion.sum())


def summarise(confusion, history, args, net, train_set, test_set, load_seconds):
    """The summary/ record: test metrics, settings and timings, as a dict."""
    precision, recall, f1 = nn_math.precision_recall_f1(confusion)
    per_class = [{"class": c, "precision": float(precision[c]), "recall": float(recall[c]),
                  "f1": float(f1[c]), "support": int(confusion[c].sum())} for c in range(len(confusion))]
    return {
        "test_accuracy": accuracy_of(confusion),
        "macro_f1": float(f1.mean()),
        "final_train_accuracy": history["accuracy"][-1] if history["accuracy"] else None,
        "final_cost": history["cost"][-1] if history["cost"] else None,
        "per_class": per_class,
        "confusion_matrix": confusion.tolist(),
        "layer_sizes": net.sizes, "activation": net.activation, "loss": net.loss,
        "train_rows": train_set.rows, "test_rows": test_set.rows, "classes": train_set.classes,
        "settings": {key: value for key, value in vars(args).items() if key != "given"},
        "load_seconds": load_seconds,
        "epoch_seconds": history["seconds"],
        "learning_rates": history["lr"],
        "test_accuracy_history": history["test_accuracy"],
    }


# ------------------------------------------------------------------ outputs

def write_outputs(sc, folder, history, confusion, examples, summary, model_lines):
    """Every output as a Spark text folder under ``folder``."""
    precision, recall, f1 = nn_math.precision_recall_f1(confusion)
    outputs = {
        "cost_history": [repr(c) for c in history["cost"]],
        "accuracy_history": [repr(a) for a in history["accuracy"]],
        "test_accuracy_history": [repr(pair) for pair in history["test_accuracy"]],
        "metrics": [repr((float(p), float(r), float(f))) for p, r, f in zip(precision, recall, f1)],
        "tests": [repr(pair) for pair in examples],
        "confusion_matrix": [" ".join(str(n) for n in row) for row in confusion],
        "summary": [json.dumps(summary)],
        "model": model_lines,
    }
    for name, lines in outputs.items():
        # One part file each, but the model in parts of about 512 KB: Spark ships the
        # data of parallelize() inside its tasks and warns about tasks over 1 MB.
        parts = 1 + sum(map(len, lines)) // 512_000
        sc.parallelize(lines, parts).saveAsTextFile(f"{folder}/{name}")


def prepare_output_dir(sc, args, output_dir):
    """Check OUTPUT_DIR before any work; returns True if outputs will join an existing folder
    (the checkpoints' folder) rather than replace it whole."""
    exists = path_exists(sc, output_dir)
    if args.resume:
        if not exists:
            raise DataError(f"{output_dir}: does not exist, so there is nothing to resume")
        return True
    if exists and not args.overwrite:
        raise DataError(f"{output_dir}: already exists; choose another OUTPUT_DIR or pass --overwrite")
    if args.checkpoint_every:
        if exists:  # checkpoints are written into OUTPUT_DIR as training goes
            delete_path(sc, output_dir)
        return True
    return False


def publish(sc, staging, output_dir, join):
    """Move the finished outputs from the staging folder into OUTPUT_DIR.

    ``join``: OUTPUT_DIR holds this run's checkpoints; each output replaces its namesake there.
    Otherwise OUTPUT_DIR is replaced whole (prepare_output_dir checked --overwrite).
    """
    if not path_exists(sc, output_dir):
        rename_path(sc, staging, output_dir)
    elif join:
        for name in list_names(sc, staging):
            if path_exists(sc, f"{output_dir}/{name}"):
                delete_path(sc, f"{output_dir}/{name}")
            rename_path(sc, f"{staging}/{name}", f"{output_dir}/{name}")
        delete_path(sc, staging)
    else:
        delete_path(sc, output_dir)
        rename_path(sc, staging, output_dir)


# ------------------------------------------------------------------ network

def read_model(sc, path):
    """(Network, theta) from a model/ folder written by an earlier run."""
    if not input_exists(sc, path):
        raise DataError(f"{path}: file not found")
    try:
        return nn_math.model_from_lines(sc.textFile(path).collect())
    except ValueError as e:
        raise DataError(f"{path}: {e}") from None


def resolved_settings(args, net):
    """The settings that define a run, with the network's actual shape filled in."""
    settings = {key: getattr(args, key) for key in RESUME_SETTINGS}
    settings.update(hidden=list(net.sizes[1:-1]), activation=net.activation, loss=net.loss)
    return settings


def resume_state(sc, args, output_dir, data):
    """(Network, state) of the last complete checkpoint; its settings become this run's.

    An option given on the command line must agree with the checkpoint (but --epochs may grow).
    """
    net, state, saved = load_last_checkpoint(sc, f"{output_dir}/checkpoints")
    for key, value in saved.items():
        if key in args.given and getattr(args, key) != value:
            raise DataError(f"--resume: the checkpoint was made with --{key.replace('_', '-')} {value}, "
                            f"this run has {getattr(args, key)}")
        setattr(args, key, value)
    if (net.sizes[0], net.sizes[-1]) != (data.width, data.classes):
        raise DataError(f"--resume: the checkpoint's network takes {net.sizes[0]} values and {net.sizes[-1]} "
                        f"classes, the data has {data.width} and {data.classes}")
    return net, state


def choose_network(sc, args, data):
    """(Network, initial theta): from --init-model, or from the options and --init."""
    if args.init_model:
        net, theta = read_model(sc, args.init_model)
        given = {"hidden": (args.hidden, net.sizes[1:-1]), "activation": (args.activation, net.activation),
                 "loss": (args.loss, net.loss)}
        for option, (value, model_value) in given.items():
            if value is not None and value != model_value:
                shown = [",".join(map(str, v)) if isinstance(v, list) else v for v in (value, model_value)]
                raise DataError(f"--{option} {shown[0]} differs from the model's {shown[1]} ({args.init_model})")
        if (net.sizes[0], net.sizes[-1]) != (data.width, data.classes):
            raise DataError(f"{args.init_model}: a model for {net.sizes[0]} values and {net.sizes[-1]} classes, "
                            f"the data has {data.width} and {data.classes}")
        return net, theta
    net = nn_math.Network([data.width, *(args.hidden or [64]), data.classes],
                          args.activation or "tanh", args.loss or "sse")
    return net, nn_math.init_parameters(net.sizes, np.random.default_rng(args.seed), args.init)


# --------------------------------------------------------------------- main

def run(sc, args, log=print):
    """Load, train, evaluate and write. Outputs are staged and moved into OUTPUT_DIR only when
    all are written; a diverged run still writes them (last finite model) and raises Diverged."""
    output_dir = args.output_dir.rstrip("/")
    join = prepare_output_dir(sc, args, output_dir)
    started = time.perf_counter()
    train_set = load_data_set(sc, args.train_images, args.train_labels, args.block_size)
    test_set = load_data_set(sc, args.test_images, args.test_labels, args.block_size,
                             n_classes=train_set.classes, width=train_set.width)
    load_seconds = time.perf_counter() - started
    if args.resume:
        net, state = resume_state(sc, args, output_dir, train_set)
    else:
        net, theta = choose_network(sc, args, train_set)
        state = initial_state(theta, args)
    memory, disk = cached_bytes(sc, train_set.blocks)
    log(f"loaded {train_set.rows} training and {test_set.rows} test rows of {train_set.width} values, "
        f"{train_set.classes} classes, in {load_seconds:.1f} s (training set cached: {memory / 2 ** 20:.0f} MB in "
        f"memory, {disk / 2 ** 20:.0f} MB on disk); network {'-'.join(map(str, net.sizes))} "
        f"({net.activation} hidden, {net.loss} loss), {sc.defaultParallelism} cores, Spark {sc.version}"
        + (f"; resuming after epoch {state['epoch']}" if args.resume else ""))

    settings = resolved_settings(args, net)
    diverged = None
    try:
        train(sc, train_set, net, state, args, log, test_set,
              checkpoint=lambda st: save_checkpoint(sc, f"{output_dir}/checkpoints", st, net, settings))
    except Diverged as e:
        diverged = e
    history, theta = state["history"], state["theta"]
    confusion, examples = test_confusion(sc, test_set, theta, net, examples=N_EXAMPLES)
    summary = summarise(confusion, history, args, net, train_set, test_set, load_seconds)
    summary["diverged"] = str(diverged) if diverged else None
    summary["cached_bytes"] = {"memory": memory, "disk": disk}
    summary["spark_version"], summary["cores"] = sc.version, sc.defaultParallelism

    staging = f"{output_dir}._incomplete-{sc.applicationId}"
    try:
        write_outputs(sc, staging, history, confusion, examples, summary, nn_math.model_to_lines(net, theta))
        publish(sc, staging, output_dir, join)
    finally:
        if path_exists(sc, staging):
            delete_path(sc, staging)
    if diverged:
        raise diverged
    train_seconds = sum(history["seconds"])
    log(f"done in {clock(time.perf_counter() - started)}: test accuracy {summary['test_accuracy']:.4f}, "
        f"macro F1 {summary['macro_f1']:.4f}; training {train_seconds:.1f} s "
        f"({train_seconds / max(1, len(history['seconds'])):.2f} s per epoch); outputs in {output_dir}")
    return summary


def main(argv=None):
    args = parse_args(argv)
    sc = start_spark()
    try:
        run(sc, args, log=partial(print, flush=True))
        return EXIT_OK
    except DataError as e:
        print(f"main_task.py: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Diverged as e:
        print(f"main_task.py: error: {e} (histories and the last finite model are in {args.output_dir})",
              file=sys.stderr)
        return EXIT_DIVERGED
    finally:
        sc.stop()


if __name__ == "__main__":
    sys.exit(main())
