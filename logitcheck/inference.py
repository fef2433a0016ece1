"""What an array holds, decided from merged statistics of its values alone.

Every decision compares an identity the kind must satisfy (rows sum to 1, each row's
logsumexp is 0, max/min <= e, ...) against a tolerance that follows the data: the
storage dtype's rounding, the producer's summation, and decimal rounding (a CSV written
with k decimals). Kinds that need no identity (logits) are what is left.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .compute.dtypes import facts
from .compute.stats import MAX_DECIMALS, Stats
from .report.model import Kind

E = math.e
SIGMOID_1 = 1.0 / (1.0 + math.exp(-1.0))  # 0.7311: sigmoid of a probability is at most this

KINDS = (
    "logits",
    "probabilities",
    "log_probabilities",
    "double_softmax",
    "sigmoid_probabilities",
    "double_sigmoid",
    "softmax_wrong_axis",
    "binary_logits",
    "binary_probabilities",
)

#: sigmoid outputs saturate: at least this share of values sits below 0.02 or above 0.98
_SATURATED_SHARE = 0.01


def row_sum_tolerance(dtype: str, classes: int) -> float:
    """How far from 1 a row of softmax output may sum once stored in `dtype`.

    Each stored p_i carries a rounding error of at most eps/2 relative to p_i, so storage
    moves the sum by at most eps/2; the producer's own summation adds about log2(C) eps.
    Outputs are often computed in float32 and saved as float64, hence the float32 floor.
    """
    eps = max(facts(dtype).eps, facts("float32").eps)
    return 2.0 * (2.0 + math.log2(max(classes, 2))) * eps


def rounding_step(stats: Stats) -> float:
    """Half the decimal grid the values were rounded to (0 when they were not).

    Whole numbers (k = 0) are not read as rounding: in [0, 1] they are one-hot rows.
    """
    return 0.5 * 10.0 ** -stats.decimals if 0 < stats.decimals <= MAX_DECIMALS else 0.0


def double_softmax_floor(classes: int) -> float:
    """The smallest loss softmax-of-probabilities can give: ln(1 + (C-1)/e)."""
    return math.log1p((classes - 1) / E)


def infer_kind(stats: Stats, dtype: str) -> Kind:
    kind = _infer(stats, dtype)
    # evidence is JSON: an unbounded statistic (no row with min > 0, say) is null
    evidence = {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v)
        for k, v in kind.evidence.items()
    }
    return Kind(kind.name, kind.confidence, evidence)


def _infer(stats: Stats, dtype: str) -> Kind:
    c = stats.classes
    tol = row_sum_tolerance(dtype, c)
    step = rounding_step(stats)
    lo, hi = stats.finite_min, stats.finite_max
    ev: dict[str, Any] = {"min": lo, "max": hi, "dtype_tolerance": tol}
    if stats.decimals <= MAX_DECIMALS:
        ev["decimals"] = stats.decimals
    if lo is None or hi is None:
        return Kind("logits", 0.0, {**ev, "reason": "no finite values to read"})
    if stats.binary:
        return _binary(stats, lo, hi, tol + step, ev)
    if stats.unit is not None:
        return _unit_interval(stats, dtype, lo, hi, tol, step, ev)

    lse = stats.lse_dev.value if stats.lse_dev else None
    lse_tol = tol + 2 * step
    ev.update(max_abs_logsumexp=lse, logsumexp_tolerance=lse_tol)
    if hi <= lse_tol and lse is not None and lse <= lse_tol:
        ev["reason"] = "every value <= 0 and every row's logsumexp is 0"
        return Kind("log_probabilities", 0.99, ev)
    ev["reason"] = "values outside [0, 1] that are not log-probabilities"
    return Kind("logits", 0.99, ev)


def _unit_interval(stats: Stats, dtype, lo, hi, tol, step, ev) -> Kind:
    """All values in [0, 1]: some kind of probabilities, or logits that happen to be."""
    c, unit = stats.classes, stats.unit
    assert unit is not None
    sum_tol = tol + c * step
    dev = stats.row_sum_dev.value if stats.row_sum_dev else math.inf
    ev.update(max_row_sum_deviation=dev, row_sum_tolerance=sum_tol)
    if stats.row_sum_dev:
        ev["max_row_sum_deviation_row"] = stats.row_sum_dev.row
    if dev <= sum_tol:
        return _row_stochastic(stats, lo, hi, tol, step, ev)

    slack = tol + step
    if lo >= 0.5 - slack and hi <= SIGMOID_1 + slack:
        ev["reason"] = "every value in [0.5, 0.7311]: sigmoid applied to values in [0, 1]"
        return Kind("double_sigmoid", 0.95, ev)

    col_dev = float(np.abs(unit.column_sums.values - 1.0).max())
    n = stats.rows
    col_tol = row_sum_tolerance(dtype, n) + n * (step + 2.0**-33)
    ev.update(max_column_sum_deviation=col_dev, column_sum_tolerance=col_tol)
    if n > 1 and col_dev <= col_tol:
        ev["reason"] = "every column sums to 1, the rows do not: softmax over axis 0"
        return Kind("softmax_wrong_axis", 0.99, ev)

    share = (unit.near_zero + unit.near_one) / (stats.rows * c)
    ev["saturated_share"] = share
    if share >= _SATURATED_SHARE:
        ev["reason"] = "values in [0, 1], rows do not sum to 1, many near 0 or 1"
        return Kind("sigmoid_probabilities", 0.9, ev)
    ev["reason"] = "values in [0, 1] but rows do not sum to 1 and few saturate"
    return Kind("logits", 0.6, ev)


def _row_stochastic(stats: Stats, lo, hi, tol, step, ev) -> Kind:
    """Rows sum to 1: softmax output, applied once or twice."""
    c = stats.classes
    cap = E / (E + c - 1)
    ratio = stats.log_ratio.value if stats.log_ratio else math.inf
    ratio_tol = 4 * tol + (2 * step / lo if lo > 0 else math.inf)
    ev.update(max_log_ratio=ratio, log_ratio_tolerance=ratio_tol, double_softmax_max=cap)
    if ratio <= 1.0 + ratio_tol and hi <= cap * (1 + tol) + step:
        ev["loss_floor"] = double_softmax_floor(c)
        ev["reason"] = (
            "rows sum to 1 and every row lies within a factor e (max/min <= e, "
            f"max <= e/(e+C-1) = {cap:.4g})"
        )
        confidence = 0.9
        acc = stats.accuracy
        if acc is not None:
            chance = 1.0 / c
            ev["accuracy"] = acc
            # the argmax survives a second softmax: a real but unsure model is near chance
            confidence = 0.99 if acc > chance + 0.1 else 0.6
        return Kind("double_softmax", confidence, ev)
    ev["reason"] = "every value in [0, 1] and every row sums to 1"
    return Kind("probabilities", 0.99, ev)


def _binary(stats: Stats, lo, hi, slack, ev) -> Kind:
    if stats.unit is None:
        ev["reason"] = "a single output per row with values outside [0, 1]"
        return Kind("binary_logits", 0.99, ev)
    if lo >= 0.5 - slack and hi <= SIGMOID_1 + slack:
        ev["reason"] = "every value in [0.5, 0.7311]: sigmoid applied to values in [0, 1]"
        return Kind("double_sigmoid", 0.9, ev)
    ev["reason"] = "a single output per row, every value in [0, 1]"
    return Kind("binary_probabilities", 0.95, ev)
