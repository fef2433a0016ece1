"""Reading safetensors files (huggingface/safetensors) without the safetensors package.

The layout: an 8-byte little-endian header length N, N bytes of JSON mapping each tensor
name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the byte
after the header; an optional "__metadata__" of strings), then the data, little-endian,
C order. Everything the header says is checked against the file and against itself before
a tensor is memory-mapped. BF16 is mapped as uint16 bits and widened exactly on read.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from .limits import check_declared, human_bytes
from .npy import map_array, representable

MAX_HEADER = 100 * 1024 * 1024  # the reference implementation's own limit

DTYPES = {
    "F16": "<f2", "BF16": "<u2", "F32": "<f4", "F64": "<f8",
    "I8": "i1", "I16": "<i2", "I32": "<i4", "I64": "<i8",
    "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?",
}


@dataclass(frozen=True)
class Tensor:
    key: str
    dtype: str  # the safetensors name: F32, BF16, I64, ...
    shape: tuple[int, ...]
    offset: int  # absolute, in the file
    nbytes: int

    @property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype(DTYPES[self.dtype])


def header(path: Path) -> list[Tensor]:
    """Every tensor's dtype, shape and place, checked; no tensor data is read."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise InputError(path, f"not a safetensors file ({size} bytes, no header length)")
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER:
                raise InputError(
                    path, f"safetensors header declares {human_bytes(n)}, above the 100 MiB cap"
                )
            if 8 + n > size:
                raise InputError(
                    path, f"truncated: the header declares {n:,} bytes but the file holds "
                    f"{size - 8:,} after the length"
                )
            raw = f.read(n)
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a file") from None
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except PermissionError:
        raise InputError(path, "permission denied") from None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"malformed safetensors header (not JSON: {exc})") from None
    except RecursionError:
        raise InputError(path, "malformed safetensors header (JSON nested too deeply)") from None
    if not isinstance(doc, dict):
        raise InputError(path, "malformed safetensors header (not a JSON object)")
    data_start, data_size = 8 + n, size - 8 - n
    tensors = [_tensor(path, k, v, data_start, data_size) for k, v in doc.items()
               if k != "__metadata__"]
    spans = sorted((t.offset, t.offset + t.nbytes, t.key) for t in tensors)
    for (_, end, a), (begin, _, b) in zip(spans, spans[1:], strict=False):
        if begin < end:
            raise InputError(path, f"malformed safetensors header: tensors {a!r} and {b!r} overlap")
    return tensors


def _tensor(path: Path, key: str, entry: object, data_start: int, data_size: int) -> Tensor:
    def bad(problem: str) -> InputError:
        return InputError(path, f"malformed safetensors header: tensor {key!r} {problem}")

    if not isinstance(entry, dict):
        raise bad("is not an object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(dtype, str) or dtype not in DTYPES:  # a list or dict is unhashable
        known = ", ".join(DTYPES)
        raise bad(f"has dtype {dtype!r}; logitcheck reads {known}")
    if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
        raise bad(f"has shape {shape!r}, not a list of non-negative integers")
    if not (isinstance(offsets, list) and len(offsets) == 2
            and all(type(o) is int and o >= 0 for o in offsets)):
        raise bad(f"has data_offsets {offsets!r}, not [begin, end]")
    if not representable(tuple(shape), np.dtype(DTYPES[dtype]).itemsize):
        raise bad(f"has shape {shape!r}, too large for any array")
    begin, end = offsets
    declared = math.prod(shape) * np.dtype(DTYPES[dtype]).itemsize
    if end - begin != declared:
        raise bad(f"spans {end - begin:,} bytes ({begin}..{end}) but {dtype} {tuple(shape)} "
                  f"needs {declared:,}")
    if end > data_size:
        raise bad(f"ends at byte {end:,} of the data, past its end ({data_size:,} bytes): "
                  "truncated file?")
    return Tensor(key, dtype, tuple(shape), data_start + begin, declared)


def load(path: Path, tensor: Tensor, max_bytes: int | None) -> np.ndarray:
    """The tensor, memory-mapped (BF16 as its uint16 bits)."""
    check_declared(path, tensor.nbytes, max_bytes, f"tensor {tensor.key!r} ")
    return map_array(path, tensor.shape, tensor.numpy_dtype, tensor.offset)
