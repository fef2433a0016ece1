"""What an array holds, decided from merged statistics of its values alone."""

from __future__ import annotations

import math

import numpy as np

from .numerics import Stats
from .report.model import Kind


def row_sum_tolerance(dtype: str, classes: int) -> float:
    """How far from 1 a row of softmax output may sum once stored in `dtype`.

    Each stored p_i carries a rounding error of at most eps/2 relative to p_i, so storage
    moves the sum by at most eps/2; the producer's own summation adds about log2(C) eps.
    Outputs are often computed in float32 and saved as float64, hence the float32 floor.
    """
    eps = max(float(np.finfo(dtype).eps), float(np.finfo(np.float32).eps))
    return 2.0 * (2.0 + math.log2(classes)) * eps


def infer_kind(stats: Stats, dtype: str) -> Kind:
    tol = row_sum_tolerance(dtype, stats.classes)
    lo, hi = stats.finite_min, stats.finite_max
    dev = stats.row_sum_dev.value if stats.row_sum_dev is not None else None
    evidence = {
        "min": lo,
        "max": hi,
        "max_row_sum_deviation": dev,
        "row_sum_tolerance": tol,
    }
    in_unit = lo is not None and hi is not None and lo >= 0.0 and hi <= 1.0
    if in_unit and dev is not None and dev <= tol:
        return Kind("probabilities", 1.0, evidence)
    return Kind("logits", 1.0 if not in_unit else 0.9, evidence)
