"""Zarr directory stores (format 2 or 3): one array, or a group of arrays chosen by key.

Arrays are read block by block through zarr (each read decodes the zarr chunks it
touches), never as a whole. zarr is an extra: `pip install 'logitcheck[zarr]'`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError, UsageError
from .limits import check_declared
from .stored import dtype_name

_METADATA = ("zarr.json", ".zarray", ".zgroup")  # format 3; format 2 array, group


def is_store(path: Path) -> bool:
    """A directory named *.zarr, or one holding zarr metadata."""
    return path.is_dir() and (
        path.name.lower().endswith(".zarr") or any((path / m).is_file() for m in _METADATA))


def _zarr() -> Any:
    try:
        import zarr
    except ImportError:
        raise UsageError("reading zarr stores needs zarr, which is not installed; "
                         "pip install 'logitcheck[zarr]'") from None
    return zarr


def open_node(path: Path) -> Any:
    """The store's root: a zarr Array or Group (read-only)."""
    if not any((path / m).is_file() for m in _METADATA):
        raise InputError(path, "not a zarr store (no zarr.json, .zarray or .zgroup in it)")
    zarr = _zarr()
    try:
        return zarr.open(str(path), mode="r")
    except Exception as exc:  # noqa: BLE001 - zarr's errors differ between versions
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(path, f"not a readable zarr store ({first})") from None


def is_array(node: Any) -> bool:
    return hasattr(node, "shape") and hasattr(node, "dtype")


def keys(node: Any) -> list[str]:
    """The arrays directly in a group, sorted."""
    return sorted(node.array_keys())


def load(path: Path, key: str | None, max_bytes: int | None) -> Any:
    """The array at the root (key None) or the group's member `key`, size-checked."""
    node = open_node(path)
    if key is not None:
        node = node[key]
    elif not is_array(node):
        raise InputError(path, "is a zarr group; name its array with --logits-key")
    what = f"array {key!r} " if key is not None else ""
    check_declared(path, int(node.nbytes), max_bytes, what)
    return node


def chunks(array: Any) -> tuple[int, ...]:
    return tuple(int(c) for c in array.chunks)


def describe(path: Path) -> list[dict[str, Any]]:
    """[{key, shape, dtype, bytes, storage}] for the root array or each array of the group."""
    node = open_node(path)
    members = [(None, node)] if is_array(node) else [(k, node[k]) for k in keys(node)]
    out = []
    for key, a in members:
        chunk = " × ".join(f"{c:,}" for c in chunks(a))
        out.append({"key": key, "shape": [int(d) for d in a.shape], "dtype": dtype_name(a.dtype),
                    "bytes": int(a.nbytes), "storage": f"zarr, chunks of {chunk}"})
    return out
