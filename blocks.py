"""A block of rows as the cache stores it, and what is computed from it.

A block is {"start": the global number of its first row, "X": (n, d) features as stored,
"unit", "labels": (n,) class numbers or None}. Features that are whole steps of 1/unit in
[0, 255 / unit] are stored as uint8 steps (a quarter of float32's bytes, moved into Python every
epoch); any other features as float32, unit None. NumPy only: executors import this, never the
readers.
"""

import numpy as np

import scaling


def feature_matrix(rows):
    """Parsed feature rows -> (the matrix a block stores (n, d), its unit).

    Values that are whole steps of 1/unit in [0, 255 / unit] (integers 0-255: unit 1; the seed
    layout's k/255: unit 255) are kept as uint8 k: a quarter of float32's bytes, and every epoch
    moves the cached blocks into Python. Other data is kept as float32 (unit None).
    """
    if rows.dtype.kind == "i":  # parse_values's whole numbers
        if rows.size and rows.min() >= 0 and rows.max() <= 255:
            return rows.astype(np.uint8), 1
        return rows.astype(np.float32), None
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



def block_moments(block):
    """scaling.Moments of a block's raw features."""
    if block["unit"] is not None:
        return scaling.moments_of_steps(block["X"], block["unit"])
    return scaling.moments_of(block["X"])



def network_inputs(block, scale, rows=slice(None), dtype=np.float64):
    """The network's inputs (n, d) of ``dtype`` for the ``rows`` of a block (a scaling.Scaling)."""
    if block["unit"] is not None:
        return scale.apply_to_steps(block["X"][rows], block["unit"], dtype)
    return scale.apply(block["X"][rows], dtype)
