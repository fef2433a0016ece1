"""Plain-text pieces every renderer shares: the verdict line and a finding's title."""

from __future__ import annotations

from .model import Finding, Report, Severity


def finding_title(finding: Finding) -> str:
    """'LC201 probabilities-as-logits'."""
    return f"{finding.code} {finding.name}"


def _counts(findings: list[Finding]) -> str:
    """'2 errors, 1 warning' ('' for none)."""
    counts = {s: sum(1 for f in findings if f.severity == s) for s in Severity}
    return ", ".join(f"{n} {s.label}{'s' * (n != 1)}"
                     for s, n in sorted(counts.items(), reverse=True) if n)


def verdict(report: Report) -> str:
    """'FAIL: 2 errors (fail-on error, exit 1)'; with --baseline, what is new first:
    'PASS: 0 new; 2 baselined (fail-on error, exit 0)',
    'FAIL: 1 new (1 error); 2 baselined, the inputs changed since the baseline (...)'."""
    if report.gate.baseline is not None:
        new = [f for f in report.findings if not f.baselined]
        found = f"{len(new)} new" + (f" ({_counts(new)})" if new else "")
        found += f"; {len(report.findings) - len(new)} baselined"
        if report.gate.changed_since_baseline:
            found += ", the inputs changed since the baseline"
    else:
        found = _counts(report.findings) or "no findings"
    suppressed = sum(report.gate.suppressed.values())
    if suppressed:
        found += f", {suppressed} suppressed by --select/--ignore"
    gate = report.fail_on.label if report.fail_on is not None else "never"
    if report.gate.exit_zero:
        gate += ", exit-zero"
    mark = "FAIL" if report.exit_code else "PASS"
    return f"{mark}: {found} (fail-on {gate}, exit {report.exit_code})"


#: a naive path within this relative gap of the stable loss on every row is "ok": rounding
#: in the dtype; beyond it, the cell says how far off it is (a gap of 1.0 is 100 %)
OK_REL_GAP = 1e-2


def gap_text(p: dict) -> tuple[str, bool]:
    """A finite naive path's cell: ("ok (rel. gap ≤ 3.4e-07)", True), or ("off by up to
    100 % (row 12)", False) past OK_REL_GAP."""
    gap = p["max_rel_gap"]
    if gap is None:
        return "ok", True
    if gap <= OK_REL_GAP:
        return f"ok (rel. gap ≤ {gap:.1e})", True
    row = p.get("max_rel_gap_row")
    return f"off by up to {gap:.0%}" + (f" (row {row})" if row is not None else ""), False
