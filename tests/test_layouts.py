"""N-D logits: (B, T, V) language-model outputs, PyTorch's (N, C, d1, ...), label shifting."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from logitcheck.cli.app import cli
from logitcheck.io import open_inputs
from logitcheck.settings import Settings

from .conftest import save
from .reference import exact_losses

RNG = np.random.default_rng(11)
B, T, V = 3, 7, 6


def run(*args: str):
    return CliRunner().invoke(cli, ["analyze", *args, "--format", "json"],
                              catch_exceptions=False)


def torch_cross_entropy_mean(z: np.ndarray, y: np.ndarray, ignore_index: int = -100) -> float:
    """F.cross_entropy(z.reshape(-1, V), y.reshape(-1), ignore_index=...) semantics: the mean
    over non-ignored positions, from the mpmath reference."""
    flat_z, flat_y = z.reshape(-1, z.shape[-1]), y.reshape(-1)
    keep = flat_y != ignore_index
    return float(exact_losses(flat_z[keep], flat_y[keep]).mean())


def lm_batch(dtype=np.float32):
    z = RNG.normal(scale=2.0, size=(B, T, V)).astype(dtype)
    y = RNG.integers(0, V, size=(B, T))
    y[0, :2] = -100  # padding
    y[2, 5] = -100
    return z, y


def test_btv_rows_are_positions_in_c_order(tmp_path):
    z, y = lm_batch()
    source, labels = open_inputs(save(tmp_path / "z.npy", z), save(tmp_path / "y.npy", y),
                                 Settings())
    assert source.shape == (B * T, V)
    np.testing.assert_array_equal(source.read(0, B * T), z.reshape(-1, V))
    np.testing.assert_array_equal(source.read(5, 16), z.reshape(-1, V)[5:16])
    np.testing.assert_array_equal(labels.read(0, B * T), y.reshape(-1))
    assert source.position(2 * T + 3) == (2, 3)
    assert source.describe_row(2 * T + 3) == f"row {2 * T + 3} (b=2, t=3)"


def test_btv_loss_with_ignore_index_matches_torch_semantics(tmp_path):
    z, y = lm_batch()
    result = run(save(tmp_path / "z.npy", z), "--labels", save(tmp_path / "y.npy", y),
                 "--chunk-rows", "4")
    doc = json.loads(result.stdout)
    expected = torch_cross_entropy_mean(z.astype(np.float64), y)
    assert doc["metrics"]["loss_stable"] == pytest.approx(expected, rel=1e-12)
    assert doc["metrics"]["ignored_rows"] == 3
    assert doc["metrics"]["rows"] == B * T - 3
    assert doc["inputs"][0]["shape"] == [B, T, V]


def test_btv_against_torch_when_installed(tmp_path):
    torch = pytest.importorskip("torch")
    z, y = lm_batch(np.float64)
    doc = json.loads(run(save(tmp_path / "z.npy", z), "--labels",
                         save(tmp_path / "y.npy", y)).stdout)
    ref = torch.nn.functional.cross_entropy(torch.from_numpy(z).reshape(-1, V),
                                            torch.from_numpy(y).reshape(-1), ignore_index=-100)
    assert doc["metrics"]["loss_stable"] == pytest.approx(float(ref), rel=1e-12)


def test_shift_labels_pairs_logits_t_with_labels_t_plus_1(tmp_path):
    z, y = lm_batch()
    zp, yp = save(tmp_path / "z.npy", z), save(tmp_path / "y.npy", y)
    source, labels = open_inputs(zp, yp, Settings(shift_labels=True))
    assert source.shape == (B * (T - 1), V)
    np.testing.assert_array_equal(source.read(0, B * (T - 1)), z[:, :-1].reshape(-1, V))
    np.testing.assert_array_equal(labels.read(0, B * (T - 1)), y[:, 1:].reshape(-1))
    doc = json.loads(run(zp, "--labels", yp, "--shift-labels", "--chunk-rows", "5").stdout)
    expected = torch_cross_entropy_mean(z[:, :-1].astype(np.float64), y[:, 1:])
    assert doc["metrics"]["loss_stable"] == pytest.approx(expected, rel=1e-12)
    # labels already shifted (one position shorter): only the logits are trimmed
    ys = save(tmp_path / "ys.npy", y[:, 1:])
    doc2 = json.loads(run(zp, "--labels", ys, "--shift-labels").stdout)
    assert doc2["metrics"]["loss_stable"] == doc["metrics"]["loss_stable"]


def test_pytorch_layout_with_class_axis_1(tmp_path):
    n, c, h, w = 2, 4, 3, 5
    z = RNG.normal(size=(n, c, h, w)).astype(np.float32)
    y = RNG.integers(0, c, size=(n, h, w))
    zp, yp = save(tmp_path / "z.npy", z), save(tmp_path / "y.npy", y)
    source, labels = open_inputs(zp, yp, Settings(class_axis=1))
    rows = np.moveaxis(z, 1, -1).reshape(-1, c)
    np.testing.assert_array_equal(source.read(0, n * h * w), rows)
    np.testing.assert_array_equal(source.read(7, 23), rows[7:23])
    assert source.position(h * w + 2 * w + 1) == (1, 2, 1)
    doc = json.loads(run(zp, "--labels", yp, "--class-axis", "1", "--chunk-rows", "6").stdout)
    expected = exact_losses(rows.astype(np.float64), y.reshape(-1)).mean()
    assert doc["metrics"]["loss_stable"] == pytest.approx(expected, rel=1e-12)


def test_nan_position_in_evidence(tmp_path):
    z, _ = lm_batch()
    z[1, 4, 2] = np.nan
    doc = json.loads(run(save(tmp_path / "z.npy", z)).stdout)
    lc001 = next(f for f in doc["findings"] if f["code"] == "LC001")
    assert lc001["evidence"]["nan"]["first_rows"] == [1 * T + 4]
    assert lc001["evidence"]["nan"]["first_positions"] == [[1, 4]]


def test_fortran_order_npy(tmp_path):
    z = np.asfortranarray(RNG.normal(size=(20, 4)))
    source, _ = open_inputs(save(tmp_path / "z.npy", z), None, Settings())
    np.testing.assert_array_equal(source.read(3, 17), z[3:17])
