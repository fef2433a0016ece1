"""Per-chunk statistics of a (rows, classes) array, and their merge.

The stable loss is computed in float64 as scipy's log_softmax does, refined so that it is
accurate to a few ulp even for confident rows (log1p of the mass outside the max). The
two naive paths are reproduced in each dtype that matters:

    (a) "softmax then log":  -log(exp(z_y) / sum(exp(z)))
    (b) "no max shift":      log(sum(exp(z))) - z_y

A naive path *fails* on a row when it gives inf or NaN where the stable loss is finite;
the failure is an *overflow* when sum(exp(z)) is inf in that dtype (one exp, or their
sum, passed the dtype's max), and an *underflow* otherwise (p_y or the sum rounds to 0).

Without labels, the paths are evaluated at each row's least likely class: the naive
log-softmax of a row has a non-finite entry exactly when that one is non-finite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np

from .mergeable import ExactSum, Extreme, RowSet, merge_largest

PATHS = ("softmax_then_log", "no_max_shift")
FLOAT_DTYPES = ("float16", "float32", "float64")
_EPS64 = float(np.finfo(np.float64).eps)


def exp_overflow_threshold(dtype: str) -> float:
    """The smallest z with exp(z) = inf in `dtype` is just above this (88.72 in float32)."""
    return math.log(float(np.finfo(dtype).max))


def naive_dtypes(storage: str) -> tuple[str, ...]:
    """The storage dtype and every wider float dtype: the ones a user may compute in."""
    width = np.dtype(storage).itemsize
    return tuple(d for d in FLOAT_DTYPES if np.dtype(d).itemsize >= width)


@dataclass(frozen=True)
class PathStats:
    failed: RowSet = RowSet()
    overflow: RowSet = RowSet()
    underflow: RowSet = RowSet()
    max_rel_gap: Extreme | None = None  # |naive - stable| / stable, where both are finite

    def merge(self, other: PathStats) -> PathStats:
        return PathStats(
            self.failed.merge(other.failed),
            self.overflow.merge(other.overflow),
            self.underflow.merge(other.underflow),
            merge_largest(self.max_rel_gap, other.max_rel_gap),
        )


@dataclass(frozen=True)
class Stats:
    """Everything the checks may read; merged over chunks, never holding raw arrays."""

    rows: int = 0
    classes: int = 0
    labelled: bool = False
    # health of the input values
    nan: RowSet = RowSet()
    posinf: RowSet = RowSet()
    neginf: RowSet = RowSet()
    nan_values: int = 0
    posinf_values: int = 0
    neginf_values: int = 0
    finite_min: float | None = None
    finite_max: float | None = None
    # the stable loss (at the label; the least likely class without labels)
    loss: ExactSum = ExactSum()  # over rows where it is finite
    nonfinite_loss: RowSet = RowSet()
    worst_loss: Extreme | None = None
    correct: int = 0  # argmax == label, among rows with a finite loss
    # evidence that the rows are probabilities
    row_sum_dev: Extreme | None = None  # max |sum(row) - 1| over rows with finite sums
    loss_as_probabilities: ExactSum = ExactSum()  # -log(z_y), where 0 < z_y
    zero_label_value: RowSet = RowSet()  # z_y == 0: -log(z_y) is inf
    # naive paths: dtype -> path -> stats
    naive: dict[str, dict[str, PathStats]] = field(default_factory=dict)

    @property
    def max_abs(self) -> float | None:
        if self.finite_min is None or self.finite_max is None:
            return None
        return max(abs(self.finite_min), abs(self.finite_max))

    @property
    def accuracy(self) -> float | None:
        if not self.labelled or not self.loss.count:
            return None
        return self.correct / self.loss.count

    def merge(self, other: Stats) -> Stats:
        if self.rows == 0:
            return other
        if other.rows == 0:
            return self
        merged = {}
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if f.name in ("classes", "labelled"):
                merged[f.name] = a
            elif f.name == "finite_min":
                merged[f.name] = _merge_optional(min, a, b)
            elif f.name == "finite_max":
                merged[f.name] = _merge_optional(max, a, b)
            elif f.name == "worst_loss" or f.name == "row_sum_dev":
                merged[f.name] = merge_largest(a, b)
            elif f.name == "naive":
                merged[f.name] = {
                    d: {p: a[d][p].merge(b[d][p]) for p in a[d]} for d in a
                }
            elif isinstance(a, int):
                merged[f.name] = a + b
            else:
                merged[f.name] = a.merge(b)
        return Stats(**merged)


def _merge_optional(pick, a, b):
    if a is None or b is None:
        return b if a is None else a
    return pick(a, b)


def merge_all(parts) -> Stats:
    total = Stats()
    for part in parts:
        total = total.merge(part)
    return total


def chunk_stats(
    z: np.ndarray,
    labels: np.ndarray | None,
    offset: int,
    dtypes: tuple[str, ...],
) -> Stats:
    """Statistics of rows z[0:n] of a (rows, classes) array whose first row is `offset`."""
    n, c = z.shape
    rows = np.arange(n)
    zf = np.array(z, dtype=np.float64, order="C")  # a private copy, reused in place below

    lo, hi = zf.min(), zf.max()  # NaN if any NaN
    all_finite = bool(np.isfinite(lo) and np.isfinite(hi))
    if all_finite:
        health = {"finite_min": float(lo), "finite_max": float(hi)}
    else:
        health = _health(zf, offset)

    with np.errstate(invalid="ignore", over="ignore"):  # NaN/inf rows give NaN/inf sums
        sums = zf.sum(axis=1)
    dev = np.abs(sums - 1.0)
    dev_ok = np.isfinite(dev)
    row_sum_dev = Extreme.largest(np.where(dev_ok, dev, -1.0), offset) if dev_ok.any() else None

    top = zf.argmax(axis=1)  # the first NaN, if any: the row's max is then NaN
    zmax = zf[rows, top]
    if labels is not None:
        target = np.asarray(labels, dtype=np.intp)
    else:
        target = zf.argmin(axis=1)
    z_target = zf[rows, target]

    extra: dict = {}
    if labels is not None:
        usable = (z_target > 0) & np.isfinite(z_target)
        extra["loss_as_probabilities"] = ExactSum.of(-np.log(z_target[usable]))
        extra["zero_label_value"] = RowSet.from_mask(z_target == 0, offset)

    loss = _stable_loss(zf, z, rows, top, zmax, target, z_target)
    finite_loss = np.isfinite(loss)
    if labels is not None:
        extra["correct"] = int(np.count_nonzero((top == target) & finite_loss))

    naive = {d: _naive_paths(z, d, target, loss, offset) for d in dtypes}

    return Stats(
        rows=n,
        classes=c,
        labelled=labels is not None,
        loss=ExactSum.of(loss[finite_loss]),
        nonfinite_loss=RowSet.from_mask(~finite_loss, offset),
        worst_loss=_worst(loss, finite_loss, offset) if finite_loss.any() else None,
        row_sum_dev=row_sum_dev,
        naive=naive,
        **health,
        **extra,
    )


def _worst(loss: np.ndarray, finite: np.ndarray, offset: int) -> Extreme:
    masked = np.where(finite, loss, -np.inf)
    row = int(np.argmax(masked))
    return Extreme(float(loss[row]), row + offset)


def _health(zf: np.ndarray, offset: int) -> dict:
    nan, posinf, neginf = np.isnan(zf), np.isposinf(zf), np.isneginf(zf)
    finite = ~(nan | posinf | neginf)
    out: dict = {
        "nan": RowSet.from_mask(nan.any(axis=1), offset),
        "posinf": RowSet.from_mask(posinf.any(axis=1), offset),
        "neginf": RowSet.from_mask(neginf.any(axis=1), offset),
        "nan_values": int(nan.sum()),
        "posinf_values": int(posinf.sum()),
        "neginf_values": int(neginf.sum()),
        "finite_min": None,
        "finite_max": None,
    }
    if finite.any():
        out["finite_min"] = float(zf[finite].min())
        out["finite_max"] = float(zf[finite].max())
    return out


def stable_loss(z: np.ndarray, target: np.ndarray) -> np.ndarray:
    """-log_softmax(z)[row, target[row]] for each row, in float64."""
    zf = np.array(z, dtype=np.float64, order="C")
    rows = np.arange(zf.shape[0])
    target = np.asarray(target, dtype=np.intp)
    top = zf.argmax(axis=1)
    return _stable_loss(zf, z, rows, top, zf[rows, top], target, zf[rows, target])


def _stable_loss(zf, z, rows, top, zmax, target, z_target) -> np.ndarray:
    """-log_softmax(z)[target] per row, in float64, to a few ulp.

    loss = (max - z_y) + log1p(sum over j != argmax of exp(z_j - max)): both terms are
    non-negative, and log1p keeps the digits of a confident row's tiny loss that
    log(sum) would round away. Rows whose max is not finite follow scipy's log_softmax.
    Destroys zf.
    """
    good = np.isfinite(zmax)
    shift = np.where(good, zmax, 0.0)
    with np.errstate(invalid="ignore", over="ignore"):
        np.subtract(zf, shift[:, None], out=zf)
        np.exp(zf, out=zf)
        zf[rows, top] = 0.0
        rest = zf.sum(axis=1)
        loss = (zmax - z_target) + np.log1p(rest)
    if not good.all():
        # scipy: a non-finite max is replaced by 0, then z_y - log(sum(exp(z)))
        bad = np.flatnonzero(~good)
        zb = np.asarray(z[bad], dtype=np.float64)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            loss[bad] = np.log(np.exp(zb).sum(axis=1)) - zb[np.arange(bad.size), target[bad]]
    return loss


def naive_losses(z: np.ndarray, dtype: str, target: np.ndarray) -> tuple[dict, np.ndarray]:
    """Each naive path's loss per row computed in `dtype`, and which rows' sums overflowed."""
    rows = np.arange(z.shape[0])
    with np.errstate(all="ignore"):  # overflow and underflow are what we measure
        zt = np.asarray(z).astype(dtype, copy=False)
        e = np.exp(zt)
        s = e.sum(axis=1)
        losses = {
            "softmax_then_log": -np.log(e[rows, target] / s),
            "no_max_shift": np.log(s) - zt[rows, target],
        }
    return losses, np.isinf(s)  # an exp, or the sum of them, passed the dtype's max


def _naive_paths(z, dtype, target, stable, offset) -> dict[str, PathStats]:
    losses, overflowed = naive_losses(z, dtype, target)
    stable_ok = np.isfinite(stable)
    out = {}
    for path, naive in losses.items():
        naive = naive.astype(np.float64)
        naive_ok = np.isfinite(naive)
        failed = stable_ok & ~naive_ok
        both = np.flatnonzero(stable_ok & naive_ok)
        # relative gap; below eps the loss is ~0 and the absolute gap is what matters
        gap = np.abs(naive[both] - stable[both]) / np.maximum(stable[both], _EPS64)
        worst = None
        if gap.size:
            i = int(np.argmax(gap))
            worst = Extreme(float(gap[i]), int(both[i]) + offset)
        out[path] = PathStats(
            failed=RowSet.from_mask(failed, offset),
            overflow=RowSet.from_mask(failed & overflowed, offset),
            underflow=RowSet.from_mask(failed & ~overflowed, offset),
            max_rel_gap=worst,
        )
    return out
