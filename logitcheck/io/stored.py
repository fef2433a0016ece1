"""One array as a file stores it, before any layout is applied."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FLOAT_KINDS = "f"
LABEL_KINDS = "iuf"


def dtype_name(dtype: np.dtype) -> str:
    return dtype.newbyteorder("=").name


@dataclass(frozen=True)
class Stored:
    """An array as stored: memory-mapped (npy, stored npz members, safetensors), decoded,
    or read on demand (shards, zarr)."""

    path: Path
    # bfloat16 is held as its raw uint16 bits, widened on read; shards and zarr arrays are
    # a layout.LazyArray (shape, dtype, indexing), read block by block
    array: np.ndarray | Any
    format: str  # npy | npz | csv | tsv | safetensors | shards | zarr
    key: str | None = None  # the member, tensor or column it came from
    bfloat16: bool = False
    class_names: tuple[str, ...] | None = None  # CSV class columns, for labels given by name
    first_line: int | None = None  # CSV/TSV: the line of row 0 (for annotations)
    left_out: tuple[str, ...] = ()  # CSV/TSV: id columns not read as class columns

    @property
    def dtype(self) -> str:
        return "bfloat16" if self.bfloat16 else dtype_name(self.array.dtype)

    @property
    def kind(self) -> str:
        return "f" if self.bfloat16 else self.array.dtype.kind

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)


def widen_bfloat16(bits: np.ndarray) -> np.ndarray:
    """bfloat16 bits -> float32 holding exactly the same values (the low 16 bits are 0)."""
    return (np.asarray(bits).astype(np.uint32) << np.uint32(16)).view(np.float32)
