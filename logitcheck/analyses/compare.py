"""The `compare` command's pipeline: the two exports' chunks, their drift statistics
(compute/drift.py: |candidate - reference|, KL, argmax agreement, each one's loss, merged
exactly), the "drift" rules and the Report."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import gate
from ..checks import rules_in, run_checks
from ..checks.drift import DriftContext
from ..compute.chunks import plan_for
from ..compute.drift import DriftStats, chunk_drift
from ..compute.engine import map_chunks
from ..errors import UsageError
from ..inference import infer_kind
from ..io import Source, open_labels, open_logits
from ..report.model import Report
from ..settings import Settings


def _same_shape(ref: Source, cand: Source) -> None:
    for axis, (x, y) in enumerate(zip(ref.shape, cand.shape, strict=True)):
        if x != y:
            what = "rows" if axis == 0 else "classes"
            raise UsageError(
                f"{ref.path} and {cand.path} differ along axis {axis} ({what}): "
                f"{x:,} vs {y:,} (shapes {ref.array.shape} and {cand.array.shape})"
            )


def compute_drift(
    ref: Source, cand: Source, labels: Any, settings: Settings
) -> DriftStats:
    dtypes = (plan_for(ref, labels, settings), plan_for(cand, labels, settings))

    def one(bounds: tuple[int, int]) -> DriftStats:
        start, stop = bounds
        y = labels.read(start, stop) if labels is not None else None
        keep = y != settings.ignore_index if y is not None and labels.targets == "ids" else None
        return chunk_drift(ref.read(start, stop), cand.read(start, stop), y, start, dtypes,
                           keep)

    total = DriftStats()
    for part in map_chunks(ref, settings, one):
        total = total.merge(part)
    return total


def compare(
    reference: str | Path,
    candidate: str | Path,
    labels: str | Path | None = None,
    settings: Settings | None = None,
) -> Report:
    """Compare a candidate export with the reference: raises LogitcheckError on bad input."""
    settings = settings or Settings()
    started = time.perf_counter()
    ref, cand = open_logits(reference), open_logits(candidate)
    _same_shape(ref, cand)
    label_source = None
    if labels is not None:
        label_source = open_labels(labels, *ref.shape, settings.ignore_index, settings.multilabel)
    opened = time.perf_counter()
    stats = compute_drift(ref, cand, label_source, settings)
    computed = time.perf_counter()
    kinds = (infer_kind(stats.reference, ref.dtype), infer_kind(stats.candidate, cand.dtype))
    inputs = [replace(ref.info(), role="reference"), replace(cand.info(), role="candidate")]
    inputs += [label_source.info()] if label_source else []
    ctx = DriftContext(stats, kinds[0], kinds[1], settings)
    paths = [i.path for i in inputs]
    findings, gate_info = gate.apply(run_checks(ctx, "drift"), rules_in("drift"), settings, paths)
    done = time.perf_counter()
    return Report(
        inputs=inputs,
        kind=None,
        metrics=drift_metrics(stats, kinds, settings),
        findings=findings,
        fail_on=settings.fail_on,
        timings={
            "open_s": opened - started,
            "compute_s": computed - opened,
            "check_s": done - computed,
            "total_s": done - started,
        },
        gate=gate_info,
        command="compare",
    )


def drift_metrics(stats: DriftStats, kinds: tuple, settings: Settings) -> dict[str, Any]:
    t = settings.drift
    return {
        "rows": stats.rows,
        "classes": stats.classes,
        "rows_compared": stats.compared,
        "rows_with_nonfinite_values": stats.nonfinite.count,
        "first_rows_with_nonfinite_values": list(stats.nonfinite.first),
        "max_abs_diff": stats.max_abs_diff.value if stats.max_abs_diff else None,
        "max_abs_diff_row": stats.max_abs_diff.row if stats.max_abs_diff else None,
        "kl_mean": stats.kl.mean,
        "kl_max": stats.max_kl.value if stats.max_kl else None,
        "kl_max_row": stats.max_kl.row if stats.max_kl else None,
        "top1_agreement": stats.top1_agreement,
        "top1_disagreeing_rows": stats.disagree.count,
        "first_top1_disagreeing_rows": list(stats.disagree.first),
        "loss_reference": stats.loss_reference.mean,
        "loss_candidate": stats.loss_candidate.mean,
        "loss_delta": stats.loss_delta,
        "kind_reference": kinds[0].to_dict(),
        "kind_candidate": kinds[1].to_dict(),
        "thresholds": {
            "max_abs_diff": t.max_abs_diff,
            "max_kl": t.max_kl,
            "min_top1_agreement": t.min_top1_agreement,
            "max_loss_delta": t.max_loss_delta,
        },
    }
