"""What a chunk's values say about their kind and their storage: how the values read
(logits, probabilities, a unit interval), the decimals a CSV was written with, health
counts. chunk_stats (numerics.py) calls these once per block."""

from __future__ import annotations

import numpy as np

from .frameworks import BINARY, SOFTMAX
from .frameworks import Rows as FrameworkRows
from .kernel import (
    RowStats,
    log_positive,
    row_sums,
)
from .mergeable import (
    ExactSum,
    Extreme,
    RowIds,
    RowSet,
)
from .stats import MAX_DECIMALS, NOT_ROUNDED, ColumnSums, FrameworkStats, UnitEvidence

_SAMPLE = 4096  # values decimals() looks at before it scans a block


_SCAN_VALUES = 1 << 20  # values it converts to float64 at once when it does


def _largest_finite(values: np.ndarray, offset: RowIds) -> Extreme | None:
    ok = np.isfinite(values)
    if not ok.any():
        return None
    return Extreme.largest(np.where(ok, values, -np.inf), offset)


def _value_evidence(z, r: RowStats | None, binary, offset, positive, in_unit,
                    min_abs: float | None) -> dict:
    """What the values look like: row sums, log-ratios, [0, 1] facts, rounding."""
    out: dict = {"decimals": decimals(z, z.dtype, min_abs)}
    if in_unit:  # probabilities: these passes are worth their cost
        values = np.asarray(z, dtype=np.float64)
        out["unit"] = UnitEvidence(
            int(np.count_nonzero(values < 0.02)),
            int(np.count_nonzero(values > 0.98)),
            ColumnSums.of(values),
        )
    if binary:
        return out
    assert r is not None
    if in_unit:  # row sums tell probabilities apart; no other values need them
        with np.errstate(invalid="ignore", over="ignore"):
            out["row_sum_dev"] = _largest_finite(np.abs(row_sums(z)[0] - 1.0), offset)
    if positive:  # all finite and > 0: what softmax output always is
        out["log_ratio"] = Extreme.largest(np.log(r.max) - np.log(r.min), offset)
    return out


def decimals(values: np.ndarray, dtype: np.dtype, min_abs: float | None = None) -> int:
    """The smallest k <= MAX_DECIMALS with every finite value on the 10**-k grid.

    A CSV written with k decimals sums to 1 only within about C * 0.5 * 10**-k, so this
    sets tolerances. A sample proposes k; the whole block confirms it (grids nest). A value
    whose slack (2 eps |v| 10**k) reaches 0.5 is on the grid whatever it is: with
    `min_abs`, the smallest nonzero |value| of an all-finite block, only the values below
    that size are looked at (float32 logits pass k = 7 or 8 on their own size alone).
    """
    eps = float(np.finfo(dtype).eps)
    if eps > 1e-6:
        return NOT_ROUNDED  # float16 is too coarse to tell a decimal grid from its own
    values = np.asarray(values)

    def finite(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64).ravel()
        return v[np.isfinite(v)]

    def on_grid(v: np.ndarray, k: int) -> bool:
        scaled = v * 10.0**k
        slack = 1e-9 + np.abs(scaled) * 2 * eps
        return bool((np.abs(scaled - np.rint(scaled)) <= slack).all())

    # the first 4096 finite values: random logits hold enough small ones that one of them
    # is off every grid, so the block is scanned only when the values look rounded
    per_row = max(1, values[0].size) if values.ndim > 1 else 1
    sample = finite(values[: -(-_SAMPLE // per_row)])
    if sample.size < _SAMPLE:
        sample = finite(values)
    sample = sample[:_SAMPLE]
    if sample.size == 0:
        return 0
    k = next((k for k in range(MAX_DECIMALS + 1) if on_grid(sample, k)), NOT_ROUNDED)
    if k > MAX_DECIMALS:
        return NOT_ROUNDED  # no grid for the sample: none for the block (logits)
    def block_on_grid(k: int) -> bool:
        sure = 0.5 / (2 * eps * 10.0**k) * (1 + 1e-9)  # |v| at or above this is on the grid
        if min_abs is not None and min_abs >= sure:
            return True
        # a slice at a time: a whole chunk in float64 would be several times its size
        rows = values.reshape(values.shape[0], -1) if values.ndim > 1 else values.reshape(-1, 1)
        step = max(1, _SCAN_VALUES // max(1, rows.shape[1]))
        for start in range(0, rows.shape[0], step):
            flat = finite(rows[start:start + step])
            if not on_grid(flat[np.abs(flat) < sure], k):
                return False
        return True

    while k <= MAX_DECIMALS and not block_on_grid(k):
        k += 1
    return k if k <= MAX_DECIMALS else NOT_ROUNDED


def _readings(values, r: RowStats | None, binary, target, z_target, offset, positive,
              storage, frameworks: bool = True) -> dict:
    """The loss each reading of the values gives: as probabilities, as log-probabilities,
    as each framework computes it on probabilities (frameworks.py), and after undoing a
    second softmax (binary: a second sigmoid). `values` is the block as stored (binary:
    float64), `r` its row statistics (softmax)."""
    if binary:
        p = values[:, 0]
        p_y = np.where(target == 1, p, 1.0 - p)
        lp_y = np.full(p.shape, np.nan)
    else:
        p_y = z_target
        lp_y = z_target
    usable = (p_y > 0) & np.isfinite(p_y)
    ok_lp = np.isfinite(lp_y)
    out: dict = {"frameworks": {}}
    with np.errstate(all="ignore"):  # NaN rows give NaN losses; they are left out below
        if not frameworks:
            emulations, given = {}, None
        elif binary:
            emulations, given = BINARY, values
        else:
            emulations, given = SOFTMAX, FrameworkRows(p_y, *row_sums(values))
        for name, emulate in emulations.items():
            loss, capped = emulate(given, target, storage)
            ok = np.isfinite(loss)
            out["frameworks"][name] = FrameworkStats(
                ExactSum.of(loss[ok]), RowSet.from_mask(capped & ok, offset)
            )
    if positive:
        with np.errstate(divide="ignore", invalid="ignore"):
            if binary:  # p = logit(q): the probability before the second sigmoid
                first = np.log(p / (1.0 - p))
                first_y = np.where(target == 1, first, 1.0 - first)
            else:  # q = softmax(p), sum(p) = 1  =>  p = ln q + (1 - sum(ln q)) / C
                c = values.shape[1]
                log_sum = np.log(np.asarray(values, dtype=np.float64)).sum(axis=1)
                first_y = np.log(p_y) + (1.0 - log_sum) / c
            ok = (first_y > 0) & (first_y <= 1)
        out["loss_undone"] = ExactSum.of(-np.log(first_y[ok]))
    return out | {
        "loss_as_probabilities": ExactSum.of(-log_positive(p_y[usable])),
        "zero_label_value": RowSet.from_mask(p_y == 0, offset),
        "loss_as_log_probabilities": ExactSum.of(-lp_y[ok_lp]),
    }


def _health(zf: np.ndarray, offset: RowIds) -> dict:
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
