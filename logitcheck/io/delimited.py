"""CSV and TSV files (plain or gzipped): class columns, a label column, checked cell by cell.

The file is read once, as a stream of blocks, and appended as float64 to an anonymous
temporary file in the system temp dir, which is then memory-mapped. Memory stays bounded by
a few blocks whatever the file size, the rest of logitcheck sees the same (rows, classes)
memory map as for a .npy, and no second pass over the text is needed (but for the rows the
fast path delivered before it handed over, skipped over unparsed). Files from
FAST_MIN_BYTES on are parsed by pyarrow when it is installed (fastcsv.py); it hands over to
the slow parser here (numpy's C parser for blocks without quotes, the csv module for lines
with one)
from the first row it cannot vouch for, so both accept the same files, with the same values,
and refuse the others with the same message and line number.
The decoded size is capped (8 GiB by default, --max-bytes) as the blocks arrive.
"""

from __future__ import annotations

import csv
import fnmatch
import gzip
import io
import os
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import InputError, os_input_error
from .csvcommon import Head, is_number, label_ids, suffixes
from .limits import check_declared, decoded_cap, human_bytes

#: progress(bytes done, bytes total): the CLI draws a bar from it; the core never prints.
Progress = Callable[[int, int], None]

BLOCK_LINES = 65536
MAX_LINE = 16 << 20  # characters; a row of 16 M characters is not a row of class scores
_SAMPLE_BYTES = 1 << 20


class _Text:
    """Text lines of a plain or gzipped file, with how many file bytes were consumed."""

    def __init__(self, path: Path, cap: int | None = None) -> None:
        self.path = path
        self.cap = cap  # decoded text of a gzipped file: at most this many characters
        self.decoded = 0
        try:
            self.raw: BinaryIO = open(path, "rb")
        except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            raise os_input_error(path, exc) from None
        binary: BinaryIO = self.raw
        if suffixes(path)[1]:
            binary = gzip.GzipFile(fileobj=self.raw, mode="rb")  # type: ignore[assignment]
        # utf-8-sig drops a BOM; universal newlines turn CRLF into LF
        self.text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline=None)
        self.line = 0  # 1-based number of the last line read

    def consumed(self) -> int:
        return self.raw.tell()

    def lines(self, n: int) -> list[str]:
        block: list[str] = []
        readline = self.text.readline
        try:
            for _ in range(n):
                line = readline(MAX_LINE)  # bounded: a file with no newlines cannot fill memory
                if not line:
                    break
                if len(line) == MAX_LINE and not line.endswith("\n"):
                    raise InputError(self.path, f"line {self.line + len(block) + 1}: longer than "
                                     f"{MAX_LINE:,} characters")
                block.append(line)
        except UnicodeDecodeError as exc:
            raise InputError(self.path, f"after line {self.line}: not UTF-8 text ({exc.reason})"
                             ) from None
        except (OSError, EOFError, zlib.error) as exc:  # gzip: corrupt or truncated stream
            raise InputError(self.path, f"after line {self.line}: unreadable ({exc})") from None
        self.line += len(block)
        if self.cap is not None and suffixes(self.path)[1]:
            self.decoded += sum(map(len, block))
            if self.decoded > self.cap:  # a gzip bomb of blank lines or huge rows: stop here
                raise InputError(self.path, f"after line {self.line}: inflates to more than "
                                 f"{human_bytes(self.cap)} of text, the --max-bytes cap; "
                                 "raise it with --max-bytes if the file is trusted")
        return block

    def close(self) -> None:
        self.text.close()
        self.raw.close()

    def __enter__(self) -> _Text:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _split(lines: list[str], delimiter: str, path: Path, first: int = 1) -> list[list[str]]:
    """One row of cells per line; `first` numbers the lines in messages. Each line on its
    own, so that what a line gives never depends on the lines read with it (the fast path
    reads other blocks): lines with a quote through the csv module, the others split."""
    rows: list[list[str]] = []
    for i, line in enumerate(lines):
        if '"' not in line:
            rows.append(line.removesuffix("\n").split(delimiter))
            continue
        # the empty second line shows a quote left open: the field would run into it
        reader = csv.reader((line, ""), delimiter=delimiter)
        try:
            row = next(reader)
        except csv.Error as exc:  # e.g. a field above the csv module's size limit
            raise InputError(path, f"line {first + i}: {exc}") from None
        if reader.line_num != 1:
            raise InputError(path, f"line {first + i}: a quoted field runs past the end of "
                             "the line (a quote that is not closed?)")
        rows.append(row)
    return rows


def head(path: Path) -> Head:
    """Column names and kinds from the first lines; a row count estimate from a sample."""
    delimiter = "\t" if suffixes(path)[0] == "tsv" else ","
    with _Text(path) as text:
        first, skipped = text.lines(1), 0
        while first and not first[0].strip():
            skipped += len(first[0])
            if skipped > _SAMPLE_BYTES:  # a (gzipped) file of blank lines: not read to its end
                raise InputError(path, f"no header or data in the first {text.line:,} lines "
                                 "(all blank)")
            first = text.lines(1)
        if not first:
            raise InputError(path, "is empty (no header, no rows)")
        cells = _split(first, delimiter, path, text.line)[0]
        has_header = not all(is_number(c) for c in cells)
        first_line = text.line + 1 if has_header else text.line
        sample, size, complete = [] if has_header else [first[0]], 0, False
        while size < _SAMPLE_BYTES:
            more = text.lines(1024)
            if not more:
                complete = True
                break
            sample += [ln for ln in more if ln.strip()]
            size += sum(len(ln) for ln in more)  # blank lines too: the sample is bounded
        raw = text.consumed()
    data = _split(sample[:1], delimiter, path)[0] if sample else cells
    names = tuple(c.strip() for c in cells) if has_header else tuple(
        str(i + 1) for i in range(len(cells)))
    # judged on the first data row (no rows: every column, so "no data rows" is the error)
    numeric = tuple(not sample or (i < len(data) and is_number(data[i]))
                    for i in range(len(names)))
    return Head(names, has_header, numeric, delimiter, len(first[0]) if has_header else 0,
                len(sample), sum(len(ln) for ln in sample), raw, complete, first_line,
                len(names) > 1 and _increasing(sample, delimiter))


def _increasing(sample: list[str], delimiter: str) -> bool:
    """The first cells of the sample's lines are unique increasing integers: a row index
    (pandas' to_csv keeps it), never class scores. Eight rows at least, to say so."""
    if len(sample) < 8:
        return False
    previous = None
    for line in sample:
        cell = line.split(delimiter, 1)[0].strip().strip('"')
        if not cell.lstrip("-").isdigit():
            return False
        value = int(cell)
        if previous is not None and value <= previous:
            return False
        previous = value
    return True


def estimated_rows(path: Path, h: Head) -> tuple[int, bool]:
    """(data rows, exact?): exact when the sample was the whole file, else extrapolated."""
    if h.complete or h.sample_rows == 0:
        return h.sample_rows, True
    if suffixes(path)[1]:
        fraction = h.sample_raw_bytes / max(os.path.getsize(path), 1)
        return int(round(h.sample_rows / max(fraction, 1e-12))), False
    per_row = h.sample_bytes / h.sample_rows
    return int(round((os.path.getsize(path) - h.header_bytes) / per_row)), False


def _column(path: Path, h: Head, name: str, option: str) -> int:
    if name in h.names:
        return h.names.index(name)
    if not h.has_header and name.isdigit() and 1 <= int(name) <= len(h.names):
        return int(name) - 1
    shown = ", ".join(h.names[:12]) + (", ..." if len(h.names) > 12 else "")
    what = "columns" if h.has_header else "no header; columns are numbered 1 to"
    detail = shown if h.has_header else str(len(h.names))
    raise InputError(path, f"{option}: no column {name!r} ({what} {detail})")


#: A column with one of these names holds labels unless --label-column says otherwise.
LABEL_COLUMNS = ("label", "labels", "target", "targets", "y")


def default_label_column(h: Head) -> str | None:
    return next((n for n in h.names if n in LABEL_COLUMNS), None) if h.has_header else None


def _unnamed(name: str) -> bool:
    return name == "" or name.startswith("Unnamed: ")  # a pandas index column


#: Columns with these names (any case) hold row ids, not class scores.
ID_COLUMNS = ("id", "idx", "index", "row", "row_id", "row_idx", "sample", "sample_id",
              "sample_idx", "example_id", "uid", "#")


def id_columns(h: Head, label: int | None = None) -> list[int]:
    """Columns left out of the class columns by default: pandas' unnamed index, a column
    named like an id, and a first column of unique increasing integers (judged on the
    sample of the first MiB)."""
    out = [i for i, n in enumerate(h.names)
           if i != label and (_unnamed(n) or n.strip().lower() in ID_COLUMNS)]
    if h.increasing_first and label != 0 and 0 not in out and h.numeric[0]:
        out.insert(0, 0)
    return out


def class_columns(path: Path, h: Head, pattern: str | None, label: int | None) -> list[int]:
    if pattern is not None:
        wanted = [p.strip() for p in pattern.split(",") if p.strip()]
        cols = [i for i, n in enumerate(h.names) if i != label
                and any(fnmatch.fnmatchcase(n, p) for p in wanted)]
        if not cols:
            raise InputError(path, f"--class-columns {pattern!r} matches no column "
                             f"(columns: {', '.join(h.names[:12])})")
        return cols
    ids = id_columns(h, label)
    cols = [i for i, n in enumerate(h.names) if i != label and h.numeric[i] and i not in ids]
    if not cols:
        raise InputError(path, "no numeric class columns (choose them with --class-columns)")
    return cols


def _name_map(names: tuple[str, ...], pattern: str | None) -> dict[str, int]:
    """Class name -> id: the column names, and what a simple glob's * matched ('p_*')."""
    out = {n: i for i, n in enumerate(names)}
    if pattern and pattern.count("*") == 1 and "," not in pattern:
        pre, post = pattern.split("*")
        for i, n in enumerate(names):
            stem = n[len(pre): len(n) - len(post)] if post else n[len(pre):]
            out.setdefault(stem, i)
    return out


@dataclass(frozen=True)
class Table:
    values: np.ndarray | None  # (rows, classes) float64, memory-mapped
    labels: np.ndarray | None  # (rows,) int64
    class_names: tuple[str, ...]
    head: Head
    left_out: tuple[str, ...] = ()  # id columns not read as classes (no --class-columns)


def load(
    path: Path,
    *,
    class_pattern: str | None,
    label_column: str | None,
    want_values: bool,
    read_labels: bool = True,
    label_names: tuple[str, ...] | None = None,
    max_bytes: int | None = None,
    progress: Progress | None = None,
    max_rows: int | None = None,
) -> Table:
    """Read the class columns (when want_values) and the label column (when named and
    read_labels; a label column that is not read is still no class column)."""
    h = head(path)
    label = _column(path, h, label_column, "--label-column") if label_column else None
    cols = class_columns(path, h, class_pattern, label) if want_values else []
    left_out = tuple(h.label(i) for i in id_columns(h, label)) if (
        want_values and class_pattern is None) else ()
    if not read_labels:
        label = None
    names = tuple(h.names[i] for i in cols)
    name_map = _name_map(label_names if label_names is not None else names, class_pattern)
    out = tempfile.TemporaryFile(prefix="logitcheck-", suffix=".f64") if cols else None
    sink = _Sink(path, out, len(cols), decoded_cap(max_bytes), progress,
                 labelled=label is not None, max_rows=max_rows)
    try:
        fast = (cols or label is not None) and _fast(path)
        if not (fast and _load_fast(path, h, cols, label, name_map, sink)):
            # from the first row the fast path did not deliver (all of them without it)
            _load_slowly(path, h, cols, label, name_map, sink, skip=sink.rows)
        if sink.rows == 0:
            raise InputError(path, "has a header but no data rows")
        array = None
        if out is not None:
            out.flush()
            array = np.memmap(out, dtype="<f8", mode="r", shape=(sink.rows, len(cols)))
    finally:
        if out is not None:
            out.close()  # the map keeps the (already unlinked) file alive
    ids_all = np.concatenate(sink.labels) if sink.labels else None
    return Table(array, ids_all, names, h, left_out)


#: Files from this size on are read by pyarrow when it is installed: below it, importing
#: pyarrow (about 0.2 s) costs more than the slow parser (about 35 MB/s) takes.
FAST_MIN_BYTES = 4 << 20


def _fast(path: Path) -> bool:
    if os.path.getsize(path) < FAST_MIN_BYTES:
        return False
    from . import fastcsv

    return fastcsv.available()


class _Sink:
    """Where both parsers put their rows: values appended to the temp file, label ids
    gathered, the decoded size held to the cap, progress reported."""

    def __init__(self, path: Path, out: BinaryIO | None, width: int, cap: int,
                 progress: Progress | None, labelled: bool = False,
                 max_rows: int | None = None) -> None:
        self.path, self.out, self.width, self.cap = path, out, width, cap
        self.progress = progress
        # label ids are held in memory (8 bytes a row): they count toward the cap too, and
        # labels for logits of known length stop at the first row too many
        self.row_bytes = 8 * (width if out is not None else 0) + (8 if labelled else 0)
        self.max_rows = max_rows
        self.total = os.path.getsize(path)
        self.rows = 0
        self.labels: list[np.ndarray] = []

    def fits(self, rows: int) -> bool:
        if self.max_rows is not None and self.rows + rows > self.max_rows:
            return False
        return (self.rows + rows) * self.row_bytes <= self.cap

    def add(self, values: np.ndarray | None, ids: np.ndarray | None, rows: int,
            done: int, last_line: int | None = None) -> None:
        if last_line is not None:
            if self.max_rows is not None and self.rows + rows > self.max_rows:
                raise InputError(self.path, f"after line {last_line}: more than "
                                 f"{self.max_rows:,} labels, but the logits have "
                                 f"{self.max_rows:,} rows")
            check_declared(self.path, (self.rows + rows) * self.row_bytes, self.cap,
                           f"after line {last_line}: the data ")
        if self.out is not None and values is not None:
            self.out.write(memoryview(np.ascontiguousarray(values, dtype="<f8")).cast("B"))
        if ids is not None:
            self.labels.append(ids)
        self.rows += rows
        if self.progress is not None:
            self.progress(done, self.total)


def _load_fast(path: Path, h: Head, cols: list[int], label: int | None,
               name_map: dict[str, int], sink: _Sink) -> bool:
    """pyarrow's rows into the sink; False where the slow parser must go on from."""
    from . import fastcsv

    batches = fastcsv.blocks(path, h, suffixes(path)[1], cols, label, name_map, MAX_LINE)
    try:
        for values, ids, done in batches:
            rows = len(values) if values is not None else len(ids)  # type: ignore[arg-type]
            if not sink.fits(rows):
                return False  # the slow parser names the line where the cap is passed
            sink.add(values, ids, rows, done)
    except fastcsv.Fallback:
        return False
    finally:
        batches.close()
    return True


def _load_slowly(path: Path, h: Head, cols: list[int], label: int | None,
                 name_map: dict[str, int], sink: _Sink, skip: int = 0) -> None:
    """Line blocks parsed by numpy or the csv module, from data row `skip` on."""
    with _Text(path, sink.cap) as text:
        if h.has_header:
            while not text.lines(1)[0].strip():  # blank lines before the header
                pass
        for start_line, lines in _blocks(text):
            if skip:  # rows the fast path delivered
                if skip >= len(lines):
                    skip -= len(lines)
                    continue
                start_line, lines, skip = start_line + skip, lines[skip:], 0
            values, ids = _parse(path, h, lines, start_line, cols, label, name_map)
            sink.add(values, ids, len(lines), text.consumed(), start_line + len(lines) - 1)


def _blocks(text: _Text) -> Iterator[tuple[int, list[str]]]:
    """(line number of the block's first line, its non-blank lines without newlines)."""
    while True:
        raw = text.lines(BLOCK_LINES)
        if not raw:
            return
        first = text.line - len(raw) + 1
        lines = [ln.rstrip("\n") for ln in raw]
        # isspace stops at the first character that is not a space: cheap on data lines
        if all(lines) and not any(map(str.isspace, lines)):
            yield first, lines
            continue
        # blank lines (a trailing newline, a gap, only spaces) are skipped: keep the
        # numbering right
        run: list[str] = []
        run_start = first
        for i, ln in enumerate(lines):
            if ln.strip():
                if not run:
                    run_start = first + i
                run.append(ln)
            elif run:
                yield run_start, run
                run = []
        if run:
            yield run_start, run


def _parse(
    path: Path, h: Head, lines: list[str], first: int, cols: list[int], label: int | None,
    name_map: dict[str, int],
) -> tuple[np.ndarray | None, np.ndarray | None]:
    d, width = h.delimiter, len(h.names)
    quoted = any('"' in ln for ln in lines)
    if not quoted:
        counts = [ln.count(d) for ln in lines]
        if min(counts) != width - 1 or max(counts) != width - 1:
            i = next(i for i, c in enumerate(counts) if c != width - 1)
            _ragged(path, h, first + i, counts[i] + 1)
    rows = None
    if quoted:  # split once, checked: one row per line, every row as wide as the header
        rows = _split(lines, d, path, first)
        for r, row in enumerate(rows):
            if len(row) != width:
                _ragged(path, h, first + r, len(row))
    values = None
    if cols:
        try:
            if rows is not None:
                raise ValueError("quoted fields: parse cell by cell")
            values = np.loadtxt(lines, delimiter=d, usecols=cols, dtype=np.float64, ndmin=2,
                                comments=None, quotechar=None)
        except ValueError:
            values = _parse_slowly(path, h, rows or _split(lines, d, path, first), first, cols)
    ids = None
    if label is not None:
        if rows is not None:
            cells = [row[label] for row in rows]
        elif label == width - 1:  # the usual place: one split from the right is enough
            cells = [ln.rpartition(d)[2] for ln in lines]
        else:
            cells = [ln.split(d)[label] for ln in lines]
        ids = label_ids(path, h, cells, first, label, name_map)
    return values, ids


def _ragged(path: Path, h: Head, line: int, fields: int) -> None:
    first = "the header" if h.has_header else "line 1"
    raise InputError(path, f"line {line}: {fields} fields where {first} has {len(h.names)} "
                     "(rows of unequal length)")


def _parse_slowly(
    path: Path, h: Head, rows: list[list[str]], first: int, cols: list[int]
) -> np.ndarray:
    """Cell by cell, to name the line and column of the first cell that is not a number."""
    out = np.empty((len(rows), len(cols)), dtype=np.float64)
    for r, row in enumerate(rows):
        if len(row) != len(h.names):
            _ragged(path, h, first + r, len(row))
        for c, i in enumerate(cols):
            cell = row[i]
            if not is_number(cell):
                shown = cell if len(cell) <= 40 else cell[:40] + "..."
                raise InputError(
                    path, f"line {first + r}, column {h.label(i)}: {shown!r} is not a number"
                )
            out[r, c] = float(cell)
    return out
