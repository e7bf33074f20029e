"""Reading the job's inputs: CSV files into cached blocks of rows, checked while parsed.

Every path is a Hadoop path (hadoop_fs.py). No math here (nn_math.py) and no training
(main_task.py). Functions that run in Spark tasks are shipped with this module
(SparkContext.addPyFile).
"""

import re
from collections import namedtuple
from functools import partial

import numpy as np

import hadoop_fs
import nn_math
from errors import DataError, as_error, first_error

DataSet = namedtuple("DataSet", "blocks rows width classes format")


def cached_bytes(sc, rdd):
    """(bytes in memory, bytes on disk) of a persisted RDD's cached partitions."""
    for info in sc._jsc.sc().getRDDStorageInfo():
        if info.id() == rdd.id():
            return int(info.memSize()), int(info.diskSize())
    return 0, 0


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
    if not hadoop_fs.input_exists(sc, path):
        raise DataError(f"{path}: file not found")
    line = hadoop_fs.first_line(sc, path)
    if line is None:
        raise DataError(f"{path}: empty file")
    return detect_format(path, line)


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
    """Parsed pixel rows -> the matrix a block stores, (n, width).

    Pixels that are whole steps of 1/255 (integers 0-255, or the seed layout's k/255)
    are kept as uint8 k: a quarter of float32's bytes, and every epoch moves the cached
    blocks into Python. ``pixels`` turns either back into floats in [0, 1]. Other data
    is kept as float32.
    """
    top = 255.0 if fmt["integers"] else 1.0
    _reject_rows((rows < 0) | (rows > top), rows, first_line, path, f"is outside [0, {top:g}]")
    steps = rows * (255.0 / top)
    whole = np.rint(steps)
    if fmt["integers"] or np.array_equal(whole / 255.0, rows):
        return whole.astype(np.uint8)
    return rows.astype(np.float32)


def pixels(X):
    """A block's stored image matrix -> float64 pixels in [0, 1], same shape."""
    if X.dtype == np.uint8:
        return X / 255.0
    return X.astype(np.float64)


def label_vector(rows, first_line, path, fmt):
    """Parsed label rows -> class numbers (n,) int64: a class per line, or one-hot rows."""
    if fmt["width"] == 1:
        _reject_rows((rows < 0) | (rows != np.round(rows)), rows, first_line, path,
                     "is not a class number 0, 1, 2, ...")
        return rows[:, 0].astype(np.int64)
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
    """[(line, index), ...] with consecutive indices -> {"start", "X" (n, d), "Y" (n, k) uint8}.

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
    return {"start": start, "X": X, "Y": nn_math.one_hot(labels[start:start + len(chunk)], n_classes, np.uint8)}


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


PARTITION_BYTES = 512 * 2 ** 20  # of float32 rows, at the most, in one partition


def partition_count(rows, width, cores):
    """How many partitions to cache a set in: one per core, or whole waves of ``cores`` once
    a partition would pass PARTITION_BYTES.

    Every epoch runs one Spark task per partition and each Python task has a fixed cost
    (tens of milliseconds), so partitions beyond one per core only add waves of overhead.
    """
    needed = -(-rows * width * 4 // PARTITION_BYTES)
    return cores * max(1, -(-needed // cores))


def text_lines(sc, path, partitions):
    """The lines of a text input read in about ``partitions`` splits of even size.

    sc.textFile cuts at the file system's block size (32 MB on local disk), which leaves
    uneven splits; a minimum split size of size / partitions makes them even.
    """
    split = max(1, -(-hadoop_fs.input_bytes(sc, path) // partitions))
    return sc.newAPIHadoopFile(path, "org.apache.hadoop.mapreduce.lib.input.TextInputFormat",
                               "org.apache.hadoop.io.LongWritable", "org.apache.hadoop.io.Text",
                               conf={"mapreduce.input.fileinputformat.split.minsize": str(split)}).values()


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
    target = partition_count(len(labels), fmt["width"], sc.defaultParallelism)
    blocks = (text_lines(sc, image_path, target).zipWithIndex()
              .mapPartitions(partial(image_blocks, path=image_path, fmt=fmt, labels_bc=labels_bc,
                                     n_classes=n_classes, block_size=block_size)))
    if blocks.getNumPartitions() > target:  # several files: at least a split each
        blocks = blocks.coalesce(target)  # narrow: parsed where read, no shuffle
    elif blocks.getNumPartitions() < sc.defaultParallelism:  # e.g. a .gz file is one split
        blocks = blocks.repartition(sc.defaultParallelism)
    # Spills to local disk rather than recomputing when executors run short of memory. The
    # blocks are pickled bytes already; "deserialized" keeps those byte arrays as they are in
    # the JVM. The serialized level would pass them through Java serialization (and, on Spark 4,
    # LZ4: spark.rdd.compress) on every read: a third of the memory, but about 40 ms more JVM
    # CPU per epoch on full MNIST.
    blocks = blocks.persist(StorageLevel.MEMORY_AND_DISK_DESER)
    rows, error = blocks.map(block_check).treeAggregate((0, None), add_checks, add_checks)  # parses, caches
    first_error([error])
    if rows != len(labels):
        raise DataError(f"{image_path}: {rows} images, but {label_path} has {len(labels)} labels")
    return DataSet(blocks, rows, fmt["width"], n_classes, fmt)
