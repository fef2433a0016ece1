"""Independent references the tests compare logitcheck against.

They share no code with logitcheck: the stable loss comes from mpmath with at least 30
digits to spare, and the naive paths are simulated one row at a time with numpy scalars
of each dtype.
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


def exact_loss_shifted(row: np.ndarray, label: int, digits: int = 60) -> mpmath.mpf:
    """-log softmax(row)[label] with `digits` significant digits, whatever the row's range.

    exact_loss needs about range/2.3 digits (8,700 for a row spanning 2e4: minutes per row
    at C = 4096). The identity loss = (max - z_y) + log1p(sum_{j != argmax} exp(z_j - max))
    has two non-negative terms, each computed to `digits` digits (the shift is exact at this
    precision up to a relative 10**-digits of the argument), so 60 digits give the float64
    result with 40 to spare. Returns the mpf; float() of it is correctly rounded.
    """
    values = [float(v) for v in row]
    if any(math.isnan(v) or math.isinf(v) for v in values):
        raise ValueError("exact_loss_shifted takes finite rows")
    top = max(range(len(values)), key=values.__getitem__)
    with mpmath.workdps(digits):
        m = mpmath.mpf(values[top])
        rest = mpmath.fsum(
            mpmath.exp(mpmath.mpf(v) - m) for j, v in enumerate(values) if j != top
        )
        return (m - mpmath.mpf(values[label])) + mpmath.log1p(rest)


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


def torch_cross_entropy(
    z: np.ndarray,
    target: np.ndarray,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
) -> float:
    """F.cross_entropy(z, target, ignore_index=, label_smoothing=) in float64, written out
    from torch's documented formula: class ids or probability targets, mean reduction."""
    z = np.asarray(z, dtype=np.float64)
    n, c = z.shape
    logp = np.empty_like(z)
    for i in range(n):  # row by row, with math.fsum: no shared code with logitcheck
        m = max(z[i])
        lse = m + math.log(math.fsum(math.exp(v - m) for v in z[i]))
        logp[i] = z[i] - lse
    eps = label_smoothing
    if target.ndim == 1:
        keep = target != ignore_index
        rows = np.flatnonzero(keep)
        nll = np.array([-logp[i, int(target[i])] for i in rows])
        smooth = np.array([-logp[i].sum() / c for i in rows])
        return float(((1 - eps) * nll + eps * smooth).sum() / rows.size)
    t = (1 - eps) * np.asarray(target, dtype=np.float64) + eps / c
    return float(np.mean([-math.fsum(t[i] * logp[i]) for i in range(n)]))


def bce_with_logits(z: np.ndarray, y: np.ndarray) -> float:
    """nn.BCEWithLogitsLoss() (mean over every output), in float64 with mpmath."""
    z = np.asarray(z, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    terms = [
        float(mpmath.log1p(mpmath.exp(mpmath.mpf(float(a)))) - a * b)
        for a, b in zip(z, y, strict=True)
    ]
    return math.fsum(terms) / len(terms)
