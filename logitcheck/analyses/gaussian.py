"""The `gaussian` command's pipeline: open the mean, scale and target columns, compute the
Gaussian statistics per chunk (compute/gaussian.py: the stable NLL, the naive variance path,
torch's clamp), merge them, run the "gaussian" rules and build the Report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .. import gate
from ..checks import rules_in, run_checks
from ..compute.engine import map_chunks
from ..compute.gaussian import SCALES, GaussStats, chunk_gaussian, scale_zones
from ..compute.stats import naive_dtypes
from ..errors import InputError, UsageError
from ..io import Source, open_logits
from ..report.model import InputInfo, Report
from ..settings import Settings


@dataclass(frozen=True)
class GaussContext:
    stats: GaussStats
    scale_kind: str
    storage: str
    inputs: list[InputInfo]
    settings: Settings


def _open(path: str | Path, key: str | None, role: str, settings: Settings) -> Source:
    """One array from any supported format: `key` is the .npz/safetensors key or CSV column."""
    fmt = Path(path).name.lower()
    csv = any(fmt.endswith(x) for x in (".csv", ".tsv", ".csv.gz", ".tsv.gz"))
    keyed = replace(settings, class_columns=key) if csv else replace(settings, logits_key=key)
    source = open_logits(path, keyed if key is not None else settings)
    if source.shape[0] == 0:
        raise InputError(path, f"the {role} has no rows")
    return source


def analyze_gaussian(
    mean: str | Path,
    scale: str | Path,
    targets: str | Path | None,
    settings: Settings | None = None,
) -> Report:
    """The Gaussian NLL report: raises LogitcheckError on bad input."""
    settings = settings or Settings()
    kind = settings.scale
    if kind not in SCALES:
        raise UsageError(f"--scale: {kind!r} is not one of {', '.join(SCALES)}")
    started = time.perf_counter()
    sources = [_open(mean, settings.mean_key, "mean", settings),
               _open(scale, settings.scale_key, "scale", settings)]
    if targets is not None:
        sources.append(_open(targets, settings.targets_key, "targets", settings))
    shape = sources[0].shape
    for other in sources[1:]:
        if other.shape != shape:
            raise InputError(other.path, f"shape {other.array.shape} does not match the mean "
                             f"{sources[0].array.shape} ({sources[0].path})")
    storage = sources[1].dtype  # the scale column is the one whose dtype matters
    dtypes = naive_dtypes(storage, settings.dtypes)
    opened = time.perf_counter()

    def one(bounds: tuple[int, int]) -> GaussStats:
        start, stop = bounds
        blocks = [src.read(start, stop) for src in sources]
        y = blocks[2] if targets is not None else None
        return chunk_gaussian(blocks[0], blocks[1], y, start, kind, dtypes)

    stats = GaussStats()
    for part in map_chunks(sources[0], settings, one):
        stats = stats.merge(part)
    computed = time.perf_counter()
    inputs = [replace(src.info(), role=role)
              for src, role in zip(sources, ("mean", "scale", "targets"), strict=False)]
    ctx = GaussContext(stats, kind, storage, inputs, settings)
    paths = [i.path for i in inputs]
    findings, gate_info = gate.apply(
        run_checks(ctx, "gaussian"), rules_in("gaussian"), settings, paths
    )
    done = time.perf_counter()
    return Report(
        inputs=inputs,
        kind=None,
        metrics=gaussian_metrics(stats, kind, storage),
        findings=findings,
        fail_on=settings.fail_on,
        timings={"open_s": opened - started, "compute_s": computed - opened,
                 "check_s": done - computed, "total_s": done - started},
        gate=gate_info,
        command="gaussian",
    )


def gaussian_metrics(stats: GaussStats, kind: str, storage: str) -> dict[str, Any]:
    naive = {}
    for dtype, p in stats.naive.items():
        naive[dtype] = {
            "failed_rows": p.failed.count,
            "first_rows": list(p.failed.first),
            "overflow_rows": p.overflow.count,
            "underflow_rows": p.underflow.count,
            "max_rel_gap": p.max_rel_gap.value if p.max_rel_gap else None,
            "max_rel_gap_row": p.max_rel_gap.row if p.max_rel_gap else None,
        }
    return {
        "rows": stats.rows,
        "outputs": stats.outputs,
        "scale": kind,
        "targets": stats.z2_declared.count > 0 or stats.loss.count > 0 or bool(stats.naive),
        "loss_stable": stats.loss.mean,
        "rows_with_nonfinite_inputs": stats.nonfinite_inputs.count,
        "first_rows_with_nonfinite_inputs": list(stats.nonfinite_inputs.first),
        "worst_loss": stats.worst_loss.value if stats.worst_loss else None,
        "worst_loss_row": stats.worst_loss.row if stats.worst_loss else None,
        "scale_min": stats.scale_min,
        "scale_max": stats.scale_max,
        "z2_mean": stats.z2_declared.mean,
        "z2_mean_other_log_reading": stats.z2_alternative.mean,
        "torch_gaussian_nll": {
            "loss": stats.torch_loss.mean,
            "clamped_rows": stats.torch_clamped.count,
            "first_clamped_rows": list(stats.torch_clamped.first),
        },
        "naive": naive,
        "zones": {d: scale_zones(kind, d) for d in ("float16", "bfloat16", "float32", "float64")},
    }
