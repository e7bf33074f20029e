"""Reading the job's inputs: CSV files into cached blocks of rows, checked while parsed.

Every path is a Hadoop path (hadoop_fs.py). No math here (nn_math.py) and no training
(main_task.py). Functions that run in Spark tasks are shipped with this module
(SparkContext.addPyFile).
"""

import functools
from collections import namedtuple
from functools import partial

import numpy as np

import hadoop_fs
import scaling
from errors import DataError, as_error, first_error

# blocks: the cached RDD of blocks; rows; width: features per row; classes; format: detect_format's;
# moments: scaling.Moments of the features; scaling: the model's scaling.Scaling, once chosen.
DataSet = namedtuple("DataSet", "blocks rows width classes format moments scaling", defaults=(None,))


def cached_bytes(sc, rdd):
    """(bytes in memory, bytes on disk) of a persisted RDD's cached partitions."""
    for info in sc._jsc.sc().getRDDStorageInfo():
        if info.id() == rdd.id():
            return int(info.memSize()), int(info.diskSize())
    return 0, 0


# ------------------------------------------------------------------ reading

BOM = "\ufeff"  # UTF-8 byte-order mark, as Excel's "CSV UTF-8" starts a file


def split_values(line, sep):
    """The value strings of one line: comma-separated, or whitespace-separated if sep is None."""
    return [v.strip() for v in line.split(sep)] if sep else line.split()


def is_numbers(line):
    """True if every value of a line (comma- or whitespace-separated) is a number."""
    values = split_values(line, "," if "," in line else None)
    try:
        [float(v) for v in values]
    except ValueError:
        return False
    return bool(values)


def detect_format(path, first_lines, label_column=None):
    """How a file is written, from its first two lines (a byte-order mark dropped).

    Returns {"sep": "," or None (whitespace), "width": values per line, "header": True if line 1
    is a header (not numbers, when line 2 is), "label_column": 0-based column of the label, or None}.
    """
    lines = [first_lines[0].lstrip(BOM), *first_lines[1:2]]
    if not lines[0].strip():
        raise DataError(f"{path}: line 1: empty line")
    header = len(lines) > 1 and not is_numbers(lines[0]) and is_numbers(lines[1])
    row = lines[1] if header else lines[0]
    sep = "," if "," in row else None
    values = split_values(row, sep)
    fmt = {"sep": sep, "width": len(values), "header": header, "label_column": None}
    if label_column is not None:
        column = {"first": 1, "last": len(values)}.get(label_column, label_column)
        if not 1 <= int(column) <= len(values):
            raise DataError(f"{path}: --label-column {label_column}: the rows have {len(values)} values")
        fmt["label_column"] = int(column) - 1
    return fmt


def read_format(sc, path, label_column=None):
    """detect_format of a Hadoop path, with one-line errors for a missing or empty file."""
    if not hadoop_fs.input_exists(sc, path):
        raise DataError(f"{path}: file not found")
    lines = hadoop_fs.first_lines(sc, path, 2)
    if not lines:
        raise DataError(f"{path}: empty file")
    return detect_format(path, lines, label_column)


def data_lines(indexed_lines, fmt, report):
    """Yield a partition's data lines as (line, index) pairs: the header and blank lines left out.

    Once exhausted, ``report`` holds {"blank": the number of its first blank line or None,
    "last": the number of its last data line or 0}: whether a blank line is allowed (only after
    the last data line of the input) is decided once every partition has reported.
    """
    report.update(blank=None, last=0)
    for line, index in indexed_lines:
        if index == 0:
            if fmt["header"]:
                continue
            line = line.lstrip(BOM)
        if line.strip():
            report["last"] = index + 1
            yield line, index
        elif report["blank"] is None:
            report["blank"] = index + 1


def blank_line_error(path, first_blanks, last_datas):
    """(line, message) for the first blank line that has data after it, or None (blank lines at
    the end of a file, as many editors leave, are ignored)."""
    blanks = [b for b in first_blanks if b is not None]
    if blanks and min(blanks) < max(last_datas, default=0):
        return (min(blanks), f"{path}: line {min(blanks)}: empty line")
    return None


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


def _reject_rows(bad, rows, first_line, path, what, columns=None):
    """Raise a DataError naming the first True of ``bad`` (same shape as rows), if any.
    ``columns``: the file's column number of each column of rows (default 1, 2, ...)."""
    if bad.any():
        i, j = np.argwhere(bad)[0]
        column = columns[j] if columns is not None else j + 1
        raise DataError(f"{path}: line {first_line + i}: value {rows[i, j]:g} (column {column}) {what}",
                        first_line + i)


def feature_matrix(rows):
    """Parsed feature rows -> (the matrix a block stores (n, d), its unit).

    Values that are whole steps of 1/unit in [0, 255 / unit] (integers 0-255: unit 1; the seed
    layout's k/255: unit 255) are kept as uint8 k: a quarter of float32's bytes, and every epoch
    moves the cached blocks into Python. Other data is kept as float32 (unit None).
    """
    for unit in (1, 255):
        steps = np.rint(rows * unit)
        if steps.size and steps.min() >= 0 and steps.max() <= 255 and np.array_equal(steps / unit, rows):
            return steps.astype(np.uint8), unit
    return rows.astype(np.float32), None


def raw_features(block):
    """A block's stored features -> the file's values, (n, d) float64."""
    if block["unit"] is not None:
        return block["X"] / float(block["unit"])
    return block["X"].astype(np.float64)


def network_inputs(block, scale, rows=slice(None)):
    """The network's inputs (n, d) float64 for the ``rows`` of a block (a scaling.Scaling)."""
    if block["unit"] is not None:
        return scale.apply_to_steps(block["X"][rows], block["unit"])
    return scale.apply(block["X"][rows])


def label_vector(rows, first_line, path, fmt, columns=None):
    """Parsed label rows -> class numbers (n,) int64: a class per line, or one-hot rows."""
    if rows.shape[1] == 1:
        _reject_rows((rows < 0) | (rows != np.round(rows)), rows, first_line, path,
                     "is not a class number 0, 1, 2, ...", columns)
        return rows[:, 0].astype(np.int64)
    one_hot = ((rows == 0) | (rows == 1)).all(axis=1) & (rows.sum(axis=1) == 1)
    if not one_hot.all():
        i = int(np.argmin(one_hot))
        raise DataError(f"{path}: line {first_line + i}: target row is not one-hot (one 1, the rest 0)",
                        first_line + i)
    return rows.argmax(axis=1)


def split_label_column(rows, first_line, path, fmt):
    """(features (n, d), class numbers (n,)) of rows that hold a label column; else (rows, None)."""
    c = fmt["label_column"]
    if c is None:
        return rows, None
    labels = label_vector(rows[:, c:c + 1], first_line, path, fmt, columns=[c + 1])
    return np.delete(rows, c, axis=1), labels


def label_partition(indexed_lines, path, fmt):
    """(line, index) pairs of a label file's partition -> [(class numbers (n,), error or None,
    first blank line, last data line)]."""
    report = {}
    pairs = list(data_lines(indexed_lines, fmt, report))
    labels, error = np.empty(0, dtype=np.int64), None
    if pairs:
        first_line = pairs[0][1] + 1
        try:
            labels = label_vector(parse_rows([line for line, _ in pairs], first_line, path, fmt), first_line, path,
                                  fmt)
        except DataError as e:
            error = as_error(e)
    yield labels, error, report["blank"], report["last"]


def read_labels(sc, path, n_classes=None):
    """All labels of a file, in line order, as (n,) int64, and the number of classes.

    Labels take a byte or so per row, so they are collected and broadcast: the image
    blocks then pair with them by line number, with no shuffle.
    """
    fmt = read_format(sc, path)
    parts = sc.textFile(path).zipWithIndex().mapPartitions(partial(label_partition, path=path, fmt=fmt)).collect()
    first_error([error for _, error, _, _ in parts]
                + [blank_line_error(path, [p[2] for p in parts], [p[3] for p in parts])])
    labels = np.concatenate([part for part, _, _, _ in parts])
    if n_classes is None:
        n_classes = classes_of(path, fmt["width"] if fmt["width"] > 1 else 0, int(labels.max()))
    check_classes(path, labels, n_classes, fmt["header"])
    return labels, n_classes


def classes_of(path, one_hot_width, largest):
    """The number of classes training labels define: their one-hot width, or the largest class + 1."""
    n_classes = one_hot_width or largest + 1
    if n_classes < 2:
        raise DataError(f"{path}: every label is 0: at least two classes are needed")
    return n_classes


def check_classes(path, labels, n_classes, lines_before):
    """DataError naming the first label outside the training set's classes; labels[0] is on
    line lines_before + 1."""
    outside = np.flatnonzero(labels >= n_classes)
    if outside.size:
        line = int(outside[0]) + 1 + lines_before
        raise DataError(f"{path}: line {line}: class {labels[outside[0]]} is outside the "
                        f"{n_classes} classes of the training labels", line)


def make_block(chunk, path, fmt, labels_bc, n_classes):
    """[(line, index), ...] of consecutive data lines -> {"start": its first row, "X" (n, d),
    "unit" (feature_matrix), "labels" (n,) class numbers, or None when the set has no labels}.

    A block whose lines are bad is {"start", "error": (line, message)} instead.
    """
    first_line = chunk[0][1] + 1
    start = chunk[0][1] - fmt["header"]
    try:
        rows = parse_rows([line for line, _ in chunk], first_line, path, fmt)
        features, labels = split_label_column(rows, first_line, path, fmt)
        if labels is not None and n_classes is not None:
            check_classes(path, labels, n_classes, first_line - 1)
        X, unit = feature_matrix(features)
        if labels_bc is not None:
            all_labels = labels_bc.value
            if start + len(chunk) > len(all_labels):
                line = len(all_labels) + 1 + fmt["header"]
                raise DataError(f"{path}: line {line}: more images than labels ({len(all_labels)})", line)
            labels = all_labels[start:start + len(chunk)]
    except DataError as e:
        return {"start": start, "error": as_error(e)}
    return {"start": start, "X": X, "unit": unit, "labels": labels}


def image_blocks(indexed_lines, path, fmt, labels_bc, n_classes, block_size, width):
    """A partition's (line, index) pairs -> blocks of up to ``block_size`` rows.

    The last block also carries the partition's data_lines report ("blank", "last"); a partition
    with no data line yields one empty block to carry it.
    """
    report, chunk, held = {}, [], None
    for pair in data_lines(indexed_lines, fmt, report):
        chunk.append(pair)
        if len(chunk) == block_size:
            if held is not None:
                yield held
            held, chunk = make_block(chunk, path, fmt, labels_bc, n_classes), []
    if chunk:
        if held is not None:
            yield held
        held = make_block(chunk, path, fmt, labels_bc, n_classes)
    if held is None:
        labels = None if labels_bc is None and fmt["label_column"] is None else np.empty(0, dtype=np.int64)
        held = {"start": 0, "X": np.empty((0, width), dtype=np.uint8), "unit": 1, "labels": labels}
    held.update(report)
    yield held


def partition_check(blocks):
    """A partition's freshly parsed blocks -> [(rows, first error, Moments of the features,
    largest class or -1, first blank line, last data line)], blocks in order."""
    rows, errors, moments, top, blanks, last = 0, [], None, -1, [], 0
    for block in blocks:  # after a coalesce, a partition holds the reports of several splits
        if block.get("blank") is not None:
            blanks.append(block["blank"])
        last = max(last, block.get("last", 0))
        if "error" in block:
            errors.append(block["error"])
        elif len(block["X"]):
            rows += len(block["X"])
            moments = scaling.combine_moments(moments, scaling.moments_of(raw_features(block)))
            if block["labels"] is not None:
                top = max(top, int(block["labels"].max()))
    return [(rows, min(errors) if errors else None, moments, top, min(blanks, default=None), last)]


PARTITION_BYTES = 512 * 2 ** 20  # of float32 rows, at the most, in one partition


def partition_count(rows, width, cores):
    """How many partitions to cache a set in: one per core, or whole waves of ``cores`` once
    a partition would pass PARTITION_BYTES.

    Every epoch runs one Spark task per partition and each Python task has a fixed cost
    (tens of milliseconds), so partitions beyond one per core only add waves of overhead.
    """
    needed = -(-rows * width * 4 // PARTITION_BYTES)
    return cores * max(1, -(-needed // cores))


def text_lines(sc, path, size, partitions):
    """The lines of a text input of ``size`` bytes read in about ``partitions`` splits of even size.

    sc.textFile cuts at the file system's block size (32 MB on local disk), which leaves
    uneven splits; a minimum split size of size / partitions makes them even.
    """
    split = max(1, -(-size // partitions))
    return sc.newAPIHadoopFile(path, "org.apache.hadoop.mapreduce.lib.input.TextInputFormat",
                               "org.apache.hadoop.io.LongWritable", "org.apache.hadoop.io.Text",
                               conf={"mapreduce.input.fileinputformat.split.minsize": str(split)}).values()


def load_data_set(sc, image_path, label_path, block_size, n_classes=None, width=None, label_column=None):
    """Parse a features file into cached blocks, checked as they are parsed: a DataSet.

    The labels come from ``label_path``, or from ``label_column`` of the features file, or
    there are none (predict). ``n_classes`` and ``width`` come from the training set (or the
    model) when loading another set. One pass over the features also gives their Moments.
    """
    from pyspark import StorageLevel
    fmt = read_format(sc, image_path, label_column)
    features = fmt["width"] - (fmt["label_column"] is not None)
    if width is not None and features != width:
        raise DataError(f"{image_path}: line {1 + fmt['header']}: {features} values per row, the training images "
                        f"have {width}")
    labels = None
    if label_path is not None:
        labels, n_classes = read_labels(sc, label_path, n_classes)
    size = hadoop_fs.input_bytes(sc, image_path)
    rows_hint = len(labels) if labels is not None else size // 2 // fmt["width"]  # about 2 characters a value
    target = partition_count(rows_hint, features, sc.defaultParallelism)
    labels_bc = sc.broadcast(labels) if labels is not None else None
    blocks = (text_lines(sc, image_path, size, target).zipWithIndex()
              .mapPartitions(partial(image_blocks, path=image_path, fmt=fmt, labels_bc=labels_bc, n_classes=n_classes,
                                     block_size=block_size, width=features)))
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
    parts = blocks.mapPartitions(partition_check).collect()  # parses and caches
    first_error([part[1] for part in parts]
                + [blank_line_error(image_path, [part[4] for part in parts], [part[5] for part in parts])])
    rows = sum(part[0] for part in parts)
    if labels is not None and rows != len(labels):
        raise DataError(f"{image_path}: {rows} images, but {label_path} has {len(labels)} labels")
    if fmt["label_column"] is not None and n_classes is None:
        n_classes = classes_of(image_path, 0, max(part[3] for part in parts))
    moments = functools.reduce(scaling.combine_moments, [part[2] for part in parts], None)
    return DataSet(blocks, rows, features, n_classes, fmt, moments)
