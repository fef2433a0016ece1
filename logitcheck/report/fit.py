"""Rich tables that fit the terminal's width without cutting anything that matters.

rich, when a table is too wide, shrinks every column evenly and ends cells with "…":
`2.80283e…`, a header cut to `fl…`, a path that loses its file name. Here each column's
widths are worked out first: a number cell is never narrower than its longest line, prose
wraps at spaces (never inside a word), a file path is shortened from the left so that its
file name stays (`…/run3/model_logits.npy`); when even that is too wide, the columns that
matter least are left out, and the caller says which.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text


@dataclass
class Column:
    header: str
    cells: list[Text | str] = field(default_factory=list)  # one per row
    justify: str = "right"
    wrap: bool = False  # prose: may wrap at spaces (numbers inside it stay whole)
    drop: int = 0  # 0: always shown; otherwise left out first when the higher
    path: bool = False  # file paths: shortened from the left, the file name kept
    suffixes: list[str] = field(default_factory=list)  # path columns: kept whole after it


def shorten_path(path: str, width: int) -> str:
    """`/a/b/run3/model.npy` -> `…/run3/model.npy`: the trailing components that fit in
    `width`, at least the file name (which may then be wider than `width`)."""
    if cell_len(path) <= width:
        return path
    sep = "\\" if "\\" in path and "/" not in path else "/"
    parts = path.split(sep)
    if len(parts) == 1:
        return path
    for k in range(1, len(parts)):
        candidate = "…" + sep + sep.join(parts[k:])
        if cell_len(candidate) <= width:
            return candidate
    return "…" + sep + parts[-1]


def _plain(cell: Text | str) -> str:
    return cell.plain if isinstance(cell, Text) else cell


def _longest_word(text: str) -> int:
    return max((cell_len(w) for w in text.split()), default=0)


def _bounds(col: Column) -> tuple[int, int]:
    """(narrowest, widest) the column can be without cutting a cell or a header word."""
    header_min, widest = _longest_word(col.header), cell_len(col.header)
    narrowest = header_min
    for r, cell in enumerate(col.cells):
        text = _plain(cell) + _suffix(col, r)
        lines = text.split("\n")
        widest = max([widest, *(cell_len(line) for line in lines)])
        if col.path:
            narrowest = max(narrowest, cell_len(shorten_path(_plain(cell), 0) + _suffix(col, r)))
        elif col.wrap:
            narrowest = max(narrowest, _longest_word(text))
        else:
            narrowest = max([narrowest, *(cell_len(line) for line in lines)])
    return narrowest, widest


def _suffix(col: Column, row: int) -> str:
    return col.suffixes[row] if row < len(col.suffixes) else ""


def _overhead(n: int, options: dict[str, Any]) -> int:
    """Borders and padding of a table of n columns built with these options."""
    probe = Table(**options)
    for _ in range(n):
        probe.add_column(width=1)
    probe.add_row(*(["x"] * n))
    global _probe_console
    if _probe_console is None:
        _probe_console = Console(width=10_000, file=io.StringIO())
    return Measurement.get(_probe_console, _probe_console.options, probe).maximum - n


_probe_console: Console | None = None


def fit_columns(columns: list[Column], width: int, options: dict[str, Any]
                ) -> tuple[list[Column], list[int], list[Column]]:
    """(columns kept, their widths, columns left out) for a table of at most `width`."""
    kept = list(columns)
    dropped: list[Column] = []
    while True:
        bounds = [_bounds(c) for c in kept]
        room = width - _overhead(len(kept), options)
        if sum(lo for lo, _ in bounds) <= room or not any(c.drop for c in kept):
            break
        worst = max((c for c in kept if c.drop), key=lambda c: c.drop)
        kept.remove(worst)
        dropped.append(worst)
    return kept, _capped(bounds, room), dropped


def _capped(bounds: list[tuple[int, int]], room: int) -> list[int]:
    """Every column at its natural width but for the widest ones, cut down to a common cap
    (as rich does), never below its narrowest: columns narrower than the cap stay whole."""
    def widths(cap: int) -> list[int]:
        return [max(lo, min(hi, cap)) for lo, hi in bounds]

    cap = max((hi for _, hi in bounds), default=0)
    while cap > 0 and sum(widths(cap)) > room:
        cap -= 1
    out = widths(cap)
    spare = room - sum(out)
    for i, (_, hi) in enumerate(bounds):  # what the cap's rounding left, one column each
        if spare > 0 and out[i] < hi:
            out[i] += 1
            spare -= 1
    return out


def fitted_table(columns: list[Column], width: int, **options: Any) -> tuple[Table, list[str]]:
    """A rich Table of `columns` at most `width` wide; and the headers of the columns left
    out. options: Table's (title, box, ...)."""
    kept, widths, dropped = fit_columns(columns, width, options)
    table = Table(**options)
    for col, w in zip(kept, widths, strict=True):
        # fold, not ellipsis: should a cell still not fit, it goes on the next line whole
        table.add_column(col.header, justify=col.justify, width=w,  # type: ignore[arg-type]
                         overflow="fold", no_wrap=False)
    rows = max((len(c.cells) for c in kept), default=0)
    for r in range(rows):
        cells = []
        for col, w in zip(kept, widths, strict=True):
            cell = col.cells[r] if r < len(col.cells) else ""
            if col.path:
                suffix = _suffix(col, r)
                # Text: no markup read in an input-derived path or key
                cell = Text(shorten_path(_plain(cell), w - cell_len(suffix)) + suffix)
            cells.append(cell)
        table.add_row(*cells)
    return table, [c.header for c in dropped]


def left_out_note(headers: list[str], width: int) -> Text:
    """The line that says which columns did not fit."""
    return Text(f"not shown at {width} columns: {', '.join(headers)} (a wider terminal, "
                "COLUMNS=..., or --format json shows them)", style="dim")
