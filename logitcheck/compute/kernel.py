"""The one pass over every value of a block: per-row statistics, compiled or in numpy.

Everything the softmax checks need from the values themselves reduces to a few numbers a
row (numerics.py derives the rest): the max and its first index, the min and its first
index, the smallest nonzero |value|, and

    rest = sum over j != argmax of exp(z_j - max)

so that the stable loss is (max - z_y) + log1p(rest). (Row sums, which only values that
may be probabilities need, are row_sums(): numpy.) The compiled kernel (_kernel.c,
built with the package where a C compiler is available) does this in one read of the
block in its own dtype, float16 and bfloat16 included; the numpy version below computes
the same quantities in float64, as exp(-max) * sum over j != argmax of exp(z_j) where every
exp is normal (one exp a value, no shifted copy). Both are accurate to an ulp or two; they
agree with each other to that tolerance, not bit for bit (their exp differ in the last
bit), so one run uses one of them throughout: `KERNEL` says which.

Where compiled, softmax_rows then does the per-row stage of a block of finite logits with
class ids (numerics._softmax_compiled), and log1p_nonnegative / log_positive give the
numpy code the same log1p and log, so that both stages give the same bits.

LOGITCHECK_KERNEL=numpy forces the numpy version (tests run both); LOGITCHECK_KERNEL=compiled
forces the compiled one also where its fma() is a library call, which numpy outruns
(about.kernel_choice decides). The numpy version works through a chunk some hundred rows
at a time, so that its float64 temporaries stay in cache.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace

import numpy as np

from ..about import kernel_choice

#: the kernel's codes of the floating formats (_kernel.c's KIND_*)
_KIND_CODES = {"float64": 0, "float32": 1, "float16": 2, "bfloat16": 3}
#: the storage dtypes it reads natively (bfloat16 arrives widened to float32)
_KINDS = {k: v for k, v in _KIND_CODES.items() if k != "bfloat16"}

#: the compiled kernel module, or None: numpy computes
_COMPILED = kernel_choice()[0]
#: "compiled" or "numpy": which implementation computes the row statistics in this run
KERNEL = "compiled" if _COMPILED is not None else "numpy"
#: the compiled kernel's code: "avx512", "avx2", "portable" (the plain C of
#: _kernel_portable.h: ARM, other compilers; on x86-64 its AVX2+FMA build) or
#: "portable-baseline" (x86-64 without AVX2); LOGITCHECK_SIMD=avx2 / portable /
#: portable-baseline forces one; all give the same bits. None without the kernel
SIMD = _COMPILED.simd() if _COMPILED is not None else None
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
    amin: np.ndarray | None  # first column holding the min; None unless asked for
    rest: np.ndarray  # sum over j != top of exp(z_j - max), rounding error of z - max kept
    min_abs: np.ndarray  # the smallest nonzero |z| (inf if none); rows with NaN: unreliable

    def part(self, start: int, stop: int) -> RowStats:
        """Rows [start, stop)."""
        return RowStats(*(None if v is None else v[start:stop]
                          for v in (getattr(self, f.name) for f in fields(self))))


def row_stats(z: np.ndarray, least_likely: bool = True) -> RowStats:
    """The statistics of each row of z ((n, C), float16/32/64). `least_likely`: also the
    argmin (the stand-in target of unlabelled rows), which costs the kernel a third read of
    each row."""
    n, c = z.shape
    if _COMPILED is not None and z.dtype.name in _KINDS and n:
        block = np.ascontiguousarray(z)
        out = [np.empty(n), np.empty(n, np.int64), np.empty(n), np.empty(n, np.int64),
               np.empty(n), np.empty(n)]
        _COMPILED.row_stats(block, _KINDS[z.dtype.name], n, c, *out, least_likely)
        m, top, mn, amin, rest, min_abs = out
        return RowStats(m, top.astype(np.intp, copy=False), mn,
                        amin.astype(np.intp, copy=False) if least_likely else None, rest,
                        min_abs)
    return _numpy_row_stats(z, least_likely)


#: values (float64) a block of the numpy version works on: its few float64 temporaries
#: stay in the core's cache (the whole chunk at once went to memory some 15 times)
_NUMPY_BLOCK_VALUES = 1 << 17
#: the unsigned integer of each float's width (|z| as bits: they order as the values)
_BITS = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def _numpy_row_stats(z: np.ndarray, least_likely: bool = True) -> RowStats:
    n, c = z.shape
    z = np.ascontiguousarray(z)
    if z.dtype.name not in ("float16", "float32", "float64"):
        z = z.astype(np.float64)
    out = RowStats(np.empty(n), np.empty(n, np.intp), np.empty(n), np.empty(n, np.intp),
                   np.empty(n), np.empty(n))
    step = max(1, _NUMPY_BLOCK_VALUES // max(1, c))
    size = min(n, step) * c
    # float16 blocks are widened to float32 first (exactly): numpy's argmax and min on
    # float16 take ~8 ns a value, the widening ~1.6, float32's ~0.1
    half = z.dtype == np.float16
    work = _Work(np.empty(size), np.empty(size, np.float32 if half else z.dtype),
                 np.arange(min(n, step)), _FAST_HIGH - np.log(max(c, 1)),
                 np.empty(size, np.float32) if half else None, z.dtype)
    for start in range(0, n, step):
        block = z[start:start + step]
        if work.widened is not None:
            wide = work.widened[: block.size].reshape(block.shape)
            np.copyto(wide, block)
            block = wide
        _numpy_block(block, out, slice(start, start + step), work)
    return out if least_likely else replace(out, amin=None)


#: the bounds of _numpy_block's unshifted exp: exp(-708) is still normal, exp(709) finite
_FAST_LOW, _FAST_HIGH = 700.0, 700.0


@dataclass(frozen=True)
class _Work:
    """What every block of _numpy_row_stats reuses."""

    exps: np.ndarray  # float64, a block's size
    magnitudes: np.ndarray  # |z| in the dtype the block is read in, a block's size
    rows: np.ndarray  # 0, 1, ..., a block's rows - 1
    fast_high: float  # the largest max of the unshifted exp: _FAST_HIGH - log(C)
    widened: np.ndarray | None  # float16 storage: a block's float32 copy
    storage: np.dtype  # the values' own dtype


def _numpy_block(z: np.ndarray, out: RowStats, rows_out: slice, work: _Work) -> None:
    """_numpy_row_stats of rows z (in their own dtype; float16's widened to float32) into
    out[rows_out]."""
    n, c = z.shape
    rows = work.rows[:n]
    d = work.exps[: n * c].reshape(n, c)
    with np.errstate(invalid="ignore", over="ignore"):
        # exp(z_j) first: the block's first read waits on memory, and the exp's work hides
        # that (the passes after it find the block in cache)
        np.exp(z, out=d, dtype=np.float64)
        top = z.argmax(axis=1)  # the first NaN, if any
        amin = z.argmin(axis=1)  # as fast as min, and the min is where it says
        m = z[rows, top].astype(np.float64)
        mn = z[rows, amin].astype(np.float64)
        min_abs = _min_abs(z, work.magnitudes[: n * c].reshape(n, c))
        if m.max() <= work.fast_high and mn.min() >= -_FAST_LOW:  # False with a NaN
            # rest = exp(-max) * sum over j != top of exp(z_j): exact values, so no rounding
            # error of z_j - max to keep; an ulp or so more than the shifted sum's
            d[rows, top] = 0.0
            rest = d.sum(axis=1) * np.exp(-m)
        else:  # a row beyond the bounds (rare): the exps again, shifted by each max
            rest = _shifted_rest(z, d, rows, top, m, mn, min_abs, work.storage)
            nan_rows = np.isnan(m)
            if nan_rows.any():  # as the compiled kernel: a NaN row's min is NaN too
                mn = np.where(nan_rows, np.nan, mn)
                amin = np.where(nan_rows, top, amin)
    out.max[rows_out] = m
    out.top[rows_out] = top
    out.min[rows_out] = mn
    out.amin[rows_out] = amin
    out.rest[rows_out] = rest
    out.min_abs[rows_out] = min_abs


def _min_abs(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """The smallest nonzero |z| of each row (inf if none; rows with NaN: unreliable), with
    `a` (z's shape and dtype) to work in."""
    np.abs(z, out=a)
    low = a.min(axis=1).astype(np.float64)
    zero = np.flatnonzero(low == 0)
    if zero.size:  # rows holding a 0: |z| as unsigned bits minus 1 (0 wraps to the
        # largest), their min, plus 1; NaN's bits lie above inf's and never win
        uint = _BITS[z.dtype.itemsize]
        bits = a[zero].view(uint) - uint(1)
        first = bits.min(axis=1)
        none = first == np.iinfo(uint).max
        low[zero] = (first + uint(1)).view(z.dtype)
        low[zero[none]] = np.inf
    return low


def _shifted_rest(z, d, rows, top, m, mn, min_abs, storage: np.dtype) -> np.ndarray:
    """sum over j != top of exp(z_j - max), row by row, for rows of any range."""
    n = z.shape[0]
    good = np.isfinite(m)
    shift = np.where(good, m, 0.0)
    np.copyto(d, z)  # widened, then shifted: a mixed-dtype subtract is slower
    d -= shift[:, None]
    # z_j - max rounds, and exp turns that absolute error into a relative one of up to
    # |z_j - max| * eps/2: keep the rounding error (TwoSum), exp(d + err) = exp(d) *
    # (1 + err). It is 0 where the row's nonzero values span fewer binades than float64
    # has bits beyond the storage's (the compiled kernel's test): float16 always, most
    # float32 rows; only the other rows compute it.
    if storage == np.float64:
        inexact = np.ones(n, bool)
    elif storage == np.float16:
        inexact = np.zeros(n, bool)
    else:
        inexact = np.maximum(np.abs(m), np.abs(mn)) > min_abs * 2.0**28
    err = None
    if inexact.any():
        which = np.flatnonzero(inexact)
        zf = z[which].astype(np.float64)
        dw = d[which]
        back = dw - zf
        err = (zf - (dw - back)) - (shift[which, None] + back)
        err[~np.isfinite(err)] = 0.0  # -inf logits: exp is 0 whatever err is
    np.exp(d, out=d)
    if err is not None:
        dw = d[which]
        dw += dw * err
        d[which] = dw
    d[rows, top] = 0.0
    return np.where(good, d.sum(axis=1), np.nan)


def row_sums(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's sum, and its sum as Keras clips probabilities (float32, [1e-7, 1 - 1e-7]):
    read only where the values may be probabilities (numerics.py)."""
    zf = np.asarray(z, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        clipped = np.clip(zf.astype(np.float32), KERAS_LO, KERAS_HI).astype(np.float64)
        return zf.sum(axis=1), clipped.sum(axis=1)


def _compiled_log(x: np.ndarray, one_plus: bool, domain: np.ndarray) -> np.ndarray:
    out = np.log1p(x) if one_plus else np.log(x)  # NaN, inf and out-of-domain values
    if _COMPILED is not None and domain.any():
        inside = np.ascontiguousarray(x[domain], dtype=np.float64)
        got = np.empty_like(inside)
        _COMPILED.log_values(inside, got, one_plus)
        out[domain] = got
    return out


def log1p_nonnegative(x: np.ndarray) -> np.ndarray:
    """log1p(x) for float64 x (the kernel's where compiled, for finite x >= 0: within an
    ulp, and what softmax_rows computes, so that both paths give the same bits)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _compiled_log(x, True, np.isfinite(x) & (x >= 0))


def log_positive(x: np.ndarray) -> np.ndarray:
    """log(x) for float64 x (the kernel's where compiled, for finite x > 0)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _compiled_log(x, False, np.isfinite(x) & (x > 0))


def exp_nonpositive(x: np.ndarray) -> np.ndarray:
    """exp(x) for float64 x <= 0 (the kernel's exp where compiled: 1 ulp, vectorised)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    if _COMPILED is None:
        return np.exp(x)
    out = np.empty_like(x)
    _COMPILED.exp_values(x, out)
    return out


# --- the per-row stage of a softmax block (compiled only; numerics.py's numpy code is the
# reference and takes every block this does not) ---------------------------------------

#: flag bits of SoftmaxRows.flags (_kernel.c)
LOSS_NONFINITE, SATURATED, CONSTANT, ZERO_LABEL, CORRECT = (1 << k for k in range(5))
#: per naive dtype (dtype_bits): the row is near a threshold (simulate it), path (a)
#: fails, path (b) fails, the naive sum overflowed, p_y survived only as a subnormal
NEAR, FAIL_A, FAIL_B, OVERFLOW, SUBNORMAL = range(5)
_I_COUNTS, _I_TOP = 16, 48
#: SoftmaxRows.extreme slots: the worst loss, the largest range, the largest |logsumexp|,
#: and from GAPS on, 2 * dtype index + path (0: softmax then log, 1: no max shift)
WORST, RANGE, LSE, GAPS = 0, 1, 2, 8


def dtype_bits(index: int) -> tuple[int, ...]:
    """The flag bits (NEAR, FAIL_A, FAIL_B, OVERFLOW, SUBNORMAL) of the index-th dtype."""
    return tuple(1 << (8 + 6 * index + k) for k in range(5))


@dataclass(frozen=True)
class SoftmaxRows:
    """What softmax_rows computed for a block: per-row loss and flags, and aggregates."""

    loss: np.ndarray  # float64, the stable loss
    flags: np.ndarray  # uint32, bits above
    floats: np.ndarray  # extremes: [worst loss, max range, max |lse|, ..., gaps from 8]
    ints: np.ndarray  # their rows, counts (see _kernel.c's slots)
    loss_counts: np.ndarray  # histogram counts over the loss edges
    max_counts: np.ndarray  # ... of each row's max over the logit edges
    range_counts: np.ndarray  # ... of each row's max - min
    label_counts: np.ndarray | None
    sums: tuple[int, int, int]  # exact sums * 2**1126: loss, -log(z_y > 0), -z_y
    # computed from the values (softmax_rows without row statistics): the block's min, max
    # and smallest nonzero |z|, and without targets each row's argmin
    agg: tuple[float, float, float] | None = None
    amin: np.ndarray | None = None

    def count(self, bit: int) -> int:
        """How many rows have flag `bit` (a power of two)."""
        return int(self.ints[_I_COUNTS + bit.bit_length() - 1])

    def extreme(self, slot: int) -> tuple[float, int] | None:
        """(value, block row) of extreme `slot`, None where no row had one."""
        row = int(self.ints[slot])
        return None if row < 0 else (float(self.floats[slot]), row)

    @property
    def counted(self) -> tuple[int, int, int]:  # the number of terms of each sum
        return int(self.ints[4]), int(self.ints[5]), int(self.ints[6])

    @property
    def worst(self) -> list[int]:
        """The block rows of the KEEP_TABLE_ROWS largest losses, worst first."""
        return self.ints[_I_TOP:_I_TOP + int(self.ints[7])].tolist()


#: Spare (loss, flags) arrays for softmax_rows, reused from chunk to chunk: fresh ones
#: (12 bytes a row) were faulted in page by page every chunk, some 1,000 faults and 3 ms of
#: CPU a 250,000-row chunk. At most _MAX_SPARE sets are kept (one a thread at up to 4
#: threads; a chunk is at most engine.MAX_CHUNK_ROWS rows: 3 MiB a set).
_SPARE: list[tuple[np.ndarray, np.ndarray]] = []
_SPARE_LOCK = threading.Lock()
_MAX_SPARE = 4


@contextmanager
def row_buffers(n: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(loss, flags) arrays of n rows for softmax_rows, valid inside the `with` only (they
    go back to the spares after it: nothing may keep a view of them)."""
    with _SPARE_LOCK:
        k = next((k for k, b in enumerate(_SPARE) if b[0].size >= n), None)
        got = None if k is None else _SPARE.pop(k)
    if got is None:
        got = (np.empty(n), np.empty(n, np.uint32))
    try:
        yield got[0][:n], got[1][:n]
    finally:
        with _SPARE_LOCK:
            if len(_SPARE) < _MAX_SPARE:
                _SPARE.append(got)


def _edges_guess(edges) -> tuple[float, float]:
    """(scale, offset) with ln(edges[j]) * scale + offset close to j: log-spaced edges
    (mergeable.log_edges); the kernel only starts its search there."""
    lo, hi = np.log(edges[0]), np.log(edges[-1])
    scale = (len(edges) - 1) / (hi - lo) if len(edges) > 1 and hi > lo else 0.0
    return scale, -lo * scale


def softmax_rows(z: np.ndarray, r: RowStats | None, target: np.ndarray | None,
                 sat_eps: float, dtypes: list[tuple], loss_edges, logit_edges,
                 buffers: tuple[np.ndarray, np.ndarray] | None = None) -> SoftmaxRows | None:
    """The per-row stage of a softmax block with class-id targets (None: the least likely
    class), from its row statistics; None where the compiled kernel is absent or a row is
    not finite. `dtypes`: (name, log max, exp's zero threshold, log tiny, tiny, margin)
    per naive dtype derived (losses.naive_softmax_derived's thresholds).

    r None: the kernel computes the row statistics itself, a few hundred rows at a time
    (the same bits as row_stats), and returns the block's extremes in `agg` (and the argmin
    in `amin`) instead: one read of z, and no row arrays in memory. `buffers`: the (loss,
    flags) arrays to fill (row_buffers), else new ones."""
    if _COMPILED is None or z.dtype.name not in _KINDS or len(dtypes) > 4 or not z.shape[0]:
        return None
    if r is not None and target is None and r.amin is None:
        raise ValueError("softmax_rows: rows without targets need row_stats(least_likely=True)")
    n, c = z.shape
    params = [sat_eps, len(dtypes), *_edges_guess(loss_edges), *_edges_guess(logit_edges)]
    for name, *values in dtypes:
        params += [_KIND_CODES[name], *values]
    loss_edges = np.asarray(loss_edges, dtype=np.float64)
    logit_edges = np.asarray(logit_edges, dtype=np.float64)
    loss, flags = buffers if buffers is not None else (np.empty(n), np.empty(n, np.uint32))
    out = SoftmaxRows(
        loss, flags, np.zeros(16), np.zeros(64, np.int64),
        np.zeros(loss_edges.size + 1, np.int64), np.zeros(logit_edges.size + 1, np.int64),
        np.zeros(logit_edges.size + 1, np.int64),
        None if target is None else np.zeros(c, np.int64), (0, 0, 0),
    )
    if r is None:
        stats = [None] * 5
        agg = np.empty(3)
        amin = np.empty(n, np.int64) if target is None else None
        fused = [agg, amin]
    else:
        stats = [r.max, r.top.astype(np.int64, copy=False), r.min,
                 # the targets of unlabelled rows (the kernel reads it only without targets)
                 (r.top if r.amin is None else r.amin).astype(np.int64, copy=False), r.rest]
        fused = []
    sums = _COMPILED.softmax_rows(
        np.ascontiguousarray(z), _KINDS[z.dtype.name], c,
        None if target is None else np.ascontiguousarray(target, dtype=np.int64),
        *stats, np.asarray(params, dtype=np.float64), loss_edges, logit_edges,
        out.loss, out.flags, out.floats, out.ints, out.loss_counts, out.max_counts,
        out.range_counts, out.label_counts, *fused,
    )
    if sums is None:
        return None
    extra = {} if r is not None else {
        "agg": tuple(agg.tolist()),
        "amin": None if amin is None else amin.astype(np.intp, copy=False),
    }
    return SoftmaxRows(**{**out.__dict__, "sums": tuple(sums), **extra})
