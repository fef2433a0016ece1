"""LC9xx: a batch job's `expect:` block (logitcheck run) that the report does not meet.

An unmet expectation is a finding, not a separate job status, so that every format shows
it the way it shows any other finding (a JUnit failure, a GitHub annotation, a Markdown
row), and the gate treats it like any other rule (--severity, --ignore, --fail-on).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..report.model import Report, Severity
from .registry import rule


@dataclass(frozen=True)
class ExpectContext:
    report: Report  # the job's report, after its own gate
    expect: Any  # batch.Expect: kind, max_loss, max_naive_failures, forbid


def observed(report: Report) -> tuple[str, float | None, int]:
    """(kind, mean stable loss, naive failed rows in the storage dtype) of a job's report;
    for compare: the candidate's kind and loss."""
    m = report.metrics
    if report.command == "compare":
        return m["kind_candidate"]["name"], m["loss_candidate"], 0
    if report.command == "gaussian":  # the naive path in the scale's storage dtype
        naive = m["naive"].get(report.inputs[1].dtype, {})
        return "", m["loss_stable"], naive.get("failed_rows", 0)
    assert report.kind is not None
    storage = m["naive"].get(report.inputs[0].dtype, {})
    failed = max((p["failed_rows"] for k, p in storage.items() if isinstance(p, dict)),
                 default=0)
    return report.kind.name, m["loss_stable"], failed


@rule(
    "LC901",
    "expectation-unmet",
    Severity.ERROR,
    summary="A batch job's expect: block (kind, max-loss, max-naive-failures, forbid) is unmet.",
    why="A nightly run states what each export must be: what it holds, how large its loss "
    "may be, how many rows may break the naive path, which mistakes must never appear. An "
    "export that stops meeting that is a regression, even when no other rule fires.",
    fix={
        "numpy": "Compare the export with the last good one (logitcheck compare REF CAND) to "
        "find what changed, or update the expectation if the change is intended.",
        "pytorch": "Check what changed in the export script (model.eval(), the output head, "
        "the dtype), or update the job's expect: block if the change is intended.",
        "keras": "Check what changed in the export (the last activation, the mixed precision "
        "policy), or update the job's expect: block if the change is intended.",
        "jax": "Check what changed in the apply function or its dtype, or update the job's "
        "expect: block if the change is intended.",
    },
    example="expect: {kind: logits, max-loss: 0.8}  # the export now holds probabilities",
    scope="batch",
)
def expectation_unmet(ctx: ExpectContext):
    e, report = ctx.expect, ctx.report
    kind, loss, failed = observed(report)
    what = "the candidate" if report.command == "compare" else "the array"
    if e.kind is not None and kind != e.kind:
        yield (f"expected {what} to hold {e.kind}, but it holds {kind}",
               {"expectation": "kind", "expected": e.kind, "actual": kind})
    if e.max_loss is not None and (loss is None or loss > e.max_loss):
        shown = "no finite loss" if loss is None else f"{loss:.6g}"
        yield (f"expected a mean stable loss of at most {e.max_loss:g}, got {shown}",
               {"expectation": "max-loss", "expected": e.max_loss, "actual": loss})
    if e.max_naive_failures is not None and failed > e.max_naive_failures:
        dtype = report.inputs[1 if report.command == "gaussian" else 0].dtype
        yield (f"expected at most {e.max_naive_failures:,} rows where a naive path fails in "
               f"the storage dtype {dtype}, got {failed:,}",
               {"expectation": "max-naive-failures", "expected": e.max_naive_failures,
                "actual": failed})
    fired = {f.code: f.name for f in report.findings if f.code != "LC901"}
    for code, name in fired.items():
        if any(code.startswith(c) for c in e.forbid):
            yield (f"{code} {name} fired, which expect.forbid forbids",
                   {"expectation": "forbid", "expected": list(e.forbid), "actual": code})
