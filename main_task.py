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
import operator
import os
import sys
import time
from functools import partial

import numpy as np

import nn_math
from data_io import DataError, delete_path, input_exists, load_data_set, path_exists, rename_path

HERE = os.path.dirname(os.path.abspath(__file__))
EXIT_OK, EXIT_BAD_INPUT = 0, 2
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
    parser = argparse.ArgumentParser(
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
                          help="gradient steps, one per epoch (default: %(default)s)")
    training.add_argument("--sample-fraction", type=_checked(float, lambda v: 0 < v <= 1, "a number in (0, 1]"),
                          default=0.7, help="share of the training rows in each epoch's mini-batch "
                                            "(default: %(default)s)")
    training.add_argument("--optimizer", choices=nn_math.OPTIMIZERS, default="sgd", help="(default: %(default)s)")
    training.add_argument("--momentum", type=_checked(float, lambda v: 0 <= v < 1, "a number in [0, 1)"),
                          default=0.9, help="for --optimizer momentum (default: %(default)s)")
    training.add_argument("--beta1", type=_checked(float, lambda v: 0 <= v < 1, "a number in [0, 1)"),
                          default=0.9, help="for --optimizer adam (default: %(default)s)")
    training.add_argument("--beta2", type=_checked(float, lambda v: 0 <= v < 1, "a number in [0, 1)"),
                          default=0.999, help="for --optimizer adam (default: %(default)s)")
    training.add_argument("--l2", type=at_least_zero, default=0.0, help="weight decay: + l2/2 sum W^2 (default: 0)")
    training.add_argument("--l1", type=at_least_zero, default=0.0, help="+ l1 sum |W| (default: 0)")
    training.add_argument("--dropout", type=_checked(float, lambda v: 0 <= v < 1, "a number in [0, 1)"),
                          default=0.0, help="inverted dropout rate on hidden units while training (default: 0)")

    schedule = parser.add_argument_group("learning rate")
    schedule.add_argument("--lr", type=positive, default=0.1, help="initial learning rate (default: %(default)s)")
    schedule.add_argument("--lr-schedule", choices=nn_math.SCHEDULES, default="bold-driver",
                          help="bold-driver: x up when the cost fell, x down otherwise; step: x decay every "
                               "--lr-step epochs; exponential: x decay every epoch (default: %(default)s)")
    schedule.add_argument("--bold-up", type=positive, default=1.05, help="(default: %(default)s)")
    schedule.add_argument("--bold-down", type=positive, default=0.5, help="(default: %(default)s)")
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
    run.add_argument("--overwrite", action="store_true", help="replace OUTPUT_DIR if it exists")
    return parser.parse_args(argv)


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
    """A SparkContext for the master spark-submit chose, with nn_math shipped to executors."""
    from pyspark import SparkConf, SparkContext
    SparkContext._ensure_initialized()
    conf = SparkConf().setAppName("mnist-mlp-rdd")
    quiet_spark_logs(conf)
    conf.setIfMissing("spark.ui.showConsoleProgress", "false")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
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
    return {"h": [block["X"][keep].astype(np.float64)], "gates": [None], "Y": block["Y"][keep], "rows": rows[keep]}


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
    """The sums one block contributes: [error, correct, rows, gradient]."""
    return [state["error"], state["correct"], len(state["Y"]), state["grad"]]


def add_sums(total, part):
    """Add two [error, correct, rows, gradient] sums, in place; None is the empty sum."""
    if total is None:
        return part
    if part is not None:
        for i in range(3):
            total[i] += part[i]
        total[3] += part[3]
    return total


def epoch_sums(blocks, theta_bc, net, seed, epoch, fraction, dropout=0.0):
    """Forward and backward propagation over the sampled rows of every block, summed.

    Returns [sum of errors, correct predictions, rows, gradient sum (flat)], or None
    if no row was sampled. Consecutive maps run fused in one Python task per partition.
    """
    steps = blocks.map(partial(sample_step, seed=seed, epoch=epoch, fraction=fraction))
    for layer in range(net.layers):
        steps = steps.map(partial(pre_activation_step, theta_bc=theta_bc, sizes=net.sizes, layer=layer))
        steps = steps.map(partial(activation_step, net=net, layer=layer, dropout=dropout, seed=seed, epoch=epoch))
    steps = steps.map(partial(output_delta_step, net=net))
    for layer in reversed(range(net.layers)):
        steps = steps.map(partial(gradient_step, theta_bc=theta_bc, sizes=net.sizes, layer=layer))
    return steps.map(block_sums).treeAggregate(None, add_sums, add_sums)


# ---------------------------------------------------------------- training

def train(sc, data, net, theta, args, log=print, test_set=None):
    """Run the epochs from ``theta``; returns (theta, history of per-epoch lists).

    With ``test_set`` and args.eval_every = N > 0, the test accuracy is measured every N epochs.
    """
    state = nn_math.optimizer_state(args.optimizer, theta)
    lr, previous_cost = args.lr, None
    regularised = args.l1 > 0 or args.l2 > 0
    history = {"cost": [], "accuracy": [], "lr": [], "sample": [], "seconds": [], "test_accuracy": []}
    for epoch in range(1, args.epochs + 1):
        started = time.perf_counter()
        theta_bc = sc.broadcast(theta)
        sums = epoch_sums(data.blocks, theta_bc, net, args.seed, epoch, args.sample_fraction, args.dropout)
        theta_bc.destroy()
        if sums is None or sums[2] == 0:
            raise DataError(f"epoch {epoch}: the sample is empty; raise --sample-fraction or add rows")
        error, correct, count, grad = sums
        cost, gradient = error / count, grad / count
        if regularised:
            cost += nn_math.penalty(theta, net.sizes, args.l1, args.l2)
            gradient += nn_math.penalty_gradient(theta, net.sizes, args.l1, args.l2)
        lr = nn_math.learning_rate(args.lr_schedule, epoch, args.lr, lr, cost, previous_cost,
                                   args.lr_decay, args.lr_step, args.bold_up, args.bold_down)
        theta, state = nn_math.optimizer_step(args.optimizer, theta, gradient, lr, state,
                                              args.momentum, args.beta1, args.beta2)
        previous_cost = cost
        seconds = time.perf_counter() - started
        for key, value in zip(history, (cost, correct / count, lr, count, seconds)):
            history[key].append(value)
        line = (f"epoch {epoch:3d}/{args.epochs}  cost {cost:.6f}  train accuracy {correct / count:.4f}  "
                f"lr {lr:.6g}  sample {count}  {seconds:.2f} s")
        if test_set is not None and args.eval_every and epoch % args.eval_every == 0:
            accuracy = accuracy_of(test_confusion(sc, test_set, theta, net))
            history["test_accuracy"].append((epoch, accuracy))
            line += f"  test accuracy {accuracy:.4f}"
        log(line)
    return theta, history


# -------------------------------------------------------------- evaluation

def block_predictions(block, theta_bc, net):
    """(predicted classes (n,), true classes (n,)) of one block."""
    return nn_math.predict(theta_bc.value, net, block["X"].astype(np.float64)), block["Y"].argmax(axis=1)


def test_confusion(sc, data, theta, net, examples=0):
    """Confusion matrix (k, k) of ``theta`` on a DataSet; with ``examples`` > 0, also the
    first that many (prediction, label) pairs."""
    theta_bc = sc.broadcast(theta)
    predictions = data.blocks.map(partial(block_predictions, theta_bc=theta_bc, net=net))
    k = data.classes
    confusion = (predictions.map(lambda pair: nn_math.confusion_matrix(pair[1], pair[0], k))
                 .treeAggregate(np.zeros((k, k), dtype=np.int64), operator.add, operator.add))
    pairs = predictions.flatMap(lambda pair: zip(pair[0].tolist(), pair[1].tolist())).take(examples) if examples else []
    theta_bc.destroy()
    return (confusion, pairs) if examples else confusion


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
        "settings": dict(vars(args)),
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


def publish(sc, staging, output_dir, overwrite):
    """Move the finished staging folder to OUTPUT_DIR, replacing it only with --overwrite."""
    if path_exists(sc, output_dir):
        if not overwrite:
            raise DataError(f"{output_dir}: already exists; choose another OUTPUT_DIR or pass --overwrite")
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
    """Load, train, evaluate and write; the outputs appear in OUTPUT_DIR only when complete."""
    output_dir = args.output_dir.rstrip("/")
    if path_exists(sc, output_dir) and not args.overwrite:
        raise DataError(f"{output_dir}: already exists; choose another OUTPUT_DIR or pass --overwrite")
    started = time.perf_counter()
    train_set = load_data_set(sc, args.train_images, args.train_labels, args.block_size)
    test_set = load_data_set(sc, args.test_images, args.test_labels, args.block_size,
                             n_classes=train_set.classes, width=train_set.width)
    load_seconds = time.perf_counter() - started
    net, theta = choose_network(sc, args, train_set)
    log(f"loaded {train_set.rows} training and {test_set.rows} test rows of {train_set.width} values, "
        f"{train_set.classes} classes, in {load_seconds:.1f} s; network {'-'.join(map(str, net.sizes))} "
        f"({net.activation} hidden, {net.loss} loss), {sc.defaultParallelism} cores, Spark {sc.version}")

    theta, history = train(sc, train_set, net, theta, args, log, test_set)
    confusion, examples = test_confusion(sc, test_set, theta, net, examples=N_EXAMPLES)
    summary = summarise(confusion, history, args, net, train_set, test_set, load_seconds)

    staging = f"{output_dir}._incomplete-{sc.applicationId}"
    try:
        write_outputs(sc, staging, history, confusion, examples, summary, nn_math.model_to_lines(net, theta))
        publish(sc, staging, output_dir, args.overwrite)
    finally:
        if path_exists(sc, staging):
            delete_path(sc, staging)
    train_seconds = sum(history["seconds"])
    log(f"test accuracy {summary['test_accuracy']:.4f}  macro F1 {summary['macro_f1']:.4f}  "
        f"training {train_seconds:.1f} s ({train_seconds / max(1, args.epochs):.2f} s per epoch)  "
        f"outputs in {output_dir}")
    return summary


def main(argv=None):
    args = parse_args(argv)
    sc = start_spark()
    try:
        run(sc, args)
        return EXIT_OK
    except DataError as e:
        print(f"main_task.py: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        sc.stop()


if __name__ == "__main__":
    sys.exit(main())
