"""Every LC2xx mistake on its sample file: code, severity, exit code and both losses,
checked against losses computed here, independently, in float64."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from logitcheck.cli.app import cli

from .conftest import SAMPLES
from .reference import exact_losses

LABELS = np.load(SAMPLES / "labels.npy")
BINARY_LABELS = np.load(SAMPLES / "binary_labels.npy")
ROWS = np.arange(LABELS.size)


def load(name: str) -> np.ndarray:
    return np.load(SAMPLES / f"{name}.npy").astype(np.float64)


def analyze(name: str, *args: str, labels: str = "labels") -> tuple[int, dict]:
    result = CliRunner().invoke(
        cli,
        ["analyze", str(SAMPLES / f"{name}.npy"), "--labels", str(SAMPLES / f"{labels}.npy"),
         "--format", "json", *args],
        catch_exceptions=False,
    )
    return result.exit_code, json.loads(result.stdout)


def only(doc: dict, code: str) -> dict:
    found = [f for f in doc["findings"] if f["code"].startswith("LC2")]
    assert [f["code"] for f in found] == [code]
    return found[0]


def keras_clipped(z: np.ndarray) -> float:
    """keras SparseCategoricalCrossentropy(from_logits=False): every value clipped to
    [1e-7, 1 - 1e-7] (float32), then log-softmax cross-entropy (test_frameworks.py checks
    the emulation against Keras itself)."""
    eps = np.float32(1e-7)
    logs = np.log(np.clip(z.astype(np.float32), eps, np.float32(1) - eps)).astype(np.float64)
    lse = np.log(np.exp(logs).sum(axis=1))
    return float((lse - logs[ROWS, LABELS]).mean())


def test_double_softmax():
    q = load("double_softmax")
    code, doc = analyze("double_softmax")
    finding = only(doc, "LC202")
    assert (code, finding["severity"], doc["kind"]["name"]) == (1, "error", "double_softmax")
    # the first softmax's output, recovered from the file that holds it
    p = load("probs_as_logits")
    ev = finding["evidence"]
    assert ev["loss_reported"] == pytest.approx(-np.log(q[ROWS, LABELS]).mean(), rel=1e-12)
    assert ev["loss_correct"] == pytest.approx(-np.log(p[ROWS, LABELS]).mean(), rel=1e-5)
    assert ev["loss_floor"] == pytest.approx(np.log1p(9 / np.e), rel=1e-15)
    assert ev["loss_reported"] > ev["loss_floor"]
    assert ev["max_log_ratio"] <= 1 + 1e-5


def test_logits_where_probabilities_are_expected():
    z = load("healthy_logits")
    code, doc = analyze("healthy_logits", "--expects", "probabilities")
    finding = only(doc, "LC203")
    assert (code, finding["severity"]) == (1, "error")
    assert finding["evidence"]["loss_reported"] == pytest.approx(keras_clipped(z), rel=1e-6)
    assert finding["evidence"]["loss_correct"] == pytest.approx(
        exact_losses(z, LABELS).mean(), rel=1e-12)


def test_log_probabilities_where_probabilities_are_expected():
    lp = load("log_probs")
    code, doc = analyze("log_probs", "--expects", "probabilities")
    finding = only(doc, "LC204")
    assert (code, finding["severity"], doc["kind"]["name"]) == (1, "error", "log_probabilities")
    assert finding["evidence"]["loss_reported"] == pytest.approx(keras_clipped(lp), rel=1e-6)
    assert finding["evidence"]["loss_correct"] == pytest.approx(
        -lp[ROWS, LABELS].mean(), rel=1e-12)


def test_log_probabilities_where_logits_are_expected_is_info():
    lp = load("log_probs")
    code, doc = analyze("log_probs")
    finding = only(doc, "LC205")
    assert (code, finding["severity"]) == (0, "info")
    # log_softmax is idempotent: the loss a logits loss gives is the right one
    assert finding["evidence"]["loss"] == pytest.approx(-lp[ROWS, LABELS].mean(), rel=1e-6)
    assert analyze("log_probs", "--fail-on", "info")[0] == 1


def test_binary_probabilities_where_logits_are_expected():
    p = load("binary_probs")
    y = BINARY_LABELS
    code, doc = analyze("binary_probs", labels="binary_labels")
    finding = only(doc, "LC206")
    assert (code, finding["severity"], doc["kind"]["name"]) == (1, "error", "binary_probabilities")
    bce_with_logits = np.logaddexp(0, p) - y * p  # sigmoid applied once more
    bce = -(y * np.log(p) + (1 - y) * np.log1p(-p))
    assert finding["evidence"]["loss_reported"] == pytest.approx(bce_with_logits.mean(), rel=1e-12)
    assert finding["evidence"]["loss_correct"] == pytest.approx(bce.mean(), rel=1e-9)


def test_binary_logits_are_clean_and_their_loss_is_bce_with_logits():
    z = load("binary_logits")
    y = BINARY_LABELS
    code, doc = analyze("binary_logits", labels="binary_labels")
    assert (code, doc["findings"], doc["kind"]["name"]) == (0, [], "binary_logits")
    expected = np.logaddexp(0, z) - y * z
    assert doc["metrics"]["loss_stable"] == pytest.approx(expected.mean(), rel=1e-12)
    assert doc["metrics"]["accuracy"] == np.mean((z > 0) == y)


def test_multilabel_sigmoid_outputs_are_a_warning():
    code, doc = analyze("sigmoid_multilabel")
    finding = only(doc, "LC207")
    assert (code, finding["severity"], doc["kind"]["name"]) == (
        0, "warning", "sigmoid_probabilities")
    assert analyze("sigmoid_multilabel", "--fail-on", "warning")[0] == 1


def test_double_sigmoid():
    q = load("double_sigmoid")
    y = BINARY_LABELS
    code, doc = analyze("double_sigmoid", labels="binary_labels")
    finding = only(doc, "LC208")
    assert (code, finding["severity"], doc["kind"]["name"]) == (1, "error", "double_sigmoid")
    q_y = np.where(y == 1, q, 1 - q)
    p = load("binary_probs")
    p_y = np.where(y == 1, p, 1 - p)
    assert finding["evidence"]["loss_reported"] == pytest.approx(-np.log(q_y).mean(), rel=1e-12)
    assert finding["evidence"]["loss_correct"] == pytest.approx(-np.log(p_y).mean(), rel=1e-4)


def test_softmax_over_the_wrong_axis():
    q = load("softmax_wrong_axis")
    code, doc = analyze("softmax_wrong_axis")
    finding = only(doc, "LC209")
    assert (code, finding["severity"], doc["kind"]["name"]) == (1, "error", "softmax_wrong_axis")
    assert finding["evidence"]["loss_reported"] == pytest.approx(
        -np.log(q[ROWS, LABELS]).mean(), rel=1e-12)
    assert finding["evidence"]["max_column_sum_deviation"] < 1e-5


def test_probabilities_where_log_probabilities_are_expected():
    p = load("probs_as_logits")
    code, doc = analyze("probs_as_logits", "--expects", "log-probabilities")
    finding = only(doc, "LC210")
    assert (code, finding["severity"]) == (1, "error")
    assert finding["evidence"]["loss_reported"] == pytest.approx(-p[ROWS, LABELS].mean(), rel=1e-12)
    assert finding["evidence"]["loss_correct"] == pytest.approx(
        -np.log(p[ROWS, LABELS]).mean(), rel=1e-12)


def test_logits_where_log_probabilities_are_expected():
    z = load("healthy_logits")
    code, doc = analyze("healthy_logits", "--expects", "log-probabilities")
    finding = only(doc, "LC211")
    assert (code, finding["severity"]) == (1, "error")
    assert finding["evidence"]["loss_reported"] == pytest.approx(-z[ROWS, LABELS].mean(), rel=1e-12)
    assert finding["evidence"]["loss_correct"] == pytest.approx(
        exact_losses(z, LABELS).mean(), rel=1e-12)


@pytest.mark.parametrize("expects", ["probabilities", "log-probabilities"])
def test_the_right_input_for_the_loss_is_clean(expects):
    name = "probs_as_logits" if expects == "probabilities" else "log_probs"
    code, doc = analyze(name, "--expects", expects)
    assert (code, doc["findings"]) == (0, [])
