"""What both CSV parsers share: the file's suffixes, its Head (what the first lines say), and
how a label cell becomes a class id. delimited.py (the parser that defines what is accepted)
and fastcsv.py (pyarrow, held to the same rules) both import this module, not each other's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError


def suffixes(path: Path) -> tuple[str, bool]:
    """('csv' or 'tsv', gzipped?) from the file name."""
    name = path.name.lower()
    gz = name.endswith(".gz")
    base = name[:-3] if gz else name
    return ("tsv" if base.endswith(".tsv") else "csv"), gz


@dataclass(frozen=True)
class Head:
    """What the first lines say: column names and which columns hold numbers."""

    names: tuple[str, ...]
    has_header: bool
    numeric: tuple[bool, ...]  # judged on the first data row
    delimiter: str
    header_bytes: int  # length of the header line (0 without one)
    sample_rows: int  # data rows in the first delimited._SAMPLE_BYTES of text
    sample_bytes: int  # ... and their length
    sample_raw_bytes: int  # file bytes consumed to read the sample (compressed, for .gz)
    complete: bool  # the sample is the whole file
    first_line: int = 1  # the line number of data row 0 (after the header, blank lines)
    # the first column holds unique increasing integers in the sample (a row index)
    increasing_first: bool = False

    def label(self, i: int) -> str:
        return self.names[i] if self.has_header else str(i + 1)


def is_number(cell: str) -> bool:
    if "_" in cell:  # Python's float() takes 1_000; numpy's and pyarrow's parsers do not
        return False
    try:
        float(cell)
    except ValueError:
        return False
    return True


def label_ids(
    path: Path, h: Head, cells: list[str], first: int, col: int, name_map: dict[str, int]
) -> np.ndarray:
    try:
        return np.array(cells).astype(np.int64)
    except (ValueError, OverflowError):
        pass
    out = np.empty(len(cells), dtype=np.int64)
    for r, cell in enumerate(cells):
        text = cell.strip()
        try:
            out[r] = int(text)  # an integer is a class id
            continue
        except (ValueError, OverflowError):  # OverflowError: no int64, so no class id
            pass
        if text in name_map:
            out[r] = name_map[text]
            continue
        if is_number(text) and float(text).is_integer() and abs(float(text)) < 2**63:
            out[r] = int(float(text))
            continue
        known = ", ".join(list(name_map)[:10]) if name_map else "none: the logits have no header"
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise InputError(
            path, f"line {first + r}, column {h.label(col)}: label {shown!r} is neither a class "
            f"id nor a class name ({known})"
        )
    return out
