"""The emulated framework losses (logitcheck/compute/frameworks.py) against the frameworks.

Each framework is imported if installed (CI installs the `frameworks` extra) and its test
is skipped cleanly otherwise.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from logitcheck.compute import frameworks as fw

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

rng = np.random.default_rng(12)
N, C = 400, 6
Y = rng.integers(0, C, N)
P = rng.dirichlet(np.full(C, 0.3), size=N).astype(np.float32)
# edge rows: the label's probability 0, tiny, exactly 1; a row of 0.5s not summing to 1
P[0] = 0
P[0, (Y[0] + 1) % C] = 1
P[1, Y[1]] = 1e-9
P[2] = 0
P[2, Y[2]] = 1
P[3] = 0.5
YB = rng.integers(0, 2, N)
PB = rng.uniform(0, 1, N).astype(np.float32)
PB[:6] = [0.0, 1.0, 1e-9, 1 - 1e-8, 1.0, 0.0]
YB[:6] = [1, 0, 1, 0, 1, 0]


def emulate(f, p, y, storage="float32"):
    """The emulation on these values: the softmax heads read them through fw.Rows."""
    values = p.astype(np.float64)
    if f in fw.SOFTMAX.values():
        return f(fw.Rows.of(values, y), y, storage)
    return f(values, y, storage)


@pytest.mark.parametrize("module", ["keras", "tf_keras"])
def test_keras_categorical_losses_against_keras(module):
    keras = pytest.importorskip(module)
    sparse = keras.losses.sparse_categorical_crossentropy(Y, P).numpy()
    loss, capped = emulate(fw.keras_sparse_categorical, P, Y)
    np.testing.assert_allclose(loss, sparse, rtol=1e-5, atol=1e-7)
    assert capped[0] and capped[1] and not capped[2]
    assert loss[0] == pytest.approx(16.118095, rel=1e-6)
    one_hot = np.eye(C, dtype=np.float32)[Y]
    dense = keras.losses.categorical_crossentropy(one_hot, P).numpy()
    np.testing.assert_allclose(emulate(fw.keras_categorical, P, Y)[0], dense, rtol=1e-6)


def test_keras_binary_against_keras():
    keras = pytest.importorskip("keras")
    expected = keras.losses.binary_crossentropy(YB[:, None].astype(np.float32), PB[:, None])
    loss, capped = emulate(fw.keras_binary, PB[:, None], YB)
    np.testing.assert_allclose(loss, expected.numpy(), rtol=1e-6)
    assert list(capped[:6]) == [True, True, True, True, False, False]
    assert loss[1] == pytest.approx(15.942385, rel=1e-6)


def test_tf_keras_binary_against_tf_keras():
    tf_keras = pytest.importorskip("tf_keras")
    expected = tf_keras.losses.binary_crossentropy(YB[:, None].astype(np.float32), PB[:, None])
    loss, _ = emulate(fw.tf_keras_binary, PB[:, None], YB)
    np.testing.assert_allclose(loss, expected.numpy(), rtol=1e-6)
    assert loss[1] == pytest.approx(15.333239, rel=1e-6)


def test_torch_bce_and_nll_against_torch():
    torch = pytest.importorskip("torch")
    expected = torch.nn.BCELoss(reduction="none")(
        torch.tensor(PB), torch.tensor(YB, dtype=torch.float32)).numpy()
    loss, capped = emulate(fw.torch_bce, PB[:, None], YB)
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    assert loss[0] == 100.0 and capped[0]
    nll = torch.nn.NLLLoss(reduction="none")(torch.tensor(P), torch.tensor(Y)).numpy()
    np.testing.assert_allclose(emulate(fw.torch_nll_on_probabilities, P, Y)[0], nll, rtol=1e-7)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sklearn_log_loss_against_sklearn(dtype):
    metrics = pytest.importorskip("sklearn.metrics")
    import warnings

    p = P.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns that row 3 does not sum to one
        expected = metrics.log_loss(Y, p, labels=list(range(C)))
        expected_b = metrics.log_loss(YB, PB.astype(dtype), labels=[0, 1])
    softmax = emulate(fw.sklearn_log_loss_softmax, p, Y, dtype)[0]
    assert softmax.mean() == pytest.approx(expected, rel=1e-6)
    binary = emulate(fw.sklearn_log_loss, PB.astype(dtype)[:, None], YB, dtype)[0]
    assert binary.mean() == pytest.approx(expected_b, rel=1e-6)
    cap = 36.04365338911715 if dtype == "float64" else 15.942385
    assert emulate(fw.sklearn_log_loss_softmax, p, Y, dtype)[0][0] == pytest.approx(cap, rel=1e-6)
