"""A Markdown summary for $GITHUB_STEP_SUMMARY: the verdict, the inputs, one table row per
finding, and each finding's evidence and fixes folded in <details>.

GitHub rejects step summaries above 1 MiB, so the document stays under MAX_BYTES: parts
that do not fit are left out and a note says how many.
"""

from __future__ import annotations

import html

from ..sanitize import markdown_text
from .common import finding_title, no_finite_loss
from .json_format import dumps as json_dumps
from .model import Finding, Report, verdict

MAX_BYTES = 1024 * 1024 - 4096  # GitHub's limit is 1 MiB; keep room for the note
_FRAMEWORKS = (("pytorch", "PyTorch"), ("keras", "Keras/TF"), ("jax", "JAX"), ("numpy", "numpy"))


def cell(text: str) -> str:
    """Text safe inside a table cell: no HTML, no pipes, no links or code spans, one line."""
    return markdown_text(text)


def render_markdown(
    report: Report, *, max_bytes: int = MAX_BYTES, job: str | None = None, **_: object
) -> str:
    """job: a batch job's name, put in the heading (logitcheck run)."""
    title = f"{cell(job)}: " if job else ""
    head = [
        f"## {title}logitcheck {report.command}: {cell(report.subject)}",
        "",
        f"**{cell(verdict(report))}**",
        "",
        "| input | path | shape | dtype |",
        "|---|---|---|---|",
        *(
            f"| {i.role} | {cell(i.path)} | {' × '.join(map(str, i.shape))} | {i.dtype} |"
            for i in report.inputs
        ),
        "",
        *_what(report),
    ]
    parts: list[str] = []
    if report.findings:
        parts += ["| code | name | severity | message |", "|---|---|---|---|"]
        parts += [_row(f) for f in report.findings]
        parts += [""]
        parts += [_details(f) for f in report.findings]
    text = "\n".join(head) + "\n"
    used = len(text.encode())
    for i, part in enumerate(parts):
        size = len(part.encode()) + 1
        if used + size > max_bytes:
            left = len(parts) - i
            return text + f"\n_… {left} more part(s) left out to stay under 1 MiB._\n"
        text += part + "\n"
        used += size
    return text


def _what(report: Report) -> list[str]:
    m = report.metrics
    if report.command == "compare":
        rows = [
            ("max abs logit difference", m["max_abs_diff"], m["thresholds"]["max_abs_diff"]),
            ("mean KL(reference ‖ candidate)", m["kl_mean"], m["thresholds"]["max_kl"]),
            ("top-1 agreement", m["top1_agreement"], m["thresholds"]["min_top1_agreement"]),
            ("Δ mean loss", m["loss_delta"], m["thresholds"]["max_loss_delta"]),
        ]
        out = ["| statistic | value | threshold |", "|---|---|---|"]
        out += [f"| {n} | {_num(v)} | {_num(t)} |" for n, v, t in rows]
        kinds = f"{m['kind_reference']['name']} → {m['kind_candidate']['name']}"
        return out + [f"| holds | {kinds} | same |", ""]
    if report.command == "gaussian":  # no kind: a mean and a scale, with their NLL
        if m["loss_stable"] is None:
            return ["Gaussian NLL: no targets", ""]
        torch = m["torch_gaussian_nll"]["loss"]
        return [f"Gaussian NLL (stable, float64) {m['loss_stable']:.6g}; torch "
                f"GaussianNLLLoss(full=True) {_num(torch)}", ""]
    assert report.kind is not None
    line = f"holds **{report.kind.name}** (confidence {report.kind.confidence:.2f})"
    if m.get("loss_stable") is not None:
        line += f"; loss {m['loss_stable']:.6g}, accuracy {m['accuracy']:.2%}"
    elif no_finite_loss(m):
        line += f"; {no_finite_loss(m)}"
    return [line, ""]


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _row(f: Finding) -> str:
    severity = f.severity.label + (" (baselined)" if f.baselined else "")
    return f"| {f.code} | {f.name} | {severity} | {cell(f.message)} |"


def _details(f: Finding) -> str:
    def text(s: str) -> str:
        return html.escape(s, quote=False)

    fixes = "\n".join(f"- **{n}**: {text(f.fix[k])}" for k, n in _FRAMEWORKS if k in f.fix)
    evidence = json_dumps(f.evidence, indent=2).replace("```", "ʼʼʼ")
    return (
        f"<details><summary>{text(finding_title(f))}</summary>\n\n{markdown_text(f.message)}\n\n"
        f"```json\n{evidence}\n```\n\n{fixes}\n\n</details>\n"
    )
