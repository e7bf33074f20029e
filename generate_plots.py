"""Draw the results of a main_task.py run.

    python generate_plots.py OUTPUT_DIR [--test-images FILE --test-labels FILE]
        into OUTPUT_DIR: cost_history.png, accuracy_history.png (with the validation
        curves when the run had validation data, and the test accuracy when the run
        recorded it with --eval-every), learning_rate.png,
        confusion_matrix.png, class_metrics.png; with the test files, also
        test_examples.png: test images with their predicted and true labels.

    python generate_plots.py COST_FILE ACC_FILE|None OUT_DIR
        the original tutorial's call: COST_FILE and ACC_FILE are part files (or
        folders of them) with one float per line; None skips the accuracy plot.

Outputs are read from the local disk: copy them first from gs:// or hdfs://.
"""

import ast
import glob
import gzip
import json
import os
import sys

import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt  # noqa: E402

import nn_math  # noqa: E402
from rddnet.errors import DataError, exit_codes  # noqa: E402
from rddnet.inputs import (
    csv_files,  # noqa: E402
    csv_input,  # noqa: E402
)
from rddnet.inputs.scaling import Scaling, moments_of  # noqa: E402
from rddnet.options import OneLineParser  # noqa: E402
from rddnet.outputs import model_file  # noqa: E402

N_FIRST, N_MISTAKES = 24, 16  # cells of the test image grid


class InputError(Exception):
    """A missing or malformed input, reported in one line."""


# ------------------------------------------------------------------- reading

def read_lines(path):
    """The lines of a file, or of the part-* files of a Spark output folder in order."""
    if os.path.isdir(path):
        files = sorted(glob.glob(os.path.join(path, "part-*")))
        if not files:
            raise InputError(f"{path}: no part-* files in this folder")
    elif os.path.isfile(path):
        files = [path]
    else:
        raise InputError(f"{path}: file not found")
    lines = []
    for name in files:
        with open(name) as f:
            lines.extend(line.strip() for line in f if line.strip())
    return lines


def read_floats(path):
    """One float per line, from a file or an output folder."""
    values = []
    for number, line in enumerate(read_lines(path), 1):
        try:
            values.append(float(line))
        except ValueError:
            raise InputError(f"{path}: line {number}: {line[:20]!r} is not a number") from None
    return values


def read_tuples(path, size):
    """One tuple of ``size`` numbers per line, like (epoch, accuracy) or (precision, recall, F1)."""
    return read_tuples_of(path, size, ast.literal_eval)


def read_tuples_of(path, size, split):
    """One tuple of ``size`` numbers per line of ``path``, each line's values split(line)."""
    tuples = []
    for number, line in enumerate(read_lines(path), 1):
        try:
            values = tuple(float(v) for v in split(line))
        except (ValueError, TypeError, SyntaxError):
            values = ()
        if len(values) != size:
            raise InputError(f"{path}: line {number}: {line[:30]!r} is not a tuple of {size} numbers")
        tuples.append(values)
    return tuples


def read_csv_rows(path, reader):
    """Every line of a (possibly .gz) CSV file, parsed by the job's checks (csv_files.py) into reader's result."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt") as f:
            lines = [line.rstrip("\n") for line in f]
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (UnicodeDecodeError, EOFError, OSError) as e:  # a table's file, a .gz that is not one or is cut short
        raise InputError(f"{path}: not a CSV text file ({type(e).__name__}: {str(e).splitlines()[0][:80]}); "
                         "--test-images and --test-labels take CSV files, plain or .gz") from None
    if not lines:
        raise InputError(f"{path}: empty file")
    try:
        layout = csv_files.detect_format(path, lines[:2])
        lines[0] = lines[0].lstrip(csv_files.BOM)
        while not lines[-1].strip():  # blank lines at the end are ignored, as the job does
            lines.pop()
        first = 1 + layout["header"]  # the first data line's number
        return reader(csv_files.parse_rows(lines[layout["header"]:], first, path, layout), first, path, layout)
    except DataError as e:
        raise InputError(str(e)) from None


# ------------------------------------------------------------------ plotting

def save(fig, path):
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_curve(values, ylabel, path, marks=(), log_scale=False):
    """A per-epoch curve saved as a PNG at ``path``; marks: (label, [(epoch, value), ...]) curves
    drawn beside it (the validation rows', the test set's)."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.plot(range(1, len(values) + 1), values, color="tab:blue", label="training (epoch's sample)")
    for (label, points), color in zip(marks, ("tab:green", "tab:orange")):
        epochs, marked = zip(*points)
        ax.plot(epochs, marked, "o-", color=color, markersize=3, label=label)
    if marks:
        ax.legend(loc="best")
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{ylabel} per epoch")
    ax.grid(alpha=0.3)
    return save(fig, path)


def plot_confusion(confusion, path):
    """A heat map of the confusion matrix with its counts written in."""
    k = len(confusion)
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * k, 1.0 + 0.5 * k), dpi=100)
    image = ax.imshow(np.log1p(confusion), cmap="Blues")
    for i in range(k):
        for j in range(k):
            dark = image.norm(np.log1p(confusion[i, j])) > 0.6
            ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if dark else "black")
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = np.trace(confusion) / confusion.sum()
    ax.set_title(f"test confusion matrix (accuracy {accuracy:.4f})")
    return save(fig, path)


def plot_class_metrics(metrics, path):
    """Grouped bars of precision, recall and F1 per class."""
    metrics = np.asarray(metrics)
    k = len(metrics)
    x = np.arange(k)
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * k + 2), 4), dpi=100)
    for i, name in enumerate(("precision", "recall", "F1")):
        ax.bar(x + (i - 1) * 0.27, metrics[:, i], width=0.27, label=name)
    ax.set_xticks(x)
    ax.set_xlabel("class")
    ax.set_ylim(max(0.0, metrics.min() - 0.1), 1.0)
    ax.set_title(f"test metrics per class (macro F1 {metrics[:, 2].mean():.4f})")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=3, frameon=False)
    ax.grid(alpha=0.3, axis="y")
    return save(fig, path)


def plot_examples(X, labels, predicted, path):
    """The first N_FIRST test images, then the first N_MISTAKES it got wrong, with labels."""
    side = int(round(np.sqrt(X.shape[1])))
    wrong = np.flatnonzero(predicted != labels)
    shown = list(range(min(N_FIRST, len(X)))) + [i for i in wrong if i >= N_FIRST][:N_MISTAKES]
    columns = 8
    rows = -(-len(shown) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.2, rows * 1.45), dpi=100, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i in zip(axes.ravel(), shown):
        ax.imshow(X[i].reshape(side, side), cmap="gray_r", vmin=0, vmax=1)
        mistake = predicted[i] != labels[i]
        ax.set_title(f"{predicted[i]} (true {labels[i]})" if mistake else str(predicted[i]),
                     fontsize=8, color="tab:red" if mistake else "black")
        if mistake:
            ax.axis("on")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_color("tab:red")
                spine.set_linewidth(2)
    fig.suptitle(f"predictions: the first {min(N_FIRST, len(X))} test images, then mistakes in red "
                 f"({len(wrong)} of {len(X)} wrong)", fontsize=9)
    return save(fig, path)


# --------------------------------------------------------------------- modes

def plot_histories(cost_path, accuracy_path, out_dir, test_accuracy_path=None, validation_path=None):
    """cost_history.png, and accuracy_history.png unless accuracy_path is None; with
    validation_path (validation_history/: "epoch,cost,accuracy" lines), the validation curves
    beside the training ones."""
    costs = read_floats(cost_path)
    if not costs:  # a run with --epochs 0 only evaluated a model
        return []
    os.makedirs(out_dir, exist_ok=True)
    validation = read_tuples_csv(validation_path, 3) if validation_path else []
    label = "validation rows (weights after the epoch)"
    written = [plot_curve(costs, "cost", os.path.join(out_dir, "cost_history.png"),
                          [(label, [(e, c) for e, c, _ in validation])] if validation else ())]
    if accuracy_path is not None:
        marks = [(label, [(e, a) for e, _, a in validation])] if validation else []
        if test_accuracy_path:
            marks.append(("test set", read_tuples(test_accuracy_path, 2)))
        written.append(plot_curve(read_floats(accuracy_path), "accuracy",
                                  os.path.join(out_dir, "accuracy_history.png"), marks))
    return written


def read_tuples_csv(path, size):
    """One line of ``size`` comma-separated numbers per line, like "epoch,cost,accuracy"."""
    return read_tuples_of(path, size, lambda line: line.split(","))


def plot_run(out_dir, test_images=None, test_labels=None):
    """Every plot of a job's output folder; the examples need the test files."""
    recorded = os.path.join(out_dir, "test_accuracy_history")
    test_history = recorded if os.path.isdir(recorded) and read_lines(recorded) else None
    validated = os.path.join(out_dir, "validation_history")
    written = plot_histories(os.path.join(out_dir, "cost_history"), os.path.join(out_dir, "accuracy_history"),
                             out_dir, test_history, validated if os.path.isdir(validated) else None)
    summary = json.loads(read_lines(os.path.join(out_dir, "summary"))[0])
    if summary["learning_rates"]:
        written.append(plot_curve(summary["learning_rates"], "learning rate",
                                  os.path.join(out_dir, "learning_rate.png"), log_scale=True))
    confusion = np.array([[int(n) for n in line.split()] for line in read_lines(os.path.join(out_dir,
                                                                                               "confusion_matrix"))])
    written.append(plot_confusion(confusion, os.path.join(out_dir, "confusion_matrix.png")))
    written.append(plot_class_metrics(read_tuples(os.path.join(out_dir, "metrics"), 3),
                                      os.path.join(out_dir, "class_metrics.png")))
    if test_images:
        X = read_csv_rows(test_images, lambda rows, *_: rows)
        labels = read_csv_rows(test_labels, csv_input.label_vector)
        if len(X) != len(labels):
            raise InputError(f"{test_images}: {len(X)} images, but {test_labels} has {len(labels)} labels")
        try:
            net, theta, scale, _ = model_file.model_from_lines(read_lines(os.path.join(out_dir, "model")),
                                                       os.path.join(out_dir, "model"))
        except ValueError as e:
            raise InputError(str(e)) from None
        if net.sizes[0] != X.shape[1]:
            raise InputError(f"{test_images}: {X.shape[1]} values per row, the model takes {net.sizes[0]}")
        if scale.divisor is None:  # a model from before the scaling was saved
            scale = Scaling.choose(scale.kind, moments_of(X))
        written.append(plot_examples(X / X.max(), labels, nn_math.predict(theta, net, scale.apply(X)),
                                     os.path.join(out_dir, "test_examples.png")))
    return written


# ------------------------------------------------------------- command line

def parse_args(argv):
    parser = OneLineParser(
        codes=exit_codes(signals=False),
        prog="generate_plots.py",
        usage="%(prog)s OUTPUT_DIR [--test-images FILE --test-labels FILE] | %(prog)s COST_FILE ACC_FILE|None OUT_DIR",
        description="Plot the results of a main_task.py run from its (local) output folder.")
    parser.add_argument("paths", nargs="+", help="OUTPUT_DIR, or COST_FILE ACC_FILE|None OUT_DIR")
    parser.add_argument("--test-images", help="the test images CSV, to draw test_examples.png")
    parser.add_argument("--test-labels", help="the test labels CSV, with --test-images")
    args = parser.parse_args(argv)
    if len(args.paths) not in (1, 3):
        parser.error(f"expected 1 or 3 paths, got {len(args.paths)}")
    if bool(args.test_images) != bool(args.test_labels):
        parser.error("--test-images and --test-labels go together")
    if args.test_images and len(args.paths) != 1:
        parser.error("--test-images needs the OUTPUT_DIR form")
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        if len(args.paths) == 1:
            written = plot_run(args.paths[0], args.test_images, args.test_labels)
        else:
            cost_path, accuracy_path, out_dir = args.paths
            written = plot_histories(cost_path, None if accuracy_path == "None" else accuracy_path, out_dir)
    except InputError as e:
        print(f"generate_plots.py: error: {e}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    if not written:
        print("no epochs recorded (a run with --epochs 0?): nothing to plot")
    return 0


if __name__ == "__main__":
    sys.exit(main())
