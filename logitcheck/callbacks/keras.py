"""A Keras callback: the model's predictions on validation data, checked at epoch end.

What the model's loss expects is read from the compiled loss (`from_logits`,
`ignore_class`, `label_smoothing` of Keras' cross-entropy losses; a loss given by name
expects probabilities, as Keras does): a softmax layer compiled with
`from_logits=True` is LC201, probabilities where logits belong.

    from logitcheck.callbacks.keras import LogitcheckCallback
    cb = LogitcheckCallback(x_val, y_val)
    model.fit(x, y, epochs=3, callbacks=[cb])
    cb.last_report  # a logitcheck Report; failing ones also warn (on_failure="warn")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import keras

from ..api import check
from ..report.model import Report
from . import check_on_failure, handle_failure

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..api import Options

__all__ = ["LogitcheckCallback", "options_from_loss"]

_CROSS_ENTROPY = {
    "sparse_categorical_crossentropy": "sparse",
    "categorical_crossentropy": "dense",
    "binary_crossentropy": "binary",
}


def options_from_loss(loss: Any) -> dict[str, Any]:
    """check() options for what a compiled Keras loss takes: `expects`, and the
    ignore_index / label_smoothing it applies. {} for a loss it does not know."""
    if isinstance(loss, dict) or isinstance(loss, (list, tuple)):
        return {}  # several outputs: pass expects= yourself
    name = loss if isinstance(loss, str) else getattr(loss, "name", None) or getattr(
        loss, "__name__", "")
    kind = _CROSS_ENTROPY.get(str(name))
    if kind is None:
        return {}
    from_logits = bool(getattr(loss, "from_logits", False))  # by name: probabilities
    out: dict[str, Any] = {"expects": "logits" if from_logits else "probabilities"}
    ignore = getattr(loss, "ignore_class", None)
    if kind == "sparse" and ignore is not None:
        out["ignore_index"] = int(ignore)
    smoothing = float(getattr(loss, "label_smoothing", 0.0) or 0.0)
    if kind == "dense" and smoothing:
        out["label_smoothing"] = smoothing
    return out


class LogitcheckCallback(keras.callbacks.Callback):
    """Checks `model.predict(x)` against `y` at the end of every `every`-th epoch.

    Keyword options are logitcheck.check()'s (`expects` defaults to what the compiled
    loss takes). A failing report warns (LogitcheckWarning), raises AssertionError
    (on_failure="raise"), stops training (on_failure="stop") or is only kept
    ("ignore"). Every report is kept in `reports` as (epoch, report); the epoch's logs
    get `logitcheck_exit_code`.
    """

    def __init__(self, x: Any, y: Any, *, batch_size: int | None = None, every: int = 1,
                 on_failure: str = "warn", **options: Unpack[Options]) -> None:
        super().__init__()
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.every = max(1, int(every))
        self.on_failure = check_on_failure(on_failure)
        self.options: dict[str, Any] = dict(options)
        self.reports: list[tuple[int, Report]] = []

    @property
    def last_report(self) -> Report | None:
        return self.reports[-1][1] if self.reports else None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if (epoch + 1) % self.every:
            return
        predictions = self.model.predict(self.x, batch_size=self.batch_size, verbose=0)
        options = {**options_from_loss(getattr(self.model, "loss", None)), **self.options}
        report = check(predictions, self.y, **options)
        self.reports.append((epoch, report))
        if logs is not None:
            logs["logitcheck_exit_code"] = report.exit_code
        if not report.ok and self.on_failure == "stop":
            self.model.stop_training = True
        handle_failure(report, self.on_failure, f"epoch {epoch + 1}")
