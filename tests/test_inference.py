from __future__ import annotations

import numpy as np
import pytest

from logitcheck.compute.numerics import chunk_stats
from logitcheck.compute.stats import Plan, merge_all, naive_dtypes
from logitcheck.inference import infer_kind, row_sum_tolerance


def kind_of(z: np.ndarray, labels: np.ndarray | None = None, chunk: int = 10**9):
    dtypes = Plan(naive_dtypes(z.dtype.name), z.dtype.name)
    parts = [
        chunk_stats(z[i : i + chunk], None if labels is None else labels[i : i + chunk], i, dtypes)
        for i in range(0, z.shape[0], chunk)
    ]
    return infer_kind(merge_all(parts), z.dtype.name)


def softmax(z: np.ndarray, axis: int = 1) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.fixture
def logits() -> np.ndarray:
    rng = np.random.default_rng(5)
    z = rng.normal(0, 2, size=(400, 12))
    z[np.arange(400), rng.integers(0, 12, 400)] += 4
    return z


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_probabilities_in_every_dtype(logits, dtype):
    assert kind_of(softmax(logits).astype(dtype)).name == "probabilities"


def test_float16_tolerance_is_about_1e_2_for_ten_classes():
    assert 5e-3 < row_sum_tolerance("float16", 10) < 2e-2
    assert row_sum_tolerance("float32", 10) < 2e-6


@pytest.mark.parametrize("decimals", [3, 4, 6])
def test_probabilities_rounded_like_a_csv(logits, decimals):
    p = np.round(softmax(logits), decimals)
    kind = kind_of(p)
    assert kind.name == "probabilities"
    assert kind.evidence["decimals"] == decimals
    # rounding to k decimals moves a row sum by up to C * 0.5 * 10**-k
    assert kind.evidence["row_sum_tolerance"] >= 12 * 0.5 * 10.0**-decimals


def test_logits_that_lie_in_the_unit_interval_are_not_probabilities(logits):
    z = 0.05 + 0.9 * (logits - logits.min()) / (logits.max() - logits.min())
    assert kind_of(z).name == "logits"


def test_log_probabilities(logits):
    lp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    assert kind_of(lp.astype(np.float32)).name == "log_probabilities"


def test_shifted_logits_are_not_log_probabilities(logits):
    assert kind_of(logits - logits.max() - 1).name == "logits"


def test_double_softmax_is_corroborated_by_labels(logits):
    labels = logits.argmax(axis=1)
    q = softmax(softmax(logits))
    without = kind_of(q)
    with_labels = kind_of(q, labels)
    assert without.name == with_labels.name == "double_softmax"
    assert with_labels.confidence > without.confidence
    assert with_labels.evidence["loss_floor"] == pytest.approx(np.log1p(11 / np.e))


def test_two_class_double_softmax_lies_in_the_sigmoid_1_band(logits):
    q = softmax(softmax(logits[:, :2]))
    assert q.min() >= 1 / (1 + np.e) - 1e-12
    assert kind_of(q).name == "double_softmax"


def test_softmax_over_the_wrong_axis(logits):
    assert kind_of(softmax(logits, axis=0)).name == "softmax_wrong_axis"


def test_sigmoid_and_double_sigmoid():
    rng = np.random.default_rng(2)
    s = 1 / (1 + np.exp(-rng.normal(-2, 3, size=(300, 8))))
    assert kind_of(s).name == "sigmoid_probabilities"
    assert kind_of(1 / (1 + np.exp(-s))).name == "double_sigmoid"


@pytest.mark.parametrize("shape", [(500,), (500, 1)])
def test_binary_outputs(shape):
    rng = np.random.default_rng(9)
    z = rng.normal(0, 4, size=shape)
    assert kind_of(z).name == "binary_logits"
    assert kind_of(1 / (1 + np.exp(-z))).name == "binary_probabilities"


def test_kind_evidence_does_not_depend_on_chunking(logits):
    labels = logits.argmax(axis=1)
    for z in (softmax(logits), softmax(softmax(logits)), softmax(logits, axis=0),
              np.round(softmax(logits), 3), logits):
        whole = kind_of(z, labels)
        for chunk in (1, 7, 100):
            assert kind_of(z, labels, chunk) == whole
