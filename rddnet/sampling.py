"""Seeded row hashes, NumPy only: which rows an epoch samples, which are held out for validation,
which local mini-batch a row falls in, and the dropout masks.

Each is a counter-based function of (seed, epoch, stream, global row number) (SplitMix64): a
row's draw does not depend on which block, partition or executor holds it, so a run's samples
and masks are the same however the data is split, and a task recomputed after a failure draws
the same ones. Streams: 0 the epoch's sample, l (1-based) hidden layer l's dropout, and two
above any layer's for the held-out rows and the inputs' dropout.
"""

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(z):
    """The SplitMix64 finaliser: a bijective mix of a uint64 array."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _unit_interval(bits):
    """uint64 -> float64 in [0, 1) from the top 53 bits."""
    return (bits >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def _row_bits(seed, epoch, rows, stream=0):
    """64 random bits per global row number, fixed by (seed, epoch, stream, row)."""
    rows = np.asarray(rows, dtype=np.uint64)
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps on purpose
        key = _splitmix64(np.array([seed], dtype=np.uint64) + _GOLDEN)
        key = _splitmix64(key + np.uint64(epoch) * _GOLDEN)
        if stream:
            key = _splitmix64(key + np.uint64(stream) * _GOLDEN)
        return _splitmix64(key + rows * _GOLDEN)


def row_uniforms(seed, epoch, rows):
    """A uniform number in [0, 1) for each global row number, fixed by (seed, epoch, row).

    A counter-based generator: the value of a row does not depend on which
    block or partition holds it, so a sample is the same however data is split.
    """
    return _unit_interval(_row_bits(seed, epoch, rows))


def sample_mask(seed, epoch, rows, fraction):
    """Boolean mask keeping each row with probability ``fraction``, (len(rows),)."""
    return row_uniforms(seed, epoch, rows) < fraction


HOLDOUT_STREAM = 2 ** 32  # above any hidden layer's dropout stream
INPUT_STREAM = 2 ** 32 + 1  # the inputs' dropout masks


def input_dropout_mask(seed, epoch, rows, width, rate, dtype=np.float64):
    """Inverted-dropout mask (len(rows), width) of the network's inputs, fixed by (seed, epoch,
    row) on a stream of its own: each input is 0 with probability ``rate``, else 1/(1-rate)."""
    return dropout_mask(seed, epoch, rows, INPUT_STREAM, width, rate, dtype)


def holdout_mask(seed, rows, fraction):
    """Boolean mask of the rows held out for validation, (len(rows),): each with probability
    ``fraction``, fixed by (seed, row) alone, so the same rows every epoch and on any split."""
    if not fraction:
        return np.zeros(len(rows), dtype=bool)
    return _unit_interval(_row_bits(seed, 0, rows, stream=HOLDOUT_STREAM)) < fraction


def local_batches(seed, epoch, rows, fraction, steps, allowed=None):
    """(sample mask (n,), mini-batch 0..steps-1 of each sampled row): the epoch's sample (of the
    rows ``allowed``, a mask, if given) cut into ``steps`` mini-batches by the same per-row
    number, so no split changes them."""
    u = row_uniforms(seed, epoch, rows)
    keep = u < fraction if allowed is None else (u < fraction) & allowed
    return keep, np.minimum((u[keep] / fraction * steps).astype(np.int64), steps - 1)


def dropout_mask(seed, epoch, rows, layer, width, rate, dtype=np.float64):
    """Inverted-dropout mask (len(rows), width) of ``dtype`` for hidden layer ``layer`` (1-based):
    each unit is 0 with probability ``rate``, else 1/(1-rate). Fixed by (seed, epoch, row)."""
    row_bits = _row_bits(seed, epoch, rows, stream=layer)
    with np.errstate(over="ignore"):
        bits = _splitmix64(row_bits[:, None] + np.arange(width, dtype=np.uint64) * _GOLDEN)
    return ((_unit_interval(bits) >= rate) / (1.0 - rate)).astype(dtype, copy=False)
