"""PyTorch: record what a loss is given into a logitcheck.Checker, batch after batch.

`CheckedLoss(loss)` wraps a loss module (nn.CrossEntropyLoss, nn.NLLLoss, nn.BCELoss,
nn.BCEWithLogitsLoss) or function (F.cross_entropy, ...): each call records its input
and target (detached, copied to the CPU as numpy) into a Checker, then returns the loss
unchanged. The Checker's options follow the loss: what it expects (logits,
log-probabilities, probabilities), its ignore_index and label_smoothing, class axis 1 for
N-D inputs, multi-label targets for BCE on (N, C). `recording("cross_entropy")` does the
same for every call of torch.nn.functional.cross_entropy inside a `with` block, including
the calls nn.CrossEntropyLoss makes.

    from logitcheck.callbacks.torch import CheckedLoss
    loss_fn = CheckedLoss(nn.CrossEntropyLoss())
    for x, y in val_loader:
        loss = loss_fn(model(x), y)
    print(loss_fn.report())
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from ..api import Checker
from ..report.model import Report

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..api import Options

__all__ = ["CheckedLoss", "options_for", "recording"]

#: the functional form of each loss: what its input is
_EXPECTS = {
    "cross_entropy": "logits",
    "nll_loss": "log-probabilities",
    "binary_cross_entropy_with_logits": "logits",
    "binary_cross_entropy": "probabilities",
}
_MODULES = {
    torch.nn.CrossEntropyLoss: "cross_entropy",
    torch.nn.NLLLoss: "nll_loss",
    torch.nn.BCEWithLogitsLoss: "binary_cross_entropy_with_logits",
    torch.nn.BCELoss: "binary_cross_entropy",
}


def _function_name(loss: Any) -> str | None:
    for cls, name in _MODULES.items():
        if isinstance(loss, cls):
            return name
    name = getattr(loss, "__name__", None)
    return name if name in _EXPECTS else None


def options_for(loss: Any, input: torch.Tensor, args: tuple = (),
                kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Checker options matching a loss (module or torch.nn.functional function) called
    with `input` (and the call's other arguments)."""
    name = _function_name(loss)
    if name is None:
        return {}
    out: dict[str, Any] = {"expects": _EXPECTS[name]}
    settings: dict[str, Any] = {}
    if isinstance(loss, torch.nn.Module):
        settings = {k: getattr(loss, k) for k in ("ignore_index", "label_smoothing")
                    if hasattr(loss, k)}
    else:
        try:
            bound = inspect.signature(getattr(F, name)).bind_partial(input, None, *args,
                                                                     **(kwargs or {}))
            settings = {k: v for k, v in bound.arguments.items()
                        if k in ("ignore_index", "label_smoothing")}
        except TypeError:
            pass
    if name in ("cross_entropy", "nll_loss"):
        out.update({k: v for k, v in settings.items() if v is not None})
        if input.ndim > 2:  # (N, C, d1, ...): torch's class axis
            out["class_axis"] = 1
        if not out.get("label_smoothing"):
            out.pop("label_smoothing", None)
    elif input.ndim == 2 and input.shape[1] > 1:  # BCE over (N, C): independent targets
        out["multi_label"] = True
    return out


class CheckedLoss:
    """A loss that records its input and target into a Checker, then computes as before.

    `checker`: the Checker to record into (default: one made at the first call, with the
    options the loss implies, overridden by `options`). `every`: record every n-th call.
    """

    def __init__(self, loss: Callable[..., Any], checker: Checker | None = None, *,
                 every: int = 1, **options: Unpack[Options]) -> None:
        if checker is not None and options:
            raise TypeError("pass either a Checker or options for one, not both")
        self.loss = loss
        self.checker = checker
        self.every = max(1, int(every))
        self.options: dict[str, Any] = dict(options)
        self.calls = 0

    def __call__(self, input: torch.Tensor, target: torch.Tensor, *args: Any,
                 **kwargs: Any) -> Any:
        if self.calls % self.every == 0:
            if self.checker is None:
                self.checker = Checker(**{**options_for(self.loss, input, args, kwargs),
                                          **self.options})
            self.checker.update(input, target)
        self.calls += 1
        return self.loss(input, target, *args, **kwargs)

    def report(self) -> Report:
        """The Report over every recorded call (logitcheck.Checker.report)."""
        if self.checker is None:
            from ..errors import UsageError

            raise UsageError("report(): the loss was not called yet")
        return self.checker.report()


@contextlib.contextmanager
def recording(function: str = "cross_entropy", checker: Checker | None = None,
              **options: Unpack[Options]) -> Iterator[CheckedLoss]:
    """Within the block, torch.nn.functional.<function> (cross_entropy, nll_loss,
    binary_cross_entropy, binary_cross_entropy_with_logits) records every call, including
    the calls of the nn loss modules that use it. Yields the CheckedLoss: `.report()`."""
    if function not in _EXPECTS:
        raise ValueError(f"function: {function!r} is not one of {', '.join(_EXPECTS)}")
    original = getattr(F, function)
    checked = CheckedLoss(original, checker, **options)
    setattr(F, function, checked)
    try:
        yield checked
    finally:
        setattr(F, function, original)
