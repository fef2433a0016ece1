"""Which pictures a report shows, as plain data: a histogram (fixed bins, merged counts)
and the reference lines drawn on it. The terminal and HTML renderers draw the same ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..compute.dtypes import FLOATS, facts
from .model import Report

# Values that sum to 1 per row: their max logit and range say nothing about headroom.
_PROBABILITY_KINDS = ("probabilities", "double_softmax", "softmax_wrong_axis")
_SHORT = {"float16": "f16", "bfloat16": "bf16", "float32": "f32", "float64": "f64"}


@dataclass(frozen=True)
class Marker:
    value: float
    label: str
    danger: bool = True  # a limit (red) rather than a reference (e.g. the mean)


@dataclass(frozen=True)
class Picture:
    key: str  # the metrics["histograms"] key
    title: str
    x_label: str
    edges: tuple[float, ...]
    counts: tuple[int, ...]  # len(edges) + 1: below, each bin, above
    markers: tuple[Marker, ...] = ()
    note: str = ""
    # the x range to show at least (so a limit is visible even with no row near it)
    must_show: tuple[float, ...] = field(default=())

    def view(self) -> tuple[int, int]:
        """(first, last) bin indices into counts worth drawing: every non-empty bin and
        every must_show value, with one empty bin either side where there is one."""
        used = [i for i, c in enumerate(self.counts) if c]
        for v in self.must_show:
            used.append(bin_of(self.edges, v))
        if not used:
            return 1, len(self.counts) - 2
        lo, hi = max(min(used) - 1, 0), min(max(used) + 1, len(self.counts) - 1)
        if hi - lo < 10:  # at least one decade wide, so the axis has labels
            lo, hi = max(lo - (10 - (hi - lo)) // 2, 0), min(lo + 10, len(self.counts) - 1)
        return lo, hi


def bin_of(edges: tuple[float, ...], value: float) -> int:
    """The counts index of `value` (the same rule as mergeable.Histogram.of)."""
    return sum(1 for e in edges if e <= value)


def bin_range(edges: tuple[float, ...], i: int) -> tuple[float, float]:
    """[lo, hi) of counts[i]: the first and last are open-ended (0 or -inf, and inf)."""
    lo = edges[i - 1] if i > 0 else -math.inf
    hi = edges[i] if i < len(edges) else math.inf
    return lo, hi


def pictures(report: Report) -> list[Picture]:
    """The histograms worth showing for this report, in order; none for compare."""
    if report.command != "analyze" or report.kind is None:
        return []
    m, kind = report.metrics, report.kind.name
    hists: dict[str, Any] = m.get("histograms") or {}
    storage = report.inputs[0].dtype
    storage = storage if storage in FLOATS else "float64"
    out: list[Picture] = []
    if m.get("loss_stable") is not None and hists.get("loss"):
        mean = m["loss_stable"]
        marks = [Marker(mean, f"mean {mean:.3g}", danger=False)]
        if kind == "double_softmax" and m.get("classes", 0) > 1:  # the loss cannot go lower
            floor = math.log1p((m["classes"] - 1) / math.e)
            marks.append(Marker(floor, f"floor ln(1+(C-1)/e) = {floor:.3g}"))
        out.append(_picture(
            "loss", hists["loss"], "stable loss per row", "loss (log scale)", tuple(marks),
            note="-log p_y through the stable path, float64",
        ))
    if hists.get("max_logit") and kind not in _PROBABILITY_KINDS:
        lines = _limits(lambda f: f.overflow_at, "exp overflows")
        out.append(_picture(
            "max_logit", hists["max_logit"], "row max logit: headroom to exp overflow",
            "max logit (log scale; ≤ 0.1 in the first bin)", lines,
            note="naive softmax overflows once a row's max passes a line",
            must_show=(facts(storage).overflow_at, facts("float16").overflow_at),
        ))
    if hists.get("range") and kind not in _PROBABILITY_KINDS:
        lines = _limits(lambda f: f.zero_range, "p rounds to 0")
        out.append(_picture(
            "range", hists["range"], "row range (max − min): headroom to underflow",
            "row range (log scale)", lines,
            note="a naive p_y can round to 0 once a row's range passes a line",
            must_show=(facts(storage).zero_range, facts("float16").zero_range),
        ))
    if hists.get("log_ratio") and kind in ("probabilities", "double_softmax"):
        out.append(_picture(
            "log_ratio", hists["log_ratio"], "ln(row max / row min): double softmax test",
            "log ratio (log scale)", (Marker(1.0, "e: double softmax keeps every row left"),),
            note="softmax applied twice leaves every row within a factor e (log ratio ≤ 1)",
            must_show=(1.0,),
        ))
    return out


def _limits(value, what: str) -> tuple[Marker, ...]:
    """One marker per distinct threshold; dtypes that share one share a label."""
    by_value: dict[float, list[str]] = {}
    for name in FLOATS:
        v = round(value(facts(name)), 2)
        by_value.setdefault(v, []).append(_SHORT[name])
    return tuple(Marker(v, f"{'/'.join(names)} {v:g}: {what}") for v, names in by_value.items())


def _picture(key: str, hist: dict[str, Any], title: str, x_label: str,
             markers: tuple[Marker, ...], note: str = "",
             must_show: tuple[float, ...] = ()) -> Picture:
    return Picture(key, title, x_label, tuple(hist["edges"]), tuple(hist["counts"]), markers,
                   note, must_show)
