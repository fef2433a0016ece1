"""Input files: what they declare, checked, and read one block of rows at a time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..report.model import InputInfo
from .npy import open_npy
from .targets import open_dense_labels

SUPPORTED = (".npy",)


def _open_array(path: str | Path) -> tuple[Path, np.ndarray]:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        kind = f"'{suffix}'" if suffix else "a file with no extension"
        raise InputError(path, f"unsupported format {kind} (supported: {', '.join(SUPPORTED)})")
    return path, open_npy(path)


def _dtype_name(dtype: np.dtype) -> str:
    return dtype.newbyteorder("=").name


@dataclass(frozen=True)
class Source:
    """A (rows, classes) array of model outputs, memory-mapped, read in row blocks."""

    path: Path
    array: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, classes); classes is 1 for a binary output, (N,) or (N, 1)."""
        a = self.array
        return (a.shape[0], 1) if a.ndim == 1 else a.shape  # type: ignore[return-value]

    @property
    def binary(self) -> bool:
        return self.shape[1] == 1

    @property
    def dtype(self) -> str:
        return _dtype_name(self.array.dtype)

    def read(self, start: int, stop: int) -> np.ndarray:
        return np.asarray(self.array[start:stop])

    def info(self) -> InputInfo:
        a = self.array
        return InputInfo("logits", str(self.path), a.shape, self.dtype, a.nbytes)


def open_logits(path: str | Path) -> Source:
    path, array = _open_array(path)
    if array.dtype.kind != "f":
        what = "strings" if array.dtype.kind in "SUa" else f"{_dtype_name(array.dtype)} values"
        raise InputError(path, f"holds {what}; model outputs must be float16, float32 or float64")
    if array.ndim not in (1, 2):
        raise InputError(
            path,
            f"expected a 2-D (rows, classes) array or a 1-D binary output, got shape "
            f"{array.shape} ({array.ndim}-D)",
        )
    if array.shape[0] == 0:
        raise InputError(path, "has no rows")
    if array.ndim == 2 and array.shape[1] == 0:
        raise InputError(path, "has no class columns")
    return Source(path, array)


@dataclass(frozen=True)
class Labels:
    path: Path
    array: np.ndarray  # 1-D class ids, or (rows, classes) rows for dense / multilabel
    targets: str = "ids"  # see numerics.Plan.targets

    def read(self, start: int, stop: int) -> np.ndarray:
        block = np.asarray(self.array[start:stop])
        return block.astype(np.intp) if self.targets == "ids" else block.astype(np.float64)

    def info(self) -> InputInfo:
        a = self.array
        return InputInfo("labels", str(self.path), a.shape, _dtype_name(a.dtype), a.nbytes)


def open_labels(
    path: str | Path, rows: int, classes: int, ignore_index: int = -100, multilabel: bool = False
) -> Labels:
    """Labels checked against the logits' shape before any work.

    Class ids, one per row (a binary output takes 0 and 1; `ignore_index` marks rows to
    skip), or a (rows, classes) array: one-hot or soft rows, or independent 0/1 columns.
    """
    path, array = _open_array(path)
    if array.ndim == 2 and array.shape[1] == classes > 1:
        return open_dense_labels(path, array, rows, multilabel)
    classes = max(classes, 2)
    kind = array.dtype.kind
    if kind not in "iuf":
        what = "strings" if kind in "SUa" else f"{_dtype_name(array.dtype)} values"
        raise InputError(path, f"holds {what}; labels must be integer class ids")
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise InputError(
            path,
            f"expected {rows:,} class ids or a ({rows:,}, {classes:,}) array of targets, got "
            f"shape {array.shape}",
        )
    if array.shape[0] != rows:
        raise InputError(
            path, f"has {array.shape[0]:,} labels but the logits have {rows:,} rows"
        )
    if kind == "f":
        bad = np.flatnonzero(~np.isfinite(array) | (array != np.round(array)))
        if bad.size:
            r = int(bad[0])
            raise InputError(path, f"row {r}: label {array[r].item()!r} is not a whole class id")
    out = np.flatnonzero(((array < 0) | (array >= classes)) & (array != ignore_index))
    if out.size:
        r = int(out[0])
        value = array[r].item()
        raise InputError(
            path,
            f"row {r}: label {value:g} is outside the {classes} classes [0, {classes - 1}] "
            f"and is not the ignore index {ignore_index}"
            + (f" ({out.size:,} such rows)" if out.size > 1 else ""),
        )
    return Labels(path, array)
