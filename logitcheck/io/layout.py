"""N-D arrays seen as rows: every position over the non-class axes is one row.

Rows are numbered in C order over the non-class axes, so (B, T, V) logits give B*T rows
and row b*T + t is position (b, t). Blocks of rows are gathered from views of the
(memory-mapped) array, never from a copy of the whole of it.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided


class RowView:
    """(lead..., C) -> (rows, C) blocks; (lead...) -> (rows,) when `columns` is False."""

    def __init__(self, array: np.ndarray, columns: bool = True) -> None:
        self.columns = columns
        a = array if columns else array[..., np.newaxis]
        self.lead = tuple(int(d) for d in a.shape[:-1])
        self.rows = math.prod(self.lead)
        width = a.shape[-1]
        # merge the longest run of trailing lead axes that a single stride can walk
        strides = a.strides[:-1]
        k = len(self.lead) - 1
        while k > 0 and strides[k - 1] == strides[k] * self.lead[k]:
            k -= 1
        self.prefix = self.lead[:k]
        self.run = math.prod(self.lead[k:]) if self.lead else 1
        inner = strides[-1] if strides else 0
        self.view = as_strided(
            a, self.prefix + (self.run, width), strides[:k] + (inner, a.strides[-1]),
            writeable=False,
        )

    def read(self, start: int, stop: int) -> np.ndarray:
        if not self.prefix:
            block = np.asarray(self.view[start:stop])
        else:
            parts = []
            for p in range(start // self.run, (stop - 1) // self.run + 1):
                lo, hi = max(start - p * self.run, 0), min(stop - p * self.run, self.run)
                parts.append(self.view[np.unravel_index(p, self.prefix)][lo:hi])
            block = np.concatenate(parts) if len(parts) > 1 else np.asarray(parts[0])
        return block if self.columns else block[:, 0]

    def position(self, row: int) -> tuple[int, ...]:
        return tuple(int(i) for i in np.unravel_index(row, self.lead))


def axis_names(ndim: int, class_axis: int) -> list[str]:
    """Names for the non-class axes in messages: (B, T) for language-model logits."""
    if ndim == 3 and class_axis == 2:
        return ["b", "t"]
    if ndim == 2:
        return ["row"]
    return [f"d{i}" for i in range(ndim) if i != class_axis]
