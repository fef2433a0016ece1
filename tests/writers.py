"""Tiny writers for test inputs (no safetensors dependency)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

_CODES = {"float16": "F16", "float32": "F32", "float64": "F64", "int64": "I64", "int32": "I32",
          "uint8": "U8", "int8": "I8"}


def bfloat16_bits(x: np.ndarray) -> np.ndarray:
    """float32 values that are exact bfloat16s -> their uint16 bits."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32)
    assert not (bits & 0xFFFF).any(), "not exact bfloat16 values"
    return (bits >> 16).astype(np.uint16)


def write_safetensors(path: Path, tensors: dict[str, np.ndarray], bf16: tuple[str, ...] = (),
                      header_patch: dict | None = None) -> str:
    header: dict = {"__metadata__": {"format": "pt"}}
    blobs, offset = [], 0
    for key, array in tensors.items():
        if key in bf16:
            data, code = bfloat16_bits(array).astype("<u2").tobytes(), "BF16"
        else:
            a = np.ascontiguousarray(array)
            data, code = a.astype(a.dtype.newbyteorder("<")).tobytes(), _CODES[a.dtype.name]
        header[key] = {"dtype": code, "shape": list(array.shape),
                       "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    for key, patch in (header_patch or {}).items():
        header[key].update(patch)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))
    return str(path)


def write_csv(path: Path, header: list[str] | None, rows: list[list[object]],
              delimiter: str = ",", newline: str = "\n", bom: bool = False) -> str:
    lines = ([delimiter.join(header)] if header else []) + [
        delimiter.join(str(c) for c in r) for r in rows]
    text = ("\ufeff" if bom else "") + newline.join(lines) + newline
    if str(path).endswith(".gz"):
        import gzip

        with gzip.open(path, "wb") as f:
            f.write(text.encode())
    else:
        Path(path).write_bytes(text.encode())
    return str(path)
