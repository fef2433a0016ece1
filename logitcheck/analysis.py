"""parse -> compute -> infer -> check -> Report. The library's entry point."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from . import gate
from .backends.run import BackendResult, BackendRun
from .checks import Context, rules_in, run_checks
from .engine import compute_all, plan_for
from .inference import infer_kind
from .io import open_labels, open_logits
from .numerics import PATHS, PathStats, Stats, exp_overflow_threshold
from .report.model import Report
from .settings import Settings


def analyze(
    logits: str | Path, labels: str | Path | None = None, settings: Settings | None = None
) -> Report:
    """Analyze a logits file (and its labels): raises LogitcheckError on bad input."""
    settings = settings or Settings()
    started = time.perf_counter()
    source = open_logits(logits)
    label_source = None
    if labels is not None:
        label_source = open_labels(
            labels, *source.shape, settings.ignore_index, settings.multilabel
        )
    opened = time.perf_counter()
    run = BackendRun.open(settings, source.dtype, plan_for(source, label_source, settings))
    stats, backend_stats = compute_all(source, label_source, settings, run.jobs)
    backend = BackendResult(run, backend_stats, stats.classes,
                            stats.binary or stats.targets == "multilabel")
    computed = time.perf_counter()
    kind = infer_kind(stats, source.dtype)
    inputs = [source.info()] + ([label_source.info()] if label_source else [])
    ctx = Context(stats, kind, inputs[0], inputs[1] if label_source else None, settings,
                  backend)
    paths = [i.path for i in inputs]
    findings, gate_info = gate.apply(run_checks(ctx), rules_in("input"), settings, paths)
    done = time.perf_counter()
    return Report(
        inputs=inputs,
        kind=kind,
        metrics=metrics(stats, backend),
        findings=findings,
        fail_on=settings.fail_on,
        timings={
            "open_s": opened - started,
            "compute_s": computed - opened,
            "check_s": done - computed,
            "total_s": done - started,
        },
        gate=gate_info,
    )


def path_metrics(p: PathStats) -> dict[str, Any]:
    """A naive path's failures and gap, as metrics.naive (and metrics.backend) show them."""
    return {
        "failed_rows": p.failed.count,
        "first_rows": list(p.failed.first),
        "overflow_rows": p.overflow.count,
        "underflow_rows": p.underflow.count,
        "max_rel_gap": p.max_rel_gap.value if p.max_rel_gap else None,
        "max_rel_gap_row": p.max_rel_gap.row if p.max_rel_gap else None,
    }


def metrics(stats: Stats, backend: BackendResult | None = None) -> dict[str, Any]:
    """The JSON-ready summary of merged statistics."""
    naive = {}
    for dtype, paths in stats.naive.items():
        naive[dtype] = {"overflow_threshold": exp_overflow_threshold(dtype)}
        for path in PATHS:
            naive[dtype][path] = path_metrics(paths[path])
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
        "frameworks": {
            name: {
                "loss": f.loss.mean,
                "capped_rows": f.capped.count,
                "first_capped_rows": list(f.capped.first),
            }
            for name, f in stats.frameworks.items()
        },
        "backend": backend.metrics(path_metrics) if backend is not None else None,
    }
