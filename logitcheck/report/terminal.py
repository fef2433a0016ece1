"""The human report, drawn with rich into a string (the CLI decides where it goes).

verbosity -1: the verdict line only; 0: inputs, summary, loss paths, pictures, row tables,
findings with one fix; 1: adds each finding's evidence, every framework's fix and the
per-dtype zone table.
"""

from __future__ import annotations

import io

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .common import finding_title, verdict
from .model import Finding, Report, Severity
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
    console.print(_inputs(report))
    if report.command == "compare":
        console.print(_drift_table(report))
    elif report.command == "gaussian":
        console.print(_gaussian_table(report))
    else:
        console.print(_summary(report))
    if report.command == "analyze" and report.metrics["naive"]:
        console.print(_loss_table(report))
    zones = zone_table(report) if verbosity > 0 else None
    if zones is not None:
        console.print(_table(zones))
    for picture in pictures(report):
        console.print(draw(picture, width))
    for data in row_tables(report, worst_limit=10 if verbosity > 0 else 5):
        console.print(_table(data))
    for table in _backend_tables(report.metrics.get("backend")):
        console.print(table)
    for finding in report.findings:
        console.print(_finding(finding, verbose=verbosity > 0))
    for hint in report.metrics.get("hints", ()):  # how this run could have been faster
        console.print(Text(f"hint: {hint}", style="dim"))
    if verbosity > 0 and "kernel_code" in report.metrics:
        console.print(Text(f"kernel: {report.metrics['kernel_code']}", style="dim"))
    console.print(verdict(report), style="bold")
    return buffer.getvalue()


def _table(data: TableData) -> Group:
    table = Table(title=data.title, title_justify="left", box=None, show_edge=False,
                  header_style="bold", pad_edge=False)
    for i, col in enumerate(data.header):
        table.add_column(col, justify="left" if i == 0 else "right", no_wrap=True)
    for cells, bad in zip(data.rows, data.bad or [()] * len(data.rows), strict=True):
        table.add_row(*(Text(c, style="red" if i < len(bad) and bad[i] else "")
                        for i, c in enumerate(cells)))
    return Group(table, Text(data.note, style="dim")) if data.note else Group(table)


def _size(nbytes: int) -> str:
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError  # pragma: no cover


def _inputs(report: Report) -> Table:
    table = Table(title="logitcheck", title_justify="left", show_edge=False, box=None)
    for col in ("input", "path", "shape", "dtype", "size"):
        table.add_column(col)
    for i in report.inputs:
        shape = " × ".join(f"{d:,}" for d in i.shape)
        path = Text(f"{i.path} [{i.key}]" if i.key else i.path)  # Text: no markup in keys
        table.add_row(i.role, path, shape, i.dtype, _size(i.nbytes))
    return table


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
        text.append(f"{m['loss_stable']:.6g}   ")
        text.append("accuracy: ", style="bold")
        text.append(f"{m['accuracy']:.2%}")
    else:
        text.append("no labels: naive paths evaluated at each row's least likely class")
    grad = m.get("gradients", {})
    if grad.get("naive_nan_rows") or grad.get("vanishing_rows"):
        text.append("\ngradients: ", style="bold")
        text.append(f"NaN through the naive path on {grad['naive_nan_rows']:,} rows; "
                    f"vanishing (p_y rounds to 1) on {grad['vanishing_rows']:,} rows")
    return text


def _loss_table(report: Report) -> Table:
    """One row per path, one column per dtype: what each computation gives."""
    m = report.metrics
    dtypes = list(m["naive"])
    table = Table(title="loss paths", title_justify="left")
    table.add_column("path", no_wrap=True)
    for dtype in dtypes:
        table.add_column(dtype, justify="right")
    bad = m["rows_with_nonfinite_loss"]
    stable = "reference"
    if m["loss_stable"] is not None:
        stable = f"mean loss {m['loss_stable']:.6g}"
    if bad:
        stable += f"\n{bad:,} rows inf/NaN"
    table.add_row("stable (log-softmax)", *([""] * (len(dtypes) - 1)), stable)
    for path, name in _PATH_NAMES.items():
        table.add_row(f"naive: {name}", *(_path_cell(m["naive"][d][path]) for d in dtypes))
    return table


def _gaussian_table(report: Report) -> Table:
    """The Gaussian NLL: stable loss, naive path per dtype, the scale column, torch."""
    m = report.metrics
    table = Table(title=f"Gaussian NLL (scale: {m['scale']})", title_justify="left")
    table.add_column("")
    table.add_column("value", justify="right")
    loss = m["loss_stable"]
    if loss is not None:
        stable = f"{loss:.6g}"
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
        table.add_row("torch GaussianNLLLoss(full=True)", f"{torch['loss']:.6g}{clamped}")
    return table


def _backend_tables(b: dict | None) -> list[Table]:
    """--backend: its paths per dtype and its loss APIs; --cross-check: each backend."""
    if not b:
        return []
    tables = []
    where = f"{b['name']} {b['version']} on {b['device']}"
    if b["dtypes"]:
        dtypes = list(b["dtypes"])
        table = Table(title=f"loss paths on {where}", title_justify="left",
                      caption="; ".join(b["notes"]) or None, caption_justify="left")
        table.add_column("path", no_wrap=True)
        for dtype in dtypes:
            table.add_column(dtype, justify="right")
        cells = [b["dtypes"][d] for d in dtypes]
        table.add_row(f"stable ({b['stable_primitive']})", *(_stable_cell(c) for c in cells))
        for path, name in _PATH_NAMES.items():
            table.add_row(f"naive: {name}", *(
                _path_cell(c[path]) if c["status"] == "ok" else Text("") for c in cells))
        tables.append(table)
    if b["api_losses"]:
        table = Table(title=f"loss APIs on {where}, as called", title_justify="left")
        for col in ("API", "dtype", "mean loss", "rows"):
            table.add_column(col, justify="left" if col == "API" else "right")
        for name, a in b["api_losses"].items():
            notes = []
            if a["capped_rows"]:
                notes.append(f"{a['capped_rows']:,} clipped")
            if a["nonfinite_rows"]:
                notes.append(f"{a['nonfinite_rows']:,} inf/NaN")
            loss = "n/a" if a["loss"] is None else f"{a['loss']:.6g}"
            table.add_row(name, a["dtype"], loss, ", ".join(notes) or "all finite")
        tables.append(table)
    if b["cross_check"]:
        cc = b["cross_check"]
        table = Table(title=f"cross-check: stable path in {cc['dtype']} "
                      f"(tolerance {cc['tolerance']:.1e})", title_justify="left")
        for col in ("backend", "mean loss", "mean gap", "max row gap", "verdict"):
            table.add_column(col, justify="left" if col == "backend" else "right")
        for name, c in cc["backends"].items():
            if c["status"] != "ok":
                table.add_row(name, Text(c["status"], style="dim"), "", "", "")
                continue
            verdict_text = Text("agrees") if c["agrees"] else Text("DISAGREES", style="red")
            row_gap = "n/a" if c["max_row_gap"] is None else (
                f"{c['max_row_gap']:.1e} (row {c['max_row_gap_row']})")
            table.add_row(name, "n/a" if c["loss"] is None else f"{c['loss']:.6g}",
                          "n/a" if c["mean_rel_gap"] is None else f"{c['mean_rel_gap']:.1e}",
                          row_gap, verdict_text)
        tables.append(table)
    return tables


def _stable_cell(c: dict) -> Text:
    if c["status"] != "ok":
        return Text(c["status"].split(":")[0], style="yellow")
    s = c["stable"]
    if s["failed_rows"]:
        return Text(f"{s['failed_rows']:,} rows inf/NaN", style="red")
    loss = "" if s["loss"] is None else f"{s['loss']:.6g}"
    gap = "" if s["max_row_gap"] is None else f"\n(row gap ≤ {s['max_row_gap']:.1e})"
    return Text(loss + gap, style="" if s["agrees"] else "red")


def _drift_table(report: Report) -> Table:
    """compare: each statistic, its value and the threshold it is held to."""
    m, t = report.metrics, report.metrics["thresholds"]
    table = Table(title="drift (candidate vs reference)", title_justify="left")
    for col in ("statistic", "value", "threshold"):
        table.add_column(col, justify="left" if col == "statistic" else "right")

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
                      f"{m['loss_reference']:.6g} → {m['loss_candidate']:.6g}", "")
        table.add_row("Δ mean loss", f"{m['loss_delta']:+.4g}", f"|Δ| ≤ {t['max_loss_delta']:g}")
    kinds = f"{m['kind_reference']['name']} → {m['kind_candidate']['name']}"
    table.add_row("holds", kinds, "same")
    if m["rows_with_nonfinite_values"]:
        table.add_row("rows left out (NaN/inf)", f"{m['rows_with_nonfinite_values']:,}", "")
    return table


def _path_cell(p: dict) -> Text:
    if p["failed_rows"]:
        kinds = ("overflow_rows", "underflow_rows")
        causes = [f"{p[k]:,} {k.split('_')[0]}" for k in kinds if p[k]]
        return Text(f"{p['failed_rows']:,} rows inf/NaN\n({', '.join(causes)})", style="red")
    gap = p["max_rel_gap"]
    return Text("ok" + (f" (rel. gap ≤ {gap:.1e})" if gap is not None else ""))


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
