"""Dense labels: one-hot or soft rows (softmax targets), or independent 0/1 columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError

_SCAN_ROWS = 1 << 16


def dense_targets(path: Path, array: np.ndarray, rows: int, multilabel: bool) -> str:
    """Which targets a (rows, classes) label array holds ("dense" or "multilabel"), from one
    scan in blocks that also refuses anything but probabilities.

    Rows of 0s and 1s that each sum to 1 are one-hot; other rows in [0, 1] are soft
    targets (torch's probability targets, which must sum to 1 — a finding says where they
    do not); `multilabel` reads 0/1 columns as independent binary targets instead.
    """
    if array.dtype.kind not in "iufb":
        raise InputError(path, f"holds {array.dtype} values; targets must be numbers")
    if array.shape[0] != rows:
        raise InputError(path, f"has {array.shape[0]:,} label rows but the logits have {rows:,}")
    binary = True
    for start in range(0, rows, _SCAN_ROWS):
        with np.errstate(invalid="ignore"):  # a signalling NaN warns when cast; refused below
            block = np.asarray(array[start : start + _SCAN_ROWS], dtype=np.float64)
        bad = ~np.isfinite(block) | (block < 0) | (block > 1)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise InputError(
                path,
                f"row {start + r}, column {c}: target {block[r, c].item()!r} is not a probability "
                "in [0, 1]",
            )
        binary = binary and bool(((block == 0) | (block == 1)).all())
    if multilabel:
        if not binary:
            raise InputError(path, "multi-label targets must be 0 or 1")
        return "multilabel"
    return "dense"
