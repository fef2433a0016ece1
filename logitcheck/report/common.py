"""Plain-text pieces every renderer shares: a finding's title, the loss gaps (the verdict
line is model.verdict: Report.__repr__ uses it too)."""

from __future__ import annotations

from .model import Finding


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
