"""Number and row-list phrasing shared by the rules' messages."""

from __future__ import annotations

from ..compute.mergeable import RowSet


def rows_phrase(rows: RowSet, total: int) -> str:
    shown = ", ".join(str(r) for r in rows.first)
    more = ", ..." if rows.count > len(rows.first) else ""
    return f"{rows.count:,} of {total:,} rows (first: {shown}{more})"


def num(x: float) -> str:
    return f"{x:.4g}" if abs(x) < 1e5 else f"{x:.3e}"
