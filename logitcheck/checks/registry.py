"""The rule registry: Rule, the Context a check reads, the @rule decorator and the catalogue.

It imports no rule module and no analysis: the rule modules import it to register, and the
package (checks/__init__.py) imports them all, so `from logitcheck.checks import REGISTRY`
sees every rule with no import cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..compute.stats import Stats
from ..report.model import Finding, InputInfo, Kind, Severity
from ..settings import Settings


@dataclass(frozen=True)
class Context:
    stats: Stats
    kind: Kind
    logits: InputInfo
    labels: InputInfo | None
    settings: Settings
    backend: Any = None  # backends.run.BackendResult: what --backend/--cross-check computed
    probe: Any = None  # probe.Probe: other readings of the labels on the first rows


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    summary: str
    why: str
    fix: dict[str, str]  # framework -> how to fix it there
    example: str
    check: Callable[[Any], Iterator[tuple[Any, ...]]]
    scope: str = "input"

    def run(self, ctx: Any) -> Iterator[Finding]:
        # a check yields (message, evidence), or (message, evidence, {"severity": ...,
        # "fix": ...}) where they depend on what it found (LC101: a hazard on the stable
        # path, an error on the naive one); the gate's --severity overrides apply after
        for message, evidence, *more in self.check(ctx):
            over = more[0] if more else {}
            yield Finding(self.code, self.name, over.get("severity", self.severity), message,
                          evidence, over.get("fix", self.fix))


REGISTRY: dict[str, Rule] = {}

#: `logitcheck explain severity` and the README: when a finding fails the gate
SEVERITY_MODEL = """\
error: the loss you compute is wrong or will not be finite: probabilities fed to a
  loss that takes logits (LC201), double softmax (LC202), misaligned labels (LC304), NaN
  or inf stored in the file (LC001), or a naive path that fails on the path you use.
warning: a hazard that has not hurt this export's loss, or a loss that is finite but
  imprecise: the naive softmax would overflow or underflow (LC101, LC102) while your
  loss path is stable, a float16 mean over the whole export (LC109), coarse storage.
info: headroom and context: narrower dtypes that would break (LC104), classes that
  never occur (LC302).

The naive paths (softmax then log; log-sum-exp without the max shift) are computed on
every run. Their failures are errors only when they are yours: --loss-path naive (you
compute softmax then log by hand), stored inf/NaN, or --backend's own loss API returning
inf/NaN. With the default --loss-path stable (F.cross_entropy, log_softmax,
from_logits=True) they are warnings that name the rows and the headroom left. With
--backend torch/tensorflow/jax the counts are the framework's own: its softmax subtracts
the row max, so only a hand-written log(sum(exp(z))) overflows.

The gate fails on findings at or above --fail-on (error by default); --severity
CODE=LEVEL moves one rule, --select/--ignore choose rules, --baseline accepts known
findings."""


def rule(
    code: str,
    name: str,
    severity: Severity,
    summary: str,
    why: str,
    fix: dict[str, str],
    example: str,
    scope: str = "input",
):
    """Register a check; it yields (message, evidence) pairs, one per finding."""

    def register(check: Callable[[Any], Iterator[tuple[str, dict[str, Any]]]]):
        if code in REGISTRY:
            raise ValueError(f"rule {code} registered twice")
        REGISTRY[code] = Rule(code, name, severity, summary, why, fix, example, check, scope)
        return check

    return register


def rules_markdown() -> str:
    """The README's rule table, generated from the registry (a test keeps them in sync)."""
    lines = ["| code | name | severity | summary |", "|---|---|---|---|"]
    for code in sorted(REGISTRY):
        r = REGISTRY[code]
        lines.append(f"| {r.code} | {r.name} | {r.severity.label} | {r.summary} |")
    return "\n".join(lines) + "\n"


def find_rule(code: str) -> Rule | None:
    code = code.strip().upper()
    return REGISTRY.get(code) or next(
        (r for r in REGISTRY.values() if r.name == code.lower()), None
    )


def rules_in(scope: str) -> dict[str, Rule]:
    return {code: REGISTRY[code] for code in sorted(REGISTRY) if REGISTRY[code].scope == scope}


def run_checks(ctx: Any, scope: str = "input") -> list[Finding]:
    findings = [f for r in rules_in(scope).values() for f in r.run(ctx)]
    return sorted(findings, key=lambda f: (-f.severity, f.code))
