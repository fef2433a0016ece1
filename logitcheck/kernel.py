"""The one pass over every value of a block: per-row statistics, compiled or in numpy.

Everything the softmax checks need from the values themselves reduces to a few numbers a
row (numerics.py derives the rest): the max and its first index, the min and its first
index, the smallest nonzero |value|, and

    rest = sum over j != argmax of exp(z_j - max)

so that the stable loss is (max - z_y) + log1p(rest). (Row sums, which only values that
may be probabilities need, are row_sums(): numpy.) The compiled kernel (_kernel.c,
built with the package where a C compiler is available) does this in one read of the
block in its own dtype, float16 and bfloat16 included; the numpy version below computes
the same quantities in float64. Both are accurate to an ulp or two; they agree with each
other to that tolerance, not bit for bit (their exp differ in the last bit), so one run
uses one of them throughout: `KERNEL` says which.

LOGITCHECK_KERNEL=numpy forces the numpy version (tests run both).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

_KINDS = {"float64": 0, "float32": 1, "float16": 2}


def _compiled():
    if os.environ.get("LOGITCHECK_KERNEL", "").lower() == "numpy":
        return None
    try:
        from . import _kernel  # type: ignore[attr-defined]
    except ImportError:
        return None
    return _kernel if _kernel.available() else None


_COMPILED = _compiled()
#: "compiled" or "numpy": which implementation computes the row statistics in this run
KERNEL = "compiled" if _COMPILED is not None else "numpy"
#: Keras' clip of probabilities, as float32 (keras.backend.epsilon())
KERAS_LO = float(np.float32(1e-7))
KERAS_HI = float(np.float32(1) - np.float32(1e-7))


@dataclass(frozen=True)
class RowStats:
    """Per-row statistics of a (n, C) block; NaN rows have max = min = rest = NaN and
    top = amin = the first NaN's column (as numpy's argmax); rows whose max is +-inf have
    rest = NaN."""

    max: np.ndarray  # float64
    top: np.ndarray  # intp: first column holding the max
    min: np.ndarray
    amin: np.ndarray
    rest: np.ndarray  # sum over j != top of exp(z_j - max), rounding error of z - max kept
    min_abs: np.ndarray  # the smallest nonzero |z| (inf if none); rows with NaN: unreliable


def row_stats(z: np.ndarray) -> RowStats:
    """The statistics of each row of z ((n, C), float16/32/64)."""
    n, c = z.shape
    if _COMPILED is not None and z.dtype.name in _KINDS and n:
        block = np.ascontiguousarray(z)
        out = [np.empty(n), np.empty(n, np.int64), np.empty(n), np.empty(n, np.int64),
               np.empty(n), np.empty(n)]
        _COMPILED.row_stats(block, _KINDS[z.dtype.name], n, c, *out)
        m, top, mn, amin, rest, min_abs = out
        return RowStats(m, top.astype(np.intp, copy=False), mn,
                        amin.astype(np.intp, copy=False), rest, min_abs)
    return _numpy_row_stats(z)


def _numpy_row_stats(z: np.ndarray) -> RowStats:
    zf = np.array(z, dtype=np.float64, order="C")
    n = zf.shape[0]
    rows = np.arange(n)
    top = zf.argmax(axis=1)  # the first NaN, if any
    amin = zf.argmin(axis=1)
    m = zf[rows, top]
    mn = zf[rows, amin]
    with np.errstate(invalid="ignore", over="ignore"):
        good = np.isfinite(m)
        shift = np.where(good, m, 0.0)
        # z_j - max rounds, and exp turns that absolute error into a relative one of up
        # to |z_j - max| * eps/2: keep the rounding error (TwoSum), exp(d + err) =
        # exp(d) * (1 + err)
        d = zf - shift[:, None]
        back = d - zf
        err = (zf - (d - back)) - (shift[:, None] + back)
        err[~np.isfinite(err)] = 0.0  # -inf logits: exp is 0 whatever err is
        np.exp(d, out=zf)
        zf += zf * err
        zf[rows, top] = 0.0
        rest = np.where(good, zf.sum(axis=1), np.nan)
        mag = np.abs(np.asarray(z, dtype=np.float64))
        min_abs = np.where(mag > 0, mag, np.inf).min(axis=1)  # meaningful on finite rows
    nan_rows = np.isnan(m)
    if nan_rows.any():  # as the compiled kernel: a NaN row's min is NaN too
        mn = np.where(nan_rows, np.nan, mn)
        amin = np.where(nan_rows, top, amin)
    return RowStats(m, top, mn, amin, rest, min_abs)


def row_sums(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's sum, and its sum as Keras clips probabilities (float32, [1e-7, 1 - 1e-7]):
    read only where the values may be probabilities (numerics.py)."""
    zf = np.asarray(z, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        clipped = np.clip(zf.astype(np.float32), KERAS_LO, KERAS_HI).astype(np.float64)
        return zf.sum(axis=1), clipped.sum(axis=1)


def exp_nonpositive(x: np.ndarray) -> np.ndarray:
    """exp(x) for float64 x <= 0 (the kernel's exp where compiled: 1 ulp, vectorised)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    if _COMPILED is None:
        return np.exp(x)
    out = np.empty_like(x)
    _COMPILED.exp_values(x, out)
    return out
