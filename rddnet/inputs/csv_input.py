"""CSV inputs into data sets: features and labels read from CSV files (inputs/csv_files.py
reads the files, line by line), parsed into blocks of rows and checked while parsed, then cut
into the data set's aligned blocks (inputs/data_set.py). Every path is a Hadoop path."""

from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np

from rddnet.errors import DataError, as_error
from rddnet.hadoop_fs import readable
from rddnet.inputs import scaling
from rddnet.inputs.blocks import Block, ParsedBlock
from rddnet.inputs.csv_files import (
    check_splits,
    data_lines,
    open_input,
    parse_values,
    per_file,
    shifted,
    text_lines,
)
from rddnet.inputs.data_set import (
    DataSet,
    aligned_blocks,
    class_numbers,
    classes_of,
    held_out_rows,
    merge_checks,
    split_checks,
)
from rddnet.inputs.scaling import not_pixel_counts


def not_pixels_of_input(splits, checks):
    """{way: (count, message)}: how many values of an input break each way of NOT_PIXEL, and the
    first of them, named by file, line (within its file) and column (merge_checks's checks)."""
    found, before = {}, 0
    for (path, starts), check in zip(splits, checks):
        before = 0 if starts else before
        for way, (count, first) in (check.get("not_pixels") or {}).items():
            known = found.get(way, (0, None))[1]
            found[way] = (found.get(way, (0, None))[0] + count, known or shifted(first, path, before)[1])
        before += check["lines"]
    return found


def label_vector(rows, first_line, path, layout, columns=None, n_classes=None):
    """Parsed label rows, the first on line ``first_line`` -> class numbers (n,) int64: a class per
    line, or one-hot rows; below the training set's ``n_classes`` when given. ``columns``: the
    file's column number of the label (default 1)."""
    if rows.shape[1] > 1:
        one_hot = ((rows == 0) | (rows == 1)).all(axis=1) & (rows.sum(axis=1) == 1)
        if not one_hot.all():
            i = int(np.argmin(one_hot))
            raise DataError(f"{path}: line {first_line + i}: target row is not one-hot (one 1, the rest 0)",
                            first_line + i)
    values = rows.argmax(axis=1) if rows.shape[1] > 1 else rows[:, 0]
    column = columns[0] if columns else 1
    return class_numbers(values, n_classes, lambda i: (f"{path}: line {first_line + i}",
                                                       f"value {values[i]:g} (column {column})", first_line + i))


def split_label_column(rows, first_line, path, layout, n_classes=None):
    """(features (n, d), class numbers (n,)) of rows that hold a label column; else (rows, None)."""
    c = layout["label_column"]
    if c is None:
        return rows, None
    labels = label_vector(rows[:, c:c + 1], first_line, path, layout, columns=[c + 1], n_classes=n_classes)
    return np.delete(rows, c, axis=1), labels


def label_split(split, lines, splits, layout, n_classes):
    """A split of a label file -> [(class numbers (n,) int64, its report)]: data_lines's report
    and "error", numbered within the split. ``splits``: the (file, starts the file) of each split;
    ``n_classes``: the training set's, to check test labels against, or None."""
    path, starts = splits[split]
    report = {}
    pairs = list(data_lines(lines, layout, starts, report))
    labels, report["error"] = np.empty(0, dtype=np.int64), None
    if pairs:
        first_line = pairs[0][1] + 1
        try:
            rows = parse_values([line for line, _ in pairs], first_line, path, layout)
            labels = label_vector(rows, first_line, path, layout, n_classes=n_classes)
        except DataError as e:
            report["error"] = as_error(e)
    yield labels, report


def read_labels(sc, path, n_classes=None):
    """All labels of an input, in the order of its files and lines, as (n,) int64; the number of
    classes; the label count of each file; the header lines skipped: one Spark job.

    Labels take a byte or so per row, so they are collected and broadcast: the image
    blocks then pair with them by row number, with no shuffle.
    """
    source = open_input(sc, path)
    lines, splits = text_lines(sc, source, sc.defaultParallelism)
    with readable(sc, source.files):
        parts = lines.mapPartitionsWithIndex(partial(label_split, splits=splits, layout=source.layout,
                                                     n_classes=n_classes)).collect()
    reports = [report for _, report in parts]
    check_splits(splits, reports)
    labels = np.concatenate([labels for labels, _ in parts])
    if n_classes is None:
        n_classes = classes_of(path, source.layout["width"] if source.layout["width"] > 1 else 0, int(labels.max()))
    counts = per_file(splits, [len(labels) for labels, _ in parts])
    return labels, n_classes, source.files, counts, sum(report["header"] for report in reports)


def make_block(chunk, start, path, layout, n_classes, split):
    """[(line, index), ...] of consecutive data lines of a split, the first its row ``start``, both
    counted within the split -> a ParsedBlock: the Block of the rows (labels from the label column,
    or None), or the first fault as its error.
    """
    first_line = chunk[0][1] + 1
    try:
        rows = parse_values([line for line, _ in chunk], first_line, path, layout)
        features, labels = split_label_column(rows, first_line, path, layout, n_classes)
    except DataError as e:
        return ParsedBlock(split, Block.empty(layout["width"])._replace(start=start), error=as_error(e))
    block = Block.of_rows(start, features, labels)
    if block.unit is not None:
        return ParsedBlock(split, block)
    # Not stored as pixels: say which values keep the set from being read as pixels.
    return ParsedBlock(split, block, not_pixels=not_pixel_values(features, chunk, path, layout))


def not_pixel_values(features, chunk, path, layout):
    """{way: (how many values of the block break NOT_PIXEL's way, (line, message) naming the first)}
    for the features (n, d) of a block's lines ``chunk``, numbered within the split."""
    c = layout["label_column"]
    found = {}
    for way, (count, (i, j)) in not_pixel_counts(features).items():
        line, column = chunk[i][1] + 1, j + 1 + (c is not None and j >= c)
        found[way] = (count, (line, f"{path}: line {line}: value {features[i, j]:g} (column {column})"))
    return found


def image_split(split, lines, splits, layout, n_classes, block_size, width):
    """Parse one split of a features input into ParsedBlocks (make_block) of up to ``block_size`` rows.

    A Spark task sees only its own split. So it numbers the rows and lines from the split's
    start, and marks every block with the split's number; once every split has reported how
    many rows and lines it holds, the driver adds those of the splits before it (load_data_set).
    ``splits`` gives each split's file and whether the split starts that file (the only place a
    header or a byte-order mark can be).

    The split's last block also carries the split's report (csv_files.data_lines's "lines",
    "blank", "last", "header"): the driver needs it to number lines and to judge blank lines.
    A split without a single data line still yields one empty block, to carry that report.
    """
    path, starts = splits[split]
    report, chunk, pending, rows = {}, [], None, 0
    for pair in data_lines(lines, layout, starts, report):
        chunk.append(pair)
        if len(chunk) == block_size:
            if pending is not None:
                yield pending
            pending, rows, chunk = make_block(chunk, rows, path, layout, n_classes, split), rows + len(chunk), []
    if chunk:
        if pending is not None:
            yield pending
        pending = make_block(chunk, rows, path, layout, n_classes, split)
    if pending is None:
        pending = ParsedBlock(split, Block.empty(width))
    yield pending._replace(report=report)


PARTITION_BYTES = 512 * 2 ** 20  # of float32 rows, at the most, in one partition


def partition_count(rows, width, cores):
    """How many partitions to cache a set in: one per core, or whole waves of ``cores`` once
    a partition would pass PARTITION_BYTES.

    Every epoch runs one Spark task per partition and each Python task has a fixed cost
    (tens of milliseconds), so partitions beyond one per core only add waves of overhead.
    """
    needed = -(-rows * width * 4 // PARTITION_BYTES)
    return cores * max(1, -(-needed // cores))


def parse_features(sc, source, block_size, n_classes, width):
    """(the persisted RDD of an Input's blocks, merge_checks's checks, the (file, starts the file) of
    each split): parsed and cached by one Spark job, in about one partition per core (partition_count)."""
    from pyspark import StorageLevel
    rows_hint = sum(source.sizes) // 2 // source.layout["width"]  # about 2 characters a value: only large sets
    target = partition_count(rows_hint, width, sc.defaultParallelism)  # get more partitions
    lines, splits = text_lines(sc, source, target)
    cached = lines.mapPartitionsWithIndex(partial(image_split, splits=splits, layout=source.layout, n_classes=n_classes,
                                                  block_size=block_size, width=width))
    if cached.getNumPartitions() > target:  # several files: at least a split each
        cached = cached.coalesce(target)  # narrow: parsed where read, no shuffle
    # Spills to local disk rather than recomputing when executors run short of memory. The
    # blocks are pickled bytes already; "deserialized" keeps those byte arrays as they are in
    # the JVM. The serialized level would pass them through Java serialization (and, on Spark 4,
    # LZ4: spark.rdd.compress) on every read: a third of the memory, but about 40 ms more JVM
    # CPU per epoch on full MNIST.
    cached = cached.persist(StorageLevel.MEMORY_AND_DISK_DESER)
    with readable(sc, source.files):
        checks = merge_checks(cached.mapPartitions(split_checks).collect())  # parses and caches
    return cached, checks, splits


def check_pairs(features, rows, headers, labels, counts):
    """DataError unless every feature row has a label. ``features``, ``labels``: the two Inputs'
    files; ``rows``, ``headers``, ``counts``: rows and header lines of each features file, labels of
    each labels file. Files pair by their sorted names when both sides have as many; otherwise
    the rows of all files pair with the labels of all files, in that order."""
    paired = len(features) == len(labels)
    pairs = zip(features, rows, labels, counts, headers) if paired else [
        (", ".join(features), sum(rows), ", ".join(labels), sum(counts), None)]
    for image_path, n_rows, label_path, n_labels, header in pairs:
        if n_rows > n_labels and paired:
            line = n_labels + 1 + header
            raise DataError(f"{image_path}: line {line}: more images than labels ({n_labels} in {label_path})", line)
        if n_rows < n_labels:
            raise DataError(f"{image_path}: {n_rows} images, but {label_path} has {n_labels} labels")


def load_data_set(sc, image_path, label_path, block_size, scale, n_classes=None, width=None, label_column=None,
                  holdout=None):
    """Parse a features input into cached blocks, checked as they are parsed: a DataSet, scaled
    by ``scale`` (scaling.Scaling.of: a kind chosen from this set's features, or a Scaling).

    The labels come from ``label_path``, or from ``label_column`` of the features, or there are
    none (predict). ``n_classes`` and ``width`` come from the training set (or the model) when
    loading another set. An input may be several files (a folder, a glob, a list): they are read
    in sorted order, and features and labels pair file by file. One pass over the files, a Spark
    job, parses and checks them: each split is parsed with its lines and rows numbered from its
    own start, and the driver, once every split has reported its counts, numbers them within
    their file (lines) and the input (rows). A second job cuts the cached rows into the blocks
    the epochs see and gives the features' Moments (aligned_blocks), without the rows ``holdout``
    ((seed, share) or None) holds out for validation.
    """
    source = open_input(sc, image_path, label_column)
    layout = source.layout
    features = layout["width"] - (layout["label_column"] is not None)
    if width is not None and features != width:
        raise DataError(f"{source.files[0]}: line {1 + layout['header']}: {features} values per row, the training "
                        f"images have {width}")
    labels, label_files, counts, label_headers = None, [], [], 0
    with ThreadPoolExecutor(1) as pool:
        # The labels' job runs beside the features' (Spark runs jobs of several threads side by
        # side): the features' blocks take their labels only once both are read (aligned_blocks).
        reading = pool.submit(read_labels, sc, label_path, n_classes) if label_path is not None else None
        cached, checks, splits = parse_features(sc, source, block_size, n_classes, features)
        if reading is not None:
            labels, n_classes, label_files, counts, label_headers = reading.result()
    check_splits(splits, checks)
    rows = sum(check["rows"] for check in checks)
    if labels is not None:
        check_pairs(source.files, per_file(splits, [check["rows"] for check in checks]),
                    per_file(splits, [check["header"] for check in checks]), label_files, counts)
    if layout["label_column"] is not None and n_classes is None:
        n_classes = classes_of(image_path, 0, max(check["top"] for check in checks))
    blocks, cached, moments = aligned_blocks(sc, cached, checks, labels, block_size, holdout)
    held_rows = held_out_rows(rows, moments, holdout, source.files[0])
    return DataSet(blocks, rows, features, n_classes, layout, moments, cached,
                   files={"features": source.files, "labels": label_files},
                   headers={"features": sum(check["header"] for check in checks), "labels": label_headers},
                   not_pixels=not_pixels_of_input(splits, checks), scaling=scaling.Scaling.of(scale, moments),
                   held_rows=held_rows)
