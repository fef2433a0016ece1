"""Small statistics that merge associatively and commutatively, bit for bit.

Whatever the chunking, the thread count or the order in which chunks finish, merging
gives the same result: sums are kept exactly (as an integer multiple of 2**-1126, the
finest grain of a float64) and row lists are kept sorted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: How many row indices a row set keeps as evidence.
KEEP_ROWS = 10

# Every finite float64 is an integer multiple of 2**-1074 and frexp's mantissa, scaled to
# an integer, carries 53 more bits: so value * 2**_SCALE is always an integer.
_SCALE = 1126
_SPLIT = 26  # mantissas are split in two halves below 2**27 so float64 sums stay exact
_MAX_BATCH = 1 << _SPLIT  # that holds for up to 2**26 terms per bincount


def _compiled_kernel():
    from .kernel import _COMPILED  # the compiled kernel, if this run uses it

    return _COMPILED


_COMPILED = _compiled_kernel()


@dataclass(frozen=True)
class ExactSum:
    """An exact sum of float64 values; its value and means are correctly rounded."""

    scaled: int = 0  # the sum times 2**_SCALE
    count: int = 0

    @classmethod
    def of(cls, values: np.ndarray) -> ExactSum:
        values = np.ascontiguousarray(values, dtype=np.float64).ravel()
        if _COMPILED is not None:  # the same integer, in one pass
            scaled = _COMPILED.exact_sum(values)
            if scaled is None:
                raise ValueError("ExactSum takes finite values only")
            return cls(scaled, int(values.size))
        if not np.isfinite(values).all():
            raise ValueError("ExactSum takes finite values only")
        total = 0
        for start in range(0, values.size, _MAX_BATCH):
            total += _exact_int_sum(values[start : start + _MAX_BATCH])
        return cls(total, int(values.size))

    def merge(self, other: ExactSum) -> ExactSum:
        return ExactSum(self.scaled + other.scaled, self.count + other.count)

    @property
    def value(self) -> float:
        return self.scaled / (1 << _SCALE)  # int / int is correctly rounded in CPython

    @property
    def mean(self) -> float | None:
        return self.scaled / (self.count << _SCALE) if self.count else None


def _exact_int_sum(values: np.ndarray) -> int:
    if values.size == 0:
        return 0
    mantissa, exponent = np.frexp(values)
    ints = (mantissa * 2.0**53).astype(np.int64)  # exact: |mantissa| < 1
    shifts = exponent.astype(np.int64) + (_SCALE - 53)  # >= 0 for every float64
    hi = (ints >> _SPLIT).astype(np.float64)
    lo = (ints & ((1 << _SPLIT) - 1)).astype(np.float64)
    # bincount adds float64 weights; every partial sum is an integer below 2**53: exact.
    hi_sums = np.bincount(shifts, weights=hi)
    lo_sums = np.bincount(shifts, weights=lo)
    total = 0
    for shift in np.flatnonzero((hi_sums != 0) | (lo_sums != 0)):
        total += ((int(hi_sums[shift]) << _SPLIT) + int(lo_sums[shift])) << int(shift)
    return total


#: Where a block's rows sit in the input: the first row's number (rows are consecutive),
#: or each row's number (rows were dropped, e.g. labels equal to ignore_index).
RowIds = int | np.ndarray


def row_id(ids: RowIds, i: int) -> int:
    return ids + int(i) if isinstance(ids, int) else int(ids[i])


@dataclass(frozen=True)
class RowSet:
    """How many rows have a property, and the first KEEP_ROWS of them."""

    count: int = 0
    first: tuple[int, ...] = ()

    @classmethod
    def from_mask(cls, mask: np.ndarray, ids: RowIds) -> RowSet:
        rows = np.flatnonzero(mask)
        return cls(int(rows.size), tuple(row_id(ids, r) for r in rows[:KEEP_ROWS]))

    def merge(self, other: RowSet) -> RowSet:
        if not other.count or not self.count:  # most sets are empty: nothing to sort
            return self if other.count == 0 else other
        first = tuple(sorted(set(self.first) | set(other.first))[:KEEP_ROWS])
        return RowSet(self.count + other.count, first)

    def __bool__(self) -> bool:
        return self.count > 0


@dataclass(frozen=True)
class Extreme:
    """The largest (or smallest) value seen and the first row that holds it."""

    value: float
    row: int

    @classmethod
    def largest(cls, values: np.ndarray, ids: RowIds) -> Extreme | None:
        if values.size == 0:
            return None
        row = int(np.argmax(values))
        return cls(float(values[row]), row_id(ids, row))

    @classmethod
    def smallest(cls, values: np.ndarray, ids: RowIds) -> Extreme | None:
        if values.size == 0:
            return None
        row = int(np.argmin(values))
        return cls(float(values[row]), row_id(ids, row))


def merge_largest(a: Extreme | None, b: Extreme | None) -> Extreme | None:
    if a is None or b is None:
        return a or b
    return max(a, b, key=lambda e: (e.value, -e.row))


def merge_smallest(a: Extreme | None, b: Extreme | None) -> Extreme | None:
    if a is None or b is None:
        return a or b
    return min(a, b, key=lambda e: (e.value, e.row))


@dataclass(frozen=True)
class Histogram:
    """Integer counts over bin edges fixed before the first chunk: merging adds counts,
    so it is exact and independent of the chunking.

    counts[0] is below edges[0], counts[i] in [edges[i-1], edges[i]), counts[-1] at or
    above edges[-1]. The empty histogram (no edges) merges with any other.
    """

    edges: tuple[float, ...] = ()
    counts: tuple[int, ...] = ()

    @classmethod
    def of(cls, values: np.ndarray, edges: tuple[float, ...]) -> Histogram:
        values = np.ascontiguousarray(values, dtype=np.float64).ravel()
        if _COMPILED is not None:  # the same counts, without a sort's branches
            counts = np.zeros(len(edges) + 1, dtype=np.int64)
            _COMPILED.bin_counts(values, np.asarray(edges, dtype=np.float64), counts)
            return cls(edges, tuple(int(c) for c in counts))
        values = values[np.isfinite(values)]
        where = np.searchsorted(np.asarray(edges), values, side="right")
        counts = np.bincount(where, minlength=len(edges) + 1)
        return cls(edges, tuple(int(c) for c in counts))

    def merge(self, other: Histogram) -> Histogram:
        if not self.edges or not other.edges:
            return other if not self.edges else self
        if self.edges != other.edges:
            raise ValueError("histograms with different bin edges do not merge")
        return Histogram(self.edges, tuple(a + b for a, b in zip(self.counts, other.counts,
                                                                 strict=True)))

    @property
    def total(self) -> int:
        return sum(self.counts)


def log_edges(lo_exp: int, hi_exp: int, per_decade: int) -> tuple[float, ...]:
    """10**(k / per_decade) for k from lo_exp * per_decade to hi_exp * per_decade."""
    return tuple(10.0 ** (k / per_decade) for k in range(lo_exp * per_decade,
                                                         hi_exp * per_decade + 1))


#: How many rows the worst-rows and first-failures tables keep.
KEEP_TABLE_ROWS = 10


def _same_float(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or (a != a and b != b)  # NaN equals NaN here: the same row, the same value


@dataclass(frozen=True)
class RowValues:
    """One row's values as the report tables show them."""

    row: int
    target: int | None  # the label (class id); None where there is no single one
    p_y: float | None  # the probability of the target, exp(-stable loss); None if undefined
    loss: float  # the stable loss
    naive: tuple[tuple[str, str, float], ...] = ()  # (dtype, path, naive loss)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RowValues):
            return NotImplemented
        return (
            (self.row, self.target) == (other.row, other.target)
            and _same_float(self.p_y, other.p_y)
            and _same_float(self.loss, other.loss)
            and len(self.naive) == len(other.naive)
            and all(a[:2] == b[:2] and _same_float(a[2], b[2])
                    for a, b in zip(self.naive, other.naive, strict=True))
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class TopRows:
    """The KEEP_TABLE_ROWS rows with the largest loss; ties go to the lower row."""

    rows: tuple[RowValues, ...] = ()

    def merge(self, other: TopRows) -> TopRows:
        union = sorted(self.rows + other.rows, key=lambda r: (-r.loss, r.row))
        return TopRows(tuple(union[:KEEP_TABLE_ROWS]))


@dataclass(frozen=True)
class FirstRows:
    """The first KEEP_TABLE_ROWS rows with a property, with their values."""

    rows: tuple[RowValues, ...] = ()

    def merge(self, other: FirstRows) -> FirstRows:
        union = sorted(self.rows + other.rows, key=lambda r: r.row)
        return FirstRows(tuple(union[:KEEP_TABLE_ROWS]))
