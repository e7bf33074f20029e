"""The data set every kind of input becomes: its rows in cached blocks aligned on the input's row
numbers (aligned_blocks), the parse's checks added up split by split, the rows held out for
validation, and what the set takes in the cache."""

import functools
from collections import namedtuple
from functools import partial

import numpy as np

from rddnet.errors import DataError
from rddnet.inputs import scaling
from rddnet.inputs.blocks import aligned, assemble, for_the_driver, whole_blocks

# blocks: the RDD of blocks the epochs map (aligned_blocks's, over ``cached``); rows; width: features per row;
# classes; format: detect_format's; moments: scaling.Moments of the features; cached: the persisted
# RDD of parsed blocks (to unpersist); files: {"features": [paths], "labels": [paths]} in the order
# read; headers: {"features": header lines skipped, "labels": ...}; not_pixels: not_pixels_of_input's;
# scaling: the scaling.Scaling of its features into the network's inputs; held_rows: the rows held out for
# validation (--validation-fraction), which the moments leave out.
DataSet = namedtuple("DataSet", "blocks rows width classes format moments cached files headers not_pixels scaling "
                                "held_rows", defaults=(0,))


def cached_bytes(sc, rdd):
    """(bytes in memory, bytes on disk) of a persisted RDD's cached partitions."""
    for info in sc._jsc.sc().getRDDStorageInfo():
        if info.id() == rdd.id():
            return int(info.memSize()), int(info.diskSize())
    return 0, 0


def class_numbers(values, n_classes, place):
    """Labels as read (n,) -> class numbers (n,) int64: whole numbers >= 0 and, given the training
    set's ``n_classes``, below it. DataError at the first that is not, the same words for every
    reader: ``place(i)`` is (where label i is, "file: line 12" or "file: row 12"; the label in
    words, such as "value 2.5 (column 1)"; its line or row number).
    """
    bad = (values < 0) | (values != np.round(values))
    if bad.any():
        where, label, number = place(int(np.flatnonzero(bad)[0]))
        raise DataError(f"{where}: {label} is not a class number 0, 1, 2, ...", number)
    labels = values.astype(np.int64)
    outside = np.flatnonzero(labels >= n_classes) if n_classes is not None else []
    if len(outside):
        where, _, number = place(int(outside[0]))
        raise DataError(f"{where}: class {labels[outside[0]]} is outside the {n_classes} classes of the training "
                        "labels", number)
    return labels


def classes_of(path, one_hot_width, largest):
    """The number of classes training labels define: their one-hot width, or the largest class + 1."""
    n_classes = one_hot_width or largest + 1
    if n_classes < 2:
        raise DataError(f"{path}: every label is 0: at least two classes are needed")
    return n_classes


def combine_not_pixels(a, b):
    """not_pixel_values of two parts of a split: counts add, the first is the earlier line's."""
    both = dict(b or {})
    for way, (count, first) in (a or {}).items():
        both[way] = (count + both[way][0], min(first, both[way][1])) if way in both else (count, first)
    return both


def block_check(parsed):
    """What the driver needs to know of a freshly parsed block (a ParsedBlock), as a dict.

    Its keys: "split" (the split's number), "rows", "error" (the parse error or None), "top" (the
    largest class of a label column, -1 without one), "not_pixels" (the values that keep the
    rows from being pixels) and "units" (the set of the block's unit, empty if it has no rows).
    The split's last block adds the split's report: "lines", "blank", "last" and "header".
    merge_checks adds these up split by split.
    """
    block = parsed.block
    check = {"split": parsed.split, "rows": 0, "error": parsed.error, "top": -1,
             "not_pixels": parsed.not_pixels, "units": set(), **(parsed.report or {})}
    if parsed.error is None and block.rows:
        check.update(rows=block.rows, units={block.unit},
                     top=-1 if block.labels is None else int(block.labels.max()))
    return check


REPORT_KEYS = ("lines", "blank", "last", "header")  # data_lines's report of a split


def merge_checks(checks):
    """Checks of blocks, or of parts of splits -> one per split, in the input's order, each
    combined in the order given (a split's blocks may be spread over partitions when a single
    split is repartitioned)."""
    merged = {}
    for check in checks:
        known = merged.setdefault(check["split"], dict(check, rows=0, error=None, top=-1,
                                                       not_pixels=None, units=set()))
        known.update({key: check[key] for key in REPORT_KEYS if key in check})
        known["rows"] += check["rows"]
        known["error"] = min([e for e in (known["error"], check["error"]) if e is not None], default=None)
        known["top"] = max(known["top"], check["top"])
        known["units"] = known["units"] | check["units"]
        known["not_pixels"] = combine_not_pixels(known["not_pixels"], check["not_pixels"])
    return [merged[split] for split in sorted(merged)]


def split_checks(blocks):
    """A partition's freshly parsed blocks -> merge_checks of them: one check per split it holds."""
    return merge_checks(map(block_check, blocks))


def held_out_rows(rows, moments, holdout, path):
    """The rows held out for validation: all but those the training moments count (none without
    a ``holdout``). DataError, naming the input ``path``, when that is all of them or none."""
    if not holdout:
        return 0
    count = rows - (moments.n if moments else 0)
    if count == rows:
        raise DataError(f"{path}: --validation-fraction {holdout[1]} holds out all {rows} rows: none are left to "
                        "train on")
    if count == 0:
        raise DataError(f"{path}: --validation-fraction {holdout[1]} holds out none of its {rows} rows: give a "
                        "larger share")
    return count


def aligned_blocks(sc, parsed, checks, labels, block_size, holdout=None):
    """(the RDD of Blocks the epochs map, the persisted RDD under it, the scaling.Moments of the
    features): the parsed input's rows in blocks of the input's rows k * block_size .. (k + 1) *
    block_size - 1 (blocks.aligned), whatever the files, splits and partitions; one Spark job,
    after which the parse's cache is dropped. The features' statistics come back one per
    partition: for whole steps (pixels) exact integer sums, the same to the last bit whatever the
    partitioning; other values' Moments combined in row order within and across partitions
    (whose last bits can then depend on where the partitions begin).

    ``checks``: merge_checks's of the parse, one per split; ``labels``: the label file's (n,), or
    None; ``holdout``: (seed, share) of the rows held out for validation, left out of the moments.
    The parts of a block that lie in different partitions are joined on the driver (at most two
    per run of consecutive rows in a partition) and handed to the partitions in a broadcast.
    """
    from pyspark import StorageLevel
    rows_before = dict(zip([check["split"] for check in checks],
                           np.cumsum([0] + [check["rows"] for check in checks[:-1]], dtype=np.int64).tolist()))
    units = set().union(*(check["units"] for check in checks))
    labels_bc = sc.broadcast(labels) if labels is not None else None
    cut = parsed.mapPartitionsWithIndex(partial(aligned, rows_before=rows_before, labels_bc=labels_bc,
                                       rows=sum(check["rows"] for check in checks), block_size=block_size,
                                       unit=units.pop() if len(units) == 1 else None))
    if cut.getNumPartitions() < sc.defaultParallelism:  # e.g. a .gz file or one table file: one split
        cut = cut.repartition(sc.defaultParallelism)  # whole blocks, spread over the cores
    cut = cut.persist(StorageLevel.MEMORY_AND_DISK_DESER)  # as parse_features's cache
    found = cut.mapPartitions(partial(for_the_driver, holdout=holdout)).collect()  # cuts and caches
    parsed.unpersist()  # (the labels' broadcast stays: a lost partition is cut again from the files)
    assembled = assemble([item for kind, item in found if kind == "piece"], block_size)
    moments = [item for kind, item in found if kind == "moments"]
    moments += [(block.start, block.training_statistics(holdout)) for blocks in assembled.values() for block in blocks]
    moments = scaling.as_moments(functools.reduce(scaling.combine_moments,
                                                  [m for _, m in sorted(moments, key=lambda pair: pair[0])], None))
    blocks = cut.mapPartitionsWithIndex(partial(whole_blocks, assembled_bc=sc.broadcast(assembled)))
    return blocks, cut, moments
