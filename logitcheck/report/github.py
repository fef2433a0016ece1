"""GitHub Actions workflow commands: one annotation per finding.

    ::error file=PATH,title=LC201 probabilities-as-logits::message

For a CSV/TSV input, `line=` is the line of the first row the finding names (data row 0 is
the line after the header; blank lines between rows are not counted).

error/warning/notice follow the finding's severity (info -> notice; a baselined finding
is a notice). Escaping is that of actions/toolkit's core command.ts: the message
escapes % CR LF; property values also escape : and ,.
"""

from __future__ import annotations

from typing import Any

from .common import finding_title
from .model import Report, Severity, verdict

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def first_row(evidence: dict[str, Any]) -> int | None:
    """The first row (0-based) a finding's evidence names: its "row", or the smallest of
    its "first_rows" lists (at any depth, e.g. per naive path)."""
    rows: list[int] = []

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif key == "first_rows" and isinstance(value, list):
            rows.extend(r for r in value if isinstance(r, int) and not isinstance(r, bool))
        elif key == "row" and isinstance(value, int) and not isinstance(value, bool):
            rows.append(value)

    walk(evidence)
    return min(rows) if rows else None


def render_github(report: Report, *, job: str | None = None, **_: object) -> str:
    """job: a batch job's name, put in each title (logitcheck run)."""
    lines = []
    prefix = f"{job}: " if job else ""
    path = escape_property(report.subject)
    subject = report.inputs[1 if report.command == "compare" else 0] if report.inputs else None
    for f in report.findings:
        level = "notice" if f.baselined else _LEVEL[f.severity]
        title = prefix + finding_title(f) + (" (baselined)" if f.baselined else "")
        props = f"file={path}"
        row = first_row(f.evidence)
        if subject is not None and subject.first_line is not None and row is not None:
            props += f",line={subject.first_line + row}"  # CSV/TSV: the row's own line
        props += f",title={escape_property(title)}"
        lines.append(f"::{level} {props}::{escape_data(f.message)}")
    # the verdict as a notice, so every line is a workflow command
    name = escape_property(f"logitcheck {job}" if job else "logitcheck")
    lines.append(f"::notice title={name}::{escape_data(verdict(report))}")
    return "\n".join(lines) + "\n"
