"""The statistics of one analysis: Stats (everything the checks may read), its parts, the
Plan of a run, and their exact merge. Per-chunk code (numerics.py) fills them; nothing here
reads an array."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np

from .dtypes import FLOATS, facts
from .mergeable import (
    ExactSum,
    Extreme,
    FirstRows,
    Histogram,
    RowSet,
    TopRows,
    log_edges,
    merge_largest,
)

PATHS = ("softmax_then_log", "no_max_shift")


# Histogram bins, fixed before the first chunk so that counts merge by addition.
LOSS_EDGES = log_edges(-8, 3, 5)  # stable loss, 1e-8 .. 1e3, 5 bins a decade


LOGIT_EDGES = log_edges(-1, 4, 10)  # row max and row range, 0.1 .. 1e4: every dtype's limits


LOG_RATIO_EDGES = log_edges(-2, 3, 10)  # ln(row max / row min), 0.01 .. 1e3; e is at 1


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
