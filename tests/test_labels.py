"""Labels in every form give the loss of torch's F.cross_entropy (or BCEWithLogitsLoss)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from logitcheck.cli.app import cli

from .conftest import SAMPLES, save
from .reference import bce_with_logits, torch_cross_entropy

Z = np.load(SAMPLES / "healthy_logits.npy")
Y = np.load(SAMPLES / "labels.npy")
N, C = Z.shape


def analyze(tmp_path, labels: np.ndarray, *args: str, logits=None) -> dict:
    z = str(SAMPLES / "healthy_logits.npy") if logits is None else save(
        tmp_path / "z.npy", logits)
    y = save(tmp_path / "y.npy", labels)
    result = CliRunner().invoke(cli, ["analyze", z, "--labels", y, "--format", "json", *args])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def one_hot(y: np.ndarray) -> np.ndarray:
    return np.eye(C)[y]


def test_class_ids(tmp_path):
    doc = analyze(tmp_path, Y)
    assert doc["metrics"]["loss_stable"] == pytest.approx(torch_cross_entropy(Z, Y), rel=1e-12)


def test_float_array_holding_integers(tmp_path):
    doc = analyze(tmp_path, Y.astype(np.float32))
    assert doc["metrics"]["loss_stable"] == pytest.approx(torch_cross_entropy(Z, Y), rel=1e-12)


def test_one_hot_rows(tmp_path):
    doc = analyze(tmp_path, one_hot(Y).astype(np.float32))
    assert doc["findings"] == []
    assert doc["metrics"]["loss_stable"] == pytest.approx(torch_cross_entropy(Z, Y), rel=1e-12)
    assert doc["metrics"]["accuracy"] == np.mean(Z.argmax(axis=1) == Y)


def test_soft_targets(tmp_path):
    rng = np.random.default_rng(1)
    t = rng.dirichlet(np.ones(C), size=N)
    doc = analyze(tmp_path, t)
    assert doc["findings"] == []
    assert doc["metrics"]["loss_stable"] == pytest.approx(torch_cross_entropy(Z, t), rel=1e-12)


@pytest.mark.parametrize("eps", [0.1, 0.35])
def test_label_smoothing_with_ids_and_with_soft_targets(tmp_path, eps):
    doc = analyze(tmp_path, Y, "--label-smoothing", str(eps))
    expected = torch_cross_entropy(Z, Y, label_smoothing=eps)
    assert doc["metrics"]["loss_stable"] == pytest.approx(expected, rel=1e-12)
    t = np.random.default_rng(2).dirichlet(np.ones(C), size=N)
    doc = analyze(tmp_path, t, "--label-smoothing", str(eps))
    expected = torch_cross_entropy(Z, t, label_smoothing=eps)
    assert doc["metrics"]["loss_stable"] == pytest.approx(expected, rel=1e-12)


def test_ignore_index_with_label_smoothing(tmp_path):
    y = Y.copy()
    y[::4] = -100
    doc = analyze(tmp_path, y, "--label-smoothing", "0.2")
    expected = torch_cross_entropy(Z, y, ignore_index=-100, label_smoothing=0.2)
    assert doc["metrics"]["loss_stable"] == pytest.approx(expected, rel=1e-12)
    assert doc["metrics"]["ignored_rows"] == 500


def test_soft_rows_that_do_not_sum_to_one_are_lc303(tmp_path):
    t = one_hot(Y)
    t[[5, 17, 900], 0] += 1.0  # multi-hot rows
    t[[5, 17, 900]] = np.minimum(t[[5, 17, 900]], 1.0)
    t[[5, 17, 900], (Y[[5, 17, 900]] + 1) % C] = 1.0
    doc = analyze(tmp_path, t)
    finding = [f for f in doc["findings"] if f["code"] == "LC303"][0]
    assert finding["evidence"] == {"rows": 3, "first_rows": [5, 17, 900]}
    assert doc["metrics"]["loss_stable"] == pytest.approx(torch_cross_entropy(Z, t), rel=1e-12)


def test_multilabel_targets_give_bce_with_logits(tmp_path):
    rng = np.random.default_rng(4)
    z = rng.normal(-1, 2, size=(300, 6)).astype(np.float32)
    y = (rng.random((300, 6)) < 0.3).astype(np.float32)
    doc = analyze(tmp_path, y, "--multi-label", logits=z)
    assert doc["metrics"]["loss_stable"] == pytest.approx(bce_with_logits(z, y), rel=1e-12)
    assert doc["metrics"]["accuracy"] == np.mean((z > 0) == (y > 0.5))


def test_binary_01_labels_give_bce_with_logits(tmp_path):
    rng = np.random.default_rng(5)
    z = rng.normal(0, 4, size=500).astype(np.float32)
    y = rng.integers(0, 2, 500)
    doc = analyze(tmp_path, y, logits=z)
    assert doc["metrics"]["loss_stable"] == pytest.approx(bce_with_logits(z, y), rel=1e-12)


def test_targets_outside_unit_interval_and_nan_are_exit_2(tmp_path):
    t = one_hot(Y)
    t[3, 2] = np.nan
    y = save(tmp_path / "y.npy", t)
    result = CliRunner().invoke(cli, ["analyze", str(SAMPLES / "healthy_logits.npy"),
                                      "--labels", y])
    assert result.exit_code == 2
    assert "row 3, column 2: target nan is not a probability" in result.stderr
    t[3, 2] = -0.5
    save(tmp_path / "y.npy", t)
    result = CliRunner().invoke(cli, ["analyze", str(SAMPLES / "healthy_logits.npy"),
                                      "--labels", y])
    assert "row 3, column 2: target -0.5" in result.stderr


try:
    import torch
except ImportError:  # pragma: no cover - CI installs torch
    torch = None


@pytest.mark.skipif(torch is None, reason="torch is not installed")
@pytest.mark.parametrize("form", ["ids", "one_hot", "soft", "smoothed", "ignored"])
def test_against_torch_itself(tmp_path, form):
    z64 = torch.tensor(Z, dtype=torch.float64)
    rng = np.random.default_rng(6)
    args: list[str] = []
    if form == "ids":
        labels, expected = Y, torch.nn.functional.cross_entropy(z64, torch.tensor(Y))
    elif form == "one_hot":
        labels = one_hot(Y)
        expected = torch.nn.functional.cross_entropy(z64, torch.tensor(labels))
    elif form == "soft":
        labels = rng.dirichlet(np.ones(C), size=N)
        expected = torch.nn.functional.cross_entropy(z64, torch.tensor(labels))
    elif form == "smoothed":
        labels, args = Y, ["--label-smoothing", "0.1"]
        expected = torch.nn.functional.cross_entropy(z64, torch.tensor(Y), label_smoothing=0.1)
    else:
        labels = Y.copy()
        labels[::3] = -100
        expected = torch.nn.functional.cross_entropy(z64, torch.tensor(labels))
    doc = analyze(tmp_path, labels, *args)
    assert doc["metrics"]["loss_stable"] == pytest.approx(float(expected), rel=1e-12)
