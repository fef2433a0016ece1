"""A batch run's outcome (one Report or one error per job) and its renderers.

Each renderer composes the single-report renderer of its format, job by job, so a job
looks the same in `logitcheck run` as in `logitcheck analyze`.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.rule import Rule
from rich.text import Text

from ..errors import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK
from ..sanitize import clean
from .fit import Column, fitted_table
from .github import escape_data, escape_property, render_github
from .json_format import dumps as json_dumps
from .junit import render_junit, xml_text
from .markdown import MAX_BYTES, cell, render_markdown
from .model import Report, Severity
from .terminal import render_rich

STATUSES = ("pass", "warn", "fail", "error")
_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "error": "bold magenta"}


@dataclass(frozen=True)
class JobOutcome:
    name: str
    type: str  # "analyze" or "compare"
    report: Report | None = None
    error: str | None = None  # the one-line message when the job could not be completed

    def __post_init__(self) -> None:  # names and messages from the config and its inputs
        object.__setattr__(self, "name", clean(self.name))
        if self.error is not None:
            object.__setattr__(self, "error", clean(self.error))

    @property
    def status(self) -> str:
        """error: could not run; fail: its gate fails; warn: findings at warning or above
        that do not fail (e.g. below --fail-on); pass otherwise."""
        if self.report is None:
            return "error"
        if self.report.exit_code:
            return "fail"
        loud = [f for f in self.report.findings
                if f.severity >= Severity.WARNING and not f.baselined]
        return "warn" if loud else "pass"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "status": self.status}
        if self.report is not None:
            out["report"] = self.report.to_dict()
        else:
            out["error"] = self.error
        return out


@dataclass(frozen=True)
class BatchReport:
    config: str
    jobs: list[JobOutcome]
    quiet: bool = False  # rich: the reports of failing and erroring jobs only

    def __post_init__(self) -> None:
        object.__setattr__(self, "config", clean(self.config))

    @property
    def exit_code(self) -> int:
        """2 if a job could not be completed, else 1 if a job fails, else 0."""
        statuses = {j.status for j in self.jobs}
        if "error" in statuses:
            return EXIT_ERROR
        return EXIT_FINDINGS if "fail" in statuses else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": "1",
            "command": "run",
            "config": self.config,
            "jobs": [j.to_dict() for j in self.jobs],
            "exit_code": self.exit_code,
        }


def kind_of(job: JobOutcome) -> str:
    r = job.report
    if r is None:
        return ""
    if r.command == "compare":
        ref, cand = r.metrics["kind_reference"]["name"], r.metrics["kind_candidate"]["name"]
        return cand if ref == cand else f"{ref} → {cand}"
    return r.kind.name if r.kind else ""


def loss_of(job: JobOutcome) -> str:
    r = job.report
    if r is None:
        return ""
    loss = r.metrics["loss_candidate" if r.command == "compare" else "loss_stable"]
    declared = r.metrics.get("loss") if r.command == "analyze" else None
    if declared and declared["expects"] != "logits":  # the user's loss, not the logits reading
        loss = declared["value"]
        if isinstance(loss, str):
            return loss
    return "n/a" if loss is None else f"{loss:.6g}"


def findings_of(job: JobOutcome) -> str:
    if job.report is None:
        return job.error or ""
    codes = dict.fromkeys(f.code for f in job.report.findings)
    return ", ".join(codes) if codes else "none"


def verdict(batch: BatchReport) -> str:
    counts = {s: sum(1 for j in batch.jobs if j.status == s) for s in STATUSES}
    parts = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    mark = "PASS" if batch.exit_code == EXIT_OK else "FAIL"
    n = len(batch.jobs)
    return f"{mark}: {n} job{'s' * (n != 1)}: {parts} (exit {batch.exit_code})"


def render_batch_rich(batch: BatchReport, *, color: bool = False, width: int = 100,
                      verbosity: int = 0, **_: object) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=color, no_color=not color,
                      color_system="standard" if color else None, highlight=False,
                      soft_wrap=False)
    # laid out by fit.py: the loss never cut, names and messages wrapped at spaces
    columns = [Column("job", justify="left", wrap=True), Column("status", justify="left"),
               Column("kind", justify="left", wrap=True), Column("loss"),
               Column("findings", justify="left", wrap=True)]
    for job in batch.jobs:
        cells = (Text(job.name), Text(job.status, style=_STYLE[job.status]),
                 Text(kind_of(job)), Text(loss_of(job)), Text(findings_of(job)))
        for col, text in zip(columns, cells, strict=True):
            col.cells.append(text)
    table, _ = fitted_table(columns, width, title=f"logitcheck run {batch.config}",
                            title_justify="left")
    console.print(table)
    for job in batch.jobs:
        if batch.quiet and job.status not in ("fail", "error"):
            continue
        console.print(Rule(f"{job.name} · {job.status}", align="left",
                           style=_STYLE[job.status]))
        if job.report is not None:
            # -q already keeps only failing jobs: their reports stay whole
            console.file.write(render_rich(job.report, color=color, width=width,
                                           verbosity=max(verbosity, 0)))
        else:
            console.print(Text(f"error: {job.error}", style=_STYLE["error"]))
    console.print(verdict(batch), style="bold")
    return buffer.getvalue()


def render_batch_json(batch: BatchReport, **_: object) -> str:
    return json_dumps(batch.to_dict(), indent=2) + "\n"


def render_batch_junit(batch: BatchReport, **_: object) -> str:
    """One testsuite per job (the single-report testsuite, named after the job); a job that
    could not run is a suite with one <error>."""
    root = ET.Element("testsuites", name="logitcheck")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for job in batch.jobs:
        if job.report is not None:
            suite = ET.fromstring(render_junit(job.report)).find("testsuite")
            assert suite is not None
            suite.set("file", suite.get("name", ""))
            suite.set("name", xml_text(job.name))
        else:
            suite = ET.Element("testsuite", name=xml_text(job.name), tests="1", failures="0",
                               errors="1", skipped="0")
            case = ET.SubElement(suite, "testcase", classname=f"logitcheck.{job.type}",
                                 name=xml_text(job.name))
            ET.SubElement(case, "error", message=xml_text(job.error or ""))
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
        root.append(suite)
    for key, n in totals.items():
        root.set(key, str(n))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def render_batch_github(batch: BatchReport, **_: object) -> str:
    lines: list[str] = []
    for job in batch.jobs:
        if job.report is not None:
            lines.append(render_github(job.report, job=job.name).rstrip("\n"))
        else:
            title = escape_property(f"logitcheck {job.name}")
            lines.append(f"::error title={title}::{escape_data(job.error or '')}")
    lines.append(f"::notice title=logitcheck run::{escape_data(verdict(batch))}")
    return "\n".join(lines) + "\n"


def render_batch_markdown(batch: BatchReport, *, max_bytes: int = MAX_BYTES,
                          **_: object) -> str:
    head = [
        f"# logitcheck run: {cell(batch.config)}",
        "",
        f"**{cell(verdict(batch))}**",
        "",
        "| job | status | kind | loss | findings |",
        "|---|---|---|---|---|",
        *(f"| {cell(j.name)} | {j.status} | {cell(kind_of(j))} | {loss_of(j)} | "
          f"{cell(findings_of(j))} |" for j in batch.jobs),
        "",
    ]
    text = "\n".join(head) + "\n"
    # each job gets an equal share of what is left under GitHub's limit
    for i, job in enumerate(batch.jobs):
        budget = (max_bytes - len(text.encode())) // (len(batch.jobs) - i)
        if job.report is not None:
            part = render_markdown(job.report, max_bytes=max(budget, 0), job=job.name)
        else:
            part = f"## {cell(job.name)}: error\n\n{cell(job.error or '')}\n"
        if len(part.encode()) + 1 > budget:
            part = f"## {cell(job.name)}: {job.status}\n\n_left out to stay under 1 MiB._\n"
        text += "\n" + part
    return text


#: format name -> batch renderer: the same formats as RENDERERS
def render_batch_html(batch: BatchReport, **_: object) -> str:
    """One page: the summary table, then each job's page body (report/html.py)."""
    from html import escape

    from .html import render_html

    rows = "".join(
        f"<tr><td>{escape(j.name)}</td><td>{escape(j.status)}</td><td>{escape(kind_of(j))}</td>"
        f"<td>{escape(loss_of(j))}</td><td>{escape(findings_of(j))}</td></tr>"
        for j in batch.jobs
    )
    page = render_html(batch.jobs[0].report) if batch.jobs and batch.jobs[0].report else None
    head = page.split("<body", 1)[0] if page else "<!doctype html><html><head></head>"
    bodies = []
    for job in batch.jobs:
        bodies.append(f"<h2>{escape(job.name)} · {escape(job.status)}</h2>")
        if job.report is None:
            bodies.append(f"<p>error: {escape(str(job.error))}</p>")
            continue
        body = render_html(job.report).split("<main>", 1)[1].rsplit("</main>", 1)[0]
        bodies.append(f"<section>{body}</section>")
    return (f"{head}<body data-ready=\"0\"><main><h1>logitcheck run "
            f"{escape(str(batch.config))}</h1><table><tr><th>job</th><th>status</th>"
            f"<th>kind</th><th>loss</th><th>findings</th></tr>{rows}</table>"
            f"{''.join(bodies)}<p>{escape(verdict(batch))}</p></main>"
            "<script>document.body.dataset.ready='1'</script></body></html>")


BATCH_RENDERERS = {
    "rich": render_batch_rich,
    "html": render_batch_html,
    "json": render_batch_json,
    "junit": render_batch_junit,
    "github": render_batch_github,
    "markdown": render_batch_markdown,
    "sarif": lambda batch, **kw: _sarif().render_batch_sarif(batch, **kw),
}


def _sarif():
    from . import sarif  # only when a batch run asks for SARIF

    return sarif
