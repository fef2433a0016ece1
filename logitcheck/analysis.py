"""parse -> compute -> infer -> check -> Report. The library's entry point."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from .checks import Context, run_checks
from .engine import compute_stats
from .inference import infer_kind
from .io import Progress, Source, open_inputs
from .numerics import PATHS, Stats, exp_overflow_threshold
from .report.model import Finding, Report
from .settings import Settings


def analyze(
    logits: str | Path,
    labels: str | Path | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> Report:
    """Analyze a logits file (and its labels): raises LogitcheckError on bad input.

    Labels come from `labels`, or from the logits' own file (an .npz or safetensors labels
    key, a CSV --label-column). `progress(done, total)` is called while a CSV is decoded.
    """
    settings = settings or Settings()
    started = time.perf_counter()
    source, label_source = open_inputs(logits, labels, settings, progress)
    opened = time.perf_counter()
    stats = compute_stats(source, label_source, settings)
    computed = time.perf_counter()
    kind = infer_kind(stats, source.dtype)
    inputs = [source.info()] + ([label_source.info()] if label_source else [])
    ctx = Context(stats, kind, inputs[0], inputs[1] if label_source else None, settings)
    findings = [_with_positions(f, source) for f in run_checks(ctx)]
    done = time.perf_counter()
    return Report(
        inputs=inputs,
        kind=kind,
        metrics=metrics(stats),
        findings=findings,
        fail_on=settings.fail_on,
        timings={
            "open_s": opened - started,
            "compute_s": computed - opened,
            "check_s": done - computed,
            "total_s": done - started,
        },
    )


def metrics(stats: Stats) -> dict[str, Any]:
    """The JSON-ready summary of merged statistics."""
    naive = {}
    for dtype, paths in stats.naive.items():
        naive[dtype] = {"overflow_threshold": exp_overflow_threshold(dtype)}
        for path in PATHS:
            p = paths[path]
            naive[dtype][path] = {
                "failed_rows": p.failed.count,
                "first_rows": list(p.failed.first),
                "overflow_rows": p.overflow.count,
                "underflow_rows": p.underflow.count,
                "max_rel_gap": p.max_rel_gap.value if p.max_rel_gap else None,
                "max_rel_gap_row": p.max_rel_gap.row if p.max_rel_gap else None,
            }
    return {
        "rows": stats.rows,
        "ignored_rows": stats.ignored,
        "classes": stats.classes,
        "evaluated_at": "label" if stats.labelled else "least_likely_class",
        "loss_stable": stats.loss.mean if stats.labelled else None,
        "accuracy": stats.accuracy,
        "rows_with_nonfinite_loss": stats.nonfinite_loss.count,
        "first_rows_with_nonfinite_loss": list(stats.nonfinite_loss.first),
        "worst_loss": stats.worst_loss.value if stats.labelled and stats.worst_loss else None,
        "worst_loss_row": stats.worst_loss.row if stats.labelled and stats.worst_loss else None,
        "health": {
            "nan_values": stats.nan_values,
            "posinf_values": stats.posinf_values,
            "neginf_values": stats.neginf_values,
            "nan_first_rows": list(stats.nan.first),
            "posinf_first_rows": list(stats.posinf.first),
            "neginf_first_rows": list(stats.neginf.first),
            "min": stats.finite_min,
            "max": stats.finite_max,
            "max_abs": stats.max_abs,
        },
        "naive": naive,
    }


def _with_positions(finding: Finding, source: Source) -> Finding:
    """For N-D logits, add `first_positions` (indices on the non-class axes) beside every
    `first_rows` list in the evidence, so row 1234 reads as (b=3, t=210)."""
    if len(source.lead_shape) < 2:
        return finding

    def walk(value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out = {k: walk(v) for k, v in value.items()}
        if isinstance(value.get("first_rows"), list):
            out["first_positions"] = [list(source.position(r)) for r in value["first_rows"]]
        return out

    return dataclasses.replace(finding, evidence=walk(finding.evidence))
