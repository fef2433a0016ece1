"""logitcheck: diagnose exported logits, probabilities and labels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = [
    "Checker",
    "Finding",
    "Kind",
    "LogitcheckError",
    "Report",
    "Settings",
    "Severity",
    "__version__",
    "analyze",
    "check",
]

# The public names are imported on first use (PEP 562), not here: `import logitcheck.cli.app`,
# `import logitcheck.report.terminal` or any other submodule first runs this file, and
# should load only what that submodule needs.
_LAZY = {
    "analyze": "analyses.analyze",
    "check": "api",
    "Checker": "api",
    "LogitcheckError": "errors",
    "Finding": "report.model",
    "Kind": "report.model",
    "Report": "report.model",
    "Severity": "report.model",
    "Settings": "settings",
}

if TYPE_CHECKING:
    from .analyses.analyze import analyze
    from .api import Checker, check
    from .errors import LogitcheckError
    from .report.model import Finding, Kind, Report, Severity
    from .settings import Settings


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value  # once imported, a plain module attribute
        return value
    if not name.startswith("__"):  # `import logitcheck; logitcheck.io.open_inputs(...)`,
        try:  # as when this file imported (nearly) every submodule
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
