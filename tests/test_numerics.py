from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from logitcheck.compute.engine import compute_stats
from logitcheck.compute.mergeable import ExactSum, RowSet
from logitcheck.compute.numerics import chunk_stats, stable_loss
from logitcheck.compute.stats import PATHS, Plan, naive_dtypes
from logitcheck.io import open_labels, open_logits
from logitcheck.settings import Settings

from .conftest import SAMPLES, save
from .reference import exact_losses, simulate_naive

SAMPLE_FILES = [
    "healthy_logits",
    "probs_as_logits",
    "fp16_overflow_logits",
    "fp32_underflow_logits",
]


def _stats(logits_path, labels_path=None, **settings):
    source = open_logits(logits_path)
    labels = open_labels(labels_path, *source.shape) if labels_path else None
    return compute_stats(source, labels, Settings(**settings))


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_stable_loss_matches_50_digit_reference(name, labels):
    z = np.load(SAMPLES / f"{name}.npy")
    reference = exact_losses(z, labels)
    ours = stable_loss(z, labels)
    rel = np.abs(ours - reference) / reference
    assert rel.max() < 1e-12, (name, rel.max(), int(rel.argmax()))
    stats = _stats(SAMPLES / f"{name}.npy", SAMPLES / "labels.npy")
    expected_mean = float(Fraction(math.fsum(reference)) / len(reference))
    assert stats.loss.mean == pytest.approx(expected_mean, rel=1e-12)
    assert stats.loss.count == len(labels)


def test_stable_loss_keeps_the_digits_of_confident_rows():
    # loss = log1p(exp(-40)) ~ 4.25e-18: log(sum) would return exactly 0
    z = np.array([[40.0, 0.0], [0.0, 40.0], [700.0, 0.0]])
    y = np.array([0, 1, 0])
    expected = exact_losses(z, y)
    assert expected[0] > 0
    np.testing.assert_allclose(stable_loss(z, y), expected, rtol=1e-15)


def test_non_finite_rows_follow_scipy_and_stay_in_their_row():
    z = np.array(
        [
            [1.0, 2.0, 3.0],
            [np.inf, 0.0, 1.0],  # label on the inf: inf - inf = NaN
            [np.inf, 0.0, 1.0],  # label elsewhere: -inf log-prob, loss inf
            [np.nan, 0.0, 1.0],
            [-np.inf, -np.inf, -np.inf],
            [-np.inf, 0.0, 1.0],  # finite max, label on -inf: loss inf
            [-np.inf, 0.0, 1.0],  # finite max, finite label: finite loss
            [3.0, 2.0, 1.0],
        ]
    )
    y = np.array([2, 0, 1, 1, 0, 0, 2, 0])
    loss = stable_loss(z, y)
    assert np.isnan(loss[1]) and loss[2] == np.inf and np.isnan(loss[3])
    assert np.isnan(loss[4]) and loss[5] == np.inf
    finite_rows = [0, 6, 7]
    np.testing.assert_allclose(
        loss[finite_rows], exact_losses(np.nan_to_num(z[finite_rows], neginf=-1e4), y[finite_rows]),
        rtol=1e-15,
    )
    stats = chunk_stats(z, y, 0, Plan(naive_dtypes("float64"), "float64"))
    assert stats.nan == RowSet(1, (3,))
    assert stats.posinf == RowSet(2, (1, 2))
    assert stats.neginf == RowSet(3, (4, 5, 6))
    assert (stats.nan_values, stats.posinf_values, stats.neginf_values) == (1, 2, 5)
    assert (stats.finite_min, stats.finite_max) == (0.0, 3.0)
    assert stats.nonfinite_loss == RowSet(5, (1, 2, 3, 4, 5))
    assert stats.loss.count == 3
    expected = exact_losses(np.nan_to_num(z[finite_rows], neginf=-1e4), y[finite_rows])
    assert stats.loss.mean == pytest.approx(expected.mean(), rel=1e-14)
    # naive paths fail only where the stable loss is finite: never on these rows
    for dtype in stats.naive.values():
        for path in dtype.values():
            assert path.failed.count == 0


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_naive_failures_equal_a_row_by_row_simulation(name, labels):
    z = np.load(SAMPLES / f"{name}.npy")
    stats = _stats(SAMPLES / f"{name}.npy", SAMPLES / "labels.npy")
    for dtype in naive_dtypes(z.dtype.name):
        simulated = simulate_naive(z, labels, dtype)
        for path in PATHS:
            got = stats.naive[dtype][path].failed
            assert got.count == len(simulated[path]), (dtype, path)
            assert list(got.first) == simulated[path][:10], (dtype, path)


def test_naive_failures_on_hard_random_rows():
    rng = np.random.default_rng(7)
    z = rng.normal(0, 1, size=(3000, 17)) * rng.choice([1, 10, 60, 120, 400, 800], size=(3000, 1))
    y = rng.integers(0, 17, size=3000)
    for storage in ("float16", "float32", "float64"):
        zs = z.astype(storage)
        zs = np.where(np.isfinite(zs), zs, 0).astype(storage)
        stats = chunk_stats(zs, y, 0, Plan(naive_dtypes(storage), storage))
        for dtype in naive_dtypes(storage):
            simulated = simulate_naive(zs, y, dtype)
            for path in PATHS:
                p = stats.naive[dtype][path]
                assert p.failed.count == len(simulated[path]) > 0, (storage, dtype, path)
                assert list(p.failed.first) == simulated[path][:10]
                assert p.overflow.count + p.underflow.count == p.failed.count


ALL_SAMPLES = SAMPLE_FILES + [
    "double_softmax", "log_probs", "softmax_wrong_axis", "sigmoid_multilabel",
    "binary_logits", "binary_probs", "double_sigmoid",
]


@pytest.mark.parametrize("name", ALL_SAMPLES)
def test_statistics_do_not_depend_on_chunking_or_threads(name):
    path = SAMPLES / f"{name}.npy"
    binary = name.startswith("binary") or name == "double_sigmoid"
    labels_path = SAMPLES / ("binary_labels.npy" if binary else "labels.npy")
    whole = _stats(path, labels_path, chunk_rows=10**9)
    for settings in ({"chunk_rows": 1}, {"chunk_rows": 3}, {"chunk_rows": 777},
                     {"chunk_rows": 64, "threads": 2}):
        assert _stats(path, labels_path, **settings) == whole, settings
    assert _stats(path, None, chunk_rows=5) == _stats(path, None, chunk_rows=10**9)


def test_statistics_with_non_finite_values_do_not_depend_on_chunking(tmp_path):
    rng = np.random.default_rng(3)
    z = rng.normal(0, 30, size=(500, 6)).astype(np.float32)
    z[rng.integers(0, 500, 20), rng.integers(0, 6, 20)] = np.nan
    z[rng.integers(0, 500, 20), rng.integers(0, 6, 20)] = np.inf
    z[rng.integers(0, 500, 20), rng.integers(0, 6, 20)] = -np.inf
    path = save(tmp_path / "z.npy", z)
    lab = save(tmp_path / "y.npy", rng.integers(0, 6, 500))
    whole = _stats(path, lab, chunk_rows=500)
    assert whole.nan.count > 0 and whole.posinf.count > 0
    for rows in (1, 2, 33):
        assert _stats(path, lab, chunk_rows=rows) == whole


def test_exact_sum_is_correctly_rounded_and_order_free():
    rng = np.random.default_rng(11)
    values = np.concatenate([
        rng.normal(0, 1, 5000) * 10.0 ** rng.integers(-300, 300, 5000),
        [1e308, -1e308, 5e-324, 1.0, 1e-16, -1.0],
    ])
    total = ExactSum.of(values)
    assert total.value == math.fsum(values)
    parts = [ExactSum.of(c) for c in np.array_split(values, 13)]
    forward = ExactSum()
    for p in parts:
        forward = forward.merge(p)
    backward = ExactSum()
    for p in reversed(parts):
        backward = p.merge(backward)
    assert forward == backward == total
    exact = sum(Fraction(float(v)) for v in values)
    assert total.mean == float(exact / len(values))


def test_row_set_keeps_the_first_rows_whatever_the_order():
    a = RowSet.from_mask(np.arange(30) % 2 == 0, 100)
    b = RowSet.from_mask(np.arange(30) % 3 == 0, 0)
    assert a.merge(b) == b.merge(a)
    assert a.merge(b).count == 25
    assert a.merge(b).first == (0, 3, 6, 9, 12, 15, 18, 21, 24, 27)


def test_report_histograms_and_rows_do_not_depend_on_the_chunk_size(labels):
    path = SAMPLES / "fp16_overflow_logits.npy"
    whole = _stats(path, SAMPLES / "labels.npy", chunk_rows=10**9)
    z = np.load(path)
    assert whole.loss_hist.total == whole.max_logit_hist.total == len(labels)
    for rows in (1, 7, 250):
        part = _stats(path, SAMPLES / "labels.npy", chunk_rows=rows)
        assert part.loss_hist == whole.loss_hist
        assert part.max_logit_hist == whole.max_logit_hist
        assert part.range_hist == whole.range_hist
        assert part.worst_rows == whole.worst_rows
        assert part.naive_failure_rows == whole.naive_failure_rows
    # the worst rows are the largest stable losses, ties to the lower row
    loss = stable_loss(z, labels)
    expected = sorted(range(len(loss)), key=lambda i: (-loss[i], i))[:10]
    assert [r.row for r in whole.worst_rows.rows] == expected
    assert [r.target for r in whole.worst_rows.rows] == [int(labels[i]) for i in expected]
    # the first failing rows are those of the float16 naive paths, with their values
    simulated = simulate_naive(z, labels, "float16")
    first = sorted(set(simulated["softmax_then_log"]) | set(simulated["no_max_shift"]))[:10]
    assert [r.row for r in whole.naive_failure_rows.rows] == first
    r = whole.naive_failure_rows.rows[0]
    assert r.p_y == pytest.approx(math.exp(-loss[r.row]), rel=1e-12)
    assert dict(((d, p), v) for d, p, v in r.naive)[("float32", "softmax_then_log")] < math.inf
    # the max-logit histogram counts each row's max in its bin
    from logitcheck.compute.stats import LOGIT_EDGES
    idx = np.searchsorted(LOGIT_EDGES, z.astype(np.float64).max(axis=1), side="right")
    assert whole.max_logit_hist.counts == tuple(np.bincount(idx, minlength=len(LOGIT_EDGES) + 1))


def test_mergeable_histogram_and_row_tables():
    from logitcheck.compute.mergeable import FirstRows, Histogram, RowValues, TopRows

    edges = (0.0, 1.0, 2.0)
    a = Histogram.of(np.array([-1.0, 0.5, 1.0, 5.0, np.nan]), edges)
    assert a.counts == (1, 1, 1, 1)
    b = Histogram.of(np.array([0.0]), edges)
    assert a.merge(b) == b.merge(a) == Histogram(edges, (1, 2, 1, 1))
    assert Histogram().merge(a) == a
    rows = [RowValues(i, 0, None, loss, (("float32", "p", math.nan),))
            for i, loss in enumerate([3.0, 1.0, 3.0, 2.0] * 5)]
    top = TopRows(tuple(rows[:8])).merge(TopRows(tuple(rows[8:])))
    assert [r.row for r in top.rows] == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
    assert top == TopRows(tuple(rows[8:])).merge(TopRows(tuple(rows[:8])))  # NaN == NaN here
    first = FirstRows(tuple(rows[11:])).merge(FirstRows(tuple(rows[:3])))
    assert [r.row for r in first.rows] == [0, 1, 2, 11, 12, 13, 14, 15, 16, 17]


@pytest.mark.parametrize("kind", ["probabilities", "nonfinite", "binary", "dense"])
def test_the_numpy_code_takes_a_large_block_in_parts_with_the_same_result(kind, monkeypatch):
    from logitcheck.compute import numerics

    rng = np.random.default_rng(9)
    n, c = 200, 6
    z = rng.normal(0, 2, (n, c))
    labels = rng.integers(0, c, n)
    plan = Plan(naive_dtypes("float32"), "float32")
    if kind == "probabilities":
        z = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    elif kind == "nonfinite":
        z[[3, 50, 190], [0, 2, 5]] = [np.nan, np.inf, -np.inf]
    elif kind == "binary":
        z, labels = z[:, :1], labels % 2
    else:
        labels = np.eye(c)[labels] * 0.9 + 0.1 / c
        plan = Plan(naive_dtypes("float32"), "float32", targets="dense")
    z = z.astype(np.float32)
    whole = chunk_stats(z, labels, 7, plan)
    monkeypatch.setattr(numerics, "NUMPY_BLOCK_BYTES", 8 * c * 9)  # parts of 9 rows
    parts = chunk_stats(z, labels, 7, plan)
    assert parts == whole
    assert parts.rows == n and parts.loss.count == whole.loss.count > 0
