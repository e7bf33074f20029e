"""Train a fully connected network on MNIST with PySpark RDDs: map steps, then a tree reduce.

    spark-submit main_task.py TRAIN_IMAGES TRAIN_LABELS TEST_IMAGES TEST_LABELS OUTPUT_DIR [options]
    spark-submit main_task.py TRAIN TEST OUTPUT_DIR --label-column first|last|N [options]

    spark-submit --master 'local[2]' main_task.py data/mnist_images_train.csv \\
        data/mnist_labels_train.csv data/mnist_images_test.csv data/mnist_labels_test.csv output/run

The inputs are parsed once into cached blocks of rows (data_io.py). The training loop is
training.py's; each epoch is one Spark job, one of two kinds (executor_tasks.py):
  - data-parallel (the default, as the original): broadcast the weights theta; in chained map
    steps over each block, keep the epoch's sampled rows (a mask fixed by seed, epoch and row
    number), propagate forward (z = h W + b, then h = f(z), dropout masked) layer by layer and
    backward (the output delta, then each layer's gradients and the delta below); treeAggregate
    the sums of error, correct predictions, rows and gradient. The driver divides by the rows
    once, adds any L1/L2 penalty, sets the learning rate (bold driver by default) and takes one
    optimizer step.
  - model averaging (--local-steps K > 1): broadcast theta and the optimizer's moments; every
    partition takes K optimizer steps on its share of the sample; treeAggregate sums them
    weighted by rows, and their average is the new theta and moments.
Every formula is in nn_math.py, the model file in model_file.py, checkpoints in checkpoints.py;
this file is the driver. predict.py scores new rows with a saved model.
"""

import argparse
import sys
import time

import numpy as np

import executor_tasks
import memory_check
import nn_math
import onnx_export
import output_folder
import checkpoints
import model_file
import run_report
import training
from data_io import cached_bytes, load_data_set, peek_shape
from errors import EXIT_BAD_INPUT, EXIT_DIVERGED, DataError, Diverged
from options import (
    OneLineParser,
    at_least_zero,
    block_size_option,
    checked,
    count,
    label_column,
    layers,
    positive,
    rate,
    whole,
)
from run_settings import hidden_sizes, run_defining, starting_point
from scaling import SCALES
from spark_setup import run_with_spark

# ------------------------------------------------------------- command line

def parse_args(argv):
    parser = OneLineParser(prog="main_task.py",
                           description="Train a fully connected network on MNIST CSV files with Spark RDDs.")
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="TRAIN_IMAGES TRAIN_LABELS TEST_IMAGES TEST_LABELS OUTPUT_DIR, or with --label-column "
                             "TRAIN TEST OUTPUT_DIR: CSV files (any Hadoop path, plain or .gz), then the folder to "
                             "create for the outputs")
    option = parser.add_argument_group("inputs").add_argument
    option("--label-column", type=label_column, metavar="first|last|N",
           help="the label is this column (1-based) of each row: one file holds a set's features and labels")
    option("--scale", choices=("auto", *SCALES),
           help="inputs: pixels (/255, or as they are in [0, 1]), standardize (per feature, by the training set's "
                "mean and standard deviation) or none (default: auto, pixels if every value looks like one)")
    option = parser.add_argument_group("network (taken from --init-model when given)").add_argument
    option("--hidden", type=layers, help="hidden layer sizes, comma-separated (default: 64)")
    option("--activation", choices=nn_math.HIDDEN_ACTIVATIONS, help="hidden layers (default: tanh)")
    option("--loss", choices=tuple(nn_math.LOSSES), help="sse: sigmoid outputs, 1/2 sum (y - y*)^2, as the "
           "original; cross-entropy: softmax outputs (default: sse)")
    option("--init", choices=("uniform", "xavier", "he"), default="uniform",
           help="initial weights: uniform in [-0.5, 0.5) as the original, xavier or he (default: %(default)s)")
    option("--init-model", metavar="PATH",
           help="start from the model/ folder of an earlier run; with --epochs 0, only evaluate it")
    option = parser.add_argument_group("training").add_argument
    option("--epochs", type=whole, default=100, help="epochs; each is one gradient step, or --local-steps "
           "steps in every partition (default: %(default)s)")
    option("--sample-fraction", type=checked(float, lambda v: 0 < v <= 1, "a number in (0, 1]"), default=0.7,
           help="share of the training rows in each epoch's mini-batch (default: %(default)s)")
    option("--optimizer", choices=nn_math.OPTIMIZERS, default="sgd",
           help="sgd as the original, momentum or adam (default: %(default)s)")
    option("--momentum", type=rate, default=0.9, help="for --optimizer momentum (default: %(default)s)")
    option("--beta1", type=rate, default=0.9, help="for --optimizer adam (default: %(default)s)")
    option("--beta2", type=rate, default=0.999, help="for --optimizer adam (default: %(default)s)")
    option("--local-steps", type=count, default=1, help="K > 1: each partition takes K optimizer steps on its "
           "share of the epoch's sample, then the driver averages the weights (model averaging); 1 = one "
           "data-parallel gradient step per epoch (default: %(default)s)")
    option("--l2", type=at_least_zero, default=0.0, help="weight decay: + l2/2 sum W^2 (default: 0)")
    option("--l1", type=at_least_zero, default=0.0, help="+ l1 sum |W| (default: 0)")
    option("--dtype", choices=("float32", "float64"), default="float32",
           help="the matrix products' precision; sums over rows, blocks and partitions, the weights and the "
           "optimizer's state stay float64 (default: %(default)s)")
    option("--dropout", type=rate, default=0.0, help="inverted dropout rate on hidden units while training "
           "(default: 0)")
    option = parser.add_argument_group("learning rate").add_argument
    option("--lr", type=positive, default=0.1, help="initial learning rate (default: %(default)s)")
    option("--lr-schedule", choices=nn_math.SCHEDULES,
           help="bold-driver: x up when the cost fell, x down otherwise; step: x decay every --lr-step epochs; "
                "exponential: x decay every epoch (default: bold-driver for sgd, as the original; constant for "
                "momentum and adam, whose users expect the rate they gave)")
    option("--bold-up", type=positive, default=1.05, help="bold driver: factor when the cost fell "
           "(default: %(default)s)")
    option("--bold-down", type=positive, default=0.5, help="bold driver: factor when it did not "
           "(default: %(default)s)")
    option("--lr-decay", type=positive, default=0.5, help="factor for step and exponential (default: %(default)s)")
    option("--lr-step", type=count, default=10, help="epochs per step (default: %(default)s)")
    option = parser.add_argument_group("run").add_argument
    option("--eval-every", type=whole, default=0, help="test accuracy every N epochs, 0 = only at the end "
           "(default: 0)")
    block_size_option(option)
    option("--seed", type=checked(int, lambda v: 0 <= v < 2 ** 63, "an integer >= 0"), default=42,
           help="seeds the initial weights, every sample and dropout mask (default: %(default)s)")
    option("--overwrite", action="store_true",
           help="replace OUTPUT_DIR if it exists, once the new outputs are complete")
    option("--checkpoint-every", type=whole, default=0,
           help="save the training state every N epochs (default: 0, never); they end up in OUTPUT_DIR/checkpoints")
    option("--resume", action="store_true",
           help="continue from the last complete checkpoint in OUTPUT_DIR, with its settings")
    args = parser.parse_args(argv)
    names = ("train_images", "test_images", "output_dir") if args.label_column else (
        "train_images", "train_labels", "test_images", "test_labels", "output_dir")
    if len(args.paths) != len(names):
        parser.error(f"the following arguments are required: {' '.join(n.upper() for n in names)} "
                     f"(given {len(args.paths)} paths)")
    vars(args).update(zip(names, args.paths))
    if args.label_column:
        args.train_labels = args.test_labels = None
    if args.lr_schedule is None:
        args.lr_schedule = default_schedule(args.optimizer)
    if args.epochs == 0 and not (args.init_model or args.resume):
        parser.error("--epochs 0 trains nothing: it evaluates the model given with --init-model")
    args.given = options_given(parser, argv)
    return args


def default_schedule(optimizer):
    """The learning-rate schedule when none is given: the original's bold driver for sgd; a
    constant rate for momentum and adam, which adapt their steps themselves."""
    return "bold-driver" if optimizer == "sgd" else "constant"


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


# --------------------------------------------------------------------- main

def run(sc, args, log=print):
    """Load, train, evaluate and write. Outputs are written into a staging folder and take
    OUTPUT_DIR's place only when all are written; a diverged run still writes them (last finite
    model) and raises Diverged."""
    output_dir = args.output_dir.rstrip("/")
    inputs = {"TRAIN_IMAGES": args.train_images, "TRAIN_LABELS": args.train_labels, "TEST_IMAGES": args.test_images,
              "TEST_LABELS": args.test_labels, "--init-model": args.init_model}
    staging = output_folder.open_staging(sc, output_dir, log, {k: v for k, v in inputs.items() if v},
                                         overwrite=args.overwrite, resume=args.resume)
    try:
        return train_and_write(sc, args, staging, log)
    finally:
        staging.close()


def train_and_write(sc, args, staging, log):
    """run()'s work, into the Staging folder ``staging``."""
    if not (args.init_model or args.resume):  # a network that was trained before fitted then
        width, classes = peek_shape(sc, args.train_images, args.train_labels, args.label_column)
        memory_check.check(sc, [width, *hidden_sizes(args), classes], args.optimizer, np.dtype(args.dtype).itemsize,
                           args.block_size)
    started = time.perf_counter()
    log(f"loading {args.train_images} and {args.test_images} ...")
    train_set = load_data_set(sc, args.train_images, args.train_labels, args.block_size, label_column=args.label_column)
    test_set = load_data_set(sc, args.test_images, args.test_labels, args.block_size, n_classes=train_set.classes,
                             width=train_set.width, label_column=args.label_column)
    load_seconds = time.perf_counter() - started
    start = starting_point(sc, args, train_set, staging.resume_from, log)
    net, state, scale = start.net, start.state, start.scaling
    train_set, test_set = train_set._replace(scaling=scale), test_set._replace(scaling=scale)
    memory, disk = cached_bytes(sc, train_set.cached)
    for name, data in (("training", train_set), ("test", test_set)):
        for kind, files in data.files.items():
            if len(files) > 1:
                log(f"{name} {kind}: {len(files)} files, read in this order: {', '.join(files)}")
    headers = [f"{data.headers[kind]} {name} {kind} header line{'s' * (data.headers[kind] > 1)} skipped"
               for name, data in (("training", train_set), ("test", test_set)) for kind in ("features", "labels")
               if data.headers[kind]]
    log(f"loaded {train_set.rows} training and {test_set.rows} test rows of {train_set.width} values, "
        f"{train_set.classes} classes, in {load_seconds:.1f} s (training set cached: {memory / 2 ** 20:.0f} MB in "
        f"memory, {disk / 2 ** 20:.0f} MB on disk{''.join(f'; {h}' for h in headers)}); "
        f"network {'-'.join(map(str, net.sizes))} ({net.activation} hidden, {net.loss} loss, {scale.kind} "
        f"inputs), {sc.defaultParallelism} cores, Spark {sc.version}"
        + (f"; resuming after epoch {state.epoch}" if args.resume else ""))

    if scale.kind == "standardize" and (args.scale or "auto") == "auto" and not args.resume and not args.init_model:
        log(f"--scale auto: standardizing, not pixels, because of {why_not_pixels(train_set.not_pixels)}")
    defining = run_defining(start.options, net)
    if args.resume and staging.resume_from != staging.checkpoints:  # so that OUTPUT_DIR keeps a checkpoint
        checkpoints.save_checkpoint(sc, staging.checkpoints, state, net, scale, defining)
    diverged = None
    try:
        training.train(sc, train_set, net, state, start.settings, log, test_set,
              checkpoint=lambda st: checkpoints.save_checkpoint(sc, staging.checkpoints, st, net, scale, defining))
    except Diverged as e:
        diverged = e
    # The saved model is evaluated in float64, as predict.py reads it: their predictions agree exactly.
    confusion, examples = executor_tasks.evaluate(sc, test_set, state.theta, net, examples=run_report.N_EXAMPLES)
    summary = run_report.summary_record(confusion, state.history, net, train_set, test_set, start.options, load_seconds)
    summary.update(diverged=str(diverged) if diverged else None, cached_bytes={"memory": memory, "disk": disk},
                   spark_version=sc.version, cores=sc.defaultParallelism, scaling=scale.kind,
                   header_lines={"train": train_set.headers["features"], "train_labels": train_set.headers["labels"],
                                 "test": test_set.headers["features"], "test_labels": test_set.headers["labels"]})
    outputs = run_report.output_lines(state.history, confusion, examples, summary,
                                 model_file.model_to_lines(net, state.theta, scale))
    staging.publish(outputs, files=onnx_file(net, state.theta, scale, log))
    if diverged:
        raise diverged
    seconds = state.history["seconds"]
    log(f"done in {training.clock(time.perf_counter() - started)}: test accuracy {summary['test_accuracy']:.4f}, "
        f"macro F1 {summary['macro_f1']:.4f}; training {sum(seconds):.1f} s "
        f"({sum(seconds) / max(1, len(seconds)):.2f} s per epoch); outputs in {staging.output_dir}")
    return summary


def why_not_pixels(not_pixels):
    """The values that kept a training set from being read as pixels, in words: of the two ways
    (data_io.NOT_PIXEL), the one fewer values break, and its first such value."""
    way, (count, first) = min(not_pixels.items(), key=lambda item: item[1][0])
    return f"{first}, {way}" + (f", and {count - 1:,} more such values" if count > 1 else "")


def onnx_file(net, theta, scale, log):
    """{"model.onnx": its bytes}, or {} with one line saying why not (the onnx package is optional)."""
    if np.abs(theta).max() > np.finfo(np.float32).max:  # a diverged run's last finite weights
        log("model.onnx not written: the weights do not fit in float32")
        return {}
    try:
        return {"model.onnx": onnx_export.model_bytes(net, theta, scale)}
    except ImportError:
        log("model.onnx not written: the onnx package is not installed (pip install onnx); the rest is")
        return {}


def main(argv=None):
    args = parse_args(argv)
    return run_with_spark("main_task.py", run, args, {
        DataError: (EXIT_BAD_INPUT, str),
        Diverged: (EXIT_DIVERGED, lambda e: f"{e} (histories and the last finite model are in {args.output_dir})")})


if __name__ == "__main__":
    sys.exit(main())
