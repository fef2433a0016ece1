"""Writes docs/terminal.png and docs/report.png (the README's pictures) with chromium.

    python docs/make_screenshots.py

The terminal report is rendered in colour, recorded by rich as SVG, and that SVG (like the
HTML page) is screenshotted by headless chromium.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.text import Text

from logitcheck.analyses.analyze import analyze
from logitcheck.report.html import render_html
from logitcheck.report.terminal import render_rich

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = "sample_data/fp32_underflow_logits.npy"


def shoot(chromium: str, page: Path, png: Path, size: str, profile: str) -> None:
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--hide-scrollbars",
         f"--screenshot={png}", f"--window-size={size}", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )


def main() -> int:
    chromium = shutil.which("chromium")
    if chromium is None:
        print("no chromium: apt-get install -y chromium", file=sys.stderr)
        return 1
    report = analyze(ROOT / SAMPLE, ROOT / "sample_data/labels.npy")
    report.inputs[0] = type(report.inputs[0])(**{**report.inputs[0].__dict__, "path": SAMPLE})
    report.inputs[1] = type(report.inputs[1])(
        **{**report.inputs[1].__dict__, "path": "sample_data/labels.npy"})
    ansi = render_rich(report, color=True, width=100)
    console = Console(record=True, width=100, force_terminal=True, color_system="truecolor",
                      file=open("/dev/null", "w"))  # noqa: SIM115 - recorded, not shown
    console.print(Text.from_ansi(ansi), end="")
    with tempfile.TemporaryDirectory() as tmp:
        svg = Path(tmp) / "terminal.svg"
        console.save_svg(str(svg), title="logitcheck analyze fp32_underflow_logits.npy")
        lines = ansi.count("\n")
        shoot(chromium, svg, ROOT / "docs/terminal.png", f"1300,{lines * 25 + 120}", tmp + "/p1")
        page = Path(tmp) / "report.html"
        page.write_text(render_html(report), encoding="utf-8")
        shoot(chromium, page, ROOT / "docs/report.png", "1200,1600", tmp + "/p2")
    return 0


if __name__ == "__main__":
    sys.exit(main())
