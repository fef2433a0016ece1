"""Callbacks in the frameworks' own loops: a Keras callback in a real fit, a torch loss
wrapper; each checked against logitcheck.check on the same values."""

from __future__ import annotations

import os

import numpy as np
import pytest

from logitcheck import check

from .test_api import assert_same

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _data(seed: int = 5, n: int = 300, c: int = 3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    x = (rng.normal(size=(n, 4)) + 2 * np.eye(c, 4)[y]).astype(np.float32)
    return x, y


def _model(keras, softmax: bool, c: int = 3):
    keras.utils.set_random_seed(0)
    layers = [keras.Input((4,)), keras.layers.Dense(c)]
    if softmax:
        layers.append(keras.layers.Softmax())
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(0.05),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


# Keras (TensorFlow backend) warns too when the loss's input comes straight from a Softmax
# layer; the callback's verdict is the same with a Softmax it cannot see (a Lambda, JAX)
_KERAS_OWN = pytest.mark.filterwarnings("ignore:.*received `from_logits=True`:UserWarning")


@_KERAS_OWN
def test_keras_callback_catches_a_softmax_layer_compiled_with_from_logits_true():
    keras = pytest.importorskip("keras")
    from logitcheck.callbacks import LogitcheckWarning
    from logitcheck.callbacks.keras import LogitcheckCallback

    x, y = _data()
    model = _model(keras, softmax=True)
    cb = LogitcheckCallback(x[:200], y[:200])
    with pytest.warns(LogitcheckWarning, match=r"epoch 1: logitcheck: FAIL: 1 error") as got:
        history = model.fit(x, y, epochs=1, batch_size=32, callbacks=[cb], verbose=0)
    ours = [str(w.message) for w in got if issubclass(w.category, LogitcheckWarning)]
    assert len(ours) == 1 and "\nLC201 probabilities-as-logits [error]: " in ours[0]
    assert [e for e, _ in cb.reports] == [0]
    report = cb.last_report
    assert report is not None and report.exit_code == 1
    assert [f.code for f in report.failing] == ["LC201"]
    assert report.metrics["loss"]["expects"] == "logits"  # read from the compiled loss
    assert history.history["logitcheck_exit_code"] == [1]
    assert_same(report, check(model.predict(x[:200], verbose=0), y[:200], expects="logits"))


@_KERAS_OWN
def test_keras_callback_passes_a_logits_model_and_can_stop_or_raise():
    keras = pytest.importorskip("keras")
    from logitcheck.callbacks.keras import LogitcheckCallback

    x, y = _data()
    model = _model(keras, softmax=False)
    cb = LogitcheckCallback(x, y, every=2)
    model.fit(x, y, epochs=2, callbacks=[cb], verbose=0)
    assert [e for e, _ in cb.reports] == [1] and cb.last_report.ok
    model = _model(keras, softmax=True)
    stop = LogitcheckCallback(x, y, on_failure="stop")
    history = model.fit(x, y, epochs=3, callbacks=[stop], verbose=0)
    assert len(history.history["loss"]) == 1  # stopped after the first epoch
    with pytest.raises(AssertionError, match="LC201 probabilities-as-logits"):
        model.fit(x, y, epochs=1, callbacks=[LogitcheckCallback(x, y, on_failure="raise")],
                  verbose=0)
    with pytest.raises(ValueError, match="on_failure: 'never'"):
        LogitcheckCallback(x, y, on_failure="never")


def test_keras_losses_say_what_they_expect():
    keras = pytest.importorskip("keras")
    from logitcheck.callbacks.keras import options_from_loss

    assert options_from_loss("sparse_categorical_crossentropy") == {"expects": "probabilities"}
    assert options_from_loss(keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, ignore_class=-1)) == {"expects": "logits", "ignore_index": -1}
    assert options_from_loss(keras.losses.CategoricalCrossentropy(label_smoothing=0.1)) == {
        "expects": "probabilities", "label_smoothing": 0.1}
    assert options_from_loss(keras.losses.MeanSquaredError()) == {}


def test_torch_checked_loss_records_every_batch_and_returns_the_loss():
    torch = pytest.importorskip("torch")
    from logitcheck.callbacks.torch import CheckedLoss

    rng = np.random.default_rng(0)
    z = rng.normal(scale=4, size=(120, 5, 7)).astype(np.float32)  # (N, C, T)
    y = rng.integers(0, 5, size=(120, 7))
    y[rng.random((120, 7)) < 0.1] = 3
    loss_fn = CheckedLoss(torch.nn.CrossEntropyLoss(ignore_index=3, label_smoothing=0.05))
    for k in range(0, 120, 25):
        t = torch.tensor(z[k:k + 25], requires_grad=True)
        loss = loss_fn(t, torch.tensor(y[k:k + 25]))
        loss.backward()
        expected = torch.nn.functional.cross_entropy(t.detach(), torch.tensor(y[k:k + 25]),
                                                     ignore_index=3, label_smoothing=0.05)
        assert loss.item() == expected.item()
    assert loss_fn.calls == 5 and loss_fn.checker is not None and loss_fn.checker.batches == 5
    one = check(z, y, class_axis=1, ignore_index=3, label_smoothing=0.05)
    assert one.metrics["ignored_rows"] > 0
    assert_same(loss_fn.report(), one)


def test_torch_nll_and_bce_losses_set_what_they_expect():
    torch = pytest.importorskip("torch")
    from logitcheck.callbacks.torch import CheckedLoss

    rng = np.random.default_rng(1)
    z = torch.tensor(rng.normal(size=(64, 4)))
    y = torch.tensor(rng.integers(0, 4, 64))
    nll = CheckedLoss(torch.nn.NLLLoss())
    nll(torch.log_softmax(z, 1), y)
    r = nll.report()
    assert r.ok and r.metrics["loss"]["expects"] == "log_probabilities"
    assert r.kind is not None and r.kind.name == "log_probabilities"
    targets = torch.tensor(rng.integers(0, 2, (64, 4)).astype(np.float32))
    bce = CheckedLoss(torch.nn.BCELoss())
    bce(torch.sigmoid(6 * z).float(), targets)  # saturating: what sigmoid outputs look like
    r = bce.report()
    assert r.ok and r.metrics["loss"]["expects"] == "probabilities"
    assert r.metrics["evaluated_at"] == "label" and bce.checker.settings.multilabel


def test_torch_recording_patches_the_function_for_the_block_only():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    from logitcheck.callbacks.torch import recording

    original = F.cross_entropy
    rng = np.random.default_rng(2)
    z = torch.tensor(rng.normal(size=(50, 3)).astype(np.float32))
    y = torch.tensor(rng.integers(0, 3, 50))
    with recording() as rec:
        torch.nn.CrossEntropyLoss()(torch.softmax(z, 1), y)  # the module calls F's
        F.cross_entropy(torch.softmax(z, 1), y)
    assert F.cross_entropy is original
    r = rec.report()
    assert r.metrics["rows"] == 100 and [f.code for f in r.failing] == ["LC201"]
