"""Opening .npy files: the header is checked before anything is mapped or allocated."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from ..errors import InputError

_MAX_HEADER = 1 << 20  # numpy's own default is 10 kB; a real header is far below this


def read_header(path: Path) -> tuple[tuple[int, ...], np.dtype, bool, int]:
    """(shape, dtype, fortran_order, data offset) from the header alone."""
    try:
        with open(path, "rb") as f:
            try:
                version = npy_format.read_magic(f)
            except ValueError:
                raise InputError(path, "not a .npy file (bad magic string)") from None
            try:
                if version == (1, 0):
                    shape, fortran, dtype = npy_format.read_array_header_1_0(
                        f, max_header_size=_MAX_HEADER
                    )
                elif version == (2, 0):
                    shape, fortran, dtype = npy_format.read_array_header_2_0(
                        f, max_header_size=_MAX_HEADER
                    )
                elif version == (3, 0):
                    shape, fortran, dtype = npy_format._read_array_header(
                        f, version, max_header_size=_MAX_HEADER
                    )
                else:
                    raise InputError(path, f"unsupported .npy format version {version}")
            except InputError:
                raise
            except Exception as exc:  # numpy parses the header with ast and tokenize
                first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise InputError(path, f"malformed .npy header ({first_line})") from None
            offset = f.tell()
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a file") from None
    except PermissionError:
        raise InputError(path, "permission denied") from None
    return tuple(int(d) for d in shape), dtype, bool(fortran), offset


def open_npy(path: Path) -> np.ndarray:
    """A read-only memory map of the array, after checking the header against the file."""
    shape, dtype, fortran, offset = read_header(path)
    if dtype.hasobject:
        raise InputError(
            path,
            "holds Python objects (a pickled array), which logitcheck never unpickles; "
            "save a numeric array instead, e.g. np.save(path, arr.astype(np.float32))",
        )
    if any(d < 0 for d in shape):
        raise InputError(path, f"malformed .npy header (negative dimension in {shape})")
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    actual = os.path.getsize(path) - offset
    if actual < declared:
        raise InputError(
            path,
            f"truncated: the header declares {shape} {dtype} ({declared:,} bytes of data) "
            f"but the file holds {actual:,}",
        )
    if declared == 0:
        return np.zeros(shape, dtype=dtype)
    return np.memmap(
        path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C"
    )
