"""Opening .npy files: the header is checked before anything is mapped or allocated."""

from __future__ import annotations

import errno
import math
import os
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.lib import format as npy_format

from ..errors import InputError, os_input_error
from .limits import check_declared

_MAX_HEADER = 1 << 20  # numpy's own default is 10 kB; a real header is far below this


def parse_header(f: BinaryIO, path: object) -> tuple[tuple[int, ...], np.dtype, bool]:
    """(shape, dtype, fortran_order) from a stream positioned at the magic string.

    Shared by .npy files and .npz members; never unpickles (object dtypes are refused).
    """
    try:
        version = npy_format.read_magic(f)
    except ValueError:
        raise InputError(path, "not a .npy file (bad magic string)") from None
    try:
        if version == (1, 0):
            read = npy_format.read_array_header_1_0
        elif version in ((2, 0), (3, 0)):  # 3.0 is 2.0 with a utf-8 header: ASCII for numbers
            read = npy_format.read_array_header_2_0
        else:
            raise InputError(path, f"unsupported .npy format version {version}")
        shape, fortran, dtype = read(f, max_header_size=_MAX_HEADER)
    except InputError:
        raise
    except Exception as exc:  # numpy parses the header with ast and tokenize
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise InputError(path, f"malformed .npy header ({first_line})") from None
    shape = tuple(int(d) for d in shape)
    if dtype.hasobject:
        raise InputError(
            path,
            "holds Python objects (a pickled array), which logitcheck never unpickles; "
            "save a numeric array instead, e.g. np.save(path, arr.astype(np.float32))",
        )
    if any(d < 0 for d in shape):
        raise InputError(path, f"malformed .npy header (negative dimension in {shape})")
    if not representable(shape, dtype.itemsize):
        raise InputError(path, f"malformed .npy header (shape {shape} is too large for any array)")
    return shape, dtype, bool(fortran)


def representable(shape: tuple[int, ...], itemsize: int) -> bool:
    """Whether numpy can make an array of this shape at all: it refuses any whose dimensions
    (zeros counted as ones) multiply past 2**63 bytes, even when another dimension is 0."""
    return math.prod(max(d, 1) for d in shape) * max(itemsize, 1) < 2**63


def read_header(path: Path) -> tuple[tuple[int, ...], np.dtype, bool, int]:
    """(shape, dtype, fortran_order, data offset) from the header alone."""
    try:
        with open(path, "rb") as f:
            shape, dtype, fortran = parse_header(f, path)
            offset = f.tell()
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        raise os_input_error(path, exc) from None
    return shape, dtype, fortran, offset


def declared_bytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    return int(np.prod(shape, dtype=object)) * dtype.itemsize


def open_npy(path: Path, max_bytes: int | None = None) -> np.ndarray:
    """A read-only memory map of the array, after checking the header against the file."""
    shape, dtype, fortran, offset = read_header(path)
    declared = declared_bytes(shape, dtype)
    actual = os.path.getsize(path) - offset
    if actual < declared:
        raise InputError(
            path,
            f"truncated: the header declares {shape} {dtype} ({declared:,} bytes of data) "
            f"but the file holds {actual:,}",
        )
    check_declared(path, declared, max_bytes)
    try:
        return map_array(path, shape, dtype, offset, fortran)
    except NoAddressSpace:
        pass
    # no room in the address space for the whole map (ulimit -v, a 32-bit process): read
    # it through maps of one block of rows at a time
    if fortran or not shape:
        raise InputError(path, f"cannot map {declared:,} bytes: {address_space_limit()}; a "
                         "Fortran-order array is read whole (save it in C order)")
    return WindowedNpy(path, shape, dtype, offset)


class NoAddressSpace(InputError):
    """The whole map does not fit in the address space left (ulimit -v, a 32-bit process)."""


def address_space_limit() -> str:
    """The limit a failed mmap most likely hit, in words."""
    try:
        import resource  # POSIX only

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, AttributeError, OSError, ValueError):
        return "out of address space"
    if soft == resource.RLIM_INFINITY:
        return "out of address space"
    return f"the address-space limit (ulimit -v, RLIMIT_AS) is {soft:,} bytes"


def split_row_index(index: Any, rows: int) -> tuple[int | slice, tuple]:
    """An index of a by-rows reader as (row, rest) with the row counted from 0, or (slice
    with step 1, rest); anything else is refused (the readers of files too large to hold
    read rows, not arbitrary elements)."""
    index = index if isinstance(index, tuple) else (index,)
    first, rest = (index[0], index[1:]) if index else (slice(None), ())
    if isinstance(first, (int, np.integer)):
        row = int(first) + (rows if first < 0 else 0)
        if not 0 <= row < rows:
            raise IndexError(f"row {first} is out of range for {rows} rows")
        return row, rest
    if not isinstance(first, slice) or first.step not in (None, 1):
        raise TypeError("read by rows: an int or a slice with step 1 on axis 0")
    return first, rest


class WindowedNpy:
    """A C-order .npy too large to map whole: each read maps only the rows it touches and
    copies them out (a LazyArray, read block by block like .npy shards)."""

    def __init__(self, path: Path, shape: tuple[int, ...], dtype: np.dtype, offset: int) -> None:
        self.path, self.offset = path, offset
        self.shape, self.dtype, self.ndim = shape, dtype, len(shape)
        self.nbytes = declared_bytes(shape, dtype)
        self.row_bytes = self.nbytes // shape[0] if shape[0] else 0

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: Any) -> np.ndarray:
        first, rest = split_row_index(index, self.shape[0])
        if isinstance(first, int):
            return self[(slice(first, first + 1), *rest)][0]
        lo, hi, _ = first.indices(self.shape[0])
        if hi <= lo:
            return np.empty((0, *self.shape[1:]), self.dtype)[(slice(None), *rest)]
        from .guard import check_size

        check_size(self.path, self.offset + hi * self.row_bytes)
        window = np.memmap(self.path, dtype=self.dtype, mode="r",
                           offset=self.offset + lo * self.row_bytes,
                           shape=(hi - lo, *self.shape[1:]))
        return np.array(window[(slice(None), *rest)])  # a copy: the window is unmapped

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        whole = self[:]
        return whole.astype(dtype) if dtype is not None else whole


def map_array(
    path: Path, shape: tuple[int, ...], dtype: np.dtype, offset: int, fortran: bool = False
) -> np.ndarray:
    if declared_bytes(shape, dtype) == 0:  # mmap refuses empty maps
        return np.zeros(shape, dtype=dtype)
    try:
        return np.memmap(
            path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C"
        )
    except OSError as exc:
        if exc.errno == errno.ENOMEM:
            raise NoAddressSpace(path, f"cannot map {declared_bytes(shape, dtype):,} bytes: "
                                 f"{address_space_limit()}") from None
        raise
