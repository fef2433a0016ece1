"""A directory of .npy shards read as one array: the shards' rows concatenated along axis 0.

Every `*.npy` file directly in the directory is a shard, in natural name order (shard-2
before shard-10); other files and subdirectories are ignored. The shards must share the
dtype and the shape past axis 0. Each header is checked (as for a single .npy) when the
directory is opened; a shard is mapped only while a block of its rows is read, so a
directory of thousands of shards never holds thousands of open maps.
"""

from __future__ import annotations

import os
import re
import stat
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, os_input_error
from .guard import check_input, check_size
from .limits import check_declared
from .npy import declared_bytes, map_array, read_header, split_row_index
from .stored import dtype_name

_MAPPED = 8  # shards kept mapped at once: a block of rows rarely spans more


def natural_key(name: str) -> tuple:
    """'shard-2.npy' before 'shard-10.npy': runs of digits compare as numbers."""
    parts = re.split(r"(\d+)", name)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts), name


def shard_files(path: Path) -> list[Path]:
    try:
        entries = list(os.scandir(path))
    except OSError as exc:
        raise os_input_error(path, exc) from None
    files = []
    for e in entries:
        if not e.name.lower().endswith(".npy") or e.name.startswith("."):
            continue
        # every *.npy entry is a shard: one that is a FIFO, a device or a broken or looping
        # link is an error, not silently left out (a subdirectory named *.npy is skipped)
        st = check_input(e.path, allow_dir=True)
        if not stat.S_ISDIR(st.st_mode):
            files.append(Path(e.path))
    return sorted(files, key=lambda p: natural_key(p.name))


@dataclass(frozen=True)
class Shard:
    path: Path
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    offset: int  # of the data in the file

    @property
    def nbytes(self) -> int:
        return declared_bytes(self.shape, self.dtype)


def _shard(path: Path) -> Shard:
    shape, dtype, fortran, offset = read_header(path)
    declared = declared_bytes(shape, dtype)
    actual = os.path.getsize(path) - offset
    if actual < declared:
        raise InputError(path, f"truncated: the header declares {shape} {dtype} "
                         f"({declared:,} bytes of data) but the file holds {actual:,}")
    if not shape:
        raise InputError(path, "holds a single value (0-D); a shard holds rows (axis 0)")
    return Shard(path, shape, dtype, fortran, offset)


class ShardedArray:
    """The shards as one read-only array: shape, dtype, and basic indexing that returns
    numpy data, gathered from the shards a selection on axis 0 touches."""

    def __init__(self, path: Path, shards: list[Shard]) -> None:
        self.path = path
        self.shards = shards
        first = shards[0]
        self.dtype: np.dtype = first.dtype
        self.shape: tuple[int, ...] = (sum(s.shape[0] for s in shards), *first.shape[1:])
        self.ndim = len(self.shape)
        self.nbytes = sum(s.nbytes for s in shards)
        self.starts = np.cumsum([0] + [s.shape[0] for s in shards])  # global row offsets
        self._maps: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # --threads: chunks are read concurrently

    def __len__(self) -> int:
        return self.shape[0]

    def _map(self, k: int) -> np.ndarray:
        s = self.shards[k]
        check_size(s.path, s.offset + s.nbytes)  # truncated since it was opened: no SIGBUS
        with self._lock:
            if k in self._maps:
                self._maps.move_to_end(k)
                return self._maps[k]
            s = self.shards[k]
            try:
                array = map_array(s.path, s.shape, s.dtype, s.offset, s.fortran)
            except OSError as exc:  # removed or replaced since it was opened
                raise os_input_error(s.path, exc) from None
            self._maps[k] = array
            if len(self._maps) > _MAPPED:
                self._maps.popitem(last=False)  # a block still using it keeps it alive
            return array

    def __getitem__(self, index: Any) -> np.ndarray:
        first, rest = split_row_index(index, self.shape[0])
        if isinstance(first, int):
            k = int(np.searchsorted(self.starts, first, side="right")) - 1
            return np.asarray(self._map(k)[(first - int(self.starts[k]), *rest)])
        lo, hi, _ = first.indices(self.shape[0])
        parts = []
        for k in range(len(self.shards)):
            a, b = int(self.starts[k]), int(self.starts[k + 1])
            if b <= lo or a >= hi or a == b:
                continue
            part = self._map(k)[(slice(max(lo, a) - a, min(hi, b) - a), *rest)]
            parts.append(np.asarray(part))
        if not parts:  # an empty selection: the shape it would have
            return np.asarray(self._map(0)[(slice(0, 0), *rest)])
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        whole = self[:]
        return whole.astype(dtype) if dtype is not None else whole


def open_shards(path: Path, max_bytes: int | None = None) -> ShardedArray:
    """Every shard's header checked, and checked against the first shard's dtype and shape."""
    files = shard_files(path)
    if not files:
        raise InputError(path, "is a directory with no .npy shards in it (and not a zarr store)")
    shards = [_shard(f) for f in files]
    first = shards[0]
    for s in shards[1:]:
        if s.dtype != first.dtype:
            raise InputError(s.path, f"dtype {dtype_name(s.dtype)} differs from "
                             f"{dtype_name(first.dtype)} in {first.path.name} (every shard "
                             "must have the same dtype)")
        if s.shape[1:] != first.shape[1:]:
            raise InputError(s.path, f"shape {s.shape} does not match {first.shape} in "
                             f"{first.path.name} past axis 0 (shards are concatenated along "
                             "axis 0: every other axis must be the same)")
    check_declared(path, sum(s.nbytes for s in shards), max_bytes)
    return ShardedArray(path, shards)


def describe(path: Path) -> dict[str, Any]:
    array = open_shards(path)
    return {
        "shape": list(array.shape),
        "dtype": dtype_name(array.dtype),
        "bytes": array.nbytes,
        "shards": [{"path": str(s.path), "shape": list(s.shape)} for s in array.shards],
    }
