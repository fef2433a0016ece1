"""logitcheck inside Python: arrays or tensors in, a Report out, in one call or streamed.

`check(logits, labels)` runs exactly what `logitcheck analyze` runs on the same data saved
to a file (analysis.analyze_opened): the same options, defaults, statistics, findings and
Report. `Checker` takes the rows batch by batch (`update`), merges with other Checkers
(`merge`: one per rank of a data-parallel evaluation) and gives the same Report as one
`check` on all the rows (`report`). It keeps merged statistics, a bounded sample of the
first rows (probe.py) and the few rows the report tables show, never the data.

numpy arrays, PyTorch tensors (any device, any float dtype including bfloat16, with or
without grad), JAX arrays and TensorFlow tensors are read as they are; anything else goes
through np.asarray. A framework is recognised by its type's module name and never imported
for a user who did not pass one of its tensors.

>>> import numpy as np, logitcheck
>>> z = np.array([[2.0, 0.5, -1.0], [0.1, 1.5, 0.3], [-0.5, 0.2, 2.5]] * 40)
>>> y = np.array([0, 1, 2] * 40)
>>> report = logitcheck.check(z, y)
>>> report.ok, report.exit_code, round(report.loss, 4)
(True, 0, 0.2726)
>>> p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)  # softmax output, passed as logits
>>> bad = logitcheck.check(p, y)
>>> bad.ok, [f.code for f in bad.failing]
(False, ['LC201'])
>>> c = logitcheck.Checker()
>>> for start in range(0, 120, 50):
...     c.update(z[start:start + 50], y[start:start + 50])
>>> c.report().loss == report.loss
True
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict

import numpy as np

from .analyses.analyze import analyze, analyze_opened, build_report
from .backends.compute import BackendStats, merge_runs
from .backends.run import BackendRun
from .compute.chunks import plan_for
from .compute.dtypes import facts
from .compute.engine import compute_all
from .compute.mergeable import Extreme, RowSet, RowValues
from .compute.probe import MAX_BYTES as PROBE_BYTES
from .compute.probe import MAX_ROWS as PROBE_ROWS
from .compute.probe import MIN_ROWS as PROBE_MIN_ROWS
from .compute.probe import probe_labels
from .compute.stats import Plan, Stats
from .compute.tables import fill_table_cells
from .errors import InputError, UsageError
from .io import Labels, Source, make_labels, make_source, open_inputs
from .io.stored import Stored, dtype_name
from .options import OPTIONS, build_settings
from .report.model import InputInfo, Report, Severity
from .settings import Settings

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["Checker", "Options", "check"]


class Options(TypedDict, total=False):
    """The options of `logitcheck analyze`, as keywords: the option's name with
    underscores (`--fail-on` -> fail_on), the same values and the same defaults
    (options.py is the one table). Lists or comma-separated strings where the option
    repeats; `severity` also takes a dict {"LC207": "error"}; `fail_on` also None
    ("never") or a Severity."""

    expects: Literal["logits", "probabilities", "log-probabilities", "log_probabilities"]
    loss_path: Literal["stable", "naive"]
    ignore_index: int
    label_smoothing: float
    multi_label: bool
    class_axis: int | None
    shift_labels: bool
    dtypes: str | list[str]
    fail_on: str | Severity | None
    exit_zero: bool
    select: str | list[str]
    ignore: str | list[str]
    severity: dict[str, str] | str | list[str]
    baseline: str | os.PathLike[str] | None
    backend: Literal["numpy", "torch", "tensorflow", "jax"]
    device: str
    cross_check: bool
    chunk_rows: int | None
    threads: int
    # for files only (logits given as a path)
    logits_key: str | None
    labels_key: str | None
    label_column: str | None
    class_columns: str | None
    max_bytes: int | None
    engine: Literal["local", "dask"]
    scheduler: str | None


#: keyword -> Option: every option `analyze` takes
KEYWORDS = {o.name.replace("-", "_"): o for o in OPTIONS.values() if "analyze" in o.commands}
#: options about reading files (keys, CSV columns, caps) or running on dask: not for arrays
FILE_ONLY = ("logits_key", "labels_key", "label_column", "class_columns", "max_bytes",
             "engine", "scheduler")


Options.__doc__ = (Options.__doc__ or "") + "\n\n    Defaults:\n" + "\n".join(
    f"        {name}={option.default!r}" for name, option in KEYWORDS.items())


def settings_from(options: Mapping[str, Any], *, arrays: bool = True) -> Settings:
    """Settings from keyword options, checked as YAML batch values are (options.py)."""
    kw: dict[str, Any] = {}
    for name, value in options.items():
        option = KEYWORDS.get(name)
        if option is None:
            known = ", ".join(sorted(KEYWORDS))
            raise TypeError(f"unexpected option {name!r} (options: {known})")
        if name == "fail_on" and (value is None or isinstance(value, Severity)):
            value = "never" if value is None else value.label
        value = _plain(value)
        if arrays and name in FILE_ONLY and value != option.default:
            raise UsageError(f"{name}: applies to files only, not to arrays in memory")
        try:
            kw[option.param] = option.from_yaml(value)
        except ValueError as exc:
            raise UsageError(f"{name}: {exc}") from None
    return build_settings(kw)


def _plain(value: Any) -> Any:
    """Python values in the form the option table checks: numpy scalars as Python ones,
    tuples as lists, paths as strings."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def _is_path(x: Any) -> bool:
    return isinstance(x, (str, os.PathLike))


# --- arrays and tensors -> Stored -------------------------------------------------------------


def framework_of(x: Any) -> str:
    """numpy | torch | jax | tensorflow | other, from the type's module (nothing imported)."""
    module = type(x).__module__ or ""
    top = module.split(".", 1)[0]
    if isinstance(x, np.ndarray):
        return "numpy"
    if top == "torch":
        return "torch"
    if top in ("jax", "jaxlib"):
        return "jax"
    if top == "tensorflow":
        return "tensorflow"
    return "other"


def to_numpy(x: Any, role: str) -> tuple[np.ndarray, bool]:
    """(array, bfloat16): the values as numpy holds them, without a copy where the
    framework allows it; bfloat16 as its raw uint16 bits (io.stored.widen_bfloat16)."""
    framework = framework_of(x)
    if framework == "torch":
        import torch  # already imported: the user passed one of its tensors

        t = x.detach()
        if t.device.type != "cpu":
            t = t.to("cpu")
        if t.dtype == torch.bfloat16:
            return t.contiguous().view(torch.int16).numpy().view(np.uint16), True
        try:
            return t.resolve_conj().resolve_neg().numpy(), False
        except TypeError:  # float8 and other dtypes numpy does not have
            what = str(t.dtype).removeprefix("torch.")
            raise InputError(role, f"holds {what} values; model outputs must be float16, "
                             "bfloat16, float32 or float64") from None
    if framework == "tensorflow" and hasattr(x, "numpy"):
        a = np.asarray(x.numpy())
    else:
        a = np.asarray(x)
    if a.dtype.name == "bfloat16":  # ml_dtypes' (JAX, TensorFlow): two bytes, as stored
        return a.view(np.uint16), True
    return a, False


def stored_array(x: Any, role: str) -> Stored:
    """An io.stored.Stored for an array or tensor, named `role` in messages."""
    array, bf16 = to_numpy(x, role)
    return Stored(Path(role), array, framework_of(x) if framework_of(x) != "other"
                  else "numpy", bfloat16=bf16)


def open_arrays(logits: Any, labels: Any, settings: Settings) -> tuple[Source, Labels | None]:
    """io.open_inputs for arrays in memory: the same layout and label checks."""
    source = make_source(stored_array(logits, "logits"), settings)
    if labels is None:
        return source, None
    return source, make_labels(stored_array(labels, "labels"), source, settings.ignore_index,
                               settings.multilabel)


# --- one call -----------------------------------------------------------------------------------


def check(logits: Any, labels: Any = None, **options: Unpack[Options]) -> Report:
    """Check model outputs and their labels; the Report `logitcheck analyze` gives.

    `logits`: an array or tensor (rows, classes), 1-D binary outputs, or N-D with a
    class axis (`class_axis`), or a path to a file `analyze` reads. `labels`: class
    ids, one per row, or (rows, classes) one-hot, soft or multi-label targets; a path
    where `logits` is one. Keyword options: see `Options`. Raises LogitcheckError (a
    one-line message) on input that cannot be checked; findings never raise.

    >>> import numpy as np
    >>> from logitcheck import check
    >>> z = np.array([[3.0, 0.0, -3.0], [0.0, 3.0, -3.0]] * 50)
    >>> r = check(z, np.array([0, 1] * 50), expects="logits", fail_on="warning")
    >>> r.ok, r.metrics["rows"], round(r.loss, 6)
    (True, 100, 0.050946)
    """
    settings = settings_from(options, arrays=not _is_path(logits))
    if _is_path(logits):
        if labels is not None and not _is_path(labels):
            raise UsageError("labels: pass a path when the logits are a path")
        return analyze(logits, labels, settings)
    _no_dask(settings, "arrays in memory")
    started = time.perf_counter()
    source, label_source = open_arrays(logits, labels, settings)
    return analyze_opened(source, label_source, settings, None, started, [])


def _no_dask(settings: Settings, what: str) -> None:
    if settings.engine != "local":
        raise UsageError(f"engine: {settings.engine!r} runs on files given by path, not on "
                         f"{what}")


# --- streaming ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Layout:
    """What every batch of a stream must share, fixed by the first one."""

    dtype: str  # the logits' dtype (bfloat16 included)
    container: np.dtype  # how numpy holds it (bfloat16: uint16)
    shape: tuple[int, ...]  # the first batch's shape: all but batch_axis must match
    batch_axis: int  # the first non-class axis: batches are stacked along it
    classes: int
    format: str
    name: str
    labels: tuple[np.dtype, tuple[int, ...], str, str] | None  # dtype, shape, targets, format
    label_name: str | None

    def describe(self) -> str:
        other = [d for i, d in enumerate(self.shape) if i != self.batch_axis]
        return f"{self.dtype} batches of shape (n, {', '.join(map(str, other))})" if other \
            else f"{self.dtype} batches of shape (n,)"


def _batch_axis(ndim: int, class_axis: int | None) -> int:
    if ndim <= 1:
        return 0
    axis = ndim - 1 if class_axis is None else class_axis % ndim
    return 1 if axis == 0 else 0


class _Sample:
    """The first rows of a stream, as probe.probe_labels reads a Source and its Labels."""

    def __init__(self, z: np.ndarray, y: np.ndarray, rows: int, dtype: str,
                 lead_shape: tuple[int, ...]) -> None:
        self.z, self.y = z, y
        self.shape = (rows, z.shape[1])
        self.dtype = dtype
        self.lead_shape = lead_shape
        self.targets = "ids"

    def read(self, start: int, stop: int) -> np.ndarray:
        return self.z[start:stop]


class _Labels:
    def __init__(self, sample: _Sample) -> None:
        self.sample = sample
        self.targets = "ids"

    def read(self, start: int, stop: int) -> np.ndarray:
        return self.sample.y[start:stop]


def shift_rows(obj: Any, k: int) -> Any:
    """`obj` (Stats, BackendStats, dicts of them) with every row number moved by k: the
    statistics of rows that come k rows later in the merged stream."""
    if k == 0:
        return obj
    if isinstance(obj, RowSet):
        return RowSet(obj.count, tuple(r + k for r in obj.first))
    if isinstance(obj, Extreme):
        return Extreme(obj.value, obj.row + k)
    if isinstance(obj, RowValues):
        return dataclasses.replace(obj, row=obj.row + k)
    if isinstance(obj, dict):
        return {key: shift_rows(v, k) for key, v in obj.items()}
    if isinstance(obj, tuple):
        return tuple(shift_rows(v, k) for v in obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.replace(obj, **{f.name: shift_rows(getattr(obj, f.name), k)
                                           for f in dataclasses.fields(obj) if f.init})
    return obj


def _table_rows(stats: Stats) -> set[int]:
    return {r.row for t in (stats.worst_rows, stats.naive_failure_rows) for r in t.rows}


class Checker:
    """A streaming check: `update(logits, labels)` per batch, `report()` at the end.

    The Report equals `check()` on all the rows at once: rows are numbered across
    batches, in the order they were given. `merge(other)` adds another Checker's rows
    after this one's (data-parallel evaluation: one Checker per rank, merged in rank
    order; a Checker pickles). Memory holds the merged statistics, the first rows the
    label probe reads (8 MiB at most) and the 20 rows the report tables show.

    Batches may come from any framework and be of any size; they must share the dtype
    and every axis but the batch axis (the first one that is not the class axis).

    >>> import numpy as np
    >>> from logitcheck import Checker
    >>> rng = np.random.default_rng(0)
    >>> z, y = rng.normal(size=(300, 5)), rng.integers(0, 5, size=300)
    >>> a, b = Checker(), Checker()
    >>> a.update(z[:100], y[:100]); a.update(z[100:150], y[100:150])
    >>> b.update(z[150:], y[150:])
    >>> a.merge(b).rows
    300
    >>> a.report().loss == Checker.of(z, y).report().loss
    True
    """

    def __init__(self, **options: Unpack[Options]) -> None:
        self.options: dict[str, Any] = dict(options)
        self.settings = settings_from(options, arrays=False)
        _no_dask(self.settings, "a Checker")
        self.reset()

    def reset(self) -> None:
        """Forget every batch (the options stay): the next update is row 0 again."""
        self.rows = 0  # rows given so far, ignored ones included: the next row's number
        self.batches = 0
        self._layout: _Layout | None = None
        self._lead = 0  # the stacked length of the batch axis
        self._plan: Plan | None = None
        self._run: BackendRun | None = None
        self._stats = Stats()
        self._backends: dict[str, BackendStats] = {}
        self._kept: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}  # table rows
        self._sample_z: list[np.ndarray] = []
        self._sample_y: list[np.ndarray] = []
        self._sampled = 0
        self._seconds = {"open_s": 0.0, "compute_s": 0.0}

    @classmethod
    def of(cls, logits: Any, labels: Any = None, **options: Unpack[Options]) -> Checker:
        """A Checker that has seen one batch."""
        c = cls(**options)
        c.update(logits, labels)
        return c

    def __repr__(self) -> str:
        what = self._layout.describe() if self._layout else "no batch yet"
        return f"<logitcheck.Checker: {self.rows:,} rows in {self.batches} batches, {what}>"

    # -- pickling: the backends are opened again where the Checker is unpickled --
    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_run": None}

    def update(self, logits: Any, labels: Any = None) -> None:
        """Add a batch: an array or tensor of logits (and its labels), or a file path."""
        started = time.perf_counter()
        settings = self.settings
        if _is_path(logits):
            if labels is not None and not _is_path(labels):
                raise UsageError("labels: pass a path when the logits are a path")
            source, label_source = open_inputs(logits, labels, settings)
            name = str(logits)
            label_name = str(label_source.path) if label_source is not None else None
        else:
            for option in FILE_ONLY[:5]:  # the ones Settings holds under the same name
                if getattr(settings, option) is not None:
                    raise UsageError(f"{option}: applies to files only, not to arrays in "
                                     "memory")
            stored = stored_array(logits, "logits")
            a = stored.array
            axis = _batch_axis(a.ndim, settings.class_axis)
            if a.ndim >= 1 and a.shape[axis] == 0 and all(_without(a.shape, axis)):
                self.batches += 1  # an empty batch (the end of a loader): nothing to add
                return
            source = make_source(stored, settings)
            label_source = None if labels is None else make_labels(
                stored_array(labels, "labels"), source, settings.ignore_index,
                settings.multilabel)
            name, label_name = "logits", "labels" if labels is not None else None
        layout = self._check_layout(source, label_source, name, label_name)
        plan = self._plan or plan_for(source, label_source, settings)  # fixed by the first
        opened = time.perf_counter()
        run = self._run if self._plan is not None and self._run is not None else \
            BackendRun.open(settings, plan.storage, plan)
        part, backends = compute_all(source, label_source, settings, run.jobs, plan=plan,
                                     offset=self.rows, fill=False)
        self._layout, self._plan, self._run = layout, plan, run
        self._add(part, backends, source, label_source)
        self._sample(source, label_source)
        self.rows += source.shape[0]
        self._lead += source.stored.array.shape[layout.batch_axis]
        self.batches += 1
        self._seconds["open_s"] += opened - started
        self._seconds["compute_s"] += time.perf_counter() - opened

    def _backend_run(self, plan: Plan) -> BackendRun:
        """The backends (--backend, --cross-check), opened at the first batch (and again
        after unpickling)."""
        if self._run is None:
            self._run = BackendRun.open(self.settings, plan.storage, plan)
        return self._run

    def _check_layout(self, source: Source, labels: Labels | None, name: str,
                      label_name: str | None) -> _Layout:
        a = source.stored.array
        axis = _batch_axis(a.ndim, source.class_axis if a.ndim > 1 else None)
        label_layout = None
        if labels is not None:
            la = labels.stored.array
            label_layout = (la.dtype, tuple(la.shape), labels.targets, labels.stored.format)
        layout = _Layout(source.dtype, a.dtype, tuple(a.shape), axis, source.shape[1],
                         source.stored.format, name, label_layout, label_name)
        first = self._layout
        if first is None:
            return layout
        if layout.dtype != first.dtype or layout.batch_axis != first.batch_axis or \
                _without(layout.shape, axis) != _without(first.shape, first.batch_axis):
            raise UsageError(f"update(): this batch is {layout.describe()}, the first were "
                             f"{first.describe()}")
        if (label_layout is None) != (first.labels is None):
            had = "with" if first.labels is not None else "without"
            raise UsageError(f"update(): the first batch came {had} labels; every batch must")
        if label_layout is not None and first.labels is not None and (
                label_layout[2] != first.labels[2]
                or label_layout[1][1:] != first.labels[1][1:]):
            raise UsageError(f"update(): this batch's labels have shape {label_layout[1]}, "
                             f"the first batch's {first.labels[1]}")
        return dataclasses.replace(first, name=_named(first.name, name),
                                   label_name=_named(first.label_name, label_name))

    def _add(self, part: Stats, backends: dict[str, BackendStats], source: Source,
             labels: Labels | None) -> None:
        """Merge a batch's statistics, and keep the values of the rows the tables show
        now (the report reads them back: tables.fill_table_cells, the declared loss)."""
        self._stats = self._stats.merge(part)
        self._backends = merge_runs(self._backends, backends)
        wanted = _table_rows(self._stats)
        for row in sorted(wanted - self._kept.keys()):
            local = row - self.rows  # a row of this batch: the others were kept before
            z = np.array(source.read(local, local + 1))
            y = None if labels is None else np.array(labels.read(local, local + 1))
            self._kept[row] = (z, y)
        self._kept = {r: v for r, v in self._kept.items() if r in wanted}

    def _probe_rows(self) -> int:
        """How many first rows the label probe reads (probe.probe_labels, at most)."""
        assert self._layout is not None
        itemsize = facts(self._layout.dtype).bits // 8
        return min(PROBE_ROWS, max(PROBE_MIN_ROWS,
                                   PROBE_BYTES // max(1, self._layout.classes * itemsize)))

    def _sample(self, source: Source, labels: Labels | None) -> None:
        if labels is None or labels.targets != "ids" or source.shape[1] < 2:
            return
        n = min(source.shape[0], self._probe_rows() - self._sampled)
        if n <= 0:
            return
        self._sample_z.append(np.array(source.read(0, n)))
        self._sample_y.append(np.array(labels.read(0, n)))
        self._sampled += n

    def merge(self, other: Checker) -> Checker:
        """Add `other`'s rows after this one's (in place); returns self."""
        if other is self:
            raise UsageError("merge(): a Checker cannot be merged with itself")
        if other.settings != self.settings:
            raise UsageError("merge(): the Checkers were made with different options")
        if other._layout is None:
            self.batches += other.batches
            return self
        if self._layout is None:
            state = other.__getstate__()
            self.__dict__.update({**state, "batches": self.batches + other.batches,
                                  "_kept": dict(other._kept),
                                  "_sample_z": list(other._sample_z),
                                  "_sample_y": list(other._sample_y),
                                  "_seconds": dict(other._seconds), "_run": self._run})
            return self
        first, theirs = self._layout, other._layout
        if theirs.dtype != first.dtype or theirs.batch_axis != first.batch_axis or \
                _without(theirs.shape, theirs.batch_axis) != _without(first.shape,
                                                                      first.batch_axis) \
                or (theirs.labels is None) != (first.labels is None):
            raise UsageError(f"merge(): the other Checker saw {theirs.describe()}"
                             f"{' with' if theirs.labels else ' without'} labels, this one "
                             f"{first.describe()}{' with' if first.labels else ' without'} "
                             "labels")
        names, label_names = first.name, first.label_name
        for name in theirs.name.partition(" (+")[0].split(", "):
            names = _named(names, name)
        for name in (theirs.label_name or "").partition(" (+")[0].split(", "):
            label_names = _named(label_names, name or None)
        self._layout = dataclasses.replace(first, name=names, label_name=label_names)
        k = self.rows
        self._stats = self._stats.merge(shift_rows(other._stats, k))
        self._backends = merge_runs(self._backends, shift_rows(other._backends, k))
        wanted = _table_rows(self._stats)
        kept = {**self._kept, **{r + k: v for r, v in other._kept.items()}}
        self._kept = {r: v for r, v in kept.items() if r in wanted}
        # this sample holds min(rows, cap) rows: all of them while there is room left
        room = self._probe_rows() - self._sampled
        for z, y in zip(other._sample_z, other._sample_y, strict=True):
            if room <= 0:
                break
            self._sample_z.append(z[:room])
            self._sample_y.append(y[:room])
            self._sampled += min(room, z.shape[0])
            room -= z.shape[0]
        self.rows += other.rows
        self._lead += other._lead
        self.batches += other.batches
        for key, seconds in other._seconds.items():
            self._seconds[key] += seconds
        return self

    def report(self) -> Report:
        """The Report over every row given so far (the Checker can go on after it)."""
        layout = self._layout
        if layout is None or self._plan is None:
            raise UsageError("report(): no rows yet; call update(logits, labels) first")
        settings = self.settings
        total = list(layout.shape)
        total[layout.batch_axis] = self._lead
        stand_in = Stored(Path(layout.name), np.broadcast_to(np.zeros((), layout.container),
                                                              tuple(total)),
                          layout.format, bfloat16=layout.dtype == "bfloat16"
                          and layout.container == np.uint16)
        source = make_source(stand_in, settings)  # the layout of all the rows, no data
        inputs = [source.info()]
        if layout.labels is not None:  # labels are stacked on their first axis
            dtype, shape, _, fmt = layout.labels
            label_shape = (self._lead, *shape[1:])
            inputs.append(InputInfo("labels", str(layout.label_name), label_shape,
                                    dtype_name(dtype), math.prod(label_shape) * dtype.itemsize,
                                    fmt))
        computed = time.perf_counter()
        stats = fill_table_cells(self._stats, self._plan, self._read_kept)
        probe = None
        if self._sample_z:
            sample = _Sample(np.concatenate(self._sample_z), np.concatenate(self._sample_y),
                             self.rows, layout.dtype, source.lead_shape)
            probe = probe_labels(sample, _Labels(sample),  # type: ignore[arg-type]
                                 settings.ignore_index, settings.shift_labels)
        return build_report(source, inputs, settings, self._backend_run(self._plan), stats,
                            self._backends, probe, self._read_kept, [], dict(self._seconds),
                            computed)

    def _read_kept(self, rows: list[int]) -> tuple[np.ndarray, np.ndarray | None]:
        z = np.concatenate([self._kept[r][0] for r in rows])
        ys = [self._kept[r][1] for r in rows]
        return z, None if ys[0] is None else np.concatenate(ys)  # type: ignore[arg-type]


#: the input names a stream's report shows (files given as batches), at most
NAMES_SHOWN = 3


def _named(names: str | None, name: str | None) -> str | None:
    """'a.npy, b.npy, c.npy (+2 more)': the first NAMES_SHOWN names of the batches'
    inputs, then how many more (arrays are all 'logits', 'labels')."""
    if names is None or name is None:
        return names
    shown, _, more = names.partition(" (+")
    parts = shown.split(", ")
    extra = int(more.split(" ")[0]) if more else 0
    if name in parts:
        return names
    if len(parts) < NAMES_SHOWN:
        return ", ".join([*parts, name])
    return f"{shown} (+{extra + 1} more)"


def _without(shape: tuple[int, ...], axis: int) -> tuple[int, ...]:
    return tuple(d for i, d in enumerate(shape) if i != axis)

