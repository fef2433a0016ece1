"""Property-based tests of the numerics against independent references.

The bound proven here, for finite logits with |z| <= 1e4, 2 <= C <= 4096, stored in float32
or float64 (the stored values are the exact inputs):

    |stable_loss - exact| <= ULPS * ulp(exact) + C * 2**-1074

where exact is a 60-digit mpmath value and ulp the float64 spacing at it. The absolute term
is for rows whose loss is subnormal: each exp(z_j - max) below 2**-1074 rounds to 0 (or to
the nearest subnormal), so no float64 method can be relatively accurate there. The mean
(Stats.loss, an exact sum then one rounding) is within MEAN_ULPS ulp of the exact mean: the
row bound summed, since every loss is >= 0 and ulp(x) <= eps * x <= 2 ulp(mean of such x).

Profiles (tests/conftest.py): "ci" by default, LOGITCHECK_HYPOTHESIS_PROFILE=long for more.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from logitcheck.compute.numerics import chunk_stats, stable_loss
from logitcheck.compute.stats import PATHS, Plan, merge_all, naive_dtypes

from .reference import exact_loss_shifted, simulate_naive

ULPS = 4
MEAN_ULPS = 2 * ULPS + 1
TINY_SUB = 2.0**-1074
MAX_Z = 1e4


@st.composite
def logit_rows(draw, dtypes=("float32", "float64"), max_classes: int = 4096, max_z=MAX_Z):
    """(z, labels): rows of a drawn shape and scale from a seeded generator (so C = 4096 stays
    cheap to draw), with a few values placed by hypothesis (extremes, ties, the label at the
    max: the confident rows whose tiny loss is hardest to get right)."""
    dtype = draw(st.sampled_from(dtypes))
    c = draw(st.one_of(st.integers(2, 12), st.sampled_from([2, 3, 10, 1000, max_classes]),
                       st.integers(2, max_classes)))
    n = draw(st.integers(1, 2 if c > 512 else 6))
    scale = draw(st.sampled_from([0.0, 1e-6, 0.01, 1.0, 10.0, 40.0, 100.0, 745.0, 1e3, max_z]))
    shape = draw(st.sampled_from(["uniform", "normal", "one_high", "one_low"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    center = draw(st.floats(-max_z, max_z)) if draw(st.booleans()) else 0.0
    if shape == "uniform":
        z = rng.uniform(-scale, scale, (n, c))
    elif shape == "normal":
        z = rng.normal(0.0, scale / 3 + 1e-300, (n, c))
    else:
        z = rng.uniform(-1.0, 1.0, (n, c))
        z[np.arange(n), rng.integers(0, c, n)] += scale if shape == "one_high" else -scale
    z = np.clip(z + center, -max_z, max_z)
    element = st.floats(-max_z, max_z, allow_nan=False, width=32 if dtype == "float32" else 64)
    for r, j, v in draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, c - 1),
                                           element), max_size=6)):
        z[r, j] = v
    z = z.astype(dtype)
    labels = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    at_max = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    labels = np.where(at_max, z.argmax(axis=1), labels)
    return z, labels


def _ulp(x: float) -> float:
    return float(np.spacing(np.float64(abs(x))))


@given(logit_rows())
def test_stable_loss_is_within_a_few_ulp_of_a_60_digit_reference(case):
    z, labels = case
    c = z.shape[1]
    ours = stable_loss(z, labels)
    exact = [exact_loss_shifted(z[i], int(labels[i])) for i in range(z.shape[0])]
    for i, e in enumerate(exact):
        want = float(e)
        err = abs(ours[i] - want)
        assert err <= ULPS * _ulp(want) + c * TINY_SUB, (
            i, z.dtype, c, ours[i], want, err / max(_ulp(want), TINY_SUB))

    stats = chunk_stats(z, labels, 0, Plan(naive_dtypes(z.dtype.name), z.dtype.name))
    assert stats.loss.count == z.shape[0]
    with mpmath.workdps(60):
        exact_mean = float(mpmath.fsum(exact) / len(exact))
    err = abs(stats.loss.mean - exact_mean)
    assert err <= MEAN_ULPS * _ulp(exact_mean) + c * TINY_SUB, (stats.loss.mean, exact_mean)


def test_the_bound_is_tight_enough_to_catch_log_of_sum():
    """The property above would fail a loss computed as log(sum) - z_y (the digits of a
    confident row's tiny loss are lost): the bound has teeth."""
    z = np.array([[40.0, 0.0, -3.0]])
    exact = float(exact_loss_shifted(z[0], 0))
    shifted = z - z.max()
    naive_stable = math.log(math.fsum(math.exp(v) for v in shifted[0])) - shifted[0, 0]
    assert abs(naive_stable - exact) > ULPS * _ulp(exact)
    assert abs(stable_loss(z, np.array([0]))[0] - exact) <= ULPS * _ulp(exact)


@st.composite
def naive_case(draw):
    dtype = draw(st.sampled_from(["float16", "float32", "float64"]))
    # float16 holds values up to 65504; 1e4 keeps every dtype's overflow and underflow zones
    z, labels = draw(logit_rows(dtypes=(dtype,), max_classes=512))
    labelled = draw(st.booleans())
    return z, labels if labelled else None


@given(naive_case())
def test_naive_failure_rows_equal_a_row_by_row_simulation(case):
    z, labels = case
    storage = z.dtype.name
    dtypes = naive_dtypes(storage)
    stats = chunk_stats(z, labels, 0, Plan(dtypes, storage))
    # without labels the naive paths are evaluated at each row's least likely class
    at = labels if labels is not None else z.astype(np.float64).argmin(axis=1)
    for dtype in dtypes:
        expected = simulate_naive(z, at, dtype)
        for path in PATHS:
            got = stats.naive[dtype][path].failed
            assert got.count == len(expected[path]), (dtype, path, got, expected[path])
            assert list(got.first) == expected[path][:10], (dtype, path)


@st.composite
def merge_case(draw):
    """Rows of any kind (logits, probabilities, with NaN and inf, binary), labels or not,
    split at drawn points into chunks taken in a drawn order."""
    n = draw(st.integers(2, 40))
    c = draw(st.sampled_from([1, 2, 3, 7]))
    dtype = draw(st.sampled_from(["float16", "float32", "float64"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["logits", "probabilities", "wide", "nonfinite", "rounded"]))
    z = rng.normal(0, 3, (n, c))
    if kind == "probabilities":
        z = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True) if c > 1 else 1 / (1 + np.exp(-z))
    elif kind == "wide":
        z *= 100
    elif kind == "nonfinite":
        for _ in range(draw(st.integers(1, 5))):
            z[rng.integers(n), rng.integers(c)] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    elif kind == "rounded":
        z = np.round(z, 2)
    z = z.astype(dtype)
    if c == 1 and draw(st.booleans()):
        z = z[:, 0]
    labels = rng.integers(0, max(c, 2), n) if draw(st.booleans()) else None
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=min(n - 1, 8))))
    bounds = list(zip([0, *cuts], [*cuts, n], strict=True))
    order = draw(st.permutations(range(len(bounds))))
    return z, labels, bounds, order


@given(merge_case(), st.data())
def test_merging_is_associative_and_commutative(case, data):
    z, labels, bounds, order = case
    storage = z.dtype.name
    plan = Plan(naive_dtypes(storage, ("bfloat16",)), storage)

    def part(a: int, b: int):
        return chunk_stats(z[a:b], None if labels is None else labels[a:b], a, plan)

    whole = part(0, z.shape[0])
    chunks = [part(a, b) for a, b in bounds]
    assert merge_all(chunks[i] for i in order) == whole  # any split, any order
    # any bracketing: merge two neighbours of a shuffled list until one is left
    pool = [chunks[i] for i in order]
    while len(pool) > 1:
        i = data.draw(st.integers(0, len(pool) - 2))
        pool[i:i + 2] = [pool[i].merge(pool[i + 1])]
    assert pool[0] == whole
    assert whole.merge(merge_all([])) == whole == merge_all([]).merge(whole)

