"""PyTorch files (.pt, .pth): a tensor, or a dict of tensors chosen by key like an .npz.

Read with torch.load(weights_only=True): torch's restricted unpickler, which builds tensors
and plain containers and refuses any other pickled object (a model, a custom class), so
that opening an input never runs code from it. Files in torch's zip format are
memory-mapped (mmap=True): a tensor's values are read as they are used, as for a .npy.
Without torch, the error says how to convert the file where torch is installed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, os_input_error
from .limits import check_declared, decoded_cap

# the last file loaded: a dict's keys, then its logits and labels, come from one load
_CACHE: dict[tuple[str, int, int], Any] = {}


def _recipe(path: Path) -> str:
    stem = path.name.rsplit(".", 1)[0]
    return (f"convert it where torch is installed: t = torch.load('{path.name}', "
            f"weights_only=True); numpy.save('{stem}.npy', t.float().numpy()) (a dict of "
            f"tensors: numpy.savez('{stem}.npz', **{{k: v.numpy() for k, v in t.items()}}))")


def _torch(path: Path) -> Any:
    try:
        import torch
    except ImportError:
        raise InputError(path, "is a PyTorch file: reading it needs torch (pip install "
                         f"'logitcheck[torch]'); or {_recipe(path)}") from None
    return torch


def _load(path: Path, max_bytes: int | None) -> Any:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise os_input_error(path, exc) from None
    ident = (str(path), st.st_mtime_ns, st.st_size)
    if ident in _CACHE:
        return _CACHE[ident]
    torch = _torch(path)
    import pickle
    import zipfile

    try:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except (RuntimeError, TypeError) as exc:  # TypeError: a torch before 2.1, no mmap
            if "mmap" not in str(exc):
                raise
            # the legacy (pre-1.6) format cannot be mapped: read whole, within the cap
            check_declared(path, st.st_size, decoded_cap(max_bytes))
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message is a page; its "Unsupported global: GLOBAL __main__.Net ..." line
        # names the object
        why = next((ln.split("error:", 1)[-1].strip() for ln in str(exc).splitlines()
                    if "Unsupported global" in ln), "")
        if not why:  # not a pickle at all
            raise InputError(path, "not a readable PyTorch file (torch.load: "
                             f"{str(exc).strip()[:200] or type(exc).__name__})") from None
        raise InputError(path, "holds pickled objects that are not tensors (a model, a custom "
                         "class); logitcheck reads a tensor or a dict of tensors, with "
                         "torch.load(weights_only=True), which refused it"
                         f": {why.split(' was not')[0][:200]}") from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(path, f"not a readable PyTorch file ({first[:200]})") from None
    _CACHE.clear()
    _CACHE[ident] = obj
    return obj


def _is_tensor(value: Any) -> bool:
    import torch

    return isinstance(value, torch.Tensor)


def _what(obj: Any) -> str:
    if isinstance(obj, (list, tuple)):
        return f"a {type(obj).__name__} of {len(obj)} items"
    return f"a {type(obj).__name__}"


def single(path: Path, max_bytes: int | None) -> tuple[np.ndarray, bool] | None:
    """The file's one tensor (as for a .npy), or None when it holds a dict of tensors."""
    obj = _load(path, max_bytes)
    if _is_tensor(obj):
        return to_numpy(path, obj, max_bytes)
    if isinstance(obj, dict):
        if not keys(path, max_bytes):
            raise InputError(path, f"holds a dict with no tensor in it (keys: "
                             f"{', '.join(map(repr, list(obj)[:10]))})")
        return None
    raise InputError(path, f"holds {_what(obj)}; logitcheck reads a tensor or a dict of "
                     "tensors (save torch.save({'logits': z, 'labels': y}, path))")


def keys(path: Path, max_bytes: int | None = None) -> list[str]:
    obj = _load(path, max_bytes)
    return [str(k) for k, v in obj.items() if isinstance(k, str) and _is_tensor(v)]


def load(path: Path, key: str, max_bytes: int | None) -> tuple[np.ndarray, bool]:
    return to_numpy(path, _load(path, max_bytes)[key], max_bytes)


def to_numpy(path: Path, tensor: Any, max_bytes: int | None) -> tuple[np.ndarray, bool]:
    """(array, bfloat16?): the tensor's values on the CPU, shared with it where numpy has
    its dtype; bfloat16 as its raw bits (Stored widens them as it reads)."""
    import torch

    tensor = tensor.detach()
    if tensor.layout != torch.strided:
        raise InputError(path, f"holds a {tensor.layout} tensor; save it dense (t.to_dense())")
    if max_bytes is not None:
        check_declared(path, tensor.numel() * tensor.element_size(), max_bytes)
    if tensor.dtype == torch.bfloat16:
        return tensor.view(torch.int16).numpy().view(np.uint16), True
    try:
        return tensor.numpy(), False
    except (TypeError, RuntimeError) as exc:  # a dtype numpy lacks (float8, ...)
        raise InputError(path, f"holds a {str(tensor.dtype).removeprefix('torch.')} tensor, "
                         f"which numpy cannot read ({exc})") from None


def describe(path: Path) -> list[dict[str, Any]]:
    """inspect: each tensor's key, shape and dtype (the file is mapped, not read)."""
    obj = _load(path, None)
    items = [(None, obj)] if _is_tensor(obj) else list(obj.items()) if isinstance(
        obj, dict) else []
    out = []
    for key, t in items:
        if not _is_tensor(t):
            continue
        out.append({"key": None if key is None else str(key), "shape": list(t.shape),
                    "dtype": str(t.dtype).removeprefix("torch."),
                    "bytes": t.numel() * t.element_size(), "storage": "torch.load, mapped"})
    if not out:
        raise InputError(path, f"holds {_what(obj)}; logitcheck reads a tensor or a dict of "
                         "tensors")
    return out
