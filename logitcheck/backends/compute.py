"""The losses of one chunk on a backend, written once against the Backend interface, and
their exactly-mergeable statistics (BackendStats), kept beside the numpy reference (Stats).

Per dtype, on the backend:

- stable: -log_softmax(z)[y] (dense targets: -sum t * log_softmax(z)); sigmoid heads:
  -(t log_sigmoid(z) + (1 - t) log_sigmoid(-z)), averaged over the outputs;
- naive "softmax_then_log": -log(softmax(z)[y]) with the framework's softmax (which shifts
  by the max itself: it fails by underflow, p_y = 0, not by overflow); sigmoid: -log(p_t);
- naive "no_max_shift": log(sum(exp(z))) - z_y; sigmoid: log(1 + exp(z)) - z t.

A path fails on a row when it gives inf/NaN where the float64 reference is finite, as in
numerics.PathStats. The stable path is also compared with the reference row by row:

    gap = |backend - reference| / scale,   scale = 1 + |reference| + max|z| of the row

(log_softmax's rounding error grows with the logits' magnitude, not with the loss), and
over the mean: sum|...| of the differences / sum of the scales. Both are held to

    tolerance(dtype, C) = 4 * eps(dtype) * (1 + log2 C)

(eps of the dtype computed in; log2 C for the pairwise sum over the classes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..compute.dtypes import facts
from ..compute.kernel import row_stats
from ..compute.losses import Naive, sigmoid_loss, softmax_loss
from ..compute.mergeable import ExactSum, Extreme, RowIds, RowSet, merge_largest, row_id
from ..compute.numerics import naive_stats
from ..compute.stats import PATHS, PathStats, Plan
from . import Backend


def tolerance(dtype: str, classes: int) -> float:
    """How far a backend's stable loss may be from the float64 reference (see above)."""
    return 4.0 * facts(dtype).eps * (1.0 + math.log2(max(classes, 1)))


@dataclass(frozen=True)
class Task:
    """What one chunk's losses are taken against, in the forms the frameworks take."""

    sigmoid: bool
    ids: np.ndarray | None  # class ids (softmax; the least likely class without labels)
    dense: np.ndarray | None  # float64 target rows (dense labels, or smoothed ids)
    dense_labels: np.ndarray | None  # the dense labels as given (before smoothing)
    multi: np.ndarray | None  # sigmoid targets, (n, outputs)
    labelled: bool
    smoothing: float
    ignore_index: int
    api_dtype: str  # the storage dtype: a user calls the loss on the tensor as loaded

    def one_hot(self) -> np.ndarray:
        c = self.dense.shape[1] if self.dense is not None else int(self.ids.max()) + 1
        return np.eye(c)[self.ids]


def make_task(values: np.ndarray, labels: np.ndarray | None, plan: Plan,
              ignore_index: int) -> Task:
    """The targets as numerics.chunk_stats reads them (values: float64, (n, outputs))."""
    n, c = values.shape
    sigmoid = c == 1 or plan.targets == "multilabel"
    common = dict(labelled=labels is not None, smoothing=plan.smoothing,
                  ignore_index=ignore_index, api_dtype=plan.storage)
    if sigmoid:
        multi = ((values < 0).astype(np.float64) if labels is None
                 else np.asarray(labels, dtype=np.float64).reshape(values.shape))
        return Task(True, None, None, None, multi, **common)
    dense_labels = dense = None
    if labels is None:
        ids = values.argmin(axis=1)
    elif plan.targets == "dense":
        dense_labels = dense = np.asarray(labels, dtype=np.float64)
        ids = dense.argmax(axis=1)
    else:
        ids = np.asarray(labels, dtype=np.intp)
    if labels is not None and plan.smoothing:
        if dense is None:
            dense = np.zeros((n, c))
            dense[np.arange(n), ids] = 1.0
        dense = (1.0 - plan.smoothing) * dense + plan.smoothing / c
    return Task(False, ids, dense, dense_labels, None, **common)


def reference_loss(z: np.ndarray, values: np.ndarray, task: Task) -> np.ndarray:
    """The float64 reference per row, exactly as numerics computes it."""
    if task.sigmoid:
        return sigmoid_loss(values, task.multi)
    block = np.asarray(z).reshape(values.shape)
    return softmax_loss(block, row_stats(block), task.ids, task.dense)[0]


@dataclass(frozen=True)
class DtypeRows:
    """One dtype's per-row results on a backend (what the statistics are made of)."""

    stable: np.ndarray
    naive: Naive | None  # None when only the stable path was asked for


def dtype_rows(backend: Backend, z: np.ndarray, task: Task, dtype: str,
               naive: bool = True) -> DtypeRows:
    """The stable and naive losses of each row, computed by `backend` in `dtype`."""
    b = backend
    n = z.shape[0]
    x = b.tensor(np.asarray(z).reshape(n, -1), dtype)
    if task.sigmoid:
        return _sigmoid_rows(b, x, task, dtype, naive)
    weights = b.tensor(task.dense, dtype) if task.dense is not None else None
    used = task.dense > 0 if task.dense is not None else None

    def label_term(lp):  # the -log p of the label, or its weighted sum over dense targets
        if weights is None:
            return -b.pick(lp, task.ids)
        return -b.row_sum(b.select(used, weights * lp, 0.0))

    stable = b.numpy(label_term(b.log_softmax(x)))
    if not naive:
        return DtypeRows(stable, None)
    p = b.softmax(x)
    a = b.numpy(label_term(b.log(p)))
    sums = b.row_sum(b.exp(x), keepdims=True)
    no_shift = b.numpy(label_term(x - b.log(sums)))
    tiny = facts(dtype).tiny
    if used is None:  # only the label's p comes back to numpy: the chunk is not copied
        p_y = b.numpy(b.pick(p, task.ids))
        subnormal = (p_y > 0) & (p_y < tiny)
    else:
        p_np = b.numpy(p)
        subnormal = (used & (p_np > 0) & (p_np < tiny)).any(axis=1)
    overflowed = {
        # softmax values lie in [0, 1]: their row sum is finite exactly when they all are
        "softmax_then_log": ~np.isfinite(b.numpy(b.row_sum(p))),
        "no_max_shift": np.isinf(b.numpy(sums)[:, 0]),
    }
    return DtypeRows(stable, Naive({"softmax_then_log": a, "no_max_shift": no_shift},
                                   overflowed, subnormal))


def _sigmoid_rows(b: Backend, x: Any, task: Task, dtype: str, naive: bool) -> DtypeRows:
    t = b.tensor(task.multi, dtype)
    outputs = task.multi.shape[1]
    positive = task.multi > 0.5

    def mean(el):
        return b.numpy(b.row_sum(el)) / outputs

    stable = mean(-(t * b.log_sigmoid(x) + (1 - t) * b.log_sigmoid(-x)))
    if not naive:
        return DtypeRows(stable, None)
    p = b.sigmoid(x)
    p_np = b.numpy(p)
    a = mean(-b.log(b.select(positive, p, 0.0) + b.select(~positive, 1 - p, 0.0)))
    e = b.exp(x)
    no_shift = mean(b.log(1 + e) - x * t)
    p_t = np.where(positive, p_np, 1.0 - p_np)
    tiny = facts(dtype).tiny
    overflowed = {
        "softmax_then_log": ~np.isfinite(p_np).all(axis=1),
        "no_max_shift": np.isinf(b.numpy(e)).any(axis=1),
    }
    return DtypeRows(stable, Naive({"softmax_then_log": a, "no_max_shift": no_shift},
                                   overflowed, ((p_t > 0) & (p_t < tiny)).any(axis=1)))


# --- statistics ------------------------------------------------------------------------


@dataclass(frozen=True)
class StableStats:
    """The backend's stable path against the float64 reference."""

    loss: ExactSum = ExactSum()  # the backend's, over rows where both are finite
    reference: ExactSum = ExactSum()  # the reference's, over the same rows
    abs_gap: ExactSum = ExactSum()  # |backend - reference| over those rows
    scale: ExactSum = ExactSum()  # 1 + |reference| + max|z| over those rows
    failed: RowSet = RowSet()  # inf/NaN on the backend, finite in the reference
    max_gap: Extreme | None = None  # the largest row gap / scale

    def merge(self, other: StableStats) -> StableStats:
        return StableStats(
            self.loss.merge(other.loss), self.reference.merge(other.reference),
            self.abs_gap.merge(other.abs_gap), self.scale.merge(other.scale),
            self.failed.merge(other.failed), merge_largest(self.max_gap, other.max_gap),
        )

    @property
    def mean_gap(self) -> float | None:
        """|sum of differences| / sum of scales (see the module docstring)."""
        if not self.scale.count:
            return None
        return abs(self.loss.scaled - self.reference.scaled) / self.scale.scaled

    @property
    def row_gap(self) -> float | None:
        return self.max_gap.value if self.max_gap else None


@dataclass(frozen=True)
class DtypeStats:
    status: str  # "ok", or "unsupported: why"
    stable: StableStats = StableStats()
    naive: dict[str, PathStats] = field(default_factory=dict)  # empty: stable path only

    def merge(self, other: DtypeStats) -> DtypeStats:
        naive = {p: self.naive[p].merge(other.naive[p]) for p in self.naive}
        return DtypeStats(self.status, self.stable.merge(other.stable), naive)


@dataclass(frozen=True)
class ApiStats:
    loss: ExactSum = ExactSum()  # over rows where it is finite
    nonfinite: RowSet = RowSet()
    capped: RowSet = RowSet()  # clipped by from_logits=False

    def merge(self, other: ApiStats) -> ApiStats:
        return ApiStats(self.loss.merge(other.loss), self.nonfinite.merge(other.nonfinite),
                        self.capped.merge(other.capped))


@dataclass(frozen=True)
class BackendStats:
    """One backend's statistics over the rows seen so far; merges exactly."""

    dtypes: dict[str, DtypeStats] = field(default_factory=dict)
    api: dict[str, ApiStats] = field(default_factory=dict)

    def merge(self, other: BackendStats) -> BackendStats:
        return BackendStats(_merge_dicts(self.dtypes, other.dtypes),
                            _merge_dicts(self.api, other.api))


def _merge_dicts(a: dict, b: dict) -> dict:
    return {k: a[k].merge(b[k]) if k in a and k in b else a.get(k, b.get(k))
            for k in {**a, **b}}


def merge_runs(a: dict[str, BackendStats], b: dict[str, BackendStats]):
    return _merge_dicts(a, b)


@dataclass(frozen=True)
class Job:
    """What to compute on one backend: every dtype (naive paths and loss APIs too), or the
    stable path alone in some dtypes (--cross-check)."""

    backend: Backend
    dtypes: tuple[str, ...]
    full: bool


def chunk_backend_stats(jobs: tuple[Job, ...], z: np.ndarray, labels: np.ndarray | None,
                        offset: RowIds, plan: Plan, ignore_index: int) -> dict[str, BackendStats]:
    """Every job's statistics on one block of rows (converted to each framework in turn)."""
    n = z.shape[0]
    z = np.asarray(z).reshape(n, -1)  # a binary output (n,) is one column
    values = np.array(z, dtype=np.float64)
    task = make_task(values, labels, plan, ignore_index)
    with np.errstate(all="ignore"):
        reference = reference_loss(z, values, task)
        scale = 1.0 + np.abs(reference) + np.abs(values).max(axis=1)
    out = {}
    for job in jobs:
        with job.backend.session():
            out[job.backend.name] = _one_backend(job, z, task, reference, scale, offset)
    return out


def _one_backend(job: Job, z, task: Task, reference, scale, offset) -> BackendStats:
    dtypes = {}
    for dtype in job.dtypes:
        why = job.backend.unsupported(dtype)
        if why is not None:
            dtypes[dtype] = DtypeStats(f"unsupported: {why}")
            continue
        rows = dtype_rows(job.backend, z, task, dtype, naive=job.full)
        naive = naive_stats(rows.naive, reference, offset) if rows.naive else {}
        dtypes[dtype] = DtypeStats("ok", _stable_stats(rows.stable, reference, scale, offset),
                                   naive)
    api = {}
    if job.full and task.labelled:
        for name, r in job.backend.api_losses(z, task).items():
            ok = np.isfinite(r.loss)
            capped = RowSet.from_mask(r.capped & ok, offset) if r.capped is not None else RowSet()
            api[name] = ApiStats(ExactSum.of(r.loss[ok]), RowSet.from_mask(~ok, offset), capped)
    return BackendStats(dtypes, api)


def _stable_stats(loss, reference, scale, offset) -> StableStats:
    ref_ok = np.isfinite(reference)
    ok = np.isfinite(loss)
    both = ref_ok & ok
    idx = np.flatnonzero(both)
    gap = np.abs(loss[idx] - reference[idx])
    worst = None
    if idx.size:
        rel = gap / scale[idx]
        i = int(np.argmax(rel))
        worst = Extreme(float(rel[i]), row_id(offset, int(idx[i])))
    return StableStats(ExactSum.of(loss[idx]), ExactSum.of(reference[idx]), ExactSum.of(gap),
                       ExactSum.of(scale[idx]), RowSet.from_mask(ref_ok & ~ok, offset), worst)


__all__ = ["PATHS", "BackendStats", "Job", "chunk_backend_stats", "tolerance"]
