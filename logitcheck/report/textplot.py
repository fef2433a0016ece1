"""Histograms drawn with block characters: pure functions from a Picture to rich Text.

Readable without colour (pipes, CI logs): limits are marked on the axis with ┴ and named
on their own line below it; colour only adds emphasis.
"""

from __future__ import annotations

import math

from rich.text import Text

from .pictures import Picture, bin_of, bin_range

_BLOCKS = " ▁▂▃▄▅▆▇█"
HEIGHT = 5  # rows of bars: 40 levels


def draw(pic: Picture, width: int) -> Text:
    lo, hi = pic.view()
    counts = pic.counts[lo : hi + 1]
    top = max(counts) or 1
    gutter = len(f"{top:,}")
    cols = max(1, min(3, (width - gutter - 4) // len(counts)))  # characters per bin
    plot_w = cols * len(counts)
    marks = {c: m for m in pic.markers if (c := _column(pic, m.value, lo, hi, cols)) is not None}
    out = Text()
    total = sum(pic.counts)
    out.append(pic.title, style="bold")
    out.append(f"  ({total:,} rows)\n", style="dim")
    levels = [0 if c == 0 else max(1, math.ceil(c / top * HEIGHT * 8)) for c in counts]
    for r in range(HEIGHT - 1, -1, -1):
        label = f"{top:,}" if r == HEIGHT - 1 else ""
        out.append(f"{label:>{gutter}} {'┤' if label else '│'}")
        line = "".join(_BLOCKS[max(0, min(8, lv - r * 8))] * cols for lv in levels)
        for i, ch in enumerate(line):
            if i in marks and ch == " ":
                out.append("┊", style="red" if marks[i].danger else "cyan")
            else:
                out.append(ch, style="red" if i in marks and marks[i].danger else "blue")
        out.append("\n")
    axis = "".join("┴" if i in marks else "─" for i in range(plot_w))
    out.append(f"{'0':>{gutter}} └{axis}\n")
    out.append(" " * (gutter + 2) + _ticks(pic, lo, hi, cols, plot_w).rstrip() + "\n")
    for col, m in sorted(marks.items()):
        text = f"↑ {m.label}"
        if gutter + 2 + col + len(text) > width and col + 1 >= len(text):  # point from the left
            col, text = col + 1 - len(text), f"{m.label} ↑"
        out.append(" " * (gutter + 2 + col))
        out.append(text + "\n", style="red" if m.danger else "cyan")
    out.append(" " * (gutter + 2) + pic.x_label, style="dim")
    if pic.note:
        out.append("\n" + " " * (gutter + 2) + pic.note, style="dim")
    return out


def _column(pic: Picture, value: float, lo: int, hi: int, cols: int) -> int | None:
    """The character column of `value` in the drawn range (log scale within a bin)."""
    i = bin_of(pic.edges, value)
    if not lo <= i <= hi:
        return None
    a, b = bin_range(pic.edges, i)
    frac = 0.0
    if 0 < a < b < math.inf and value > 0:
        frac = (math.log(value) - math.log(a)) / (math.log(b) - math.log(a))
    return (i - lo) * cols + min(cols - 1, int(frac * cols))


def _ticks(pic: Picture, lo: int, hi: int, cols: int, plot_w: int) -> str:
    """Labels at the powers of ten among the drawn bins' lower edges."""
    line = [" "] * (plot_w + 8)
    free = 0
    for i in range(max(lo, 1), hi + 1):
        edge = pic.edges[i - 1]
        k = math.log10(edge)
        if abs(k - round(k)) > 1e-9:
            continue
        text = tick_label(edge)
        col = (i - lo) * cols
        if col >= free and col + len(text) <= len(line):
            line[col : col + len(text)] = text
            free = col + len(text) + 1
    return "".join(line)


def tick_label(edge: float) -> str:
    k = round(math.log10(edge))
    return f"{edge:g}" if -3 <= k <= 3 else f"1e{k}"
