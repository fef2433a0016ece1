"""Plain-text pieces every renderer shares: the verdict line and a finding's title."""

from __future__ import annotations

from .model import Finding, Report, Severity


def finding_title(finding: Finding) -> str:
    """'LC201 probabilities-as-logits'."""
    return f"{finding.code} {finding.name}"


def no_finite_loss(metrics: dict) -> str | None:
    """Labels were given but no row's stable loss is finite (a float64 row whose range
    overflows): say so, never "no labels". None when there is nothing to say."""
    if metrics.get("evaluated_at") != "label" or metrics.get("loss_stable") is not None:
        return None
    n = metrics.get("rows_with_nonfinite_loss") or 0
    return f"loss: not finite on any labelled row ({n:,} row{'s' * (n != 1)} inf/NaN)"


def verdict(report: Report) -> str:
    counts = {s: sum(1 for f in report.findings if f.severity == s) for s in Severity}
    parts = [f"{n} {s.label}{'s' * (n != 1)}" for s, n in sorted(counts.items(), reverse=True) if n]
    found = ", ".join(parts) if parts else "no findings"
    baselined = sum(1 for f in report.findings if f.baselined)
    if baselined:
        found += f", {baselined} baselined"
    suppressed = sum(report.gate.suppressed.values())
    if suppressed:
        found += f", {suppressed} suppressed by --select/--ignore"
    gate = report.fail_on.label if report.fail_on is not None else "never"
    if report.gate.exit_zero:
        gate += ", exit-zero"
    mark = "FAIL" if report.exit_code else "PASS"
    return f"{mark}: {found} (fail-on {gate}, exit {report.exit_code})"
