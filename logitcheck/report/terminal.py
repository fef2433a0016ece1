"""The human report, drawn with rich into a string (the CLI decides where it goes).

verbosity -1: the verdict line only; 0: inputs, summary, loss paths, pictures, row tables,
findings with one fix; 1: adds each finding's evidence, every framework's fix and the
per-dtype zone table.
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.text import Text

from .common import finding_title, gap_text, no_finite_loss
from .fit import Column, fit_columns, fitted_table, left_out_note
from .model import Finding, Report, Severity, verdict
from .pictures import pictures
from .tables import TableData, row_tables, zone_table
from .textplot import draw

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
_PATH_NAMES = {"softmax_then_log": "softmax, then log", "no_max_shift": "log-sum-exp, no max shift"}
_FRAMEWORKS = (("pytorch", "PyTorch"), ("keras", "Keras/TF"), ("jax", "JAX"), ("numpy", "numpy"))


def render_rich(report: Report, *, color: bool = False, width: int = 100, verbosity: int = 0,
                **_: object) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
        soft_wrap=False,
    )
    if verbosity < 0:
        console.print(verdict(report), style="bold")
        return buffer.getvalue()
    console.print(_inputs(report, width))
    if report.command == "compare":
        console.print(_drift_table(report, width))
    elif report.command == "gaussian":
        console.print(_gaussian_table(report, width))
    else:
        console.print(_summary(report))
    if report.command == "analyze" and report.metrics["naive"]:
        console.print(_loss_table(report, width))
    zones = zone_table(report) if verbosity > 0 else None
    if zones is not None:
        console.print(_table(zones, width))
    for picture in pictures(report):
        console.print(draw(picture, width))
    storage = report.inputs[0].dtype if report.inputs else ""
    for data in row_tables(report, worst_limit=10 if verbosity > 0 else 5):
        console.print(_table(data, width, storage))
    for table in _backend_tables(report.metrics.get("backend"), width, storage):
        console.print(table)
    for finding in report.findings:
        console.print(_finding(finding, verbose=verbosity > 0))
    for hint in report.metrics.get("hints", ()):  # how this run could have been faster
        console.print(Text(f"hint: {hint}", style="dim"))
    if verbosity > 0 and "kernel_code" in report.metrics:
        console.print(Text(f"kernel: {report.metrics['kernel_code']}", style="dim"))
    console.print(verdict(report), style="bold")
    return buffer.getvalue()


def _fitted(columns: list[Column], width: int, **options: Any) -> Group:
    """The table at `width` (fit.py), and a line naming the columns that did not fit."""
    table, dropped = fitted_table(columns, width, **options)
    return Group(table, left_out_note(dropped, width)) if dropped else Group(table)


def _dtype_drop(dtypes: list[str], storage: str) -> list[int]:
    """Which dtype columns go first when the table is too wide: never the storage dtype's;
    of the others, the rightmost (widest) first."""
    drops = [0 if d == storage else 10 + i for i, d in enumerate(dtypes)]
    if drops and all(drops):
        drops[0] = 0  # the storage dtype is not among them: keep the first
    return drops


def _table(data: TableData, width: int, storage: str = "") -> Group:
    dtypes = [h.removesuffix(" naive") for h in data.header]
    drops = _dtype_drop(dtypes, storage)
    columns = [Column(h, justify="left" if i == 0 else "right",
                      drop=drops[i] if h.endswith(" naive") else int(h == "p_y"))
               for i, h in enumerate(data.header)]
    for cells, bad in zip(data.rows, data.bad or [()] * len(data.rows), strict=True):
        for i, c in enumerate(cells):
            columns[i].cells.append(Text(c, style="red" if i < len(bad) and bad[i] else ""))
    group = _fitted(columns, width, title=data.title, title_justify="left", box=None,
                    show_edge=False, header_style="bold", pad_edge=False)
    if data.note:
        group.renderables.append(Text(data.note, style="dim"))
    return group


def _size(nbytes: int) -> str:
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError  # pragma: no cover


def _inputs(report: Report, width: int = 100) -> Group:
    """One row per input (a long path loses its leading directories, never its file
    name); a CSV's class columns, and the id columns left out, under it."""
    columns = [Column("input", justify="left"), Column("path", justify="left", path=True),
               Column("shape", justify="left"), Column("dtype", justify="left", drop=1),
               Column("size", justify="left", drop=2)]
    for i in report.inputs:
        shape = " × ".join(f"{d:,}" for d in i.shape)
        for col, cell in zip(columns, (i.role, i.path, shape, i.dtype, _size(i.nbytes)),
                             strict=True):
            col.cells.append(Text(cell))  # Text: no markup read in paths and keys
        columns[1].suffixes.append(f" [{i.key}]" if i.key else "")
    group = _fitted(columns, width, title="logitcheck", title_justify="left", show_edge=False,
                    box=None)
    for i in report.inputs:
        if i.columns is not None:  # CSV/TSV: which columns were read as classes
            names = list(i.columns)
            shown = names if len(names) <= 6 else [*names[:3], "...", names[-1]]
            line = Text(f"{i.role}: {len(names)} class column{'s' * (len(names) != 1)}: "
                        f"{', '.join(shown)}", style="dim")
            if i.left_out:
                line.append(f"; left out as row ids: {', '.join(i.left_out)} (--class-columns "
                            "chooses the columns)")
            group.renderables.append(line)
    return group


def _summary(report: Report) -> Text:
    m, kind = report.metrics, report.kind
    text = Text()
    text.append("holds: ", style="bold")
    text.append(f"{kind.name} (confidence {kind.confidence:.2f})")
    if kind.evidence.get("reason"):
        text.append(f": {kind.evidence['reason']}", style="dim")
    text.append("\n")
    if m["health"]["min"] is not None:
        text.append(f"values in [{m['health']['min']:.4g}, {m['health']['max']:.4g}]   ")
    if m["loss_stable"] is not None:
        text.append("loss: ", style="bold")
        text.append(_declared(m))
        text.append("   ")
        text.append("accuracy: ", style="bold")
        text.append(f"{m['accuracy']:.2%}")
        text.append(_beside(m), style="dim")
    elif no_finite_loss(m):
        text.append(no_finite_loss(m) or "")
    else:
        text.append("no labels: naive paths evaluated at each row's least likely class")
    grad = m.get("gradients", {})
    if grad.get("naive_nan_rows") or grad.get("vanishing_rows"):
        text.append("\ngradients: ", style="bold")
        text.append(f"NaN through the naive path on {grad['naive_nan_rows']:,} rows; "
                    f"vanishing (p_y rounds to 1) on {grad['vanishing_rows']:,} rows")
    return text


def _g(x: float) -> str:
    """A loss to 6 significant digits; 0, never -0 (a row with p_y = 1)."""
    return "0" if x == 0 else f"{x:.6g}"


def _declared(m: dict) -> str:
    """The loss the user's declared loss computes (--expects), and beside it, when that is
    not logits, what each framework reports on these values and the logits reading."""
    loss = m.get("loss")
    if not loss or loss["expects"] == "logits":
        return f"{_g(m['loss_stable'])}"
    value = loss["value"]
    text = "n/a" if value is None else value if isinstance(value, str) else f"{_g(value)}"
    if loss["inf_rows"]:
        text += f" (p_y = 0 on {loss['inf_rows']:,} rows)"
    return text + f" ({loss['formula']})"


def _beside(m: dict) -> str:
    """What each framework reports on these values, and the logits reading's loss: a line
    of its own under the headline when the user's loss does not take logits."""
    loss = m.get("loss")
    if not loss or loss["expects"] == "logits" or loss["value"] is None:
        return ""
    beside = [f"{name} {_g(f['loss'])}" for name, f in m["frameworks"].items()
              if f["loss"] is not None]
    if loss["as_logits"] is not None:
        beside.append(f"read as logits {_g(loss['as_logits'])}")
    return "\nframeworks on these values: " + " · ".join(beside) if beside else ""


def _loss_table(report: Report, width: int = 100) -> Group:
    """One row per path, one column per dtype: what each computation gives."""
    m = report.metrics
    dtypes = list(m["naive"])
    storage = report.inputs[0].dtype if report.inputs else ""
    expects = (m.get("loss") or {}).get("expects", "logits")
    title = "loss paths" if expects == "logits" else "loss paths (the values read as logits)"
    bad = m["rows_with_nonfinite_loss"]
    stable = "reference"
    if m["loss_stable"] is not None:
        stable = f"mean loss {_g(m['loss_stable'])}"
    if bad:
        stable += f"\n{bad:,} rows inf/NaN"
    names = ["stable (log-softmax)", *(f"naive: {name}" for name in _PATH_NAMES.values())]
    columns = [Column("path", [Text(n) for n in names], justify="left", wrap=True)]
    for dtype, drop in zip(dtypes, _dtype_drop(dtypes, storage), strict=True):
        cells = [Text(""), *(_path_cell(m["naive"][dtype][path]) for path in _PATH_NAMES)]
        columns.append(Column(dtype, cells, wrap=True, drop=drop))
    options: dict[str, Any] = {"title": title, "title_justify": "left"}
    kept, _, _ = fit_columns(columns, width, options)
    kept[-1].cells[0] = Text(stable)  # the stable loss in the last column shown
    return _fitted(columns, width, **options)


def _gaussian_table(report: Report, width: int = 100) -> Group:
    """The Gaussian NLL: stable loss, naive path per dtype, the scale column, torch."""
    m = report.metrics
    table = _Rows(("", "value"))
    loss = m["loss_stable"]
    if loss is not None:
        stable = f"{_g(loss)}"
    else:
        stable = "no finite row" if m["targets"] else "no targets"
    table.add_row("stable NLL (float64)", stable)
    for dtype, p in m["naive"].items():
        if p["failed_rows"]:
            cell = Text(f"{p['failed_rows']:,} rows inf/NaN ({p['overflow_rows']:,} overflow, "
                        f"{p['underflow_rows']:,} var = 0)", style="red")
        else:
            gap = p["max_rel_gap"]
            cell = Text("ok" + (f" (rel. gap ≤ {gap:.1e})" if gap is not None else ""))
        table.add_row(f"naive (variance first), {dtype}", cell)
    if m["scale_min"] is not None:
        table.add_row("scale column", f"[{m['scale_min']:.4g}, {m['scale_max']:.4g}]")
    torch = m["torch_gaussian_nll"]
    if torch["loss"] is not None:
        clamped = f", clamped on {torch['clamped_rows']:,} rows" if torch["clamped_rows"] else ""
        table.add_row("torch GaussianNLLLoss(full=True)", f"{_g(torch['loss'])}{clamped}")
    return table.fitted(width, title=f"Gaussian NLL (scale: {m['scale']})",
                        title_justify="left")


class _Rows:
    """Rows gathered as for rich's Table, laid out by fit.py: every column prose that wraps
    at spaces (the numbers in it stay whole), the first left-aligned."""

    def __init__(self, headers: tuple[str, ...]) -> None:
        self.columns = [Column(h, justify="left" if i == 0 else "right", wrap=True)
                        for i, h in enumerate(headers)]

    def add_row(self, *cells: Text | str) -> None:
        for col, cell in zip(self.columns, cells, strict=True):
            col.cells.append(cell if isinstance(cell, Text) else Text(cell))

    def fitted(self, width: int, **options: Any) -> Group:
        return _fitted(self.columns, width, **options)


def _backend_tables(b: dict | None, width: int = 100, storage: str = "") -> list[Group]:
    """--backend: its paths per dtype and its loss APIs; --cross-check: each backend."""
    if not b:
        return []
    tables = []
    where = f"{b['name']} {b['version']} on {b['device']}"
    if b["dtypes"]:
        dtypes = list(b["dtypes"])
        names = [f"stable ({b['stable_primitive']})",
                 *(f"naive: {name}" for name in _PATH_NAMES.values())]
        columns = [Column("path", [Text(n) for n in names], justify="left", wrap=True)]
        for dtype, drop in zip(dtypes, _dtype_drop(dtypes, storage), strict=True):
            c = b["dtypes"][dtype]
            cells = [_stable_cell(c), *(_path_cell(c[path]) if c["status"] == "ok" else Text("")
                                        for path in _PATH_NAMES)]
            columns.append(Column(dtype, cells, wrap=True, drop=drop))
        tables.append(_fitted(columns, width, title=f"loss paths on {where}",
                              title_justify="left", caption="; ".join(b["notes"]) or None,
                              caption_justify="left"))
    if b["api_losses"]:
        table = _Rows(("API", "dtype", "mean loss", "rows"))
        for name, a in b["api_losses"].items():
            notes = []
            if a["capped_rows"]:
                notes.append(f"{a['capped_rows']:,} clipped")
            if a["nonfinite_rows"]:
                notes.append(f"{a['nonfinite_rows']:,} inf/NaN")
            loss = "n/a" if a["loss"] is None else f"{_g(a['loss'])}"
            table.add_row(name, a["dtype"], loss, ", ".join(notes) or "all finite")
        tables.append(table.fitted(width, title=f"loss APIs on {where}, as called",
                                   title_justify="left"))
    if b["cross_check"]:
        cc = b["cross_check"]
        table = _Rows(("backend", "mean loss", "mean gap", "max row gap", "verdict"))
        for name, c in cc["backends"].items():
            if c["status"] != "ok":
                table.add_row(name, Text(c["status"], style="dim"), "", "", "")
                continue
            verdict_text = Text("agrees") if c["agrees"] else Text("DISAGREES", style="red")
            row_gap = "n/a" if c["max_row_gap"] is None else (
                f"{c['max_row_gap']:.1e} (row {c['max_row_gap_row']})")
            table.add_row(name, "n/a" if c["loss"] is None else f"{_g(c['loss'])}",
                          "n/a" if c["mean_rel_gap"] is None else f"{c['mean_rel_gap']:.1e}",
                          row_gap, verdict_text)
        tables.append(table.fitted(width, title=f"cross-check: stable path in {cc['dtype']} "
                                   f"(tolerance {cc['tolerance']:.1e})", title_justify="left"))
    return tables


def _stable_cell(c: dict) -> Text:
    if c["status"] != "ok":
        return Text(c["status"].split(":")[0], style="yellow")
    s = c["stable"]
    if s["failed_rows"]:
        return Text(f"{s['failed_rows']:,} rows inf/NaN", style="red")
    loss = "" if s["loss"] is None else f"{_g(s['loss'])}"
    gap = "" if s["max_row_gap"] is None else f"\n(row gap ≤ {s['max_row_gap']:.1e})"
    return Text(loss + gap, style="" if s["agrees"] else "red")


def _drift_table(report: Report, width: int = 100) -> Group:
    """compare: each statistic, its value and the threshold it is held to."""
    m, t = report.metrics, report.metrics["thresholds"]
    table = _Rows(("statistic", "value", "threshold"))

    def at(value, row) -> str:
        return "n/a" if value is None else f"{value:.4g} (row {row})"

    table.add_row("max |Δ logit|", at(m["max_abs_diff"], m["max_abs_diff_row"]),
                  f"≤ {t['max_abs_diff']:g}")
    mean = "n/a" if m["kl_mean"] is None else f"{m['kl_mean']:.4g}"
    table.add_row("mean KL(ref ‖ cand), nats", mean, f"≤ {t['max_kl']:g}")
    table.add_row("max KL(ref ‖ cand), nats", at(m["kl_max"], m["kl_max_row"]), "")
    agree = "n/a" if m["top1_agreement"] is None else f"{m['top1_agreement']:.4%}"
    table.add_row("top-1 agreement", agree, f"≥ {t['min_top1_agreement']:.2%}")
    if m["loss_delta"] is not None:
        table.add_row("mean loss ref → cand",
                      f"{_g(m['loss_reference'])} → {_g(m['loss_candidate'])}", "")
        table.add_row("Δ mean loss", f"{m['loss_delta']:+.4g}", f"|Δ| ≤ {t['max_loss_delta']:g}")
    kinds = f"{m['kind_reference']['name']} → {m['kind_candidate']['name']}"
    table.add_row("holds", kinds, "same")
    if m["rows_with_nonfinite_values"]:
        table.add_row("rows left out (NaN/inf)", f"{m['rows_with_nonfinite_values']:,}", "")
    return table.fitted(width, title="drift (candidate vs reference)", title_justify="left")


def _path_cell(p: dict) -> Text:
    if p["failed_rows"]:
        kinds = ("overflow_rows", "underflow_rows")
        causes = [f"{p[k]:,} {k.split('_')[0]}" for k in kinds if p[k]]
        return Text(f"{p['failed_rows']:,} rows inf/NaN\n({', '.join(causes)})", style="red")
    text, ok = gap_text(p)
    return Text(text, style="" if ok else "yellow")


def _rows(first: list[int], count: int) -> str:
    text = ", ".join(str(r) for r in first)
    return text + (", ..." if count > len(first) else "")


def _finding(finding: Finding, verbose: bool = False) -> Panel:
    """The message and the PyTorch fix (with a pointer to every other framework's);
    verbose: the evidence and every framework's fix."""
    body = Text()
    body.append(finding.message + "\n")
    if verbose and finding.evidence:
        import json  # -v only

        body.append("evidence:\n", style="bold")
        for key, value in finding.evidence.items():
            body.append(f"  {key}: ", style="dim")
            body.append(json.dumps(value, separators=(", ", ": "), ensure_ascii=False) + "\n")
    for key, name in _FRAMEWORKS[: None if verbose else 1]:
        if key in finding.fix:
            body.append(f"fix ({name}): ", style="bold")
            body.append(finding.fix[key] + "\n")
    if not verbose:
        body.append(f"Keras, JAX, numpy: logitcheck explain {finding.code} (or -v)", style="dim")
    body.rstrip()
    title = f"{finding_title(finding)} · {finding.severity.label}"
    if finding.baselined:
        title += " · baselined"
    style = "dim" if finding.baselined else _STYLE[finding.severity]
    return Panel(body, title=title, title_align="left", border_style=style)


__all__ = ["render_rich", "verdict"]
