"""logitcheck: diagnose exported logits, probabilities and labels."""

from __future__ import annotations

from .analysis import analyze
from .errors import LogitcheckError
from .report.model import Finding, Kind, Report, Severity
from .settings import Settings

__version__ = "0.1.0"
__all__ = [
    "Finding",
    "Kind",
    "LogitcheckError",
    "Report",
    "Settings",
    "Severity",
    "__version__",
    "analyze",
]
