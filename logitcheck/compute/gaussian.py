"""Gaussian negative log-likelihood heads: a predicted mean and scale against targets.

The stable NLL never leaves the log domain:

    nll = log_std + 0.5 log(2 pi) + 0.5 ((y - mu) exp(-log_std))^2

The naive path builds the variance first and divides by it — var = exp(2 log_std)
(exp(log_var), std^2, or the variance itself) — so in a given dtype var overflows to inf
once log_std passes half the exp threshold (44.36 in float32, 5.545 in float16) and
underflows to 0 (a division by zero) below -51.98 (float32) or -8.66 (float16).

Per chunk: the stable NLL per row (mean over the outputs, as torch's mean reduction), the
naive path per dtype with its failure rows, evidence about the scale column, and torch's
nn.GaussianNLLLoss (which takes a variance and clamps it at eps = 1e-6). Chunks merge
exactly, like the classification statistics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from .dtypes import cast, facts, finish
from .losses import Naive
from .mergeable import ExactSum, Extreme, RowIds, RowSet, merge_largest
from .numerics import naive_stats
from .stats import PathStats

SCALES = ("log-std", "log-var", "std", "var")
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
TORCH_EPS = 1e-6  # nn.GaussianNLLLoss(eps=1e-6) clamps the variance from below


def log_std(scale: np.ndarray, kind: str) -> np.ndarray:
    """log(std) from the scale as declared (std and var must be positive)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "log-std": lambda s: s,
            "log-var": lambda s: 0.5 * s,
            "std": np.log,
            "var": lambda s: 0.5 * np.log(s),
        }[kind](scale)


def scale_zones(kind: str, dtype: str) -> dict[str, float]:
    """Where the naive variance overflows and underflows, in the scale's own units."""
    f = facts(dtype)
    over, under = f.overflow_at, -f.zero_range  # thresholds for log(var)
    if kind == "log-var":
        return {"overflow_above": over, "zero_below": under}
    if kind == "log-std":
        return {"overflow_above": over / 2, "zero_below": under / 2}
    if kind == "std":  # var = std^2
        return {"overflow_above": math.sqrt(f.max),
                "zero_below": math.sqrt(f.smallest_subnormal / 2)}
    return {"overflow_above": f.max, "zero_below": f.smallest_subnormal / 2}


def naive_gaussian(mu, scale, y, kind: str, dtype: str) -> Naive:
    """var first, then 0.5 log(var) + 0.5 log(2 pi) + 0.5 (y - mu)^2 / var, in `dtype`."""
    with np.errstate(all="ignore"):
        m, s, t = cast(mu, dtype), cast(scale, dtype), cast(y, dtype)
        two = np.asarray(2, dtype=s.dtype)
        var = {
            "log-std": lambda: finish(np.exp(finish(two * s, dtype)), dtype),
            "log-var": lambda: finish(np.exp(s), dtype),
            "std": lambda: finish(s * s, dtype),
            "var": lambda: s,
        }[kind]()
        r = finish(t - m, dtype)
        half = np.asarray(0.5, dtype=s.dtype)
        c = np.asarray(HALF_LOG_2PI, dtype=s.dtype)
        quad = finish(half * finish(finish(r * r, dtype) / var, dtype), dtype)
        el = finish(finish(half * finish(np.log(var), dtype), dtype) + c, dtype) + quad
        loss = finish(el, dtype).astype(np.float64).mean(axis=1)
        overflowed = np.isinf(var).any(axis=1)
        subnormal = ((var > 0) & (var < facts(dtype).tiny)).any(axis=1)
    # one naive path here; stored under the softmax path's name so PathStats is shared
    losses = {"softmax_then_log": loss}
    return Naive(losses, {"softmax_then_log": overflowed}, subnormal)


@dataclass(frozen=True)
class GaussStats:
    rows: int = 0
    outputs: int = 0
    nonfinite_inputs: RowSet = RowSet()
    loss: ExactSum = ExactSum()  # stable NLL per row, where finite
    nonfinite_loss: RowSet = RowSet()
    worst_loss: Extreme | None = None
    scale_min: float | None = None
    scale_max: float | None = None
    scale_negative: RowSet = RowSet()
    scale_positive_values: int = 0
    scale_values: int = 0
    # mean squared standardised residual under the declared reading and the other log one
    z2_declared: ExactSum = ExactSum()
    z2_alternative: ExactSum = ExactSum()
    # torch nn.GaussianNLLLoss(full=True): var clamped at 1e-6
    torch_loss: ExactSum = ExactSum()
    torch_clamped: RowSet = RowSet()
    naive: dict[str, PathStats] = field(default_factory=dict)

    def merge(self, other: GaussStats) -> GaussStats:
        if self.rows == 0:
            return other
        if other.rows == 0:
            return self
        out: dict[str, Any] = {}
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if f.name == "outputs":
                out[f.name] = a
            elif f.name in ("scale_min", "scale_max"):
                pick = min if f.name == "scale_min" else max
                known = [x for x in (a, b) if x is not None]
                out[f.name] = pick(known) if known else None
            elif f.name == "worst_loss":
                out[f.name] = merge_largest(a, b)
            elif f.name == "naive":
                out[f.name] = {d: a[d].merge(b[d]) for d in a}
            elif isinstance(a, int):
                out[f.name] = a + b
            else:
                out[f.name] = a.merge(b)
        return GaussStats(**out)


def _extreme(values: np.ndarray, pick) -> float | None:
    ok = values[np.isfinite(values)]
    return float(pick(ok)) if ok.size else None


def chunk_gaussian(
    mu: np.ndarray, scale: np.ndarray, y: np.ndarray | None, offset: RowIds, kind: str,
    dtypes: tuple[str, ...],
) -> GaussStats:
    n = mu.shape[0]
    mu = np.asarray(mu, dtype=np.float64).reshape(n, -1)
    s = np.asarray(scale, dtype=np.float64).reshape(n, -1)
    t = None if y is None else np.asarray(y, dtype=np.float64).reshape(n, -1)
    finite = np.isfinite(mu) & np.isfinite(s)
    if t is not None:
        finite &= np.isfinite(t)
    bad_rows = ~finite.all(axis=1)
    out: dict[str, Any] = {
        "rows": n,
        "outputs": mu.shape[1],
        "nonfinite_inputs": RowSet.from_mask(bad_rows, offset),
        "scale_min": _extreme(s, np.min),
        "scale_max": _extreme(s, np.max),
        "scale_negative": RowSet.from_mask((s < 0).any(axis=1), offset),
        "scale_positive_values": int(np.count_nonzero(s > 0)),
        "scale_values": int(s.size),
    }
    if t is None:  # no targets: the scale alone (zones, sign) is all there is to read
        return GaussStats(**out)
    r = t - mu
    ls = log_std(s, kind)
    with np.errstate(over="ignore", invalid="ignore"):
        el = ls + HALF_LOG_2PI + 0.5 * np.square(r * np.exp(-ls))
        loss = el.mean(axis=1)
    ok = np.isfinite(loss)
    out["loss"] = ExactSum.of(loss[ok])
    out["nonfinite_loss"] = RowSet.from_mask(~ok & ~bad_rows, offset)
    if ok.any():
        out["worst_loss"] = Extreme.largest(np.where(ok, loss, -np.inf), offset)
    if kind in ("log-std", "log-var"):
        other = "log-var" if kind == "log-std" else "log-std"
        with np.errstate(over="ignore", invalid="ignore"):
            z2 = {k: np.square(r * np.exp(-log_std(s, k))).mean(axis=1) for k in (kind, other)}
        for name, k in (("z2_declared", kind), ("z2_alternative", other)):
            fine = np.isfinite(z2[k])
            out[name] = ExactSum.of(z2[k][fine])
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            z2 = np.square(r * np.exp(-ls)).mean(axis=1)
        out["z2_declared"] = ExactSum.of(z2[np.isfinite(z2)])
    out.update(_torch(r, s, kind, offset))
    out["naive"] = {
        d: naive_stats(naive_gaussian(mu, s, t, kind, d), loss, offset, floor=1.0)[
            "softmax_then_log"]
        for d in dtypes
    }
    return GaussStats(**out)


def _torch(r: np.ndarray, s: np.ndarray, kind: str, offset: RowIds) -> dict[str, Any]:
    """nn.GaussianNLLLoss(full=True) in float32: the variance, clamped at eps = 1e-6."""
    with np.errstate(all="ignore"):
        var = np.exp(2.0 * log_std(s, kind)).astype(np.float32)
        clamped = var < np.float32(TORCH_EPS)
        v = np.maximum(var, np.float32(TORCH_EPS))
        el = np.float32(0.5) * (np.log(v) + np.square(r.astype(np.float32)) / v)
        loss = el.astype(np.float64).mean(axis=1) + HALF_LOG_2PI
    ok = np.isfinite(loss)
    return {"torch_loss": ExactSum.of(loss[ok]),
            "torch_clamped": RowSet.from_mask(clamped.any(axis=1) & ok, offset)}
