"""The block: consecutive rows of a data set, the unit the cache keeps and every epoch maps.

A Block holds its rows' features as stored (uint8 steps of 1/unit when the values allow, a
quarter of float32's bytes; float32 otherwise), their class numbers, and the number of its
first row. A ParsedBlock is what parsing a split caches: a Block with its split's number, its
parse error and what the driver needs to check the split. ``aligned`` then cuts the parsed rows
into the Blocks the epochs see, each holding the same rows whatever the files and partitions.
NumPy only: executors import this module, never the readers.
"""

import functools
from typing import NamedTuple

import numpy as np

from rddnet import sampling
from rddnet.inputs import scaling


def feature_matrix(rows):
    """Parsed feature rows (n, d) -> (the matrix a block stores (n, d), its unit).

    Values that are whole steps of 1/unit in [0, 255 / unit] (integers 0-255: unit 1; the seed
    layout's k/255: unit 255) are kept as uint8 k: a quarter of float32's bytes, and every epoch
    moves the cached blocks into Python. Other data is kept as float32 (unit None).
    """
    if rows.dtype.kind in "iu":  # parse_values's whole numbers, a table's integer columns
        if rows.size and rows.min() >= 0 and rows.max() <= 255:
            return rows.astype(np.uint8, copy=False), 1
        return rows.astype(np.float32), None
    if rows.dtype == np.float32:  # a table's floats: whole numbers 0-255 are exact in float32 too
        if rows.size and rows.min() >= 0 and rows.max() <= 255 and np.array_equal(np.rint(rows), rows):
            return rows.astype(np.uint8), 1
        rows = rows.astype(np.float64)
    for unit in (1, 255):
        steps = np.rint(rows * unit)
        if steps.size and steps.min() >= 0 and steps.max() <= 255 and np.array_equal(steps / unit, rows):
            return steps.astype(np.uint8), unit
    return rows.astype(np.float32), None



class Block(NamedTuple):
    """Consecutive rows of a data set.

    start: the number of the first row, counted from 0: within its split while the input is
    being parsed, within the whole input once placed. stored: the features (n, d) as stored,
    uint8 steps of 1/unit, or float32 when unit is None. labels: (n,) int64 class numbers, or
    None (a set without labels, or labels still in their own file).
    """

    start: int
    stored: np.ndarray
    unit: int | None
    labels: np.ndarray | None

    @classmethod
    def of_rows(cls, start, features, labels=None):
        """The Block of parsed feature rows (n, d), stored as compactly as their values allow."""
        stored, unit = feature_matrix(features)
        return cls(start, stored, unit, labels)

    @classmethod
    def empty(cls, width):
        return cls(0, np.empty((0, width), dtype=np.uint8), 1, None)

    @property
    def rows(self):
        """The number of rows, n."""
        return len(self.stored)

    def row_numbers(self):
        """The rows' numbers (n,): start, start + 1, ..."""
        return self.start + np.arange(self.rows)

    def raw(self):
        """The features as the input wrote them, (n, d) float64."""
        if self.unit is not None:
            return self.stored / float(self.unit)
        return self.stored.astype(np.float64)

    def statistics(self, rows=slice(None)):
        """The statistics of the features as the input wrote them, of the block's ``rows`` (a mask
        or a slice): exact scaling.StepSums of whole steps, scaling.Moments otherwise; None if
        that leaves no rows."""
        stored = self.stored[rows]
        if not len(stored):
            return None
        if self.unit is not None:
            return scaling.step_sums(stored, self.unit)
        return scaling.moments_of(stored)

    def training_statistics(self, holdout):
        """statistics() of the rows a run trains on: without those sampling.holdout_mask holds out
        for validation (``holdout``: (seed, share), or None)."""
        if not holdout:
            return self.statistics()
        return self.statistics(~sampling.holdout_mask(holdout[0], self.row_numbers(), holdout[1]))

    def inputs(self, scale, rows=slice(None), dtype=np.float64):
        """The network's inputs (m, d) of ``dtype`` for the block's ``rows`` (an index, a mask or
        a slice), scaled by the scaling.Scaling ``scale``."""
        if self.unit is not None:
            return scale.apply_to_steps(self.stored[rows], self.unit, dtype)
        return scale.apply(self.stored[rows], dtype)



class ParsedBlock(NamedTuple):
    """A block as parsing a split caches it (csv_input.image_split).

    split: the split's number in the input. block: the Block, its start counted within the split
    (empty if the rows could not be parsed). error: (line within the split, message) of the
    first fault, or None. not_pixels: {way: (count, (line, message))} of the values that keep the
    rows from being read as pixels (csv_input.not_pixel_values), or None. report: on the split's
    last block only, the split's line counts (csv_files.data_lines's report), else None.
    """

    split: int
    block: Block
    error: tuple | None = None
    not_pixels: dict | None = None
    report: dict | None = None



def runs_of(parsed_blocks, rows_before, labels):
    """A partition's cached ParsedBlocks -> lists of Blocks of consecutive rows (a partition may
    hold the blocks of several splits), each block's start counted from the input's first row
    (``rows_before``: {split: the rows of the splits before it}), its labels taken from ``labels``
    (the label file's, (n,)) if there are any; empty blocks left out."""
    run = []
    for parsed in parsed_blocks:
        block = parsed.block
        if not block.rows:
            continue
        start = rows_before[parsed.split] + block.start
        block = block._replace(start=start, labels=labels[start:start + block.rows] if labels is not None else
                               block.labels)
        if run and run[-1].start + run[-1].rows != start:
            yield run
            run = []
        run.append(block)
    if run:
        yield run


def joined(blocks, unit):
    """Blocks of consecutive rows -> one Block, its features stored with ``unit``: as they are if
    every block has that unit, else as float32 values (unit None)."""
    if all(block.unit == unit for block in blocks):
        stored = np.concatenate([block.stored for block in blocks])
    else:
        stored = np.concatenate([block.raw().astype(np.float32) for block in blocks])
    labels = None if blocks[0].labels is None else np.concatenate([block.labels for block in blocks])
    return Block(blocks[0].start, stored, unit, labels)


def aligned(index, parsed_blocks, rows_before, labels_bc, rows, block_size, unit):
    """Partition ``index``'s cached ParsedBlocks -> its rows cut into blocks of the input's rows
    k * block_size .. (k + 1) * block_size - 1, as ("whole", Block) or, for the part of such a
    block that lies in this partition when the rest is in another, ("piece", (index, Block)).

    Why: a block's gradient is one matrix product over its rows, whose rounding depends on which
    rows it holds. Blocks that hold the same rows whatever the files, splits and partitions give
    the same sums, so a table, a CSV file and any partitioning of them train the same run. Every
    block stores its features with ``unit``, the input's (joined).
    """
    labels = labels_bc.value if labels_bc is not None else None
    for run in runs_of(parsed_blocks, rows_before, labels):
        whole = joined(run, unit)
        first, end = whole.start, whole.start + whole.rows
        cuts = [first, *range(-(-first // block_size) * block_size, end, block_size), end]
        for a, b in zip(cuts, cuts[1:]):
            if b > a:
                piece = whole._replace(start=a, stored=whole.stored[a - first:b - first],
                                       labels=None if whole.labels is None else whole.labels[a - first:b - first])
                complete = a % block_size == 0 and (b - a == block_size or b == rows)
                yield ("whole", piece) if complete else ("piece", (index, piece))


def assemble(pieces, block_size):
    """The (partition, Block) pieces of every partition -> {partition: [Blocks]}: the pieces of
    each block joined, and given to the partition that held most of its rows."""
    by_block = {}
    for index, piece in sorted(pieces, key=lambda pair: pair[1].start):
        by_block.setdefault(piece.start // block_size, []).append((index, piece))
    placed = {}
    for parts in by_block.values():
        index = max(parts, key=lambda pair: pair[1].rows)[0]
        placed.setdefault(index, []).append(joined([piece for _, piece in parts], parts[0][1].unit))
    return placed


def for_the_driver(items, holdout=None):
    """A partition of ``aligned``'s items -> what the driver needs of them: ("piece", (partition,
    Block)) as they are, to assemble; and one ("moments", (first row, statistics)) of all its
    whole blocks' training rows (Block.training_statistics), combined in row order: a partition's
    worth, not a block's (a row's worth of features each, for --block-size 1)."""
    found, whole = [], []
    for kind, item in items:
        (found if kind == "piece" else whole).append((kind, item))
    whole.sort(key=lambda pair: pair[1].start)
    statistics = functools.reduce(scaling.combine_moments, [b.training_statistics(holdout) for _, b in whole], None)
    if whole:
        found.append(("moments", (whole[0][1].start, statistics)))
    return found


def whole_blocks(index, items, assembled_bc):
    """A partition of ``aligned``'s items -> the Blocks the epochs see: its whole blocks, then the
    blocks assemble() joined from pieces and gave to this partition."""
    for kind, block in items:
        if kind == "whole":
            yield block
    yield from assembled_bc.value.get(index, [])
