"""GitHub Actions workflow commands: one annotation per finding.

    ::error file=PATH,title=LC201 probabilities-as-logits::message

error/warning/notice follow the finding's severity (info -> notice; a baselined finding
is a notice). Escaping is that of actions/toolkit's core command.ts: the message
escapes % CR LF; property values also escape : and ,.
"""

from __future__ import annotations

from .common import finding_title, verdict
from .model import Report, Severity

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(report: Report, *, job: str | None = None, **_: object) -> str:
    """job: a batch job's name, put in each title (logitcheck run)."""
    lines = []
    prefix = f"{job}: " if job else ""
    path = escape_property(report.subject)
    for f in report.findings:
        level = "notice" if f.baselined else _LEVEL[f.severity]
        title = prefix + finding_title(f) + (" (baselined)" if f.baselined else "")
        props = f"file={path},title={escape_property(title)}"
        lines.append(f"::{level} {props}::{escape_data(f.message)}")
    # the verdict as a notice, so every line is a workflow command
    name = escape_property(f"logitcheck {job}" if job else "logitcheck")
    lines.append(f"::notice title={name}::{escape_data(verdict(report))}")
    return "\n".join(lines) + "\n"
