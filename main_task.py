"""Train a fully connected network on MNIST with PySpark RDDs: map steps, then a tree reduce.

    spark-submit main_task.py TRAIN_IMAGES TRAIN_LABELS TEST_IMAGES TEST_LABELS OUTPUT_DIR [options]

    spark-submit --master 'local[2]' main_task.py data/mnist_images_train.csv \\
        data/mnist_labels_train.csv data/mnist_images_test.csv data/mnist_labels_test.csv output/run

Each RDD element is a block of rows: an image matrix X and a one-hot target matrix Y,
parsed once per partition and cached. Every epoch:
  1. broadcast the weights theta;
  2. map: keep the sampled rows of each block (a mask fixed by seed, epoch and row number);
  3. map, per layer: the pre-activation z = a W + b, then the activation a = f(z);
  4. map: the output delta, then per layer (last first) its gradients and the delta below;
  5. treeAggregate the sums (error, correct predictions, rows, gradient);
  6. on the driver: divide once by the rows, adapt the learning rate (bold driver), step.
The formulas live in nn_math.py; this file orchestrates them.
"""

import argparse
import json
import operator
import os
import re
import sys
import time
from collections import namedtuple
from functools import partial

import numpy as np

import nn_math

HERE = os.path.dirname(os.path.abspath(__file__))
EXIT_OK, EXIT_BAD_INPUT = 0, 2
N_EXAMPLES = 100  # (prediction, label) pairs written to tests/

DataSet = namedtuple("DataSet", "blocks rows width classes format")


class DataError(Exception):
    """A user mistake (bad file, bad option, existing output): one line, exit code 2.

    Parsers running in Spark tasks do not let it escape: a failed task would be
    retried and logged with a traceback. They return it as data instead
    (``as_error``), and the driver raises the first one, by line number.
    """

    def __init__(self, message, line=0):
        super().__init__(message)
        self.line = line


def as_error(exc):
    """A DataError as a picklable (line, message) pair."""
    return (exc.line, str(exc))


def first_error(errors):
    """Raise the DataError of the earliest line among (line, message) pairs, if any."""
    errors = [e for e in errors if e is not None]
    if errors:
        line, message = min(errors)
        raise DataError(message, line)


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
        description="Train a fully connected network on MNIST CSV files with Spark RDDs.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        parser.add_argument(name, help="CSV file (any Hadoop path, plain or .gz)")
    parser.add_argument("output_dir", help="folder to create for the outputs (any Hadoop path)")
    parser.add_argument("--epochs", type=_checked(int, lambda v: v >= 0, "an integer >= 0"), default=100)
    parser.add_argument("--hidden", type=_checked(_layer_list, lambda v: min(v) >= 1, "sizes >= 1 like 64 or 256,128"),
                        default=[64], help="hidden layer sizes, comma-separated")
    parser.add_argument("--lr", type=_checked(float, lambda v: 0 < v < float("inf"), "a number > 0"),
                        default=0.1, help="initial learning rate")
    parser.add_argument("--sample-fraction", type=_checked(float, lambda v: 0 < v <= 1, "a number in (0, 1]"),
                        default=0.7, help="share of the training rows sampled each epoch")
    parser.add_argument("--block-size", type=_checked(int, lambda v: v >= 1, "an integer >= 1"),
                        default=1024, help="rows per RDD element (1 = the original's one row per element)")
    parser.add_argument("--seed", type=_checked(int, lambda v: 0 <= v < 2 ** 63, "an integer >= 0"),
                        default=42, help="seeds the initial weights and every epoch's sample")
    parser.add_argument("--overwrite", action="store_true", help="replace OUTPUT_DIR if it exists")
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
    sc.addPyFile(os.path.join(HERE, "nn_math.py"))
    return sc


# ---------------------------------------------------- Hadoop file system

def _hadoop_path(sc, path):
    """(FileSystem, Path) for any Hadoop path: local, hdfs://, gs://, ..."""
    jpath = sc._jvm.org.apache.hadoop.fs.Path(path)
    return jpath.getFileSystem(sc._jsc.hadoopConfiguration()), jpath


def path_exists(sc, path):
    fs, jpath = _hadoop_path(sc, path)
    return fs.exists(jpath)


def input_exists(sc, path):
    """True if ``path`` (a file, folder or glob) names at least one existing file."""
    fs, jpath = _hadoop_path(sc, path)
    found = fs.globStatus(jpath)
    return found is not None and len(found) > 0


def delete_path(sc, path):
    fs, jpath = _hadoop_path(sc, path)
    fs.delete(jpath, True)


def rename_path(sc, source, target):
    fs, jsource = _hadoop_path(sc, source)
    if not fs.rename(jsource, _hadoop_path(sc, target)[1]):
        raise OSError(f"could not move {source} to {target}")


# ------------------------------------------------------------------ reading

def split_values(line, sep):
    """The value strings of one line: comma-separated, or whitespace-separated if sep is None."""
    return [v.strip() for v in line.split(sep)] if sep else line.split()


def detect_format(path, first_line):
    """How a file is written, from its first line.

    Returns {"sep": "," or None (whitespace), "width": values per line,
    "integers": True if every value is an integer (pixels 0-255, class numbers)}.
    """
    if not first_line.strip():
        raise DataError(f"{path}: line 1: empty line")
    sep = "," if "," in first_line else None
    values = split_values(first_line, sep)
    integers = all(re.fullmatch(r"[+-]?\d+", v) for v in values)
    return {"sep": sep, "width": len(values), "integers": integers}


def read_format(sc, path):
    """detect_format of a Hadoop path, with one-line errors for a missing or empty file."""
    if not input_exists(sc, path):
        raise DataError(f"{path}: file not found")
    first = sc.textFile(path).take(1)
    if not first:
        raise DataError(f"{path}: empty file")
    return detect_format(path, first[0])


def locate_bad_line(lines, first_line, path, fmt):
    """The DataError for the first line of ``lines`` that is not ``width`` numbers."""
    for i, line in enumerate(lines):
        number = first_line + i
        where = f"{path}: line {number}"
        if not line.strip():
            return DataError(f"{where}: empty line", number)
        values = split_values(line, fmt["sep"])
        if len(values) != fmt["width"]:
            return DataError(f"{where}: expected {fmt['width']} values, found {len(values)}", number)
        for value in values:
            try:
                float(value)
            except ValueError:
                return DataError(f"{where}: {value[:20]!r} is not a number", number)
    return DataError(f"{path}: lines {first_line}-{first_line + len(lines) - 1}: cannot be read", first_line)


def parse_rows(lines, first_line, path, fmt):
    """Lines of numbers -> (len(lines), width) float64, every value finite.

    ``first_line`` is the 1-based line number of lines[0], for error messages.
    """
    try:
        rows = np.loadtxt(lines, delimiter=fmt["sep"], dtype=np.float64, ndmin=2, comments=None)
    except ValueError:
        rows = None
    if rows is None or rows.shape != (len(lines), fmt["width"]):
        raise locate_bad_line(lines, first_line, path, fmt)
    _reject_rows(~np.isfinite(rows), rows, first_line, path, "is not a finite number")
    return rows


def _reject_rows(bad, rows, first_line, path, what):
    """Raise a DataError naming the first True of ``bad`` (same shape as rows), if any."""
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise DataError(f"{path}: line {first_line + i}: value {rows[i, j]:g} (column {j + 1}) {what}",
                        first_line + i)


def image_matrix(rows, first_line, path, fmt):
    """Parsed pixel rows -> X (n, width) float32 in [0, 1]; 0-255 if the file holds integers."""
    top = 255.0 if fmt["integers"] else 1.0
    _reject_rows((rows < 0) | (rows > top), rows, first_line, path, f"is outside [0, {top:g}]")
    return (rows / top).astype(np.float32)


def label_vector(rows, first_line, path, fmt):
    """Parsed label rows -> class numbers (n,) int64: a class per line, or one-hot rows."""
    if fmt["width"] == 1:
        labels = rows[:, 0]
        _reject_rows((labels < 0) | (labels != np.round(labels)), rows, first_line, path,
                     "is not a class number 0, 1, 2, ...")
        return labels.astype(np.int64)
    one_hot = ((rows == 0) | (rows == 1)).all(axis=1) & (rows.sum(axis=1) == 1)
    if not one_hot.all():
        i = int(np.argmin(one_hot))
        raise DataError(f"{path}: line {first_line + i}: target row is not one-hot (one 1, the rest 0)",
                        first_line + i)
    return rows.argmax(axis=1)


def label_partition(indexed_lines, path, fmt):
    """(line, index) pairs of a label file's partition -> [(class numbers (n,), error or None)]."""
    pairs = list(indexed_lines)
    if pairs:
        first_line = pairs[0][1] + 1
        try:
            rows = parse_rows([line for line, _ in pairs], first_line, path, fmt)
            yield label_vector(rows, first_line, path, fmt), None
        except DataError as e:
            yield np.empty(0, dtype=np.int64), as_error(e)


def read_labels(sc, path, n_classes=None):
    """All labels of a file, in line order, as (n,) int64, and the number of classes.

    Labels take a byte or so per row, so they are collected and broadcast: the image
    blocks then pair with them by line number, with no shuffle.
    """
    fmt = read_format(sc, path)
    parts = sc.textFile(path).zipWithIndex().mapPartitions(partial(label_partition, path=path, fmt=fmt)).collect()
    first_error(error for _, error in parts)
    labels = np.concatenate([part for part, _ in parts])
    if n_classes is None:
        n_classes = fmt["width"] if fmt["width"] > 1 else int(labels.max()) + 1
        if n_classes < 2:
            raise DataError(f"{path}: every label is 0: at least two classes are needed")
    outside = np.flatnonzero(labels >= n_classes)
    if outside.size:
        raise DataError(f"{path}: line {outside[0] + 1}: class {labels[outside[0]]} is outside the "
                        f"{n_classes} classes of the training labels")
    return labels, n_classes


def make_block(chunk, path, fmt, labels_bc, n_classes):
    """[(line, index), ...] with consecutive indices -> {"start", "X" (n, d) float32, "Y" (n, k)}.

    A block whose lines are bad is {"start", "error": (line, message)} instead.
    """
    start = chunk[0][1]
    first_line = start + 1
    labels = labels_bc.value
    try:
        X = image_matrix(parse_rows([line for line, _ in chunk], first_line, path, fmt), first_line, path, fmt)
        if start + len(chunk) > len(labels):
            raise DataError(f"{path}: line {len(labels) + 1}: more images than labels ({len(labels)})",
                            len(labels) + 1)
    except DataError as e:
        return {"start": start, "error": as_error(e)}
    return {"start": start, "X": X, "Y": nn_math.one_hot(labels[start:start + len(chunk)], n_classes)}


def block_check(block):
    """(rows, error or None) of one block, for checking a freshly loaded set."""
    return (0, block["error"]) if "error" in block else (len(block["Y"]), None)


def add_checks(a, b):
    """Add row counts; keep the error of the earliest line."""
    errors = [e for e in (a[1], b[1]) if e is not None]
    return a[0] + b[0], min(errors) if errors else None


def image_blocks(indexed_lines, path, fmt, labels_bc, n_classes, block_size):
    """A partition's (line, index) pairs -> blocks of up to ``block_size`` rows."""
    chunk = []
    for pair in indexed_lines:
        chunk.append(pair)
        if len(chunk) == block_size:
            yield make_block(chunk, path, fmt, labels_bc, n_classes)
            chunk = []
    if chunk:
        yield make_block(chunk, path, fmt, labels_bc, n_classes)


def load_data_set(sc, image_path, label_path, block_size, n_classes=None, width=None):
    """Parse an image file and its label file into cached blocks: a DataSet.

    ``n_classes`` and ``width`` come from the training set when loading the test set.
    """
    from pyspark import StorageLevel
    labels, n_classes = read_labels(sc, label_path, n_classes)
    fmt = read_format(sc, image_path)
    if width is not None and fmt["width"] != width:
        raise DataError(f"{image_path}: line 1: {fmt['width']} values per row, the training images have {width}")
    labels_bc = sc.broadcast(labels)
    blocks = (sc.textFile(image_path, minPartitions=sc.defaultParallelism).zipWithIndex()
              .mapPartitions(partial(image_blocks, path=image_path, fmt=fmt, labels_bc=labels_bc,
                                     n_classes=n_classes, block_size=block_size)))
    if blocks.getNumPartitions() < sc.defaultParallelism:  # e.g. a .gz file is one partition
        blocks = blocks.repartition(sc.defaultParallelism)
    # Spills to local disk rather than recomputing when executors run short of memory.
    blocks = blocks.persist(StorageLevel.MEMORY_AND_DISK)
    rows, error = blocks.map(block_check).treeAggregate((0, None), add_checks, add_checks)  # parses, caches
    first_error([error])
    if rows != len(labels):
        raise DataError(f"{image_path}: {rows} images, but {label_path} has {len(labels)} labels")
    return DataSet(blocks, rows, fmt["width"], n_classes, fmt)


# ---------------------------------------------------- one epoch, map steps

def sample_step(block, seed, epoch, fraction):
    """Block -> the state of its sampled rows: {"a": [X (m, d)], "Y": (m, k)}."""
    rows = block["start"] + np.arange(len(block["Y"]))
    keep = nn_math.sample_mask(seed, epoch, rows, fraction)
    return {"a": [block["X"][keep].astype(np.float64)], "Y": block["Y"][keep]}


def pre_activation_step(state, theta_bc, sizes, layer):
    """Forward, layer ``layer``: append z = a W + b to state["z"]."""
    W, b = nn_math.layer_views(theta_bc.value, sizes)[layer]
    state.setdefault("z", []).append(nn_math.pre_activation(state["a"][-1], W, b))
    return state


def activation_step(state, name):
    """Forward: append a = f(z) of the last pre-activation to state["a"]."""
    state["a"].append(nn_math.activate(name, state["z"][-1]))
    return state


def output_delta_step(state, name, n_params):
    """Backward, output layer: the error, correct count and delta; room for the gradient."""
    a_out, Y = state["a"][-1], state["Y"]
    state["error"] = nn_math.sse(a_out, Y)
    state["correct"] = nn_math.count_correct(a_out, Y)
    state["delta"] = nn_math.output_delta_sse(a_out, Y, name)
    state["grad"] = np.empty(n_params)
    return state


def gradient_step(state, theta_bc, sizes, activations, layer):
    """Backward, layer ``layer``: its gradients into state["grad"], then the delta below it."""
    nabla_W, nabla_b = nn_math.layer_views(state["grad"], sizes)[layer]
    nabla_W[...], nabla_b[...] = nn_math.layer_gradients(state["a"][layer], state["delta"])
    if layer > 0:
        W = nn_math.layer_views(theta_bc.value, sizes)[layer][0]
        state["delta"] = nn_math.hidden_delta(state["delta"], W, state["a"][layer], activations[layer - 1])
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


def epoch_sums(blocks, theta_bc, sizes, activations, seed, epoch, fraction):
    """Forward and backward propagation over the sampled rows of every block, summed.

    Returns [sum of errors, correct predictions, rows, gradient sum (flat)], or None
    if no row was sampled. Consecutive maps run fused in one Python task per partition.
    """
    steps = blocks.map(partial(sample_step, seed=seed, epoch=epoch, fraction=fraction))
    for layer, name in enumerate(activations):
        steps = steps.map(partial(pre_activation_step, theta_bc=theta_bc, sizes=sizes, layer=layer))
        steps = steps.map(partial(activation_step, name=name))
    steps = steps.map(partial(output_delta_step, name=activations[-1], n_params=nn_math.parameter_count(sizes)))
    for layer in reversed(range(len(activations))):
        steps = steps.map(partial(gradient_step, theta_bc=theta_bc, sizes=sizes,
                                  activations=activations, layer=layer))
    return steps.map(block_sums).treeAggregate(None, add_sums, add_sums)


# ---------------------------------------------------------------- training

def train(sc, data, sizes, activations, args, log=print):
    """Run the epochs; returns (theta, history of per-epoch lists)."""
    theta = nn_math.init_uniform(sizes, np.random.default_rng(args.seed))
    lr, previous_cost = args.lr, None
    history = {"cost": [], "accuracy": [], "lr": [], "sample": [], "seconds": []}
    for epoch in range(1, args.epochs + 1):
        started = time.perf_counter()
        theta_bc = sc.broadcast(theta)
        sums = epoch_sums(data.blocks, theta_bc, sizes, activations, args.seed, epoch, args.sample_fraction)
        theta_bc.destroy()
        if sums is None or sums[2] == 0:
            raise DataError(f"epoch {epoch}: the sample is empty; raise --sample-fraction or add rows")
        error, correct, count, grad = sums
        cost, accuracy = error / count, correct / count
        lr = nn_math.bold_driver(lr, cost, previous_cost)
        theta = theta - lr * (grad / count)
        previous_cost = cost
        seconds = time.perf_counter() - started
        for key, value in zip(history, (cost, accuracy, lr, count, seconds)):
            history[key].append(value)
        log(f"epoch {epoch:3d}/{args.epochs}  cost {cost:.6f}  train accuracy {accuracy:.4f}  "
            f"lr {lr:.6f}  sample {count}  {seconds:.2f} s")
    return theta, history


# -------------------------------------------------------------- evaluation

def block_predictions(block, theta_bc, sizes, activations):
    """(predicted classes (n,), true classes (n,)) of one block."""
    predicted = nn_math.predict(theta_bc.value, sizes, activations, block["X"].astype(np.float64))
    return predicted, block["Y"].argmax(axis=1)


def evaluate(sc, data, theta, sizes, activations):
    """(confusion matrix (k, k), the first N_EXAMPLES (prediction, label) pairs) on a DataSet."""
    theta_bc = sc.broadcast(theta)
    predictions = data.blocks.map(partial(block_predictions, theta_bc=theta_bc, sizes=sizes,
                                          activations=activations))
    k = data.classes
    confusion = (predictions.map(lambda pair: nn_math.confusion_matrix(pair[1], pair[0], k))
                 .treeAggregate(np.zeros((k, k), dtype=np.int64), operator.add, operator.add))
    examples = predictions.flatMap(lambda pair: zip(pair[0].tolist(), pair[1].tolist())).take(N_EXAMPLES)
    theta_bc.destroy()
    return confusion, examples


def summarise(confusion, history, args, sizes, activations, train_set, test_set, load_seconds):
    """The summary/ record: test metrics, settings and timings, as a dict."""
    precision, recall, f1 = nn_math.precision_recall_f1(confusion)
    per_class = [{"class": c, "precision": float(precision[c]), "recall": float(recall[c]),
                  "f1": float(f1[c]), "support": int(confusion[c].sum())} for c in range(len(confusion))]
    return {
        "test_accuracy": float(np.trace(confusion) / confusion.sum()),
        "macro_f1": float(f1.mean()),
        "final_train_accuracy": history["accuracy"][-1] if history["accuracy"] else None,
        "final_cost": history["cost"][-1] if history["cost"] else None,
        "per_class": per_class,
        "confusion_matrix": confusion.tolist(),
        "layer_sizes": sizes, "activations": activations,
        "train_rows": train_set.rows, "test_rows": test_set.rows, "classes": train_set.classes,
        "settings": dict(vars(args)),
        "load_seconds": load_seconds,
        "epoch_seconds": history["seconds"],
        "learning_rates": history["lr"],
    }


# ------------------------------------------------------------------ outputs

def write_outputs(sc, folder, history, confusion, examples, summary, model_lines):
    """Every output as a Spark text folder (one part file) under ``folder``."""
    precision, recall, f1 = nn_math.precision_recall_f1(confusion)
    outputs = {
        "cost_history": [repr(c) for c in history["cost"]],
        "accuracy_history": [repr(a) for a in history["accuracy"]],
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
    sizes = [train_set.width, *args.hidden, train_set.classes]
    activations = nn_math.layer_activations(len(sizes) - 1)
    log(f"loaded {train_set.rows} training and {test_set.rows} test rows of {train_set.width} values, "
        f"{train_set.classes} classes, in {load_seconds:.1f} s; network {'-'.join(map(str, sizes))} "
        f"({', '.join(activations)}), {sc.defaultParallelism} cores, Spark {sc.version}")

    theta, history = train(sc, train_set, sizes, activations, args, log)
    confusion, examples = evaluate(sc, test_set, theta, sizes, activations)
    summary = summarise(confusion, history, args, sizes, activations, train_set, test_set, load_seconds)

    staging = f"{output_dir}._incomplete-{sc.applicationId}"
    try:
        write_outputs(sc, staging, history, confusion, examples, summary,
                      nn_math.model_to_lines(sizes, activations, theta))
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
