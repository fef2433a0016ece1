"""The report's tables as plain strings (title, header, rows), shared by the terminal and
HTML renderers: the worst rows by stable loss, the first rows a naive path fails on, and
each dtype's limits with this file's headroom."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .model import Report

_PATH_SHORT = {"softmax_then_log": "softmax→log", "no_max_shift": "no max shift"}
_SIGMOID_SHORT = {"softmax_then_log": "sigmoid→log", "no_max_shift": "no shift"}


@dataclass(frozen=True)
class TableData:
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""
    # per row, per cell: is this value a failure (inf/NaN, or negative headroom)?
    bad: tuple[tuple[bool, ...], ...] = ()


def num(value: Any, digits: int = 4) -> str:
    """A number from the metrics: floats to `digits` significant digits; "inf"/"nan" kept."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if value == 0:
        return "0"  # never "-0": a loss of -0.0 is 0
    return f"{value:.{digits}g}"


def row_tables(report: Report, worst_limit: int = 10) -> list[TableData]:
    if report.command != "analyze":
        return []
    m = report.metrics
    out = []
    labelled = m.get("evaluated_at") == "label"
    if m.get("worst_rows") and labelled:
        by = "stable loss"
        if (m.get("loss") or {}).get("expects", "logits") != "logits":
            by = "the values' stable loss as logits; your loss beside it"
        out.append(_rows_table(report, m["worst_rows"][:worst_limit],
                               f"worst rows by {by} (top {min(worst_limit, 10)})"))
    if m.get("naive_failure_rows"):
        storage = report.inputs[0].dtype
        out.append(_rows_table(
            report, m["naive_failure_rows"],
            f"first rows a naive path fails on ({storage}, the storage dtype)"))
    return out


def _rows_table(report: Report, rows: list[dict[str, Any]], title: str) -> TableData:
    m = report.metrics
    labelled = m.get("evaluated_at") == "label"
    binary = m.get("classes") == 1
    short = _SIGMOID_SHORT if binary else _PATH_SHORT
    dtypes = list(rows[0]["naive"]) if rows else []
    paths = list(rows[0]["naive"][dtypes[0]]) if dtypes else []
    positions = bool(report.positions)
    declared = any("loss_declared" in r for r in rows)  # --expects probabilities, ...
    header = ["row", *(["position"] if positions else []),
              "label" if labelled else "class (least likely)", "p_y", "stable loss",
              *(["your loss"] if declared else []), *(f"{d} naive" for d in dtypes)]
    body, bad = [], []
    for r in rows:
        cells = [str(r["row"]), *([report.positions.get(r["row"], "")] if positions else []),
                 "—" if r["label"] is None else str(r["label"]), num(r["p_y"]), num(r["loss"], 6),
                 *([num(r.get("loss_declared"), 6)] if declared else [])]
        flags = [False] * len(cells)
        for d in dtypes:
            values = [r["naive"][d][p] for p in paths]
            cells.append(" / ".join(num(v) for v in values))
            flags.append(any(isinstance(v, str) for v in values))
        body.append(tuple(cells))
        bad.append(tuple(flags))
    note = "naive columns: " + " / ".join(short.get(p, p) for p in paths)
    return TableData(title, tuple(header), tuple(body), note, tuple(bad))


def zone_table(report: Report) -> TableData | None:
    """Each dtype's limits and this file's headroom against them (softmax inputs)."""
    z = report.metrics.get("zones")
    if report.command != "analyze" or not z or z.get("max_logit") is None:
        return None
    if report.metrics.get("classes") == 1:
        return None
    header = ("dtype", "exp overflows above", "max-logit headroom", "p = 0 past range",
              "range headroom")
    rows, bad = [], []
    for dtype, d in z["dtypes"].items():
        rows.append((dtype, num(d["overflow_at"]), num(d["max_logit_headroom"]),
                     num(d["zero_range"]), num(d["range_headroom"])))
        neg = [isinstance(v, float) and v < 0 for v in
               (d["max_logit_headroom"], d["range_headroom"])]
        bad.append((False, False, neg[0], False, neg[1]))
    note = (f"max logit {num(z['max_logit'])}; largest row range {num(z['max_range'])} "
            f"(row {z['max_range_row']}); negative headroom: the naive path breaks there")
    return TableData("dtype zones", header, tuple(rows), note, tuple(bad))
