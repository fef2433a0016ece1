"""The Report model and its renderers: pure functions from a Report to text.

Only the model is imported here. Each renderer's module (and what it needs: rich for the
terminal, xml for JUnit, the pictures for HTML) is imported the first time its format is
looked up in RENDERERS, so a run loads the one renderer it uses (a fast start).
"""

from __future__ import annotations

import importlib
from typing import Any

from .model import Finding, InputInfo, Kind, Report, Severity
from .renderers import _WHERE, RENDERERS, Renderers  # noqa: F401 (Renderers: public)

_RENDER_FUNCTIONS = {name: (module, name) for module, name in _WHERE.values()}


_SUBMODULES = ("batch", "common", "fingerprint", "github", "html", "json_format", "junit",
               "markdown", "pictures", "renderers", "sarif", "tables", "terminal", "textplot")


def __getattr__(name: str) -> Any:
    """`from logitcheck.report import render_html`, and `logitcheck.report.html` after
    `import logitcheck.report`, still work: the module is imported then."""
    if name in _RENDER_FUNCTIONS:
        module, attr = _RENDER_FUNCTIONS[name]
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["RENDERERS", "Finding", "InputInfo", "Kind", "Report", "Severity"]
