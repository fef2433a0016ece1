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


@dataclass(frozen=True)
class ExactSum:
    """An exact sum of float64 values; its value and means are correctly rounded."""

    scaled: int = 0  # the sum times 2**_SCALE
    count: int = 0

    @classmethod
    def of(cls, values: np.ndarray) -> ExactSum:
        values = np.asarray(values, dtype=np.float64).ravel()
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
