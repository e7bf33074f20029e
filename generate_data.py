"""Write MNIST as the four CSV files that main_task.py reads.

    python generate_data.py                          # bundled IDX files -> data/*.csv
    python generate_data.py --digits 0,1 --out data/binary
    python generate_data.py --format seed            # the original tutorial's layout
    python generate_data.py --source keras           # through keras, as the original did

Files written into --out: mnist_images_train.csv, mnist_labels_train.csv,
mnist_images_test.csv, mnist_labels_test.csv.

--format compact (default): images as integers 0-255 separated by commas, one
image per line; labels as one class number per line.
--format seed: the original layout, as np.savetxt writes by default: pixels as
floats in [0, 1] separated by spaces; labels one-hot, separated by spaces.
"""

import argparse
import gzip
import os
import sys

import numpy as np

from rddnet.errors import exit_codes
from rddnet.options import OneLineParser

HERE = os.path.dirname(os.path.abspath(__file__))
IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
OUTPUT_NAMES = {
    "train": ("mnist_images_train.csv", "mnist_labels_train.csv"),
    "test": ("mnist_images_test.csv", "mnist_labels_test.csv"),
}
IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC = 2051, 2049


class InputError(Exception):
    """A problem with the input files or options, reported in one line."""


# ------------------------------------------------------------------- reading

def read_idx(path):
    """An IDX file (gzip-compressed or not) as a uint8 array: (n, rows, cols) or (n,)."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (OSError, EOFError) as e:
        raise InputError(f"{path}: cannot be read: {e}") from None
    if len(data) < 8:
        raise InputError(f"{path}: too short to be an IDX file ({len(data)} bytes)")
    magic = int.from_bytes(data[0:4], "big")
    if magic not in (IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC):
        raise InputError(f"{path}: not an IDX file of images or labels (magic {magic})")
    n_dims = 3 if magic == IDX_IMAGES_MAGIC else 1
    header = 4 + 4 * n_dims
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(n_dims))
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise InputError(f"{path}: {len(data)} bytes where the header promises {expected}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def load_idx(idx_dir):
    """{"train": (images (n, 28, 28) uint8, labels (n,) uint8), "test": (...)} from IDX files."""
    return {part: (read_idx(os.path.join(idx_dir, images)), read_idx(os.path.join(idx_dir, labels)))
            for part, (images, labels) in IDX_FILES.items()}


def load_keras():
    """The same dictionary as load_idx, through keras.datasets.mnist (downloads once)."""
    try:
        import keras
    except Exception as e:  # ImportError, or keras 3 with no backend installed
        raise InputError(
            f"keras cannot be imported ({type(e).__name__}: {e}); install it with a backend "
            "(pip install keras tensorflow) or drop --source keras to use the bundled IDX files"
        ) from None
    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as e:  # no network, a proxy, a broken cache
        raise InputError(
            f"keras could not load MNIST ({type(e).__name__}: {e}); "
            "drop --source keras to use the bundled IDX files"
        ) from None
    return {"train": (np.asarray(x_train, np.uint8), np.asarray(y_train, np.uint8)),
            "test": (np.asarray(x_test, np.uint8), np.asarray(y_test, np.uint8))}


# ----------------------------------------------------------------- selecting

def select(images, labels, digits=None, limit=None):
    """Keep the rows whose label is in ``digits`` (relabelled 0..k-1 in that order), then
    the first ``limit`` rows. Returns (images (n, 784) uint8, labels (n,) int)."""
    images = images.reshape(len(images), -1)
    labels = labels.astype(np.int64)
    if digits is not None:
        keep = np.isin(labels, digits)
        relabel = np.full(max(10, max(digits) + 1), -1)
        relabel[digits] = np.arange(len(digits))
        images, labels = images[keep], relabel[labels[keep]]
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return images, labels


# ------------------------------------------------------------------- writing

def write_atomically(path, write):
    """Call write(file) on a temporary file, then move it to ``path``."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        write(f)
    os.replace(tmp, path)


def write_part(images, labels, n_classes, image_path, label_path, layout):
    """Write one part (train or test) in the chosen format."""
    if layout == "compact":
        write_atomically(image_path, lambda f: np.savetxt(f, images, fmt="%d", delimiter=","))
        write_atomically(label_path, lambda f: np.savetxt(f, labels, fmt="%d"))
    else:  # the original layout: np.savetxt's defaults
        one_hot = np.eye(n_classes)[labels]
        write_atomically(image_path, lambda f: np.savetxt(f, images / 255.0))
        write_atomically(label_path, lambda f: np.savetxt(f, one_hot))


# ----------------------------------------------------------- command line

def parse_digits(text):
    """'0,1' -> [0, 1]; each a distinct digit."""
    try:
        digits = [int(d) for d in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected digits separated by commas, got {text!r}") from None
    if len(digits) < 2 or len(set(digits)) != len(digits) or not all(0 <= d <= 9 for d in digits):
        raise argparse.ArgumentTypeError(f"expected at least two distinct digits 0-9, got {text!r}")
    return digits


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_args(argv):
    parser = OneLineParser(
        codes=exit_codes(signals=False),
        prog="generate_data.py", description="Write MNIST as CSV files for main_task.py.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--source", choices=["idx", "keras"], default="idx",
                        help="idx: the IDX files in --idx-dir (offline); keras: keras.datasets.mnist")
    parser.add_argument("--idx-dir", default=os.path.join(HERE, "data"),
                        help="folder holding the four MNIST IDX .gz files")
    parser.add_argument("--out", default=os.path.join(HERE, "data"), help="folder to write the CSVs into")
    parser.add_argument("--format", choices=["compact", "seed"], default="compact",
                        help="compact: 0-255 integers and class numbers; seed: the original's layout")
    parser.add_argument("--digits", type=parse_digits, default=argparse.SUPPRESS,
                        help="keep only these classes, relabelled 0..k-1, e.g. 0,1")
    parser.add_argument("--limit-train", type=positive_int, default=None, help="keep the first N training rows")
    parser.add_argument("--limit-test", type=positive_int, default=None, help="keep the first N test rows")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        data = load_keras() if args.source == "keras" else load_idx(args.idx_dir)
        os.makedirs(args.out, exist_ok=True)
        digits = getattr(args, "digits", None)
        n_classes = len(digits) if digits else 10
        limits = {"train": args.limit_train, "test": args.limit_test}
        for part, (images, labels) in data.items():
            images, labels = select(images, labels, digits, limits[part])
            image_name, label_name = OUTPUT_NAMES[part]
            write_part(images, labels, n_classes, os.path.join(args.out, image_name),
                       os.path.join(args.out, label_name), args.format)
            print(f"{part}: {len(labels)} rows, {n_classes} classes -> "
                  f"{os.path.join(args.out, image_name)}, {label_name} ({args.format})")
    except (InputError, OSError) as e:
        print(f"generate_data.py: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
