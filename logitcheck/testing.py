"""Assertions for test suites: a model's outputs pass logitcheck's gate, or the test fails
with the findings as its message (pytest shows it as is).

>>> import numpy as np
>>> from logitcheck.testing import assert_outputs_ok
>>> z = np.array([[2.0, -1.0], [-1.0, 2.0]] * 32)
>>> report = assert_outputs_ok(z, np.array([0, 1] * 32))
>>> report.ok
True
>>> probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
>>> assert_outputs_ok(probs, np.array([0, 1] * 32))  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
AssertionError: logitcheck: FAIL: 1 error (fail-on error, exit 1)
LC201 probabilities-as-logits [error]: ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .api import check
from .report.model import Finding, Report, Severity, verdict

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .api import Options

__all__ = ["assert_outputs_ok", "failure_message"]

#: the frameworks whose fix a failure message shows, in this order
_FIXES = ("pytorch", "keras", "jax", "numpy")


def assert_outputs_ok(logits: Any, labels: Any = None, fail_on: str | Severity | None = "error",
                      **options: Unpack[Options]) -> Report:
    """Check `logits` (and `labels`) as logitcheck.check does; raise AssertionError whose
    message is the findings at or above `fail_on` when any fails the gate. Returns the
    Report otherwise (for further assertions on its metrics)."""
    __tracebackhide__ = True  # pytest: the failure points at the caller's line
    report = check(logits, labels, fail_on=fail_on, **options)
    if not report.ok:
        raise AssertionError(failure_message(report))
    return report


def failure_message(report: Report) -> str:
    """The verdict, then each failing finding: title, severity, message, rows, and the fix
    (the first framework's that the rule has)."""
    lines = [f"logitcheck: {verdict(report)}"]
    for f in report.failing:
        lines.append(_finding(f))
    return "\n".join(lines)


def _finding(f: Finding) -> str:
    text = f"{f.code} {f.name} [{f.severity.label}]: {f.message}"
    fix = next(((k, f.fix[k]) for k in _FIXES if k in f.fix), None)
    if fix is not None:
        text += f"\n  fix ({fix[0]}): {fix[1]}"
    return text
