"""What a file holds, from its headers alone (`logitcheck inspect`): no data is read.

A directory of .npy shards is described as the one array it reads as (and lists its
shards); a zarr store, from its metadata, as its array or each array of its group."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import delimited, npz, safetensors, shards, zarr_store
from .npy import declared_bytes, read_header
from .stored import dtype_name


def _array(key: str | None, shape: tuple[int, ...], dtype: str, nbytes: int,
           storage: str) -> dict[str, Any]:
    return {"key": key, "shape": list(shape), "dtype": dtype, "bytes": nbytes,
            "storage": storage}


def _size(path: Path) -> int:
    """A file's size; a directory's, the sum of the files under it."""
    if not path.is_dir():
        return os.path.getsize(path)
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def describe(path: str | Path) -> dict[str, Any]:
    """{path, format, bytes, arrays: [{key, shape, dtype, bytes, storage}], ...}."""
    from . import _check_is_file, file_format  # the package imports this module

    path = Path(path)
    _check_is_file(path)
    fmt = file_format(path)
    out: dict[str, Any] = {"path": str(path), "format": fmt, "bytes": _size(path)}
    if fmt == "shards":
        d = shards.describe(path)
        n = len(d["shards"])
        out["arrays"] = [_array(None, d["shape"], d["dtype"], d["bytes"],
                                f"{n} .npy shard{'s' * (n != 1)}, mapped")]
        out["shards"] = d["shards"]
    elif fmt == "zarr":
        out["arrays"] = zarr_store.describe(path)
    elif fmt == "pt":
        from . import torchfile

        out["arrays"] = torchfile.describe(path)
    elif fmt == "npy":
        shape, dtype, fortran, _ = read_header(path)
        out["arrays"] = [_array(None, shape, dtype_name(dtype), declared_bytes(shape, dtype),
                                "mapped, Fortran order" if fortran else "mapped")]
    elif fmt == "npz":
        out["arrays"] = [
            _array(m.key, m.shape, dtype_name(m.dtype), m.nbytes,
                   "mapped" if m.stored else f"compressed to {m.compress_size:,} bytes")
            for m in npz.members(path)
        ]
    elif fmt == "safetensors":
        out["arrays"] = [
            _array(t.key, t.shape, "bfloat16" if t.dtype == "BF16" else
                   dtype_name(t.numpy_dtype), t.nbytes, "mapped")
            for t in safetensors.header(path)
        ]
    else:
        h = delimited.head(path)
        rows, exact = delimited.estimated_rows(path, h)
        out["columns"] = list(h.names)
        out["header"] = h.has_header
        out["numeric_columns"] = [n for n, ok in zip(h.names, h.numeric, strict=True) if ok]
        out["rows"] = rows
        out["rows_exact"] = exact
        out["arrays"] = []
    return out
