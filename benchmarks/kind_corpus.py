"""A labelled corpus for logitcheck's kind inference: what does an array hold?

Builds, deterministically from one seed, arrays whose true kind is known, saves each to
.npy in a temporary directory, runs ``logitcheck.analyze`` on it and compares
``report.kind.name`` with the truth. Kinds and how they are made (z: "trained-looking"
logits, ``normal(0, s)`` plus a margin of U(1, 6) at the label, divided by a temperature
T in {0.25, 0.5, 1, 2, 4}, plus a constant offset in {0, 0, +5, -5, +30}):

- ``logits``: z; and z with a small spread mapped affinely onto [0.05, 0.95] (C >= 3,
  rows not summing to 1): healthy logits that happen to lie in [0, 1].
- ``probabilities``: softmax(z); and, for C <= 100, softmax(z) rounded to 3, 4 or 6
  decimals as a CSV export would (float64 or float32).
- ``log_probabilities``: log_softmax(z).
- ``double_softmax``: softmax(softmax(z)).
- ``sigmoid_probabilities``: independent (multi-label) sigmoids of normal(-2, 2.5) / T.
- ``double_sigmoid``: sigmoid of those sigmoids: every value in [0.5, sigmoid(1)].
- ``softmax_wrong_axis``: softmax(z, axis=0): columns sum to 1, rows do not.
- ``binary_logits``, ``binary_probabilities``: one score per row, (N,) or (N, 1).

C is drawn from {2, ..., 50000} and N from {1, ..., 4000}, with N capped so that
N * C <= 2e6; dtypes are float16, float32 and float64 (float16 cases whose values pass
60000 are skipped); about half the cases pass an int64 labels file.

A case is skipped, not kept, when its values alone cannot tell its kind from another
kind in the corpus, because then no inference could be right on both. The skip reasons
(counted and printed per family):

- probabilities whose every row has max/min <= e (1% margin for storage rounding): a
  double softmax has max/min = exp(p_max - p_min) <= e in every row, so such an array is
  also a plausible double softmax;
- sigmoid outputs all in [0.5, sigmoid(1)] (a double sigmoid's range), sigmoid outputs
  that do not saturate (under 1 % of values below 0.02 or above 0.98: saturation is the
  only signature sigmoids have, and without it they look exactly like the in-[0, 1]
  logits family), or whose rows (or columns) all sum to 1 within 0.05 (probabilities, or
  a softmax over axis 0); this skips most T = 2 and T = 4 sigmoid cases;
- logits whose values all lie in [0, 1] (they could be sigmoid outputs) or whose every
  row has logsumexp within 0.05 of 0 (log-probabilities by definition);
- any other array whose rows (or columns) all sum to 1 within 0.05 when its kind says
  they should not (0.05 is the slack that CSV rounding needs, so inference must allow it);
- binary logits all in [0, 1], binary probabilities all in [0.5, sigmoid(1)];
- rounding that turns a whole row into zeros.

Run it from the repository root::

    python benchmarks/kind_corpus.py [--quick] [--markdown benchmarks/kind_corpus.md]

``--quick`` keeps the first tenth of each family (about 150 cases, the same cases a full
run starts with); ``--check-generation`` verifies each generated array's defining
property (row sums, ranges, ratios) without running logitcheck. Exit status: 0 when
overall accuracy is at least 99.5% and no healthy logits array got an LC2xx error, else 1.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from logitcheck import LogitcheckError, Settings, analyze
from logitcheck.inference import KINDS  # the vocabulary; the truth comes from how a case is made

DEFAULT_SEED = 20240601
MAX_ELEMENTS = 2_000_000
C_CHOICES = (2, 3, 5, 10, 20, 100, 1000, 10000, 50000)
N_CHOICES = (1, 7, 64, 500, 4000)
TEMPERATURES = (0.25, 0.5, 1.0, 2.0, 4.0)
OFFSETS = (0.0, 0.0, 5.0, -5.0, 30.0)
DTYPES = ("float16", "float32", "float64")
FLOAT16_LIMIT = 60000.0
GUARD_TOL = 0.05  # row/column-sum slack: CSV rounding to 3 decimals at C = 100 needs it
RATIO_MARGIN = 0.01  # above e by more than float16 storage rounding can move a ratio
SIGMOID_1 = 1.0 / (1.0 + math.exp(-1.0))  # 0.7311: the largest double-sigmoid value
TARGET_ACCURACY = 0.995
QUICK_FRACTION = 0.1



class Skip(Exception):
    """A drawn case that is out of range or ambiguous; the message is the reason."""


@dataclass(frozen=True)
class Case:
    index: int
    kind: str
    family: str
    n: int
    c: int
    shape: tuple[int, ...]
    dtype: str
    temperature: float | None
    offset: float | None
    rounding: int | None
    labelled: bool


@dataclass
class Draft:
    """What a family generator makes: stored values, labels and the recipe's knobs."""

    values: np.ndarray
    labels: np.ndarray
    temperature: float | None = None
    offset: float | None = None
    rounding: int | None = None


@dataclass
class Outcome:
    case: Case
    got: str | None  # None: analyze raised LogitcheckError
    evidence: dict[str, Any] = field(default_factory=dict)
    lc2_errors: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def correct(self) -> bool:
        return self.got == self.case.kind


# --- numerics (float64 throughout; the cast to the storage dtype comes last) --------------


def softmax(z: np.ndarray, axis: int = 1) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(z: np.ndarray) -> np.ndarray:
    m = z.max(axis=1, keepdims=True)
    return z - (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))


def sigmoid(x: np.ndarray) -> np.ndarray:
    # exp(-log(1 + e^-x)) keeps tiny outputs accurate where 1 / (1 + e^-x) overflows
    return np.exp(-np.logaddexp(0.0, -x))


def cast(values: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "float16" and np.abs(values).max() > FLOAT16_LIMIT:
        raise Skip("float16 range")
    return values.astype(dtype)


# --- generators ---------------------------------------------------------------------------


def draw_shape(
    rng: np.random.Generator, cs: tuple[int, ...] = C_CHOICES, ns: tuple[int, ...] = N_CHOICES
) -> tuple[int, int]:
    c = int(rng.choice(cs))
    n = max(1, min(int(rng.choice(ns)), MAX_ELEMENTS // c))
    return n, c


@dataclass(frozen=True)
class Base:
    z: np.ndarray  # float64 logits: temperature and offset applied
    y: np.ndarray
    temperature: float
    offset: float


def draw_base(rng: np.random.Generator, n: int, c: int, spread: float | None = None) -> Base:
    s = rng.uniform(0.5, 3.0) if spread is None else spread
    z = rng.normal(0.0, s, (n, c))
    y = rng.integers(0, c, n)
    z[np.arange(n), y] += rng.uniform(1.0, 6.0)
    t = float(rng.choice(TEMPERATURES))
    offset = float(rng.choice(OFFSETS))
    return Base(z / t + offset, y, t, offset)


def draw_dtype(rng: np.random.Generator, dtypes: tuple[str, ...] = DTYPES) -> str:
    return str(rng.choice(dtypes))


def make_logits(rng: np.random.Generator) -> Draft:
    n, c = draw_shape(rng)
    b = draw_base(rng, n, c)
    return Draft(cast(b.z, draw_dtype(rng)), b.y, b.temperature, b.offset)


def make_unit_logits(rng: np.random.Generator) -> Draft:
    n, c = draw_shape(rng, tuple(c for c in C_CHOICES if c >= 3))
    b = draw_base(rng, n, c, spread=rng.uniform(0.1, 0.5))
    lo, hi = b.z.min(), b.z.max()
    # the map rescales, so the drawn temperature and offset no longer describe the values
    return Draft(cast(0.05 + 0.9 * (b.z - lo) / (hi - lo), draw_dtype(rng)), b.y)


def make_probabilities(rng: np.random.Generator) -> Draft:
    n, c = draw_shape(rng)
    b = draw_base(rng, n, c)
    return Draft(cast(softmax(b.z), draw_dtype(rng)), b.y, b.temperature, b.offset)


def make_rounded_probabilities(rng: np.random.Generator) -> Draft:
    n, c = draw_shape(rng, tuple(c for c in C_CHOICES if c <= 100))
    b = draw_base(rng, n, c)
    k = int(rng.choice((3, 4, 6)))
    p = np.round(softmax(b.z), k)
    if np.any(p.max(axis=1) == 0.0):
        raise Skip("rounding zeroed a row")
    return Draft(cast(p, draw_dtype(rng, ("float64", "float32"))), b.y, b.temperature, b.offset, k)


def make_log_probabilities(rng: np.random.Generator) -> Draft:
    n, c = draw_shape(rng)
    b = draw_base(rng, n, c)
    return Draft(cast(log_softmax(b.z), draw_dtype(rng)), b.y, b.temperature, b.offset)


def make_double_softmax(rng: np.random.Generator) -> Draft:
    n, c = draw_shape(rng)
    b = draw_base(rng, n, c)
    return Draft(cast(softmax(softmax(b.z)), draw_dtype(rng)), b.y, b.temperature, b.offset)


def draw_multilabel(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    n, c = draw_shape(rng)
    t = float(rng.choice(TEMPERATURES))
    return sigmoid(rng.normal(-2.0, 2.5, (n, c)) / t), rng.integers(0, c, n), t


def make_sigmoid(rng: np.random.Generator) -> Draft:
    p, y, t = draw_multilabel(rng)
    return Draft(cast(p, draw_dtype(rng)), y, t)


def make_double_sigmoid(rng: np.random.Generator) -> Draft:
    p, y, t = draw_multilabel(rng)
    return Draft(cast(sigmoid(p), draw_dtype(rng)), y, t)


def make_wrong_axis(rng: np.random.Generator) -> Draft:
    n, c = draw_shape(rng, (3, 5, 10, 20, 100), (7, 64, 500))
    b = draw_base(rng, n, c)
    return Draft(cast(softmax(b.z, axis=0), draw_dtype(rng)), b.y, b.temperature, b.offset)


def draw_binary(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n = int(rng.choice(N_CHOICES))
    y = rng.integers(0, 2, n)
    z = rng.normal(0.0, 3.0, n) + rng.uniform(1.0, 6.0) * (2 * y - 1)
    return (z if rng.random() < 0.5 else z[:, None]), y


def make_binary_logits(rng: np.random.Generator) -> Draft:
    z, y = draw_binary(rng)
    return Draft(cast(z, draw_dtype(rng)), y)


def make_binary_probabilities(rng: np.random.Generator) -> Draft:
    z, y = draw_binary(rng)
    return Draft(cast(sigmoid(z), draw_dtype(rng)), y)


# --- ambiguity guards: value-only signatures of other kinds (see the docstring) -----------


def as_matrix(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float64).reshape(a.shape[0], -1)


def rows_sum_to_one(a: np.ndarray) -> bool:
    return bool(np.all(np.abs(as_matrix(a).sum(axis=1) - 1.0) <= GUARD_TOL))


def cols_sum_to_one(a: np.ndarray) -> bool:
    return bool(np.all(np.abs(as_matrix(a).sum(axis=0) - 1.0) <= GUARD_TOL))


def rows_logsumexp_zero(a: np.ndarray) -> bool:
    m = as_matrix(a)
    top = m.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(m - top).sum(axis=1))
    return bool(np.all(np.abs(lse) <= GUARD_TOL))


def max_row_ratio(a: np.ndarray) -> float:
    m = as_matrix(a)
    hi, lo = m.max(axis=1), m.min(axis=1)
    with np.errstate(divide="ignore"):
        return float(np.max(np.where(lo > 0, hi / np.where(lo > 0, lo, 1.0), np.inf)))


def within(lo: float, hi: float) -> Callable[[np.ndarray], bool]:
    return lambda a: bool(np.all((a >= lo) & (a <= hi)))


Guard = tuple[str, Callable[[np.ndarray], bool]]

G_ROWS = ("rows sum to 1", rows_sum_to_one)
G_COLS = ("columns sum to 1", cols_sum_to_one)
G_LSE = ("rows' logsumexp is 0", rows_logsumexp_zero)
G_UNIT = ("all in [0, 1]", within(0.0, 1.0))
G_DSIG = ("all in [0.5, sigmoid(1)]", within(0.5, SIGMOID_1))
# Sigmoid outputs carry one signature of their own: saturation. Without it (fewer than 1 %
# of values below 0.02 or above 0.98) they are indistinguishable from healthy logits that
# lie in [0, 1], which the corpus also holds, so no inference could be right on both.
G_UNSATURATED = (
    "under 1% of values below 0.02 or above 0.98",
    lambda a: float(np.mean((a < 0.02) | (a > 0.98))) < 0.01,
)
G_RATIO = ("max/min <= e in every row", lambda a: max_row_ratio(a) <= math.e * (1 + RATIO_MARGIN))


# --- generation invariants, checked by --check-generation ---------------------------------


def stored_tol(a: np.ndarray, spread: float = 1.0) -> float:
    """How far a row sum of probabilities may be from 1 once stored in a's dtype.

    Storage moves each value by at most eps/2 relative (plus half a subnormal step where
    it underflows); when log p is stored, p moves by eps/2 * |log p| and the row sum by
    at most eps/2 * entropy <= eps/2 * ln C (`spread`). The float64 work itself, on values
    up to a few hundred, adds well under 1e-12.
    """
    info = np.finfo(a.dtype)
    c = as_matrix(a).shape[1]
    return float(info.eps) * spread + c * float(info.smallest_subnormal) + 1e-12


def row_sum_dev(a: np.ndarray) -> float:
    return float(np.max(np.abs(as_matrix(a).sum(axis=1) - 1.0)))


def col_sum_dev(a: np.ndarray) -> float:
    return float(np.max(np.abs(as_matrix(a).sum(axis=0) - 1.0)))


def inv_probabilities(d: Draft) -> bool:
    return row_sum_dev(d.values) <= stored_tol(d.values) and max_row_ratio(d.values) > math.e


def inv_rounded(d: Draft) -> bool:
    slack = 0.5 * 10.0 ** -(d.rounding or 0) * d.values.shape[1] + stored_tol(d.values)
    return row_sum_dev(d.values) <= slack


def inv_log_probabilities(d: Draft) -> bool:
    m = as_matrix(d.values)
    tol = stored_tol(d.values, spread=1 + math.log(m.shape[1]))
    return bool(np.all(m <= 0)) and row_sum_dev(np.exp(m)) <= tol


def inv_double_softmax(d: Draft) -> bool:
    ratio_ok = max_row_ratio(d.values) <= math.e * (1 + 2 * float(np.finfo(d.values.dtype).eps))
    return row_sum_dev(d.values) <= stored_tol(d.values) and ratio_ok


def inv_sigmoid(d: Draft) -> bool:
    return within(0.0, 1.0)(d.values) and not G_DSIG[1](d.values)


def inv_double_sigmoid(d: Draft) -> bool:
    return within(0.5, SIGMOID_1 + 1e-12)(d.values)


def inv_wrong_axis(d: Draft) -> bool:
    return col_sum_dev(d.values) <= stored_tol(d.values.T) and row_sum_dev(d.values) > GUARD_TOL


def inv_unit_logits(d: Draft) -> bool:
    a = d.values.astype(np.float64)
    return abs(a.min() - 0.05) < 1e-3 and abs(a.max() - 0.95) < 1e-3


def inv_binary(d: Draft) -> bool:
    return d.values.ndim == 1 or d.values.shape[1:] == (1,)


@dataclass(frozen=True)
class Family:
    kind: str
    name: str
    count: int  # cases in a full run; a quick run keeps the first tenth
    make: Callable[[np.random.Generator], Draft]
    guards: tuple[Guard, ...]
    invariant: Callable[[Draft], bool]


# Order matters: each family draws from its own stream, seeded by (seed, position).
FAMILIES = (
    Family("logits", "logits", 320, make_logits, (G_UNIT, G_LSE), lambda d: True),
    Family("logits", "logits_in_unit", 80, make_unit_logits, (G_ROWS, G_COLS), inv_unit_logits),
    Family("probabilities", "probabilities", 270, make_probabilities, (G_RATIO, G_COLS),
           inv_probabilities),
    Family("probabilities", "probabilities_rounded", 80, make_rounded_probabilities,
           (G_RATIO, G_COLS), inv_rounded),
    Family("log_probabilities", "log_probabilities", 130, make_log_probabilities, (),
           inv_log_probabilities),
    Family("double_softmax", "double_softmax", 130, make_double_softmax, (G_COLS,),
           inv_double_softmax),
    Family("sigmoid_probabilities", "sigmoid_probabilities", 120, make_sigmoid,
           (G_DSIG, G_UNSATURATED, G_ROWS, G_COLS), inv_sigmoid),
    Family("double_sigmoid", "double_sigmoid", 100, make_double_sigmoid, (G_ROWS, G_COLS),
           inv_double_sigmoid),
    Family("softmax_wrong_axis", "softmax_wrong_axis", 100, make_wrong_axis, (G_ROWS,),
           inv_wrong_axis),
    Family("binary_logits", "binary_logits", 100, make_binary_logits, (G_UNIT,), inv_binary),
    Family("binary_probabilities", "binary_probabilities", 100, make_binary_probabilities,
           (G_DSIG,), inv_binary),
)


@dataclass
class Sample:
    case: Case
    draft: Draft

    @property
    def labels(self) -> np.ndarray | None:
        return self.draft.labels.astype(np.int64) if self.case.labelled else None


def generate(
    family: Family, rng: np.random.Generator, count: int, skipped: Counter[str], first_index: int
) -> Iterator[Sample]:
    """Yield `count` accepted samples, counting skipped draws by reason."""
    accepted, attempts = 0, 0
    while accepted < count and attempts < 50 * count:
        attempts += 1
        try:
            draft = family.make(rng)
            for reason, looks_like_other in family.guards:
                if looks_like_other(draft.values):
                    raise Skip(reason)
        except Skip as skip:
            skipped[str(skip)] += 1
            continue
        labelled = bool(rng.random() < 0.5)  # drawn after the guards: skips keep the stream
        v = draft.values
        case = Case(
            index=first_index + accepted,
            kind=family.kind,
            family=family.name,
            n=v.shape[0],
            c=v.shape[1] if v.ndim == 2 else 1,
            shape=v.shape,
            dtype=str(v.dtype),
            temperature=draft.temperature,
            offset=draft.offset,
            rounding=draft.rounding,
            labelled=labelled,
        )
        accepted += 1
        yield Sample(case, draft)
    if accepted < count:
        print(f"warning: {family.name}: only {accepted} of {count} cases", file=sys.stderr)


def family_counts(quick: bool) -> list[int]:
    return [max(3, round(f.count * QUICK_FRACTION)) if quick else f.count for f in FAMILIES]


def corpus(
    seed: int, quick: bool, skipped: dict[str, Counter[str]]
) -> Iterator[tuple[Family, Sample]]:
    """Every sample of the run, family by family; a quick run is a per-family prefix."""
    index = 0
    for position, (family, count) in enumerate(zip(FAMILIES, family_counts(quick), strict=True)):
        rng = np.random.default_rng([seed, position])
        skipped[family.name] = Counter()
        for sample in generate(family, rng, count, skipped[family.name], index):
            yield family, sample
        index += count


# --- running logitcheck -------------------------------------------------------------------


def run_case(sample: Sample, tmp: Path) -> Outcome:
    case = sample.case
    logits_path = tmp / f"case{case.index:05d}_logits.npy"
    np.save(logits_path, sample.draft.values)
    labels_path = None
    if sample.labels is not None:
        labels_path = tmp / f"case{case.index:05d}_labels.npy"
        np.save(labels_path, sample.labels)
    try:
        report = analyze(logits_path, labels_path, Settings())
    except LogitcheckError as exc:
        return Outcome(case, None, error=str(exc))
    except Exception:
        print(f"analyze crashed on {describe(case)}", file=sys.stderr)
        raise
    finally:
        # unlinking a memory-mapped file is safe on POSIX; keeps the temp dir small
        logits_path.unlink()
        if labels_path is not None:
            labels_path.unlink()
    lc2 = [
        f"{f.code}: {f.message.splitlines()[0] if f.message else ''}"
        for f in report.findings
        if f.code.startswith("LC2") and f.severity.label == "error"
    ]
    return Outcome(case, report.kind.name, dict(report.kind.evidence), lc2)


# --- reporting ----------------------------------------------------------------------------


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


def describe(case: Case) -> str:
    return (
        f"#{case.index} {case.family} shape={case.shape} {case.dtype} T={fmt(case.temperature)} "
        f"offset={fmt(case.offset)} rounding={fmt(case.rounding)} "
        f"labels={'yes' if case.labelled else 'no'}"
    )


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def per_kind(outcomes: list[Outcome]) -> list[list[str]]:
    rows = []
    for kind in KINDS:
        mine = [o for o in outcomes if o.case.kind == kind]
        if not mine:
            continue
        correct = sum(o.correct for o in mine)
        errors = sum(o.got is None for o in mine)
        rows.append([kind, str(len(mine)), str(correct), str(errors), pct(correct / len(mine))])
    return rows


def pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def healthy_with_lc2(outcomes: list[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if o.case.kind == "logits" and o.lc2_errors]


def accuracy(outcomes: list[Outcome]) -> float:
    return sum(o.correct for o in outcomes) / len(outcomes) if outcomes else 0.0


def print_summary(outcomes: list[Outcome], skipped: dict[str, Counter[str]], limit: int) -> None:
    headers = ["kind", "cases", "correct", "errors", "accuracy"]
    print(table(headers, per_kind(outcomes)))
    wrong = [o for o in outcomes if not o.correct]
    print(f"\nmisclassified: {len(wrong)} (expected -> got: count)")
    pairs = Counter((o.case.kind, o.got or "error") for o in wrong)
    for (expected, got), n in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {expected} -> {got}: {n}")
    shown = wrong if limit == 0 else wrong[:limit]
    if shown:
        print()
        rows = [confusion_row(o) for o in shown]
        headers = ["#", "expected", "got", "C", "N", "shape", "dtype", "T", "offset", "round",
                   "labels", "evidence / error"]
        print(table(headers, rows))
    if len(shown) < len(wrong):
        print(f"... and {len(wrong) - len(shown)} more (--max-listed 0 lists all)")
    lc2 = healthy_with_lc2(outcomes)
    print(f"\nhealthy logits with an LC2xx error: {len(lc2)}")
    for o in lc2:
        print(f"  {describe(o.case)}: {'; '.join(o.lc2_errors)}")
    print("\nskipped while generating (ambiguous or out of range):")
    for name, reasons in skipped.items():
        if reasons:
            print(f"  {name}: " + ", ".join(f"{r} x{n}" for r, n in reasons.most_common()))
    print(f"\noverall accuracy: {pct(accuracy(outcomes))} of {len(outcomes)} cases")


def confusion_row(o: Outcome) -> list[str]:
    c = o.case
    detail = o.error if o.error is not None else fmt(o.evidence)
    return [str(c.index), c.kind, o.got or "error", str(c.c), str(c.n),
            "x".join(map(str, c.shape)), c.dtype, fmt(c.temperature), fmt(c.offset),
            fmt(c.rounding), "yes" if c.labelled else "no", detail]


def markdown(outcomes: list[Outcome], seed: int, quick: bool, command: str) -> str:
    lines = [
        "# logitcheck kind-inference corpus",
        "",
        f"- command: `{command}`",
        f"- seed: {seed} ({'quick' if quick else 'full'} run, {len(outcomes)} cases)",
        f"- overall accuracy: **{pct(accuracy(outcomes))}** (target {pct(TARGET_ACCURACY)})",
        f"- healthy logits with an LC2xx error: **{len(healthy_with_lc2(outcomes))}** (target 0)",
        "",
        "| kind | cases | correct | errors | accuracy |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in per_kind(outcomes)]
    return "\n".join(lines) + "\n"


# --- generation check ---------------------------------------------------------------------


def check_generation(seed: int, quick: bool) -> int:
    """Verify every generated array's defining property; print per-family value stats."""
    skipped: dict[str, Counter[str]] = {}
    stats: dict[str, dict[str, Any]] = {}
    bad: list[str] = []
    for family, sample in corpus(seed, quick, skipped):
        d = sample.draft
        a = d.values.astype(np.float64)
        s = stats.setdefault(family.name, {"cases": 0, "min": np.inf, "max": -np.inf,
                                           "row_dev": 0.0, "col_dev": 0.0, "ratio": 0.0})
        s["cases"] += 1
        s["min"], s["max"] = min(s["min"], a.min()), max(s["max"], a.max())
        s["row_dev"] = max(s["row_dev"], row_sum_dev(a))
        s["col_dev"] = max(s["col_dev"], col_sum_dev(a))
        s["ratio"] = max(s["ratio"], max_row_ratio(a))
        if not family.invariant(d):
            bad.append(describe(sample.case))
    headers = ["family", "cases", "min", "max", "max |row sum-1|", "max |col sum-1|",
               "max row max/min"]
    rows = [[name, str(s["cases"])] + [fmt(float(s[k])) for k in
            ("min", "max", "row_dev", "col_dev", "ratio")] for name, s in stats.items()]
    print(table(headers, rows))
    for name, reasons in skipped.items():
        if reasons:
            print(f"skipped {name}: " + ", ".join(f"{r} x{n}" for r, n in reasons.items()))
    print(f"\ninvariant violations: {len(bad)}")
    for line in bad:
        print(f"  {line}")
    return 1 if bad else 0


# --- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="corpus seed")
    p.add_argument("--quick", action="store_true", help="a tenth of each family (~150 cases)")
    p.add_argument("--markdown", type=Path, metavar="FILE", help="also write a markdown summary")
    p.add_argument("--max-listed", type=int, default=100, metavar="N",
                   help="misclassified cases to list (0: all; default 100)")
    p.add_argument("--check-generation", action="store_true",
                   help="verify the generated arrays instead of running logitcheck")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.check_generation:
        return check_generation(args.seed, args.quick)
    started = time.perf_counter()
    skipped: dict[str, Counter[str]] = {}
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="kind_corpus_") as tmp:
        for _, sample in corpus(args.seed, args.quick, skipped):
            outcomes.append(run_case(sample, Path(tmp)))
    print_summary(outcomes, skipped, args.max_listed)
    print(f"seed {args.seed}, {time.perf_counter() - started:.1f} s")
    if args.markdown:
        command = shlex.join(["python", *(sys.argv if argv is None else ["kind_corpus.py", *argv])])
        args.markdown.write_text(markdown(outcomes, args.seed, args.quick, command))
        print(f"wrote {args.markdown}")
    ok = accuracy(outcomes) >= TARGET_ACCURACY and not healthy_with_lc2(outcomes)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
