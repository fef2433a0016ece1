"""Checks inside a framework's own loop. Each module imports its framework, so none is
imported by `import logitcheck` or by this package: import the one you use.

- logitcheck.callbacks.keras: `LogitcheckCallback`, a keras.callbacks.Callback that checks
  the model's predictions on validation data at the end of an epoch.
- logitcheck.callbacks.torch: `CheckedLoss`, a wrapper around a loss call (a module such as
  nn.CrossEntropyLoss or a function such as F.cross_entropy) that records what it is given
  into a logitcheck.Checker, and `recording(...)`, the same as a context manager.
"""

from __future__ import annotations

import warnings

from ..report.model import Report
from ..testing import failure_message

ON_FAILURE = ("warn", "raise", "stop", "ignore")


class LogitcheckWarning(UserWarning):
    """A check in a training or evaluation loop found what fails the gate."""


def handle_failure(report: Report, on_failure: str, where: str) -> None:
    """What a callback does with a failing report: warn (the default), raise
    AssertionError, or nothing here ("stop" and "ignore": the caller acts)."""
    if report.ok or on_failure in ("stop", "ignore"):
        return
    message = f"{where}: {failure_message(report)}"
    if on_failure == "raise":
        raise AssertionError(message)
    warnings.warn(message, LogitcheckWarning, stacklevel=3)


def check_on_failure(on_failure: str) -> str:
    if on_failure not in ON_FAILURE:
        raise ValueError(f"on_failure: {on_failure!r} is not one of {', '.join(ON_FAILURE)}")
    return on_failure
