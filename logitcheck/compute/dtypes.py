"""Facts about the floating-point formats a loss is computed in, bfloat16 included.

numpy has no bfloat16; it is emulated exactly: a bfloat16 is a float32 whose low 16 bits
are zero, so values are held in float32 arrays and rounded to nearest-even after every
operation, as frameworks do on the CPU (compute in float32, round the result).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FLOATS = ("float16", "bfloat16", "float32", "float64")


@dataclass(frozen=True)
class DtypeFacts:
    name: str
    bits: int
    max: float  # largest finite value
    tiny: float  # smallest normal value
    smallest_subnormal: float
    eps: float  # spacing at 1

    @property
    def overflow_at(self) -> float:
        """exp(z) is inf in this dtype for z a little above this (88.72 in float32)."""
        return math.log(self.max)

    @property
    def subnormal_range(self) -> float:
        """A probability exp(-r) is subnormal once a row's range r passes this (87.34)."""
        return -math.log(self.tiny)

    @property
    def zero_range(self) -> float:
        """... and rounds to exactly 0 once r passes this (103.97 in float32)."""
        return math.log(2.0) - math.log(self.smallest_subnormal)

    def spacing(self, x: float) -> float:
        """The distance between x and the next representable value away from 0."""
        x = abs(float(x))
        if x < self.tiny:
            return self.smallest_subnormal
        return 2.0 ** (math.floor(math.log2(x)) - (self.bits - 1)) if x else 0.0


def _numpy_facts(name: str) -> DtypeFacts:
    f = np.finfo(name)
    return DtypeFacts(
        name, int(f.nmant) + 1, float(f.max), float(f.smallest_normal),
        float(f.smallest_subnormal), float(f.eps),
    )


FACTS = {
    "float16": _numpy_facts("float16"),
    "float32": _numpy_facts("float32"),
    "float64": _numpy_facts("float64"),
    # 8 exponent bits like float32, 8 significant bits: max (2 - 2**-7) * 2**127
    "bfloat16": DtypeFacts("bfloat16", 8, (2 - 2**-7) * 2.0**127, 2.0**-126, 2.0**-133, 2.0**-7),
}


def facts(name: str) -> DtypeFacts:
    return FACTS[name]


def container(name: str) -> np.dtype:
    """The numpy dtype that holds values of `name` (float32 for bfloat16)."""
    return np.dtype(np.float32 if name == "bfloat16" else name)


def round_bfloat16(x: np.ndarray) -> np.ndarray:
    """Round float32 values to the nearest bfloat16 (ties to even), kept in float32."""
    x = np.asarray(x, dtype=np.float32)
    bits = x.view(np.uint32)
    # round to nearest even on bit 16; NaN stays NaN (its payload keeps a high bit set)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) & np.uint32(
        0xFFFF0000
    )
    out = rounded.view(np.float32)
    return np.where(np.isnan(x), x, out)


def cast(x: np.ndarray, name: str) -> np.ndarray:
    """x in dtype `name` (bfloat16: rounded, held in float32)."""
    if name == "bfloat16":
        with np.errstate(over="ignore"):
            return round_bfloat16(np.asarray(x).astype(np.float32))
    return np.asarray(x).astype(name, copy=False)


def finish(x: np.ndarray, name: str) -> np.ndarray:
    """Round the result of a float32 operation back to `name` (a no-op but for bfloat16)."""
    return round_bfloat16(x) if name == "bfloat16" else x
