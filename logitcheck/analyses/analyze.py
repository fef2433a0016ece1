"""parse -> compute -> infer -> check -> Report. The library's entry point."""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import gate
from ..about import NO_FMA, kernel_description
from ..backends.compute import BackendStats
from ..backends.run import BackendResult, BackendRun
from ..checks import Context, rules_in, run_checks
from ..compute.chunks import plan_for, row_reader
from ..compute.dtypes import FLOATS, facts
from ..compute.engine import compute_all
from ..compute.kernel import KERNEL
from ..compute.mergeable import Histogram, RowValues
from ..compute.probe import Probe, probe_labels
from ..compute.stats import PATHS, PathStats, Stats, exp_overflow_threshold
from ..inference import infer_kind
from ..io import Labels, Progress, Source, open_inputs
from ..report.model import Finding, InputInfo, Report
from ..settings import Settings

#: read(rows) -> those rows' values as stored and their labels (engine.row_reader)
RowReader = Callable[[list[int]], tuple[np.ndarray, "np.ndarray | None"]]


def analyze(
    logits: str | Path,
    labels: str | Path | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> Report:
    """Analyze a logits file (and its labels): raises LogitcheckError on bad input.

    Labels come from `labels`, or from the logits' own file (an .npz or safetensors labels
    key, a CSV --label-column). `progress(done, total, stage)` is called as a CSV is decoded
    (stage "reading") and as the rows are analysed ("analysing"), in bytes of input.
    """
    settings = settings or Settings()
    started = time.perf_counter()
    source, label_source = open_inputs(logits, labels, settings, progress)
    inputs = [source.path] + ([label_source.path] if label_source else [])
    return analyze_opened(source, label_source, settings, progress, started, inputs)


def analyze_opened(
    source: Source, label_source: Labels | None, settings: Settings,
    progress: Progress | None = None, started: float | None = None,
    gate_inputs: list[Path] | None = None,
) -> Report:
    """analyze() from the opened inputs: files (analyze) or arrays in memory (api.check).
    `gate_inputs`: the files a baseline's fingerprint covers (none for arrays)."""
    opened = time.perf_counter()
    started = opened if started is None else started
    run = BackendRun.open(settings, source.dtype, plan_for(source, label_source, settings))
    stats, backend_stats = compute_all(source, label_source, settings, run.jobs, progress)
    computed = time.perf_counter()
    probe = probe_labels(source, label_source, settings.ignore_index, settings.shift_labels)
    inputs = [source.info()] + ([label_source.info()] if label_source else [])
    return build_report(
        source, inputs, settings, run, stats, backend_stats, probe,
        row_reader(source, label_source), list(gate_inputs or []),
        {"open_s": opened - started, "compute_s": computed - opened}, computed,
    )


def build_report(
    source: Source, inputs: list[InputInfo], settings: Settings, run: BackendRun,
    stats: Stats, backend_stats: dict[str, BackendStats], probe: Probe | None,
    read_rows: RowReader, gate_inputs: list[Path], timings: dict[str, float],
    computed: float,
) -> Report:
    """The Report from merged statistics: inference, checks, gate, metrics.

    `source` gives the layout (dtype, N-D positions) and may hold no data (a stream's
    stand-in, api.Checker); `read_rows(rows)` gives the values of the few rows the tables
    show; `computed`: when the statistics were done (perf_counter), for check_s."""
    backend = BackendResult(run, backend_stats, stats.classes,
                            stats.binary or stats.targets == "multilabel")
    kind = infer_kind(stats, source.dtype)
    ctx = Context(stats, kind, inputs[0], inputs[1] if len(inputs) > 1 else None, settings,
                  backend, probe)
    checked = [_with_positions(f, source) for f in run_checks(ctx)]
    findings, gate_info = gate.apply(checked, rules_in("input"), settings,
                                     [str(p) for p in gate_inputs])
    done = time.perf_counter()
    m = metrics(stats, source.dtype, backend)
    m["label_readings"] = probe.to_dict() if probe is not None else None
    m["loss"] = declared_loss(stats, settings.expects)
    _add_declared_row_losses(m, read_rows, settings.expects)
    check_s = done - computed
    m["hints"] = speed_hints(inputs)
    return Report(
        inputs=inputs,
        kind=kind,
        metrics=m,
        findings=findings,
        fail_on=settings.fail_on,
        timings={**timings, "check_s": check_s, "total_s": sum(timings.values()) + check_s},
        gate=gate_info,
        positions=positions(m, source),
    )


#: what the user's loss computes from the values, by --expects (the reading they declare)
_FORMULAS = {
    "logits": ("-log_softmax(z)[y]", "-log_sigmoid BCE (with logits)"),
    "probabilities": ("-log p_y", "BCE on probabilities"),
    "log_probabilities": ("-z_y (nll_loss)", "-z_y (nll_loss)"),
}


def declared_loss(stats: Stats, expects: str) -> dict[str, Any]:
    """The mean loss the user's declared loss computes (--expects): the headline number.
    Where it is inf (a probability of 0 at the label), `value` is "inf" and `inf_rows`
    says on how many rows."""
    sigmoid = stats.binary or stats.targets == "multilabel"
    formula = _FORMULAS[expects][1 if sigmoid else 0]
    out: dict[str, Any] = {"expects": expects, "formula": formula, "value": None,
                           "inf_rows": 0, "as_logits": stats.loss.mean if stats.labelled
                           else None}
    if not stats.labelled:
        return out
    if expects == "logits":
        out["value"] = stats.loss.mean
    elif expects == "probabilities":
        out["value"] = stats.loss_as_probabilities.mean
        out["inf_rows"] = stats.zero_label_value.count
        if stats.zero_label_value:
            out["value"] = "inf"
    else:
        out["value"] = stats.loss_as_log_probabilities.mean
    return out


def _add_declared_row_losses(m: dict[str, Any], read_rows: RowReader, expects: str) -> None:
    """Each table row's loss as the user's declared loss computes it (--expects
    probabilities or log-probabilities: -log p_y or -z_y of the stored value)."""
    rows = [r for key in ("worst_rows", "naive_failure_rows") for r in m[key]]
    if expects == "logits" or not rows or m["classes"] < 2 or m["loss_stable"] is None:
        return
    rows = [r for r in rows if r["label"] is not None]  # multi-label: no single label
    if not rows:
        return
    wanted = sorted({r["row"] for r in rows})
    values = np.asarray(read_rows(wanted)[0], dtype=np.float64)  # one read for the tables
    at = {row: k for k, row in enumerate(wanted)}
    for r in rows:
        v = float(values[at[r["row"]], r["label"]])
        if expects == "probabilities":
            loss = -math.log(v) if v > 0 else math.inf
        else:
            loss = -v
        r["loss_declared"] = _json_float(loss)
#: logits from this size on (bytes in memory) computed in numpy get a hint to install the
#: compiled kernel, 10-40x faster than numpy on large arrays
NUMPY_HINT_BYTES = 100_000_000


def speed_hints(inputs: list[Any]) -> list[str]:
    """One line for each way this run could have been faster: a large CSV read by the
    built-in parser (pyarrow not installed), large logits computed in numpy."""
    import sys

    hints = []
    for info in inputs:
        if info.format not in ("csv", "tsv") or "pyarrow" in sys.modules:
            continue  # pyarrow was imported: it read the large ones
        from ..io.delimited import FAST_MIN_BYTES

        try:
            big = os.path.getsize(info.path) >= FAST_MIN_BYTES
        except OSError:
            big = False
        if big:
            hints.append(f"{info.path} was read by the built-in CSV parser: "
                         "pip install 'logitcheck[csv]' (pyarrow) reads it about 3x faster")
            break
    if KERNEL == "numpy" and inputs and inputs[0].nbytes >= NUMPY_HINT_BYTES:
        why = kernel_description().partition("(")[2].rstrip(")")
        if why.startswith(NO_FMA):
            return hints  # the kernel is installed and would be slower: nothing to do
        hints.append(f"computed in numpy ({why}): the compiled kernel is 10-40x faster; "
                     "install a logitcheck wheel, or reinstall with a C compiler")
    return hints


def zones(stats: Stats) -> dict[str, Any]:
    """Each dtype's thresholds and this file's headroom against them (softmax inputs)."""
    out: dict[str, Any] = {}
    top = stats.finite_max
    span = stats.max_range.value if stats.max_range else None
    for name in FLOATS:
        f = facts(name)
        out[name] = {
            "overflow_at": f.overflow_at,  # exp(z) is inf above
            "subnormal_range": f.subnormal_range,  # exp(-range) is subnormal beyond
            "zero_range": f.zero_range,  # ... and exactly 0 beyond
            "max_logit_headroom": None if top is None else f.overflow_at - top,
            "range_headroom": None if span is None else f.zero_range - span,
        }
    return {"max_logit": top, "max_range": span, "max_range_row": (
        stats.max_range.row if stats.max_range else None), "dtypes": out}


def gradients(stats: Stats, storage: str) -> dict[str, Any]:
    """Rows whose naive-path gradient is NaN, and rows whose stable gradient vanishes."""
    naive = stats.naive.get(storage, {}).get("softmax_then_log")
    nan_rows = naive.failed if naive else None  # p_y = 0 (or NaN): 0 * inf in backprop
    return {
        "naive_nan_rows": nan_rows.count if nan_rows else 0,
        "naive_nan_first_rows": list(nan_rows.first) if nan_rows else [],
        "vanishing_rows": stats.saturated.count,
        "vanishing_first_rows": list(stats.saturated.first),
    }


def path_metrics(p: PathStats) -> dict[str, Any]:
    """A naive path's failures and gap, as metrics.naive (and metrics.backend) show them."""
    return {
        "failed_rows": p.failed.count,
        "first_rows": list(p.failed.first),
        "overflow_rows": p.overflow.count,
        "underflow_rows": p.underflow.count,
        "subnormal_rows": p.subnormal.count,
        "max_rel_gap": p.max_rel_gap.value if p.max_rel_gap else None,
        "max_rel_gap_row": p.max_rel_gap.row if p.max_rel_gap else None,
    }


def metrics(
    stats: Stats, storage: str, backend: BackendResult | None = None
) -> dict[str, Any]:
    """The JSON-ready summary of merged statistics."""
    naive = {}
    for dtype, paths in stats.naive.items():
        naive[dtype] = {"overflow_threshold": exp_overflow_threshold(dtype)}
        for path in PATHS:
            naive[dtype][path] = path_metrics(paths[path])
    return {
        "kernel": KERNEL,  # which implementation read the rows: compiled or numpy
        "kernel_code": kernel_description(),  # and which code: "compiled (avx512)", ...
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
        "zones": zones(stats),
        "gradients": gradients(stats, storage),
        "frameworks": {
            name: {
                "loss": f.loss.mean,
                "capped_rows": f.capped.count,
                "first_capped_rows": list(f.capped.first),
            }
            for name, f in stats.frameworks.items()
        },
        "backend": backend.metrics(path_metrics) if backend is not None else None,
        "histograms": {
            "loss": _histogram(stats.loss_hist),
            "max_logit": _histogram(stats.max_logit_hist),
            "range": _histogram(stats.range_hist),
            "log_ratio": _histogram(stats.log_ratio_hist),
        },
        "worst_rows": [_row_values(r) for r in stats.worst_rows.rows],
        "naive_failure_rows": [_row_values(r) for r in stats.naive_failure_rows.rows],
    }


def _histogram(h: Histogram | None) -> dict[str, Any] | None:
    """counts[0] is below edges[0], counts[i] in [edges[i-1], edges[i]), counts[-1] above."""
    if h is None or not h.edges:
        return None
    return {"edges": list(h.edges), "counts": list(h.counts)}


def _json_float(x: float | None) -> float | str | None:
    """Strict JSON has no inf or NaN: those are the strings "inf", "-inf", "nan"."""
    if x is None or math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _row_values(r: RowValues) -> dict[str, Any]:
    naive: dict[str, dict[str, Any]] = {}
    for dtype, path, value in r.naive:
        naive.setdefault(dtype, {})[path] = _json_float(value)
    return {"row": r.row, "label": r.target, "p_y": _json_float(r.p_y),
            "loss": _json_float(r.loss), "naive": naive}


def positions(m: dict[str, Any], source: Source) -> dict[int, str]:
    """For N-D logits, where each row the report shows sits: row -> 'b=3, t=210'."""
    if len(source.lead_shape) < 2:
        return {}
    rows = {r["row"] for key in ("worst_rows", "naive_failure_rows") for r in m[key]}
    out = {}
    for row in sorted(rows):
        text = source.describe_row(row)  # 'row 1234 (b=3, t=210)'
        out[row] = text[text.index("(") + 1 : -1] if "(" in text else text
    return out


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
