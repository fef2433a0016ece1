"""Per-chunk statistics of a (rows, classes) array, and their merge.

The stable loss is computed in float64 as scipy's log_softmax does, refined so that it is
accurate to a few ulp even for confident rows (log1p of the mass outside the max). The
two naive paths are reproduced in each dtype that matters:

    (a) "softmax then log":  -log(exp(z_y) / sum(exp(z)))
    (b) "no max shift":      log(sum(exp(z))) - z_y

A naive path *fails* on a row when it gives inf or NaN where the stable loss is finite;
the failure is an *overflow* when sum(exp(z)) is inf in that dtype (one exp, or their
sum, passed the dtype's max), and an *underflow* otherwise (p_y or the sum rounds to 0).

Without labels, the paths are evaluated at each row's least likely class: the naive
log-softmax of a row has a non-finite entry exactly when that one is non-finite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace

import numpy as np

from .dtypes import FLOATS, facts
from .frameworks import BINARY, SOFTMAX
from .frameworks import Rows as FrameworkRows
from .kernel import (
    CONSTANT,
    CORRECT,
    GAPS,
    LOSS_NONFINITE,
    LSE,
    RANGE,
    SATURATED,
    WORST,
    ZERO_LABEL,
    RowStats,
    dtype_bits,
    log_positive,
    row_buffers,
    row_stats,
    row_sums,
    softmax_rows,
)
from .losses import (
    Naive,
    derived_thresholds,
    holds,
    naive_sigmoid,
    naive_softmax,
    naive_softmax_derived,
    sigmoid_loss,
    softmax_loss,
)
from .mergeable import (
    KEEP_TABLE_ROWS,
    ExactSum,
    Extreme,
    FirstRows,
    Histogram,
    RowIds,
    RowSet,
    RowValues,
    TopRows,
    log_edges,
    merge_largest,
    row_id,
)

PATHS = ("softmax_then_log", "no_max_shift")
# Histogram bins, fixed before the first chunk so that counts merge by addition.
LOSS_EDGES = log_edges(-8, 3, 5)  # stable loss, 1e-8 .. 1e3, 5 bins a decade
LOGIT_EDGES = log_edges(-1, 4, 10)  # row max and row range, 0.1 .. 1e4: every dtype's limits
LOG_RATIO_EDGES = log_edges(-2, 3, 10)  # ln(row max / row min), 0.01 .. 1e3; e is at 1
_EPS64 = float(np.finfo(np.float64).eps)


def exp_overflow_threshold(dtype: str) -> float:
    """The smallest z with exp(z) = inf in `dtype` is just above this (88.72 in float32)."""
    return facts(dtype).overflow_at


def naive_dtypes(storage: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The storage dtype, every wider one (what a user may compute in), and `extra`
    (e.g. float16 or bfloat16 for mixed-precision training), narrowest first."""
    bits = facts(storage).bits
    wanted = {storage, *extra} | {d for d in FLOATS if facts(d).bits > bits}
    return tuple(d for d in FLOATS if d in wanted)


@dataclass(frozen=True)
class PathStats:
    failed: RowSet = RowSet()
    overflow: RowSet = RowSet()
    underflow: RowSet = RowSet()
    subnormal: RowSet = RowSet()  # finite, but p survived only as a subnormal
    max_rel_gap: Extreme | None = None  # |naive - stable| / stable, where both are finite

    def merge(self, other: PathStats) -> PathStats:
        return PathStats(
            self.failed.merge(other.failed),
            self.overflow.merge(other.overflow),
            self.underflow.merge(other.underflow),
            self.subnormal.merge(other.subnormal),
            merge_largest(self.max_rel_gap, other.max_rel_gap),
        )


@dataclass(frozen=True)
class Plan:
    """What to compute for every chunk of one input, fixed before the first chunk."""

    dtypes: tuple[str, ...]  # the naive paths are reproduced in each
    storage: str = "float64"
    # "ids": class ids (0/1 for a binary output); "dense": one-hot or soft rows (torch's
    # probability targets); "multilabel": independent 0/1 columns (BCE)
    targets: str = "ids"
    smoothing: float = 0.0  # label smoothing, as torch's F.cross_entropy(label_smoothing=)
    target_tolerance: float = 1e-6  # how far from 1 a soft target row may sum
    # the framework losses on probabilities (frameworks.py) are computed for every chunk
    # when the user's loss expects probabilities, and otherwise for chunks whose values all
    # lie in [0, 1] (probabilities or not, they are then what the frameworks would clip)
    frameworks: bool = False


@dataclass(frozen=True)
class ColumnSums:
    """Per-column sums in fixed point (2**-32): integer addition, so merging is exact."""

    ints: np.ndarray

    SCALE = float(2**32)

    @classmethod
    def of(cls, unit_values: np.ndarray) -> ColumnSums:
        return cls(np.rint(unit_values * cls.SCALE).astype(np.int64).sum(axis=0))

    def merge(self, other: ColumnSums) -> ColumnSums:
        return ColumnSums(self.ints + other.ints)

    @property
    def values(self) -> np.ndarray:
        return self.ints / self.SCALE

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ColumnSums) and np.array_equal(self.ints, other.ints)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class FrameworkStats:
    loss: ExactSum  # over rows where it is finite
    capped: RowSet  # rows where the framework's clip or clamp changed the loss

    def merge(self, other: FrameworkStats) -> FrameworkStats:
        return FrameworkStats(self.loss.merge(other.loss), self.capped.merge(other.capped))


@dataclass(frozen=True)
class LabelCounts:
    counts: np.ndarray  # int64, one per class

    def merge(self, other: LabelCounts) -> LabelCounts:
        return LabelCounts(self.counts + other.counts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelCounts) and np.array_equal(self.counts, other.counts)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class UnitEvidence:
    """Facts gathered while every value lies in [0, 1] (Stats.unit is None once one does not)."""

    near_zero: int  # values below 0.02: sigmoid outputs saturate, logits rarely do
    near_one: int  # values above 0.98
    column_sums: ColumnSums  # softmax over the wrong axis makes every one 1

    def merge(self, other: UnitEvidence) -> UnitEvidence:
        return UnitEvidence(
            self.near_zero + other.near_zero,
            self.near_one + other.near_one,
            self.column_sums.merge(other.column_sums),
        )


#: Stats.decimals when the values lie on no grid of 10**-k for k <= MAX_DECIMALS.
NOT_ROUNDED = 99
MAX_DECIMALS = 8
_SAMPLE = 4096  # values decimals() looks at before it scans a block
_SCAN_VALUES = 1 << 20  # values it converts to float64 at once when it does


@dataclass(frozen=True)
class Stats:
    """Everything the checks may read; merged over chunks, never holding raw arrays."""

    rows: int = 0  # rows analysed (labelled ignore_index rows are left out)
    classes: int = 0  # 1 for a binary (sigmoid) output
    labelled: bool = False
    ignored: int = 0  # rows whose label is ignore_index
    targets: str = "ids"  # see Plan.targets
    label_counts: LabelCounts | None = None  # how often each class is the label (positive)
    # health of the input values
    nan: RowSet = RowSet()
    posinf: RowSet = RowSet()
    neginf: RowSet = RowSet()
    nan_values: int = 0
    posinf_values: int = 0
    neginf_values: int = 0
    finite_min: float | None = None
    finite_max: float | None = None
    # the stable loss, as if the values were logits (at the label; without labels, at the
    # least likely class); a binary output z is the two logits (0, z)
    loss: ExactSum = ExactSum()  # over rows where it is finite
    nonfinite_loss: RowSet = RowSet()
    worst_loss: Extreme | None = None
    correct: int = 0  # argmax == label, among rows with a finite loss (multi-label: outputs)
    saturated: RowSet = RowSet()  # p_y rounds to 1 in the storage dtype: gradient 0
    soft_rows_off: RowSet = RowSet()  # dense target rows that do not sum to 1
    # dtype zones (softmax only)
    max_range: Extreme | None = None  # the largest row max - row min
    constant_rows: RowSet = RowSet()  # max == min: a dead output
    # evidence of what the values are
    row_sum_dev: Extreme | None = None  # max |sum(row) - 1| over rows with finite sums
    # (gathered while every value is in [0, 1]: only probabilities are told apart by it)
    lse_dev: Extreme | None = None  # max |logsumexp(row)|: 0 for log-probabilities
    log_ratio: Extreme | None = None  # max ln(row max / row min), rows with min > 0
    decimals: int = 0  # the coarsest 10**-k grid every value lies on (NOT_ROUNDED: none)
    unit: UnitEvidence | None = None
    # the loss each reading of the values gives (labelled only)
    loss_as_probabilities: ExactSum = ExactSum()  # -log(p_y), where p_y > 0
    zero_label_value: RowSet = RowSet()  # p_y == 0: -log(p_y) is inf
    loss_as_log_probabilities: ExactSum = ExactSum()  # -z_y (nll_loss)
    # the loss each framework reports on these values as probabilities (frameworks.py)
    frameworks: dict[str, FrameworkStats] = field(default_factory=dict)
    # -log(p_y) once a second softmax (binary: sigmoid) is undone; only while all values > 0
    loss_undone: ExactSum | None = None
    # naive paths: dtype -> path -> stats
    naive: dict[str, dict[str, PathStats]] = field(default_factory=dict)
    # for the report's pictures and tables (_report_part); all merge exactly
    loss_hist: Histogram = Histogram()  # the finite stable losses
    max_logit_hist: Histogram = Histogram()  # each row's max (softmax only)
    range_hist: Histogram = Histogram()  # each row's max - min (softmax only)
    log_ratio_hist: Histogram | None = None  # ln(max / min), while every value is > 0
    worst_rows: TopRows = TopRows()  # the largest finite stable losses
    naive_failure_rows: FirstRows = FirstRows()  # first rows a naive path fails on (storage)

    @property
    def binary(self) -> bool:
        return self.classes == 1

    @property
    def max_abs(self) -> float | None:
        if self.finite_min is None or self.finite_max is None:
            return None
        return max(abs(self.finite_min), abs(self.finite_max))

    @property
    def accuracy(self) -> float | None:
        if not self.labelled or not self.loss.count:
            return None
        outputs = self.classes if self.targets == "multilabel" else 1
        return self.correct / (self.loss.count * outputs)

    def merge(self, other: Stats) -> Stats:
        if self.rows == 0:
            return replace(other, ignored=other.ignored + self.ignored)
        if other.rows == 0:
            return replace(self, ignored=self.ignored + other.ignored)
        merged = {}
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if f.name in ("classes", "labelled", "targets"):
                merged[f.name] = a
            elif f.name == "finite_min":
                merged[f.name] = _merge_optional(min, a, b)
            elif f.name in ("finite_max", "decimals"):
                merged[f.name] = _merge_optional(max, a, b)
            elif f.name in ("worst_loss", "lse_dev", "max_range"):
                merged[f.name] = merge_largest(a, b)
            elif f.name == "row_sum_dev":  # kept while every value is in [0, 1], as unit
                merged[f.name] = merge_largest(a, b) if self.unit and other.unit else None
            elif f.name == "label_counts":
                merged[f.name] = a.merge(b) if a is not None else None
            elif f.name == "unit":  # None absorbs: one value outside [0, 1] settles it
                merged[f.name] = a.merge(b) if a is not None and b is not None else None
            elif f.name in ("log_ratio", "loss_undone", "log_ratio_hist"):  # all finite, > 0
                ok = all(x.finite_min is not None and x.finite_min > 0 and not (
                    x.nan or x.posinf or x.neginf) for x in (self, other))
                merged[f.name] = (merge_largest(a, b) if f.name == "log_ratio" else
                                  a.merge(b)) if ok and a and b else None
            elif f.name == "frameworks":  # {} absorbs: a chunk that did not compute them
                merged[f.name] = {k: a[k].merge(b[k]) for k in a} if a and b else {}
            elif f.name == "naive":
                merged[f.name] = {
                    d: {p: a[d][p].merge(b[d][p]) for p in a[d]} for d in a
                }
            elif isinstance(a, int):
                merged[f.name] = a + b
            else:
                merged[f.name] = a.merge(b)
        return Stats(**merged)


def _merge_optional(pick, a, b):
    if a is None or b is None:
        return b if a is None else a
    return pick(a, b)


def merge_all(parts) -> Stats:
    total = Stats()
    for part in parts:
        total = total.merge(part)
    return total


def chunk_stats(
    z: np.ndarray,
    labels: np.ndarray | None,
    offset: RowIds,
    plan: Plan,
) -> Stats:
    """Statistics of a block of rows; `offset` numbers them (see mergeable.RowIds).

    z is (n, classes), or (n,) / (n, 1) for a binary output, in its stored dtype. labels
    are class ids (n,), or (n, classes) rows for plan.targets "dense" and "multilabel".
    A softmax block is read once by kernel.row_stats; everything else follows from those
    per-row numbers (and, for rows near a dtype's limits, an exact simulation).
    """
    binary = z.ndim == 1 or z.shape[1] == 1
    sigmoid = binary or plan.targets == "multilabel"
    n = z.shape[0]
    z = np.asarray(z).reshape(n, -1)
    logits_with_ids = not sigmoid and labels_are_ids(plan, labels)
    if logits_with_ids and n and (z[0] < 0).any():
        # the first row says logits (a block of probabilities would be read twice): the
        # compiled stage computes the row statistics itself. None: a row it does not take,
        # which the compiled stage would not take from row_stats either
        fast = _softmax_compiled(z, None, labels, offset, plan)
        if fast is not None:
            return fast
        logits_with_ids = False
    # multi-label needs its row sums too; the argmin is the target of unlabelled rows
    rows = None if binary else row_stats(z, least_likely=labels is None)
    if rows is not None and logits_with_ids:
        lo, hi = rows.min.min(), rows.max.max()
        if np.isfinite(lo) and np.isfinite(hi) and lo < 0:
            # logits with class ids: the compiled per-row stage does the rest (None: a
            # block it does not take; the numpy code is the reference)
            fast = _softmax_compiled(z, rows, labels, offset, plan)
            if fast is not None:
                return fast
    # the numpy code holds several float64 copies of what it reads: it takes the block in
    # parts of NUMPY_BLOCK_BYTES (the statistics do not depend on how rows are split)
    step = max(1, NUMPY_BLOCK_BYTES // (8 * z.shape[1]))
    if n <= step:
        return _numpy_chunk_stats(z, labels, offset, plan, rows)
    parts = []
    for i in range(0, n, step):
        j = min(n, i + step)
        parts.append(_numpy_chunk_stats(
            z[i:j], None if labels is None else labels[i:j],
            offset + i if isinstance(offset, int) else offset[i:j], plan,
            None if rows is None else rows.part(i, j)))
    return merge_all(parts)


#: The float64 bytes of one block of the numpy code (chunk_stats splits larger ones).
NUMPY_BLOCK_BYTES = 8 * 1024 * 1024


def _numpy_chunk_stats(z: np.ndarray, labels: np.ndarray | None, offset: RowIds,
                       plan: Plan, rows: RowStats | None) -> Stats:
    """chunk_stats in numpy, from the block's row statistics (softmax)."""
    binary = z.shape[1] == 1
    sigmoid = binary or plan.targets == "multilabel"
    n = z.shape[0]
    if sigmoid:
        values = np.array(z, dtype=np.float64, order="C")
        lo, hi = values.min(), values.max()  # NaN if any NaN
    else:
        lo, hi = rows.min.min(), rows.max.max()  # NaN if any NaN (its row's are NaN)
    all_finite = bool(np.isfinite(lo) and np.isfinite(hi))
    if all_finite:
        health = {"finite_min": float(lo), "finite_max": float(hi)}
    else:
        health = _health(z, offset)
    positive = all_finite and lo > 0
    in_unit = bool(lo >= 0 and hi <= 1)
    # the smallest nonzero |value|, when every value is finite: it spares decimals() a scan
    min_abs = float(rows.min_abs.min()) if rows is not None and all_finite else None
    out = _value_evidence(z, rows, binary, offset, positive, in_unit, min_abs)
    out.update(health)
    if sigmoid:
        out.update(_sigmoid_part(z, values, labels, offset, plan, binary, positive))
    else:
        out.update(_softmax_part(z, rows, labels, offset, plan, positive, in_unit))
    loss = out.pop("_loss")
    extra = {k: out.pop(k) for k in [k for k in out if k.startswith("_")]}
    report_part = _report_part(loss, extra, offset, plan, labels is not None)
    finite_loss = np.isfinite(loss)
    # p_y rounds to 1 in the storage dtype: the gradient p - onehot(y) is 0 for the label
    saturated = finite_loss & (loss < facts(plan.storage).eps / 2)
    return Stats(
        rows=n,
        classes=1 if binary else z.shape[1],
        labelled=labels is not None,
        targets=plan.targets if labels is not None else "ids",
        loss=ExactSum.of(loss[finite_loss]),
        nonfinite_loss=RowSet.from_mask(~finite_loss, offset),
        worst_loss=_worst(loss, finite_loss, offset) if finite_loss.any() else None,
        saturated=RowSet.from_mask(saturated, offset) if labels is not None else RowSet(),
        **out,
        **report_part,
    )


def labels_are_ids(plan: Plan, labels) -> bool:
    """Hard class-id targets (or none), the values read as logits only."""
    return plan.targets == "ids" and not plan.smoothing and not plan.frameworks


def _softmax_compiled(z, r: RowStats | None, labels, offset, plan: Plan) -> Stats | None:
    """chunk_stats for a block of finite logits with a negative value (so neither
    probabilities nor log-ratios), from kernel.softmax_rows: the numpy code's Stats bit for
    bit (both take log and log1p from the kernel); None where the kernel declines or no
    value is negative. r None: the kernel computes the row statistics itself."""
    with row_buffers(z.shape[0]) as buffers:  # the Stats keep no view of them
        return _softmax_compiled_into(z, r, labels, offset, plan, buffers)


def _softmax_compiled_into(z, r: RowStats | None, labels, offset, plan: Plan,
                           buffers) -> Stats | None:
    n, c = z.shape
    labelled = labels is not None
    target = np.asarray(labels, dtype=np.intp) if labelled else None
    derived = [d for d in plan.dtypes if holds(plan.storage, d)]
    out = softmax_rows(z, r, target, facts(plan.storage).eps / 2,
                       [(d, *derived_thresholds(d, c)) for d in derived],
                       LOSS_EDGES, LOGIT_EDGES, buffers)
    if out is None:
        return None
    # the block's extremes (every value finite: the kernel declines other rows)
    lo, hi, min_abs = out.agg if r is None else (
        float(r.min.min()), float(r.max.max()), float(r.min_abs.min()))
    if not lo < 0:
        return None
    health = {"finite_min": lo, "finite_max": hi}
    if target is None:
        target = r.amin if r is not None else out.amin
    loss, flags = out.loss, out.flags

    def rows_with(bits: int, want: int | None = None, maybe: bool = True) -> RowSet:
        if not maybe:
            return RowSet()
        hit = flags & bits
        return RowSet.from_mask(hit == (bits if want is None else want), offset)

    def extreme(slot: int) -> Extreme | None:
        got = out.extreme(slot)
        return None if got is None else Extreme(got[0], row_id(offset, got[1]))

    def path(fail: int, over: int, gap: Extreme | None, subnormal: int | None,
             extra: bool) -> PathStats:
        """A path's stats from its flag bits (`extra`: simulated rows set some too)."""
        maybe = extra or out.count(fail) > 0
        return PathStats(
            failed=rows_with(fail, maybe=maybe),
            overflow=rows_with(fail | over, maybe=maybe),
            underflow=rows_with(fail | over, fail, maybe=maybe),
            subnormal=RowSet() if subnormal is None else rows_with(
                subnormal, maybe=extra or out.count(subnormal) > 0),
            max_rel_gap=gap,
        )

    naive: dict[str, dict[str, PathStats]] = {}
    for d in plan.dtypes:
        if d not in derived:  # the cast moves values: simulated on every row
            naive[d] = naive_stats(naive_softmax(z, d, target), loss, offset)
            continue
        k = derived.index(d)
        near, fail_a, fail_b, over, sub = dtype_bits(k)
        gaps = [extreme(GAPS + 2 * k), extreme(GAPS + 2 * k + 1)]
        near_rows = np.flatnonzero(flags & near) if out.count(near) else None
        if near_rows is not None:  # simulated; their flags and gaps join the others
            ex = naive_softmax(z[near_rows], d, target[near_rows])
            ok_loss = np.isfinite(loss[near_rows])
            a_ok, b_ok = (np.isfinite(ex.losses[p]) for p in PATHS)
            bits = (np.where(ok_loss & ~a_ok, fail_a, 0) | np.where(ok_loss & ~b_ok, fail_b, 0)
                    | np.where(ex.overflowed[PATHS[0]], over, 0)
                    | np.where(a_ok & ex.subnormal, sub, 0))
            flags[near_rows] |= bits.astype(np.uint32)
            ids = near_rows + offset if isinstance(offset, int) else offset[near_rows]
            sim = naive_stats(ex, loss[near_rows], ids)
            gaps = [merge_largest(g, sim[p].max_rel_gap)
                    for g, p in zip(gaps, PATHS, strict=True)]
        extra = near_rows is not None
        naive[d] = {PATHS[0]: path(fail_a, over, gaps[0], sub, extra),
                    PATHS[1]: path(fail_b, over, gaps[1], None, extra)}

    k = derived.index(plan.storage)
    fails = dtype_bits(k)[1] | dtype_bits(k)[2]
    first = np.flatnonzero(flags & fails)[:KEEP_TABLE_ROWS].tolist() if any(
        naive[plan.storage][p].failed for p in PATHS) else []

    fields: dict = {}
    if labelled:
        fields.update(
            frameworks={},
            loss_as_probabilities=ExactSum(out.sums[1], out.counted[1]),
            zero_label_value=rows_with(ZERO_LABEL, maybe=out.count(ZERO_LABEL) > 0),
            loss_as_log_probabilities=ExactSum(out.sums[2], out.counted[2]),
            label_counts=LabelCounts(out.label_counts),
            correct=out.count(CORRECT),
            saturated=rows_with(SATURATED, maybe=out.count(SATURATED) > 0),
        )
    worst = out.worst if labelled else []
    return Stats(
        rows=n,
        classes=c,
        labelled=labelled,
        targets=plan.targets if labelled else "ids",
        loss=ExactSum(out.sums[0], out.counted[0]),
        nonfinite_loss=rows_with(LOSS_NONFINITE, maybe=out.count(LOSS_NONFINITE) > 0),
        worst_loss=extreme(WORST),
        max_range=extreme(RANGE),
        constant_rows=rows_with(CONSTANT, maybe=out.count(CONSTANT) > 0),
        lse_dev=extreme(LSE),
        decimals=decimals(z, z.dtype, min_abs),
        naive=naive,
        loss_hist=Histogram(LOSS_EDGES, tuple(out.loss_counts.tolist())),
        max_logit_hist=Histogram(LOGIT_EDGES, tuple(out.max_counts.tolist())),
        range_hist=Histogram(LOGIT_EDGES, tuple(out.range_counts.tolist())),
        **health,
        **fields,
        **_tables(worst, first, loss, target, True, None, offset),
    )


def _softmax_part(z, r: RowStats, labels, offset, plan: Plan, positive: bool,
                  in_unit: bool) -> dict:
    """Softmax cross-entropy: stable loss, readings of the values, naive paths."""
    n, c = z.shape
    rows = np.arange(n)
    out: dict = {}
    dense = None
    if labels is not None and plan.targets == "dense":
        dense = np.asarray(labels, dtype=np.float64)
        target = dense.argmax(axis=1)
        off = np.abs(dense.sum(axis=1) - 1.0) > plan.target_tolerance
        out["soft_rows_off"] = RowSet.from_mask(off, offset)
    elif labels is not None:
        target = np.asarray(labels, dtype=np.intp)
    if labels is not None and plan.smoothing:
        if dense is None:
            dense = np.zeros((n, c))
            dense[rows, target] = 1.0
        dense = (1.0 - plan.smoothing) * dense + plan.smoothing / c
    if labels is None:
        target = r.amin  # the least likely class: where naive paths break first

    top, zmax = r.top, r.max  # top: the first NaN, if any: the row's max is then NaN
    z_target = np.asarray(z[rows, target], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        span = zmax - r.min
    out["max_range"] = _largest_finite(span, offset)
    out["constant_rows"] = RowSet.from_mask(span == 0, offset)
    if labels is not None:
        out.update(_readings(z, r, False, target, z_target, offset, positive, plan.storage,
                             plan.frameworks or in_unit))
        out["label_counts"] = LabelCounts(np.bincount(target, minlength=c))
    loss, lse = softmax_loss(z, r, target, dense)
    if labels is not None:
        out["correct"] = int(np.count_nonzero((top == target) & np.isfinite(loss)))
    out["lse_dev"] = _largest_finite(np.abs(lse), offset)
    if dense is None:
        naive = {d: naive_softmax_derived(z, r, lse, loss, target, d, plan.storage)
                 for d in plan.dtypes}
    else:  # dense targets weigh every class: simulated
        naive = {d: naive_softmax(z, d, target, dense) for d in plan.dtypes}
    out["naive"] = {d: naive_stats(naive[d], loss, offset) for d in plan.dtypes}
    out["_loss"] = loss
    # for _report_part: p_y = exp(-loss) only for a single hard target
    hard = labels is None or (plan.targets == "ids" and not plan.smoothing)

    # the tables' naive losses are simulated once, for the rows that make the final
    # tables (fill_table_cells): not for every chunk's candidates
    out.update(_naive=naive, _exact=None, _target=target, _hard=hard, _zmax=zmax,
               _span=span)
    if positive:  # the same ratio as _value_evidence's log_ratio
        out["_log_ratio"] = np.log(zmax) - np.log(r.min)
    return out


def _sigmoid_part(z, values, labels, offset, plan: Plan, binary: bool, positive: bool) -> dict:
    """Sigmoid binary cross-entropy (a binary output, or independent multi-label columns)."""
    out: dict = {}
    if labels is None:
        # the worse label of each output: where the naive paths break first
        targets = (values < 0).astype(np.float64)
    else:
        targets = np.asarray(labels, dtype=np.float64).reshape(values.shape)
    loss = sigmoid_loss(values, targets)
    if labels is not None:
        hit = ((values > 0) == (targets > 0.5)) & np.isfinite(loss)[:, None]
        out["correct"] = int(np.count_nonzero(hit))  # outputs, not rows, for multi-label
        counts = targets.sum(axis=0) if not binary else np.bincount(
            targets[:, 0].astype(np.intp), minlength=2)
        out["label_counts"] = LabelCounts(counts.astype(np.int64))
        if binary:
            target = targets[:, 0].astype(np.intp)
            out.update(_readings(values, None, True, target, None, offset, positive,
                                 plan.storage))
        elif positive:
            out.update(_multilabel_as_probabilities(values, targets, offset))
    naive = {d: naive_sigmoid(z, d, targets) for d in plan.dtypes}
    out["naive"] = {d: naive_stats(naive[d], loss, offset) for d in plan.dtypes}
    out["_loss"] = loss
    target = targets[:, 0].astype(np.intp) if binary else None  # multi-label: no single one

    def exact(idx: np.ndarray) -> dict[str, Naive]:
        return {d: Naive({p: v[idx] for p, v in nv.losses.items()}, {}, nv.subnormal[idx])
                for d, nv in naive.items()}

    out.update(_naive=naive, _exact=exact, _target=target, _hard=binary)
    if positive and not binary:
        out["_log_ratio"] = np.log(values.max(axis=1)) - np.log(values.min(axis=1))
    return out


def _multilabel_as_probabilities(values, targets, offset: RowIds) -> dict:
    """Each row's binary cross-entropy with its values read as sigmoid probabilities
    (torch's BCELoss without its clamp), where every value of the row lies in [0, 1]."""
    p = np.asarray(values, dtype=np.float64)
    inside = ((p >= 0) & (p <= 1)).all(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        bce = -np.where(targets > 0.5, np.log(p), np.log1p(-p)).mean(axis=1)
    ok = inside & np.isfinite(bce)
    return {"loss_as_probabilities": ExactSum.of(bce[ok]),
            "zero_label_value": RowSet.from_mask(inside & ~ok, offset)}


def _report_part(loss, extra: dict, offset: RowIds, plan: Plan, labelled: bool) -> dict:
    """What the report draws and tabulates: histograms over fixed bins, the worst rows by
    stable loss, and the first rows whose naive path fails in the storage dtype."""
    finite = np.isfinite(loss)
    out: dict = {"loss_hist": Histogram.of(loss[finite], LOSS_EDGES)}
    if "_zmax" in extra:
        out["max_logit_hist"] = Histogram.of(extra["_zmax"], LOGIT_EDGES)
        out["range_hist"] = Histogram.of(extra["_span"], LOGIT_EDGES)
    if "_log_ratio" in extra:  # every value > 0
        out["log_ratio_hist"] = Histogram.of(extra["_log_ratio"], LOG_RATIO_EDGES)
    naive, target, hard = extra["_naive"], extra["_target"], extra["_hard"]
    worst = _top_k(loss, finite) if labelled and finite.any() else []
    storage = naive.get(plan.storage)
    first: list[int] | None = None
    if storage is not None:
        failed = finite & ~np.logical_and.reduce([np.isfinite(storage.losses[p]) for p in PATHS])
        first = np.flatnonzero(failed)[:KEEP_TABLE_ROWS].tolist()
    out.update(_tables(worst, first, loss, target, hard, extra["_exact"], offset))
    return out


def _tables(worst: list[int], first: list[int] | None, loss, target, hard: bool, exact,
            offset: RowIds) -> dict:
    """The worst rows and the first rows whose naive path fails in the storage dtype (None:
    not computed), with every naive loss of theirs from exact(rows) (None: left for
    fill_table_cells)."""
    out: dict = {}
    picked = sorted(set(worst) | set(first or ()))
    losses = exact(np.asarray(picked, dtype=np.intp)) if picked and exact else {}
    where = {row: k for k, row in enumerate(picked)}

    def row_values(i: int) -> RowValues:
        k = where[i]
        cells = tuple((d, p, float(losses[d].losses[p][k])) for d in losses for p in PATHS)
        return RowValues(
            row_id(offset, i),
            None if target is None else int(target[i]),
            float(np.exp(-loss[i])) if hard and np.isfinite(loss[i]) else None,
            float(loss[i]),
            cells,
        )

    if worst:
        out["worst_rows"] = TopRows(tuple(row_values(i) for i in worst))
    if first is not None:
        out["naive_failure_rows"] = FirstRows(tuple(row_values(i) for i in first))
    return out


def fill_table_cells(stats: Stats, plan: Plan,
                     read: Callable[[list[int]], tuple[np.ndarray, np.ndarray | None]]
                     ) -> Stats:
    """The merged Stats with the naive losses of its table rows (worst rows, first naive
    failures) simulated: softmax chunks leave them out, since only the rows that make the
    final tables need them. read(rows) gives those rows' values (as stored) and labels."""
    if stats.rows == 0 or stats.binary or stats.targets == "multilabel":
        return stats  # sigmoid tables are filled in their chunks, from arrays at hand
    tables = (stats.worst_rows, stats.naive_failure_rows)
    rows = sorted({r.row for t in tables for r in t.rows if not r.naive})
    if not rows:
        return stats
    z, labels = read(rows)
    target = np.asarray([next(r.target for t in tables for r in t.rows if r.row == i)
                         for i in rows], dtype=np.intp)
    dense = None
    if labels is not None and plan.targets == "dense":
        dense = np.asarray(labels, dtype=np.float64)
    if labels is not None and plan.smoothing:
        c = z.shape[1]
        if dense is None:
            dense = np.zeros((len(rows), c))
            dense[np.arange(len(rows)), target] = 1.0
        dense = (1.0 - plan.smoothing) * dense + plan.smoothing / c
    sims = {d: naive_softmax(z, d, target, dense) for d in plan.dtypes}
    at = {row: k for k, row in enumerate(rows)}

    def filled(r: RowValues) -> RowValues:
        if r.naive:
            return r
        k = at[r.row]
        return replace(r, naive=tuple((d, p, float(sims[d].losses[p][k]))
                                      for d in plan.dtypes for p in PATHS))

    return replace(stats, worst_rows=TopRows(tuple(map(filled, stats.worst_rows.rows))),
                   naive_failure_rows=FirstRows(tuple(map(filled,
                                                          stats.naive_failure_rows.rows))))


def _top_k(loss: np.ndarray, finite: np.ndarray) -> list[int]:
    """Indices of the KEEP_TABLE_ROWS largest finite losses, ties to the lower index."""
    masked = np.where(finite, loss, -np.inf)
    k = min(KEEP_TABLE_ROWS, int(finite.sum()))
    cut = np.partition(masked, masked.size - k)[masked.size - k]  # the k-th largest
    above = np.flatnonzero(masked > cut)
    ties = np.flatnonzero(masked == cut)[: k - above.size]
    picked = np.concatenate([above, ties])
    return sorted(picked.tolist(), key=lambda i: (-masked[i], i))


def _largest_finite(values: np.ndarray, offset: RowIds) -> Extreme | None:
    ok = np.isfinite(values)
    if not ok.any():
        return None
    return Extreme.largest(np.where(ok, values, -np.inf), offset)


def _value_evidence(z, r: RowStats | None, binary, offset, positive, in_unit,
                    min_abs: float | None) -> dict:
    """What the values look like: row sums, log-ratios, [0, 1] facts, rounding."""
    out: dict = {"decimals": decimals(z, z.dtype, min_abs)}
    if in_unit:  # probabilities: these passes are worth their cost
        values = np.asarray(z, dtype=np.float64)
        out["unit"] = UnitEvidence(
            int(np.count_nonzero(values < 0.02)),
            int(np.count_nonzero(values > 0.98)),
            ColumnSums.of(values),
        )
    if binary:
        return out
    assert r is not None
    if in_unit:  # row sums tell probabilities apart; no other values need them
        with np.errstate(invalid="ignore", over="ignore"):
            out["row_sum_dev"] = _largest_finite(np.abs(row_sums(z)[0] - 1.0), offset)
    if positive:  # all finite and > 0: what softmax output always is
        out["log_ratio"] = Extreme.largest(np.log(r.max) - np.log(r.min), offset)
    return out


def decimals(values: np.ndarray, dtype: np.dtype, min_abs: float | None = None) -> int:
    """The smallest k <= MAX_DECIMALS with every finite value on the 10**-k grid.

    A CSV written with k decimals sums to 1 only within about C * 0.5 * 10**-k, so this
    sets tolerances. A sample proposes k; the whole block confirms it (grids nest). A value
    whose slack (2 eps |v| 10**k) reaches 0.5 is on the grid whatever it is: with
    `min_abs`, the smallest nonzero |value| of an all-finite block, only the values below
    that size are looked at (float32 logits pass k = 7 or 8 on their own size alone).
    """
    eps = float(np.finfo(dtype).eps)
    if eps > 1e-6:
        return NOT_ROUNDED  # float16 is too coarse to tell a decimal grid from its own
    values = np.asarray(values)

    def finite(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64).ravel()
        return v[np.isfinite(v)]

    def on_grid(v: np.ndarray, k: int) -> bool:
        scaled = v * 10.0**k
        slack = 1e-9 + np.abs(scaled) * 2 * eps
        return bool((np.abs(scaled - np.rint(scaled)) <= slack).all())

    # the first 4096 finite values: random logits hold enough small ones that one of them
    # is off every grid, so the block is scanned only when the values look rounded
    per_row = max(1, values[0].size) if values.ndim > 1 else 1
    sample = finite(values[: -(-_SAMPLE // per_row)])
    if sample.size < _SAMPLE:
        sample = finite(values)
    sample = sample[:_SAMPLE]
    if sample.size == 0:
        return 0
    k = next((k for k in range(MAX_DECIMALS + 1) if on_grid(sample, k)), NOT_ROUNDED)
    if k > MAX_DECIMALS:
        return NOT_ROUNDED  # no grid for the sample: none for the block (logits)
    def block_on_grid(k: int) -> bool:
        sure = 0.5 / (2 * eps * 10.0**k) * (1 + 1e-9)  # |v| at or above this is on the grid
        if min_abs is not None and min_abs >= sure:
            return True
        # a slice at a time: a whole chunk in float64 would be several times its size
        rows = values.reshape(values.shape[0], -1) if values.ndim > 1 else values.reshape(-1, 1)
        step = max(1, _SCAN_VALUES // max(1, rows.shape[1]))
        for start in range(0, rows.shape[0], step):
            flat = finite(rows[start:start + step])
            if not on_grid(flat[np.abs(flat) < sure], k):
                return False
        return True

    while k <= MAX_DECIMALS and not block_on_grid(k):
        k += 1
    return k if k <= MAX_DECIMALS else NOT_ROUNDED


def _readings(values, r: RowStats | None, binary, target, z_target, offset, positive,
              storage, frameworks: bool = True) -> dict:
    """The loss each reading of the values gives: as probabilities, as log-probabilities,
    as each framework computes it on probabilities (frameworks.py), and after undoing a
    second softmax (binary: a second sigmoid). `values` is the block as stored (binary:
    float64), `r` its row statistics (softmax)."""
    if binary:
        p = values[:, 0]
        p_y = np.where(target == 1, p, 1.0 - p)
        lp_y = np.full(p.shape, np.nan)
    else:
        p_y = z_target
        lp_y = z_target
    usable = (p_y > 0) & np.isfinite(p_y)
    ok_lp = np.isfinite(lp_y)
    out: dict = {"frameworks": {}}
    with np.errstate(all="ignore"):  # NaN rows give NaN losses; they are left out below
        if not frameworks:
            emulations, given = {}, None
        elif binary:
            emulations, given = BINARY, values
        else:
            emulations, given = SOFTMAX, FrameworkRows(p_y, *row_sums(values))
        for name, emulate in emulations.items():
            loss, capped = emulate(given, target, storage)
            ok = np.isfinite(loss)
            out["frameworks"][name] = FrameworkStats(
                ExactSum.of(loss[ok]), RowSet.from_mask(capped & ok, offset)
            )
    if positive:
        with np.errstate(divide="ignore", invalid="ignore"):
            if binary:  # p = logit(q): the probability before the second sigmoid
                first = np.log(p / (1.0 - p))
                first_y = np.where(target == 1, first, 1.0 - first)
            else:  # q = softmax(p), sum(p) = 1  =>  p = ln q + (1 - sum(ln q)) / C
                c = values.shape[1]
                log_sum = np.log(np.asarray(values, dtype=np.float64)).sum(axis=1)
                first_y = np.log(p_y) + (1.0 - log_sum) / c
            ok = (first_y > 0) & (first_y <= 1)
        out["loss_undone"] = ExactSum.of(-np.log(first_y[ok]))
    return out | {
        "loss_as_probabilities": ExactSum.of(-log_positive(p_y[usable])),
        "zero_label_value": RowSet.from_mask(p_y == 0, offset),
        "loss_as_log_probabilities": ExactSum.of(-lp_y[ok_lp]),
    }


def _worst(loss: np.ndarray, finite: np.ndarray, offset: RowIds) -> Extreme:
    masked = np.where(finite, loss, -np.inf)
    row = int(np.argmax(masked))
    return Extreme(float(loss[row]), row_id(offset, row))


def _health(zf: np.ndarray, offset: RowIds) -> dict:
    nan, posinf, neginf = np.isnan(zf), np.isposinf(zf), np.isneginf(zf)
    finite = ~(nan | posinf | neginf)
    out: dict = {
        "nan": RowSet.from_mask(nan.any(axis=1), offset),
        "posinf": RowSet.from_mask(posinf.any(axis=1), offset),
        "neginf": RowSet.from_mask(neginf.any(axis=1), offset),
        "nan_values": int(nan.sum()),
        "posinf_values": int(posinf.sum()),
        "neginf_values": int(neginf.sum()),
        "finite_min": None,
        "finite_max": None,
    }
    if finite.any():
        out["finite_min"] = float(zf[finite].min())
        out["finite_max"] = float(zf[finite].max())
    return out


def stable_loss(z: np.ndarray, target: np.ndarray) -> np.ndarray:
    """-log_softmax(z)[row, target[row]] for each row, in float64."""
    z = np.asarray(z)
    return softmax_loss(z, row_stats(z), np.asarray(target, dtype=np.intp))[0]


def naive_stats(
    naive: Naive, stable: np.ndarray, offset: RowIds, floor: float = _EPS64
) -> dict[str, PathStats]:
    """Failure accounting of each naive path against the stable loss. The gap is relative
    to |stable|, and absolute where |stable| is below `floor` (eps for cross-entropy, which
    is >= 0; 1 for a Gaussian NLL, which crosses 0)."""
    stable_ok = np.isfinite(stable)
    out = {}
    for path, loss in naive.losses.items():
        naive_ok = np.isfinite(loss)
        failed = stable_ok & ~naive_ok
        both = np.flatnonzero(stable_ok & naive_ok)
        gap = np.abs(loss[both] - stable[both]) / np.maximum(np.abs(stable[both]), floor)
        worst = None
        if gap.size:
            i = int(np.argmax(gap))
            worst = Extreme(float(gap[i]), row_id(offset, both[i]))
        overflowed = naive.overflowed[path]
        out[path] = PathStats(
            failed=RowSet.from_mask(failed, offset),
            overflow=RowSet.from_mask(failed & overflowed, offset),
            underflow=RowSet.from_mask(failed & ~overflowed, offset),
            # only the probabilities of "softmax then log" can be subnormal
            subnormal=RowSet.from_mask(naive_ok & naive.subnormal, offset)
            if path == "softmax_then_log" else RowSet(),
            max_rel_gap=worst,
        )
    return out
