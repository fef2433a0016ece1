"""N-D arrays seen as rows: every position over the non-class axes is one row.

Rows are numbered in C order over the non-class axes, so (B, T, V) logits give B*T rows
and row b*T + t is position (b, t). Blocks of rows are gathered from views of the
(memory-mapped) array, never from a copy of the whole of it; arrays that are neither in
memory nor mapped (zarr, .npy shards: LazyArray) are read block by block (LazyRowView).
"""

from __future__ import annotations

import ctypes
import math
import mmap
from typing import Any, Protocol

import numpy as np
from numpy.lib.stride_tricks import as_strided


class LazyArray(Protocol):
    """An array read on demand: `array[index]` with ints and slices returns numpy data."""

    shape: tuple[int, ...]
    dtype: np.dtype
    ndim: int
    nbytes: int

    def __getitem__(self, index: Any) -> Any: ...


class RowView:
    """(lead..., C) -> (rows, C) blocks; (lead...) -> (rows,) when `columns` is False."""

    def __init__(self, array: np.ndarray, columns: bool = True) -> None:
        self.columns = columns
        a = array if columns else array[..., np.newaxis]
        self.lead = tuple(int(d) for d in a.shape[:-1])
        self.rows = math.prod(self.lead)
        width = self.width = int(a.shape[-1])
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


class LazyRowView:
    """RowView's rows of a LazyArray, without moving axes or views: each block is read as a
    few rectangular selections that cover exactly its rows, so a read costs one chunk.

    `class_axis` None: no class axis (a binary output, or labels), blocks are (rows,);
    `shift`: the last position on the second non-class axis is dropped (causal LM).
    """

    def __init__(self, array: LazyArray, class_axis: int | None, shift: bool = False) -> None:
        self.array = array
        self.class_axis = class_axis
        self.columns = class_axis is not None
        self.axes = [i for i in range(array.ndim) if i != class_axis]
        lead = [int(array.shape[i]) for i in self.axes]
        if shift:
            lead[1] -= 1
        self.lead = tuple(lead)
        self.rows = math.prod(self.lead)
        self.width = int(array.shape[class_axis]) if class_axis is not None else 1

    def read(self, start: int, stop: int) -> np.ndarray:
        parts: list[np.ndarray] = []
        if stop > start:
            self._gather(start, stop, (), parts)
        block = np.concatenate(parts) if len(parts) > 1 else (
            parts[0] if parts else np.empty((0, self.width), dtype=self.array.dtype))
        return block if self.columns else block[:, 0]

    def _gather(self, start: int, stop: int, fixed: tuple[int, ...],
                parts: list[np.ndarray]) -> None:
        """Rows [start, stop) of the sub-array at `fixed` (indices on the first lead axes)."""
        d = len(fixed)
        per = math.prod(self.lead[d + 1:])  # rows per index on lead axis d
        first, last = start // per, -(-stop // per)  # the indices [first, last) touched
        if start % per:  # a partial first index: its rows come from one level down
            self._gather(start % per, min(per, stop - first * per), (*fixed, first), parts)
            first += 1
        whole_last = last if stop % per == 0 else last - 1
        if whole_last > first:
            parts.append(self._rectangle(fixed, first, whole_last))
        if stop % per and last - 1 >= first:
            self._gather(0, stop - (last - 1) * per, (*fixed, last - 1), parts)

    def _rectangle(self, fixed: tuple[int, ...], lo: int, hi: int) -> np.ndarray:
        """Indices [lo, hi) on lead axis len(fixed), every position below: (rows, width)."""
        index: list[Any] = [slice(None)] * self.array.ndim
        for axis, i in zip(self.axes, fixed, strict=False):  # the first len(fixed)
            index[axis] = i
        d = len(fixed)
        index[self.axes[d]] = slice(lo, hi)
        for k in range(d + 1, len(self.axes)):
            index[self.axes[k]] = slice(0, self.lead[k])  # the shift's shorter axis
        block = np.asarray(self.array[tuple(index)])
        if self.class_axis is not None:
            kept = [a for a in range(self.array.ndim) if a not in self.axes[:d]]
            block = np.moveaxis(block, kept.index(self.class_axis), -1)
        return block.reshape(-1, self.width)

    def position(self, row: int) -> tuple[int, ...]:
        return tuple(int(i) for i in np.unravel_index(row, self.lead))


def axis_names(ndim: int, class_axis: int) -> list[str]:
    """Names for the non-class axes in messages: (B, T) for language-model logits."""
    if ndim == 3 and class_axis == 2:
        return ["b", "t"]
    if ndim == 2:
        return ["row"]
    return [f"d{i}" for i in range(ndim) if i != class_axis]


_PAGE = mmap.PAGESIZE
_MADV_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)
#: Mapped files up to this size stay mapped whole: unmapping a 10 MB chunk's pages cost
#: about 2 ms of CPU, a tenth of computing it on C = 10, and 64 MiB resident is well inside
#: the memory bound.
KEEP_MAPPED_BYTES = 64 * 1024 * 1024
_libc = None


def release_rows(array: Any, view: Any, start: int, stop: int) -> None:
    """madvise(MADV_DONTNEED) the bytes of rows [start, stop) of a memory-mapped array whose
    rows are consecutive in the file (and larger than KEEP_MAPPED_BYTES): the process's
    resident memory stays one chunk however large the file. A page shared with a
    neighbouring chunk is simply read again."""
    global _libc
    if (_MADV_DONTNEED is None or not isinstance(array, np.memmap)
            or array.nbytes <= KEEP_MAPPED_BYTES
            or not isinstance(view, RowView) or view.prefix or stop <= start):
        return
    v = view.view
    if v.strides[-1] != v.itemsize or v.strides[0] != v.itemsize * v.shape[-1]:
        return  # rows are not consecutive (a class axis that is not the last)
    if _libc is None:  # guarded: no C library to load (Windows) or no madvise in it
        from .._process import libc_function

        _libc = libc_function("madvise", [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]) \
            or False
    if not _libc:
        return
    base = v.__array_interface__["data"][0]
    lo = base + start * v.strides[0]
    hi = base + stop * v.strides[0]
    lo -= lo % _PAGE
    if hi > lo:
        _libc(lo, hi - lo, _MADV_DONTNEED)  # advice: a failure costs nothing
