"""The CI gate: what happens to the findings after the checks ran.

In order: rules not selected, or ignored, are dropped (and counted as suppressed);
severity overrides apply; findings whose key (rule, input names, identity: baseline.py)
is in the baseline are marked baselined (still reported, never failing). Report.exit_code
then compares what is left with fail-on, and --exit-zero turns findings into a report only.
"""

from __future__ import annotations

from dataclasses import replace

from ..checks import REGISTRY, Rule
from ..errors import UsageError
from ..report.model import Finding, GateInfo, Severity
from ..settings import Settings
from . import baseline


def split_codes(option: str, values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """'LC1,LC201' and repeated options -> ('LC1', 'LC201'); each must match a rule."""
    codes: list[str] = []
    for value in values:
        for part in value.split(","):
            code = part.strip().upper()
            if not code:
                raise UsageError(f"{option}: empty rule code in {value!r}")
            if not any(c.startswith(code) for c in REGISTRY):
                raise UsageError(
                    f"{option}: {part.strip()!r} matches no rule code; 'logitcheck rules' "
                    "lists them"
                )
            codes.append(code)
    return tuple(dict.fromkeys(codes))


def parse_severity(values: tuple[str, ...] | list[str]) -> dict[str, Severity]:
    """('LC207=error', 'LC205=warning,LC101=info') -> {code: severity}."""
    out: dict[str, Severity] = {}
    for value in values:
        for part in value.split(","):
            code, sep, level = part.partition("=")
            code, level = code.strip().upper(), level.strip().lower()
            if not sep or not code or not level:
                raise UsageError(
                    f"--severity: expected CODE=LEVEL (e.g. LC207=error), got {part!r}"
                )
            if code not in REGISTRY:
                raise UsageError(f"--severity: no rule {code!r}; 'logitcheck rules' lists them")
            if level not in ("error", "warning", "info"):
                raise UsageError(
                    f"--severity: {level!r} for {code} is not one of error, warning, info"
                )
            out[code] = Severity.parse(level)
    return out


def is_selected(code: str, settings: Settings) -> bool:
    """Selected (or no --select) and not ignored; --ignore wins over --select."""
    selected = not settings.select or any(code.startswith(s) for s in settings.select)
    return selected and not any(code.startswith(i) for i in settings.ignore)


def apply(
    findings: list[Finding], rules: dict[str, Rule], settings: Settings, inputs: list[str]
) -> tuple[list[Finding], GateInfo]:
    """The findings that count, in report order, and how the gate got them."""
    accepted = baseline.load(settings.baseline) if settings.baseline else None
    kept: list[Finding] = []
    suppressed: dict[str, int] = {}
    for f in findings:
        if not is_selected(f.code, settings):
            suppressed[f.code] = suppressed.get(f.code, 0) + 1
            continue
        if f.code in settings.severity:
            f = replace(f, severity=settings.severity[f.code])
        kept.append(f)
    kept.sort(key=lambda f: (-f.severity, f.code))
    info = GateInfo(
        rules={code: r.name for code, r in rules.items()},
        skipped=tuple(code for code in rules if not is_selected(code, settings)),
        select=settings.select,
        ignore=settings.ignore,
        severity={code: s.label for code, s in settings.severity.items()},
        suppressed=suppressed,
        baseline=settings.baseline,
        inputs=tuple(str(p) for p in inputs),
        exit_zero=settings.exit_zero,
        baseline_fingerprint=accepted.fingerprint if accepted is not None else None,
    )
    if accepted is not None and accepted.keys:
        names = baseline.input_names(info.inputs)
        kept = [replace(f, baselined=accepted.key(f, names, lambda: info.fingerprint)
                        in accepted.keys) for f in kept]
    return kept, info
