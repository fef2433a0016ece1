"""Independent references the tests compare logitcheck against.

They share no code with logitcheck: the stable loss comes from mpmath with at least 30 digits
to spare, and the naive paths are simulated one row at a time with numpy scalars of each dtype.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np


def exact_loss(row: np.ndarray, label: int) -> float:
    """-log softmax(row)[label], correctly rounded to float64 (inf/nan for bad rows)."""
    values = [float(v) for v in row]
    if any(math.isnan(v) or math.isinf(v) for v in values):
        raise ValueError("exact_loss takes finite rows")
    # enough digits that exp(min - max) still counts against 1, plus 30 for the result
    digits = 30 + int((max(values) - min(values)) / 2.3)
    with mpmath.workdps(digits):
        lse = mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(v)) for v in values))
        return float(lse - mpmath.mpf(values[label]))


def exact_losses(z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return np.array([exact_loss(z[i], int(labels[i])) for i in range(z.shape[0])])


def simulate_naive(z: np.ndarray, labels: np.ndarray, dtype: str) -> dict[str, list[int]]:
    """Rows where each naive path gives a non-finite loss, simulated row by row."""
    t = np.dtype(dtype).type
    failed: dict[str, list[int]] = {"softmax_then_log": [], "no_max_shift": []}
    with np.errstate(all="ignore"):
        for i in range(z.shape[0]):
            row = z[i].astype(t)
            y = int(labels[i])
            exps = np.exp(row)
            total = exps.sum()
            p_y = exps[y] / total
            if not np.isfinite(-np.log(p_y)):
                failed["softmax_then_log"].append(i)
            if not np.isfinite(np.log(total) - row[y]):
                failed["no_max_shift"].append(i)
    return failed
