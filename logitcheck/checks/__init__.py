"""The rule catalogue. A rule is one small function registered with its metadata.

Checks read merged statistics and settings and yield findings; they never see raw
arrays and never print. Adding a rule: write a function in the module of its range
(input, numerics, activation, drift) and decorate it with @rule(...).

Rules have a scope: "input" rules read one input's Context (analyze); "drift" rules read
a DriftContext of two exports (compare, checks/drift.py).
"""

from __future__ import annotations

# Importing the modules registers their rules (each imports .registry, never this package).
from . import (  # noqa: F401
    activation,
    backends,
    drift,
    expectations,
    gaussian,
    inputs,
    labels,
    numerics,
)
from .registry import (
    REGISTRY,
    SEVERITY_MODEL,
    Context,
    Rule,
    find_rule,
    rule,
    rules_in,
    rules_markdown,
    run_checks,
)

__all__ = [
    "REGISTRY", "SEVERITY_MODEL", "Context", "Rule", "find_rule", "rule", "rules_in",
    "rules_markdown", "run_checks",
]
