"""One self-contained HTML page: the report, its tables and its plots as inline SVG.

No network access, no external scripts, fonts or styles: it can be attached to a CI run
and opened anywhere. Every string that comes from the data (paths, keys, messages,
evidence) goes through html.escape. The one inline script only marks the page as loaded
(data-ready="1"), which the browser test waits for.
"""

from __future__ import annotations

import math
from html import escape

from .common import finding_title, gap_text, no_finite_loss
from .json_format import dumps as json_dumps
from .model import Finding, Report, verdict
from .pictures import Picture, bin_of, bin_range, pictures
from .tables import TableData, num, row_tables, zone_table
from .textplot import tick_label

_FRAMEWORKS = (("pytorch", "PyTorch"), ("keras", "Keras/TF"), ("jax", "JAX"), ("numpy", "numpy"))
_PATH_NAMES = {"softmax_then_log": "softmax, then log", "no_max_shift": "log-sum-exp, no max shift"}

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f6f7f9;
color:#1d2330}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.verdict{padding:10px 14px;border-radius:6px;font-weight:600;margin:12px 0}
.verdict.pass{background:#e3f5e8;color:#13612e}.verdict.fail{background:#fde8e8;color:#9b1c1c}
table{border-collapse:collapse;background:#fff;margin:6px 0;font-size:14px}
th,td{padding:4px 10px;border-bottom:1px solid #e3e6eb;text-align:right;white-space:nowrap}
th:first-child,td:first-child,.inputs td,.inputs th{text-align:left}th{background:#eef0f4}
td.bad{color:#b42318;font-weight:600}.note{color:#5b6372;font-size:13px;margin:2px 0 12px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:16px}
figure{background:#fff;margin:0;padding:10px;border:1px solid #e3e6eb;border-radius:6px}
figcaption{font-weight:600;margin-bottom:4px}
.finding{background:#fff;border-left:5px solid;border-radius:4px;padding:8px 14px;margin:10px 0}
.finding.error{border-color:#d92d20}.finding.warning{border-color:#f79009}
.finding.info{border-color:#2e90fa}.finding.baselined{border-color:#98a2b3}
.finding h3{margin:4px 0;font-size:15px}pre{background:#f2f4f7;padding:8px;overflow:auto}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px}
svg text{font:11px system-ui,sans-serif;fill:#475467}
svg .bar{fill:#4e79a7}svg .bar.over{fill:#d92d20}
svg .limit{stroke:#d92d20;stroke-dasharray:4 3}svg .ref{stroke:#0e9384;stroke-dasharray:2 3}
svg text.limit{fill:#b42318;stroke:none}svg text.ref{fill:#0e7a6e;stroke:none}
"""


def render_html(report: Report, **_: object) -> str:
    title = f"logitcheck {report.command}: {report.subject}"
    mark = "fail" if report.exit_code else "pass"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>",
        '<body data-ready="0"><main>',
        f"<h1>{escape(title)}</h1>",
        f'<div class="verdict {mark}" id="verdict">{escape(verdict(report))}</div>',
        _inputs(report),
        _summary(report),
    ]
    pics = pictures(report)
    if pics:
        parts.append('<h2>Pictures</h2><div class="grid" id="pictures">')
        parts += [_figure(p) for p in pics]
        parts.append("</div>")
    tables = row_tables(report) + ([z] if (z := zone_table(report)) else [])
    parts += [_table(t) for t in tables]
    parts.append(f'<h2>Findings ({len(report.findings)})</h2><div id="findings">')
    parts += [_finding(f) for f in report.findings] or ["<p>No findings.</p>"]
    parts.append("</div></main>")
    parts.append('<script>window.addEventListener("load",function(){'
                 'document.body.setAttribute("data-ready","1");});</script>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _inputs(report: Report) -> str:
    rows = "".join(
        f"<tr><td>{escape(i.role)}</td><td><code>{escape(i.path)}</code>"
        f"{' [' + escape(i.key) + ']' if i.key else ''}</td>"
        f"<td>{escape(' × '.join(f'{d:,}' for d in i.shape))}</td><td>{escape(i.dtype)}</td>"
        f"<td>{i.nbytes:,} B</td></tr>"
        for i in report.inputs
    )
    head = "".join(f"<th>{h}</th>" for h in ("input", "path", "shape", "dtype", "size"))
    return f'<table class="inputs"><tr>{head}</tr>{rows}</table>'


def _summary(report: Report) -> str:
    m = report.metrics
    if report.command == "compare":
        keys = ("max_abs_diff", "kl_mean", "kl_max", "top1_agreement", "loss_reference",
                "loss_candidate", "loss_delta")
        rows = "".join(f"<tr><td>{k}</td><td>{escape(num(m.get(k)))}</td></tr>" for k in keys)
        kinds = f"{m['kind_reference']['name']} → {m['kind_candidate']['name']}"
        rows += f"<tr><td>holds</td><td>{escape(kinds)}</td></tr>"
        return f"<h2>Drift</h2><table>{rows}</table>"
    if report.command == "gaussian":
        rows = [("scale", m["scale"]), ("stable NLL (float64)", num(m["loss_stable"], 6)),
                ("scale column", f"[{num(m['scale_min'])}, {num(m['scale_max'])}]"),
                ("torch GaussianNLLLoss(full=True)", num(m["torch_gaussian_nll"]["loss"], 6))]
        for dtype, p in m["naive"].items():
            rows.append((f"naive (variance first), {dtype}",
                         f"{p['failed_rows']:,} rows inf/NaN" if p["failed_rows"] else "ok"))
        cells = "".join(f"<tr><td>{escape(a)}</td><td>{escape(str(b))}</td></tr>"
                        for a, b in rows)
        return f"<h2>Gaussian NLL</h2><table>{cells}</table>"
    assert report.kind is not None
    k = report.kind
    out = [f"<p><b>holds:</b> {escape(k.name)} (confidence {k.confidence:.2f})"]
    if k.evidence.get("reason"):
        out.append(f": {escape(str(k.evidence['reason']))}")
    out.append("<br>")
    h = m["health"]
    if h["min"] is not None:
        out.append(f"values in [{h['min']:.4g}, {h['max']:.4g}] &nbsp; ")
    if m["loss_stable"] is not None:
        out.append(f"<b>loss:</b> {m['loss_stable']:.6g} &nbsp; "
                   f"<b>accuracy:</b> {m['accuracy']:.2%}")
    elif no_finite_loss(m):
        out.append(escape(no_finite_loss(m) or ""))
    else:
        out.append("no labels: naive paths evaluated at each row's least likely class")
    out.append("</p>")
    if m["naive"]:
        dtypes = list(m["naive"])
        head = "".join(f"<th>{escape(d)}</th>" for d in dtypes)
        rows = [f"<tr><td>stable (log-softmax)</td>{'<td></td>' * (len(dtypes) - 1)}"
                f"<td>mean loss {num(m['loss_stable'], 6)}</td></tr>"]
        for path, name in _PATH_NAMES.items():
            cells = []
            for d in dtypes:
                p = m["naive"][d][path]
                if p["failed_rows"]:
                    cells.append(f'<td class="bad">{p["failed_rows"]:,} rows inf/NaN '
                                 f'({p["overflow_rows"]:,} overflow, '
                                 f'{p["underflow_rows"]:,} underflow)</td>')
                else:
                    text, ok = gap_text(p)
                    cells.append(f"<td>{escape(text)}</td>" if ok else
                                 f'<td class="bad">{escape(text)}</td>')
            rows.append(f"<tr><td>naive: {escape(name)}</td>{''.join(cells)}</tr>")
        out.append(f"<h2>Loss paths</h2><table><tr><th>path</th>{head}</tr>{''.join(rows)}"
                   "</table>")
    return "".join(out)


_BAD_TD = '<td class="bad">'


def _table(t: TableData) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in t.header)
    rows = []
    for i, cells in enumerate(t.rows):
        bad = t.bad[i] if t.bad else ()
        tds = "".join(
            (_BAD_TD if j < len(bad) and bad[j] else "<td>") + f"{escape(c)}</td>"
            for j, c in enumerate(cells))
        rows.append(f"<tr>{tds}</tr>")
    note = f'<p class="note">{escape(t.note)}</p>' if t.note else ""
    return f"<h2>{escape(t.title)}</h2><table>{head and '<tr>' + head + '</tr>'}" \
           f"{''.join(rows)}</table>{note}"


def _finding(f: Finding) -> str:
    cls = "baselined" if f.baselined else f.severity.label
    title = f"{finding_title(f)} · {f.severity.label}" + (" · baselined" if f.baselined else "")
    fixes = "".join(f"<li><b>{n}:</b> {escape(f.fix[k])}</li>" for k, n in _FRAMEWORKS
                    if k in f.fix)
    evidence = escape(json_dumps(f.evidence, indent=2, ensure_ascii=False))
    return (f'<section class="finding {cls}" data-code="{escape(f.code)}">'
            f"<h3>{escape(title)}</h3><p>{escape(f.message)}</p>"
            f"<details><summary>evidence</summary><pre><code>{evidence}</code></pre></details>"
            f"<ul>{fixes}</ul></section>")


# --- plots ----------------------------------------------------------------------------

_W, _H, _LEFT, _RIGHT, _TOP, _BOTTOM = 520, 250, 52, 12, 14, 30


def _figure(p: Picture) -> str:
    return (f'<figure data-plot="{escape(p.key)}"><figcaption>{escape(p.title)}</figcaption>'
            f'{svg_histogram(p)}<p class="note">{escape(p.x_label)}; {escape(p.note)}</p>'
            "</figure>")


def svg_histogram(p: Picture) -> str:
    """Bars over the drawn bins (equal widths: the bins are log-spaced), limits as dashed
    lines, powers of ten on the x axis; each bar has a tooltip with its range and count."""
    lo, hi = p.view()
    counts = p.counts[lo : hi + 1]
    top = max(counts) or 1
    markers = [m for m in p.markers if lo <= bin_of(p.edges, m.value) <= hi]
    lanes = 14 * len(markers)  # one line of text per marker, above the plot
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM - lanes
    y0 = _TOP + lanes + plot_h
    bw = plot_w / len(counts)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H}" width="100%" '
           f'role="img" aria-label="{escape(p.title)}">']
    for i, c in enumerate(counts):
        if not c:
            continue
        h = max(1.0, c / top * plot_h)
        a, b = bin_range(p.edges, lo + i)
        span = f"[{num(a)}, {num(b)})" if math.isfinite(a) else f"below {num(b)}"
        if not math.isfinite(b):
            span = f"{num(a)} and above"
        x = _LEFT + i * bw
        out.append(f'<rect class="bar" x="{x:.1f}" y="{y0 - h:.1f}" width="{max(bw - 1, 1):.1f}" '
                   f'height="{h:.1f}"><title>{escape(span)}: {c:,} rows</title></rect>')
    out.append(f'<line x1="{_LEFT}" y1="{y0}" x2="{_LEFT + plot_w}" y2="{y0}" stroke="#98a2b3"/>')
    out.append(f'<line x1="{_LEFT}" y1="{_TOP + lanes}" x2="{_LEFT}" y2="{y0}" '
               'stroke="#98a2b3"/>')
    out.append(f'<text x="{_LEFT - 4}" y="{_TOP + lanes + 9}" text-anchor="end">{top:,}</text>')
    out.append(f'<text x="{_LEFT - 4}" y="{y0}" text-anchor="end">0</text>')
    for i in range(max(lo, 1), hi + 1):
        k = math.log10(p.edges[i - 1])
        if abs(k - round(k)) < 1e-9:
            x = _LEFT + (i - lo) * bw
            out.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + 4}" '
                       'stroke="#98a2b3"/>')
            out.append(f'<text x="{x:.1f}" y="{y0 + 16}" text-anchor="middle">'
                       f"{escape(tick_label(p.edges[i - 1]))}</text>")
    for n, m in enumerate(markers):
        x = _LEFT + (_position(p, m.value) - lo) * bw
        cls = "limit" if m.danger else "ref"
        y_text = _TOP + 10 + 14 * n
        anchor = "end" if x > _LEFT + plot_w * 0.6 else "start"
        dx = -4 if anchor == "end" else 4
        out.append(f'<line class="{cls}" x1="{x:.1f}" y1="{y_text - 4}" x2="{x:.1f}" '
                   f'y2="{y0}"/>')
        out.append(f'<text class="{cls}" x="{x + dx:.1f}" y="{y_text}" '
                   f'text-anchor="{anchor}">{escape(m.label)}</text>')
    out.append("</svg>")
    return "".join(out)


def _position(p: Picture, value: float) -> float:
    """Where `value` falls, in bins (log scale within its bin)."""
    i = bin_of(p.edges, value)
    a, b = bin_range(p.edges, i)
    if 0 < a < b < math.inf and value > 0:
        return i + (math.log(value) - math.log(a)) / (math.log(b) - math.log(a))
    return i + 0.5
