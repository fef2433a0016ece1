"""Input files: what they declare, checked, and read one block of rows at a time.

Formats (one module each): .npy (npy.py), .npz (npz.py), safetensors (safetensors.py),
CSV/TSV, gzipped or not (delimited.py); and two directory formats, read block by block: a
directory of .npy shards (shards.py) and a zarr store (zarr_store.py). Layouts (layout.py):
N-D logits with a class axis, read as rows in C order over the other axes; causal-LM label
shifting.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..compute.dtypes import FLOATS
from ..errors import InputError, UsageError
from ..report.model import InputInfo
from ..settings import Settings
from .guard import check_input, check_mapped
from .keys import labels_key, logits_key
from .layout import LazyArray, LazyRowView, RowView, axis_names, release_rows
from .npy import open_npy
from .stored import Stored, dtype_name, widen_bfloat16
from .targets import dense_targets

SUPPORTED = (".npy", ".npz", ".safetensors", ".csv", ".tsv", ".csv.gz", ".tsv.gz", ".pt",
             ".pth")
KEYED = ("npz", "safetensors", "zarr", "pt")  # formats holding several arrays, chosen by key
Progress = Callable[..., None]  # (done, total[, stage]), in bytes

# The format modules (delimited, npz, safetensors, shards, zarr_store) are imported by the
# functions that read their format, not here: a run on a .npy file loads none of them (the
# CSV reader alone pulls in csv, gzip, tempfile and, for big files, pyarrow).
_FORMAT_MODULES = ("delimited", "npz", "safetensors", "shards", "zarr_store", "torchfile")


def __getattr__(name: str) -> object:
    """`logitcheck.io.npz` and the other format modules, imported on first use."""
    if name in _FORMAT_MODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def file_format(path: Path) -> str:
    """npy | npz | safetensors | csv | tsv | pt (.pt, .pth), from the file name; for a
    directory, zarr (a zarr store) or shards (.npy shards)."""
    if path.is_dir():
        from . import zarr_store

        return "zarr" if zarr_store.is_store(path) else "shards"
    name = path.name.lower()
    for suffix in SUPPORTED:
        if name.endswith(suffix):
            return "pt" if suffix == ".pth" else suffix.lstrip(".").removesuffix(".gz")
    suffix = "".join(path.suffixes[-2:]) if path.suffixes else ""
    kind = f"'{suffix}'" if suffix else "a file with no extension"
    raise InputError(path, f"unsupported format {kind} (supported: {', '.join(SUPPORTED)})")


def is_array_dir(path: Path) -> bool:
    """A directory logitcheck reads as one array: a zarr store, or one holding .npy shards."""
    if not path.is_dir():
        return False
    from . import shards, zarr_store

    return zarr_store.is_store(path) or bool(shards.shard_files(path))


def _check_is_file(path: Path) -> None:
    """The input is a regular file or a directory (read as .npy shards or a zarr store):
    never a FIFO or a device, which would block or never end (checked before opening)."""
    check_input(path, allow_dir=True)


# --- reading the stored arrays ---------------------------------------------------------------


def _load_keyed(path: Path, fmt: str, key: str, max_bytes: int | None) -> Stored:
    if fmt == "npz":
        from . import npz

        return Stored(path, npz.load(path, key, max_bytes), fmt, key)
    if fmt == "zarr":
        from . import zarr_store

        return Stored(path, zarr_store.load(path, key, max_bytes), fmt, key)
    if fmt == "pt":
        from . import torchfile

        array, bf16 = torchfile.load(path, key, max_bytes)
        return Stored(path, array, fmt, key, bfloat16=bf16)
    from . import safetensors

    tensor = next(t for t in safetensors.header(path) if t.key == key)
    return Stored(path, safetensors.load(path, tensor, max_bytes), fmt, key,
                  bfloat16=tensor.dtype == "BF16")


def _keys(path: Path, fmt: str) -> list[str]:
    if fmt == "zarr":
        from . import zarr_store

        return zarr_store.keys(zarr_store.open_node(path))
    if fmt == "npz":
        from . import npz

        return npz.keys(path)
    if fmt == "pt":
        from . import torchfile

        return torchfile.keys(path)
    from . import safetensors

    return [t.key for t in safetensors.header(path)]


def _unkeyed(path: Path, fmt: str, settings: Settings, option: str, key: str | None
             ) -> Stored | None:
    """The one array of a single-array input (.npy, shards, a zarr array), else None."""
    if fmt == "npy":
        return Stored(path, open_npy(path, settings.max_bytes), fmt)
    if fmt == "shards":
        from . import shards

        return Stored(path, shards.open_shards(path, settings.max_bytes), fmt)
    if fmt == "pt":
        from . import torchfile

        one = torchfile.single(path, settings.max_bytes)
        if one is None:
            return None  # a dict of tensors: chosen by key
        if key is not None:
            raise InputError(path, f"holds one tensor, not a dict: {option} {key!r} does not "
                             "apply")
        return Stored(path, one[0], fmt, bfloat16=one[1])
    if fmt != "zarr":
        return None
    from . import zarr_store

    if zarr_store.is_array(zarr_store.open_node(path)):
        if key is not None:
            raise InputError(path, f"is a zarr array, not a group: {option} {key!r} does not "
                             "apply")
        return Stored(path, zarr_store.load(path, None, settings.max_bytes), fmt)
    return None


def _named(column: str, pattern: str | None) -> bool:
    wanted = [p.strip() for p in (pattern or "").split(",") if p.strip()]
    return any(fnmatch.fnmatchcase(column, p) for p in wanted)


def load_logits(
    path: Path, settings: Settings, with_labels: bool, progress: Progress | None = None
) -> tuple[Stored, Stored | None]:
    """The logits, and the labels when the same file holds them and with_labels is set."""
    _check_is_file(path)
    fmt = file_format(path)
    single = _unkeyed(path, fmt, settings, "--logits-key", settings.logits_key)
    if single is not None:
        return single, None
    if fmt in KEYED:
        keys = _keys(path, fmt)
        key = logits_key(path, keys, settings.logits_key)
        logits = _load_keyed(path, fmt, key, settings.max_bytes)
        lkey = labels_key(path, [k for k in keys if k != key], settings.labels_key,
                          required=False) if with_labels else None
        labels = _load_keyed(path, fmt, lkey, settings.max_bytes) if lkey else None
        return logits, labels
    from . import delimited

    column = settings.label_column or delimited.default_label_column(delimited.head(path))
    if settings.label_column is None and column and _named(column, settings.class_columns):
        column = None  # --class-columns chose it explicitly: it holds values, not labels
    table = delimited.load(
        path, class_pattern=settings.class_columns, want_values=True, label_column=column,
        read_labels=with_labels, max_bytes=settings.max_bytes, progress=progress,
    )
    assert table.values is not None
    key = ",".join(table.class_names) if len(table.class_names) <= 4 else (
        f"{table.class_names[0]}..{table.class_names[-1]}")
    left_out = tuple(n or "(unnamed)" for n in table.left_out)
    logits = Stored(path, table.values, fmt, key, class_names=table.class_names,
                    first_line=table.head.first_line, left_out=left_out)
    labels = None
    if table.labels is not None:
        labels = Stored(path, table.labels, fmt, column, first_line=table.head.first_line)
    return logits, labels


def load_labels(
    path: Path, settings: Settings, class_names: tuple[str, ...] | None = None,
    progress: Progress | None = None, max_rows: int | None = None,
) -> Stored:
    """max_rows: the labels the logits can have (CSV: reading stops past it)."""
    _check_is_file(path)
    fmt = file_format(path)
    single = _unkeyed(path, fmt, settings, "--labels-key", settings.labels_key)
    if single is not None:
        return single
    if fmt in KEYED:
        key = labels_key(path, _keys(path, fmt), settings.labels_key, required=True)
        assert key is not None
        return _load_keyed(path, fmt, key, settings.max_bytes)
    from . import delimited

    column = settings.label_column
    if column is None:
        h = delimited.head(path)
        ids = delimited.id_columns(h)
        rest = [n for i, n in enumerate(h.names) if i not in ids]  # not a row-id column
        column = delimited.default_label_column(h) or (rest[0] if len(rest) == 1 else None)
        if column is None:
            raise InputError(path, f"has {len(h.names)} columns; name the label column with "
                             "--label-column")
    table = delimited.load(path, class_pattern=None, label_column=column, want_values=False,
                           label_names=class_names, max_bytes=settings.max_bytes,
                           progress=progress, max_rows=max_rows)
    assert table.labels is not None
    return Stored(path, table.labels, fmt, column, first_line=table.head.first_line)


# --- layout: N-D logits as (rows, classes) ---------------------------------------------------


@dataclass(frozen=True)
class Source:
    """Model outputs as (rows, classes) row blocks, whatever the file's layout."""

    stored: Stored
    class_axis: int | None = None  # None: a binary output, one value per row
    shift: bool = False  # causal LM: the last position on axis 1 predicts nothing
    view: RowView | LazyRowView = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        a = self.stored.array
        if not isinstance(a, np.ndarray):  # shards, zarr: read block by block
            view = LazyRowView(a, self.class_axis, self.shift)
            object.__setattr__(self, "view", view)
            return
        if self.class_axis is not None:
            a = np.moveaxis(a, self.class_axis, -1)
            if self.shift:
                a = a[:, :-1]
        object.__setattr__(self, "view", RowView(a, columns=a.ndim >= 2))

    @property
    def path(self) -> Path:
        return self.stored.path

    @property
    def array(self) -> np.ndarray | LazyArray:
        return self.stored.array

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, classes); classes is 1 for a binary output, (N,) or (N, 1)."""
        v = self.view
        return (v.rows, v.width if v.columns else 1)

    @property
    def binary(self) -> bool:
        return self.shape[1] == 1

    @property
    def dtype(self) -> str:
        return self.stored.dtype

    @property
    def lead_shape(self) -> tuple[int, ...]:
        """The shape of the non-class axes (after --shift-labels): one row per position."""
        return self.view.lead if self.view.columns else (self.view.rows,)

    def read(self, start: int, stop: int) -> np.ndarray:
        check_mapped(self.stored.array)  # truncated since it was opened: one line, no SIGBUS
        block = self.view.read(start, stop)
        return widen_bfloat16(block) if self.stored.bfloat16 else block

    def release(self, start: int, stop: int) -> None:
        """Rows [start, stop) are done with: drop their mapped pages from this process (the
        page cache keeps them), so that reading a file of any size holds one chunk."""
        release_rows(self.stored.array, self.view, start, stop)

    def position(self, row: int) -> tuple[int, ...]:
        """Where row `row` sits in the array: its index on each non-class axis."""
        return self.view.position(row) if self.view.columns else (row,)

    def describe_row(self, row: int) -> str:
        """'row 1234 (b=3, t=210)' for N-D logits, 'row 1234' for 2-D ones."""
        if len(self.lead_shape) < 2:
            return f"row {row}"
        names = axis_names(self.stored.array.ndim, self.class_axis or 0)
        where = ", ".join(f"{n}={i}" for n, i in zip(names, self.position(row), strict=True))
        return f"row {row} ({where})"

    def info(self) -> InputInfo:
        s = self.stored
        return InputInfo("logits", str(s.path), s.array.shape, self.dtype, s.nbytes,
                         s.format, s.key, s.class_names, s.left_out, s.first_line)


def _class_axis(path: Path, ndim: int, wanted: int | None) -> int | None:
    if ndim == 1:
        if wanted not in (None, 0, -1):
            raise InputError(path, f"--class-axis {wanted}: a 1-D array has no class axis")
        return None
    if wanted is None:
        return ndim - 1  # the last axis: Keras, JAX, and 2-D (rows, classes) arrays
    if not -ndim <= wanted < ndim:
        raise InputError(path, f"--class-axis {wanted} is out of range for a {ndim}-D array")
    return wanted % ndim


def make_source(stored: Stored, settings: Settings) -> Source:
    path, a = stored.path, stored.array
    if stored.kind != "f" or stored.dtype not in FLOATS:  # float128 is kind "f" too
        what = "strings" if a.dtype.kind in "SUa" else f"{dtype_name(a.dtype)} values"
        raise InputError(path, f"holds {what}; model outputs must be float16, bfloat16, "
                         "float32 or float64")
    if a.ndim == 0:
        raise InputError(path, "expected a 2-D (rows, classes) array or a 1-D binary output, "
                         "got shape () (0-D)")
    axis = _class_axis(path, a.ndim, settings.class_axis)
    if settings.shift_labels:
        if a.ndim < 3:
            raise InputError(path, f"--shift-labels needs (batch, time, classes) logits, got "
                             f"shape {a.shape}")
        t_axis = [i for i in range(a.ndim) if i != axis][1]
        if a.shape[t_axis] < 2:
            raise InputError(path, f"--shift-labels: axis {t_axis} has {a.shape[t_axis]} "
                             "position(s); at least 2 are needed")
    if a.ndim == 2 and a.shape[1] == 1 and settings.class_axis is None:
        axis = 1  # (N, 1): one sigmoid logit per row
    source = Source(stored, axis, settings.shift_labels)
    if source.shape[0] == 0:
        raise InputError(path, "has no rows")
    if axis is not None and a.shape[axis] == 0:
        raise InputError(path, "has no class columns")
    return source


# --- labels -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Labels:
    stored: Stored
    view: RowView | LazyRowView  # one class id per row of the logits (dense: one row each)
    targets: str = "ids"  # see compute/stats.Plan.targets

    @property
    def path(self) -> Path:
        return self.stored.path

    @property
    def array(self) -> np.ndarray | LazyArray:
        return self.stored.array

    def read(self, start: int, stop: int) -> np.ndarray:
        check_mapped(self.stored.array)
        if self.targets != "ids":
            return np.asarray(self.view.read(start, stop), dtype=np.float64)
        # no copy where they are stored as intp already (read-only: a mapped file's pages)
        return np.asarray(self.view.read(start, stop)).astype(np.intp, copy=False)

    def info(self) -> InputInfo:
        s = self.stored
        return InputInfo("labels", str(s.path), s.array.shape, dtype_name(s.array.dtype),
                         s.nbytes, s.format, s.key, first_line=s.first_line)


def _shape_mismatch(source: Source, labels: Stored, shape: tuple[int, ...]) -> InputError:
    """Which axis disagrees, and the likely layout mistake behind it."""
    z = source.stored.array
    axis = source.class_axis
    lead_axes = [i for i in range(z.ndim) if i != axis]
    expected = tuple(z.shape[i] for i in lead_axes)
    names = axis_names(z.ndim, axis if axis is not None else 0)
    hints = []
    if len(shape) == len(expected):
        k = next(k for k in range(len(shape)) if shape[k] != expected[k])
        name = f" ({names[k].upper()})" if z.ndim == 3 and axis == 2 else ""
        where = f" on axis {lead_axes[k]}{name}: {shape[k]:,} vs {expected[k]:,}"
        if z.ndim >= 3 and k == 1 and shape[k] == expected[k] - 1 and not source.shift:
            hints.append("labels already shifted for a causal LM (labels[:, 1:])? "
                         "--shift-labels drops the last logit position")
    else:
        where = f": expected {expected} (the logits' shape without the class axis {axis})"
    if axis == z.ndim - 1 and z.ndim >= 3 and shape == z.shape[:1] + z.shape[2:]:
        hints.append("PyTorch layout (N, C, ...)? try --class-axis 1")
    if z.ndim == 2 and len(shape) == 1 and axis is not None and shape[0] == z.shape[axis] \
            and shape[0] != expected[0]:
        hints.append(f"transposed? the logits have {z.shape[0]:,} rows and {z.shape[1]:,} "
                     f"columns, and there are {shape[0]:,} labels: pass --class-axis "
                     f"{1 - axis} (or save logits.T)")
    if axis is not None and shape == expected + (z.shape[axis],):
        hints.append(f"one-hot labels? save labels.argmax(axis={len(shape) - 1})")
    hint = "; " + "; ".join(hints) if hints else ""
    if z.ndim <= 2 and len(shape) == 1:
        return InputError(labels.path, f"has {shape[0]:,} labels but the logits have "
                          f"{expected[0]:,} rows{hint}")
    return InputError(labels.path, f"shape {shape} does not match logits {z.shape}{where}{hint}")


def make_labels(
    stored: Stored, source: Source, ignore_index: int, multilabel: bool = False
) -> Labels:
    """Class ids for every row of `source`, checked against its shape and class count; or,
    for 2-D logits, a (rows, classes) array of one-hot, soft or multi-label targets."""
    path, array = stored.path, stored.array
    if stored.kind not in "iufb":
        what = "strings" if array.dtype.kind in "SUa" else f"{stored.dtype} values"
        raise InputError(path, f"holds {what}; labels must be integer class ids")
    rows, classes = source.shape
    if array.ndim == 2 and array.shape[1] == classes > 1 and source.stored.array.ndim == 2:
        kind = dense_targets(path, array, rows, multilabel)
        lazy = not isinstance(array, np.ndarray)
        return Labels(stored, LazyRowView(array, 1) if lazy else RowView(array), kind)
    if not isinstance(array, np.ndarray):
        array = np.asarray(array)  # class ids are small next to logits, and all read below
    z = source.stored.array
    expected = tuple(z.shape[i] for i in range(z.ndim) if i != source.class_axis)
    if array.ndim == len(expected) + 1 and array.shape[-1] == 1 and array.shape[:-1] == expected:
        array = array[..., 0]  # (N, 1) labels
    if array.ndim == 0:
        raise InputError(path, "holds a single value, not one class id per row")
    if source.shift and array.shape == expected:
        array = array[:, 1:]  # logits[:, :-1] predict labels[:, 1:]
    elif source.shift and array.shape == source.lead_shape:
        pass  # already shifted: only the logits' last position is dropped
    elif array.shape != expected:
        raise _shape_mismatch(source, stored, array.shape)
    classes = max(source.shape[1], 2)
    view = RowView(array, columns=False)
    values = view.read(0, view.rows)  # labels are small next to logits: check them all
    if array.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(values) | (values != np.round(values)))
        if bad.size:
            r = int(bad[0])
            raise InputError(path, f"{source.describe_row(r)}: label {values[r]!r} is not a "
                             "whole class id")
    # the common case, every label a class, in two reductions (the full test is 4 passes)
    inside = values.size == 0 or (values.min() >= 0 and values.max() < classes)
    out = () if inside else np.flatnonzero(
        ((values < 0) | (values >= classes)) & (values != ignore_index))
    if len(out):
        r = int(out[0])
        kept = values[values != ignore_index]
        # ids 1..C: every label that is out of range is C, and none is 0
        one_based = kept.size and kept.min() >= 1 and kept.max() == classes
        raise InputError(
            path,
            f"{source.describe_row(r)}: label {values[r].item():g} is outside the {classes} "
            f"classes [0, {classes - 1}] and is not the ignore index {ignore_index}"
            + (f" ({out.size:,} such rows)" if out.size > 1 else "")
            + ("; labels 1-based (1..C)? subtract 1" if one_based else ""),
        )
    return Labels(stored, view)


# --- entry points -----------------------------------------------------------------------------


def open_inputs(
    logits: str | Path, labels: str | Path | None, settings: Settings,
    progress: Progress | None = None,
) -> tuple[Source, Labels | None]:
    """Open the logits and their labels (from `labels`, or from the same file)."""
    logits_path = Path(logits)
    _check_options_apply(logits_path, labels, settings)
    stored, same_file = load_logits(logits_path, settings, labels is None, progress)
    source = make_source(stored, settings)
    if labels is not None:
        a = stored.array  # one label per position on the non-class axes, at most
        most = math.prod(n for i, n in enumerate(a.shape) if i != source.class_axis)
        same_file = load_labels(Path(labels), settings, stored.class_names, progress, most)
    label_source = None
    if same_file:
        label_source = make_labels(same_file, source, settings.ignore_index, settings.multilabel)
    return source, label_source


def _check_options_apply(logits: Path, labels: str | Path | None, settings: Settings) -> None:
    """An option no input can use is a mistake worth one line, not silence."""
    paths = [logits] + ([Path(labels)] if labels is not None else [])
    formats = set()
    for p in paths:
        _check_is_file(p)
        formats.add(file_format(p))
    options = {"--logits-key": (settings.logits_key, set(KEYED)),
               "--labels-key": (settings.labels_key, set(KEYED)),
               "--label-column": (settings.label_column, {"csv", "tsv"}),
               "--class-columns": (settings.class_columns, {"csv", "tsv"})}
    for option, (value, wanted) in options.items():
        if value is not None and not formats & wanted:
            kinds = " or ".join(k for k in (*KEYED, "csv", "tsv") if k in wanted)
            raise UsageError(f"{option}: applies to {kinds} files only, and the inputs are "
                             f"{' and '.join(sorted(formats))} ({', '.join(map(str, paths))})")


@dataclass(frozen=True)
class Ref:
    """Where a Stored array came from: enough to open the same array again in another
    process (a dask worker) without sending it any data."""

    path: str
    format: str
    key: str | None = None

    @classmethod
    def of(cls, stored: Stored) -> Ref:
        return cls(str(stored.path), stored.format, stored.key)


def _load_ref(ref: Ref, settings: Settings) -> Stored:
    path = Path(ref.path)
    if ref.format in ("csv", "tsv"):
        raise UsageError(f"{path}: CSV/TSV inputs are decoded where they are opened and cannot "
                         "be opened again elsewhere; save them as .npy first")
    if ref.key is not None:
        return _load_keyed(path, ref.format, ref.key, settings.max_bytes)
    single = _unkeyed(path, ref.format, settings, "--logits-key", None)
    if single is None:
        raise InputError(path, "is a zarr group, not an array")
    return single


def reopen(logits: Ref, labels: Ref | None, settings: Settings) -> tuple[Source, Labels | None]:
    """The Source and Labels open_inputs gave, opened again from their Refs (same arrays,
    same keys, same checks)."""
    source = make_source(_load_ref(logits, settings), settings)
    if labels is None:
        return source, None
    stored = _load_ref(labels, settings)
    return source, make_labels(stored, source, settings.ignore_index, settings.multilabel)


def open_logits(path: str | Path, settings: Settings | None = None) -> Source:
    stored, _ = load_logits(Path(path), settings or Settings(), with_labels=False)
    return make_source(stored, settings or Settings())


def open_labels(
    path: str | Path, rows: int, classes: int, ignore_index: int = -100, multilabel: bool = False
) -> Labels:
    """Labels for 2-D (rows, classes) logits (kept for callers that know only the shape)."""
    settings = Settings(ignore_index=ignore_index, multilabel=multilabel)
    stand_in = Stored(Path("logits"), np.broadcast_to(np.float32(0), (rows, classes)), "npy")
    source = make_source(stand_in, settings)
    return make_labels(load_labels(Path(path), settings), source, ignore_index, multilabel)
