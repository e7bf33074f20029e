"""Draw the training curves of a main_task.py run.

    python generate_plots.py OUTPUT_DIR
        reads OUTPUT_DIR/cost_history and OUTPUT_DIR/accuracy_history (and
        test_accuracy_history, when the run recorded one with --eval-every), writes
        OUTPUT_DIR/cost_history.png and OUTPUT_DIR/accuracy_history.png

    python generate_plots.py COST_FILE ACC_FILE|None OUT_DIR
        the original tutorial's call: COST_FILE and ACC_FILE are part files (or
        folders of them) with one float per line; None skips the accuracy plot.

Outputs are read from the local disk: copy them first from gs:// or hdfs://.
"""

import argparse
import ast
import glob
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt  # noqa: E402


class InputError(Exception):
    """A missing or malformed input, reported in one line."""


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


def read_points(path):
    """(epoch, value) pairs, one per line, from a file or an output folder."""
    points = []
    for number, line in enumerate(read_lines(path), 1):
        try:
            epoch, value = ast.literal_eval(line)
            points.append((int(epoch), float(value)))
        except (ValueError, TypeError, SyntaxError):
            raise InputError(f"{path}: line {number}: {line[:30]!r} is not an (epoch, value) pair") from None
    return points


def plot_curve(values, ylabel, path, test_points=()):
    """A per-epoch curve saved as a PNG at ``path``; test_points are (epoch, value) marks."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.plot(range(1, len(values) + 1), values, color="tab:blue", label="training (epoch's sample)")
    if test_points:
        epochs, test_values = zip(*test_points)
        ax.plot(epochs, test_values, "o-", color="tab:orange", markersize=4, label="test set")
        ax.legend(loc="lower right")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{ylabel} per epoch")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_histories(cost_path, accuracy_path, out_dir, test_accuracy_path=None):
    """cost_history.png, and accuracy_history.png unless accuracy_path is None."""
    costs = read_floats(cost_path)
    if not costs:  # a run with --epochs 0 only evaluated a model
        return []
    os.makedirs(out_dir, exist_ok=True)
    written = [plot_curve(costs, "cost", os.path.join(out_dir, "cost_history.png"))]
    if accuracy_path is not None:
        test_points = read_points(test_accuracy_path) if test_accuracy_path else ()
        written.append(plot_curve(read_floats(accuracy_path), "accuracy",
                                  os.path.join(out_dir, "accuracy_history.png"), test_points))
    return written


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="generate_plots.py",
        usage="%(prog)s OUTPUT_DIR | %(prog)s COST_FILE ACC_FILE|None OUT_DIR",
        description="Plot cost and accuracy per epoch from a main_task.py output folder.")
    parser.add_argument("paths", nargs="+", help="OUTPUT_DIR, or COST_FILE ACC_FILE|None OUT_DIR")
    args = parser.parse_args(argv)
    if len(args.paths) not in (1, 3):
        parser.error(f"expected 1 or 3 paths, got {len(args.paths)}")
    return args


def main(argv=None):
    paths = parse_args(argv).paths
    test_accuracy_path = None
    if len(paths) == 1:
        out_dir = paths[0]
        cost_path = os.path.join(out_dir, "cost_history")
        accuracy_path = os.path.join(out_dir, "accuracy_history")
        recorded = os.path.join(out_dir, "test_accuracy_history")
        if os.path.isdir(recorded) and read_lines(recorded):
            test_accuracy_path = recorded
    else:
        cost_path, accuracy_path, out_dir = paths
        accuracy_path = None if accuracy_path == "None" else accuracy_path
    try:
        written = plot_histories(cost_path, accuracy_path, out_dir, test_accuracy_path)
        for path in written:
            print(f"wrote {path}")
        if not written:
            print(f"{cost_path}: no epochs recorded (a run with --epochs 0?): nothing to plot")
    except InputError as e:
        print(f"generate_plots.py: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
