"""The fast CSV path: pyarrow's parser, held to what delimited.py's own parser accepts.

delimited.load calls `blocks` for files large enough to repay importing pyarrow (about 0.2 s).
The decoded text is cut into segments at line breaks; a few threads parse one segment each
(pyarrow, 512 KiB blocks that stay in cache, without its own threads) and turn each record
batch into a row-major float64 block; the blocks come out in file order, so memory stays
bounded by a few segments whatever the file size.

It never raises an InputError of its own: whenever pyarrow refuses something, or might accept
what the slow parser would refuse, the segment is given up and Fallback raised after the
rows before it; delimited.load reads on from there with the slow parser, which accepts the
rows (pyarrow was stricter: a number padded with a no-break space, say) or raises the usual
one-line message with its exact line number. Where the two parsers could part ways, and how
they are kept together:

- numbers: pyarrow reads a subset of Python's float() spellings, with the same values, but
  for 'nan(...)', which float() refuses: a segment with a NaN and a '(' is given up.
- quoted fields running past their line: the slow parser refuses them; pyarrow joins the
  lines into one value. Float columns refuse a line break; in a segment with a quote, the
  string columns are searched for one: the labels, and the other columns, read as strings
  when there are at most MAX_EXTRA_COLUMNS of them or the file starts with quotes.
- other columns left out (more of them, no quotes at the start): the segments' bytes are
  checked for UTF-8, and a segment with a quote is given up.
- the csv module, which the slow parser splits lines with a quote with, refuses fields above
  its size limit: a segment with a quote and a line that long is given up.
- blank lines: both skip empty lines; a line of spaces is a ragged row, not a number, or a
  blank label to pyarrow: each gives up the segment, and the slow parser skips the line.
- long lines: a line longer than a segment is carried into the next read, up to MAX_LINE;
  a longer one is the slow parser's to refuse.
- .gz: members one after another; zero padding, garbage or a cut stream are the slow
  parser's (GzipFile) to read or name.
"""

from __future__ import annotations

import csv
import os
import re
import zlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..errors import InputError
from .csvcommon import Head, label_ids

#: Text per task. Several are in flight (one per worker, and one more being read).
SEGMENT_BYTES = 8 << 20
#: pyarrow's block, small enough that the parsed block stays in the core's cache (1 MiB L2
#: here) while its columns are converted: 4 MiB blocks parsed about 1.3 times slower, one
#: 64 MiB block 4 times slower.
BLOCK_BYTES = 512 << 10
MAX_WORKERS = 4
#: Columns neither classes nor labels are read too (as strings, so that a quoted field
#: running past its line shows) up to this many, or always when the file starts with quotes.
MAX_EXTRA_COLUMNS = 8
_BOM = b"\xef\xbb\xbf"
_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)")


class Fallback(Exception):
    """The fast path stops here; the rows already yielded are good."""


def available() -> bool:
    """pyarrow >= 16 (RecordBatch.to_tensor with row_major) can be imported."""
    try:
        import pyarrow
        import pyarrow.csv  # noqa: F401
    except ImportError:
        return False
    return int(pyarrow.__version__.split(".")[0]) >= 16


def _open(path: Path, gz: bool) -> tuple[BinaryIO, BinaryIO]:
    raw: BinaryIO = open(path, "rb")
    return raw, (_Gunzip(raw) if gz else raw)  # type: ignore[return-value]


class _Gunzip:
    """gzip members one after another, inflated by zlib: a quarter less CPU than GzipFile,
    which inflates 8 KiB at a time. Anything GzipFile might read otherwise (zero padding
    after the last member, say) or refuse is an error here, and the slow parser, reading
    through GzipFile, says what it is."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.inflate = zlib.decompressobj(wbits=31)  # 31: a gzip header and trailer
        self.started = False  # input given to the current member
        self.pending = b""  # input not yet inflated

    def read(self, n: int) -> bytes:
        out: list[bytes] = []
        got = 0
        while got < n:
            if not self.pending:
                self.pending = self.raw.read(1 << 20)
                if not self.pending:
                    if self.started:
                        raise EOFError("the gzip stream ends inside a member")
                    break
            self.started = True
            piece = self.inflate.decompress(self.pending, n - got)  # bounded: no bombs
            self.pending = self.inflate.unconsumed_tail
            if self.inflate.eof:  # the member's CRC and size checked; another may follow
                # what follows the member: unconsumed_tail may hold it too, not only this
                self.pending = self.inflate.unused_data
                self.inflate = zlib.decompressobj(wbits=31)
                self.started = False
            out.append(piece)
            got += len(piece)
        return b"".join(out)

    def seek(self, offset: int) -> None:
        while offset > 0:  # forward from the start, by reading
            skipped = len(self.read(min(offset, 1 << 20)))
            if not skipped:
                break
            offset -= skipped

    def close(self) -> None:
        pass  # the raw file is closed by its owner


def data_offset(path: Path, h: Head, gz: bool, limit: int = 64 << 20) -> int:
    """Where the data starts in the decoded bytes: past a BOM, blank lines and the header
    (the lines head() read, with the same universal newlines)."""
    raw, stream = _open(path, gz)
    try:
        buf = stream.read(1 << 16)
        pos = len(_BOM) if buf.startswith(_BOM) else 0
        if not h.has_header:
            return pos
        while True:
            for m in _LINE.finditer(buf, pos):
                if m.end() == len(buf) and buf.endswith(b"\r"):
                    break  # a CR at the end of what was read: half of a CRLF? read on
                if m.group().decode("utf-8").strip():  # the first line with text
                    return m.end()
                pos = m.end()
            if len(buf) > limit:
                raise Fallback("no header line in the first bytes")
            more = stream.read(len(buf))
            if not more:  # the header ends the file: no data follows it
                return len(buf)
            buf += more
    except (OSError, EOFError, zlib.error, UnicodeDecodeError):
        raise Fallback("unreadable head") from None
    finally:
        stream.close()
        raw.close()


def _segments(raw: BinaryIO, stream: BinaryIO, size: int, max_line: int
              ) -> Iterator[tuple[bytes | None, int]]:
    """(text ending at a line break, file bytes consumed so far); None for text that cannot
    be read or a line longer than max_line: the slow parser says which."""
    rest = b""
    while True:
        try:
            data = stream.read(size)
        except (OSError, EOFError, zlib.error):
            yield None, raw.tell()
            return
        done = raw.tell()
        if not data:
            if rest:  # a last line without a line break: given one, so that a quote left
                yield rest + b"\n", done  # open shows as a field with a line break in it
            return
        buf = rest + data if rest else data
        cut = buf.rfind(b"\n")
        if cut < 0:
            cut = buf.rfind(b"\r")  # old Mac line ends
        if cut < 0:
            if len(buf) > max_line:
                yield None, done
                return
            rest = buf
            continue
        if rest and _first_break(buf, len(rest)) > max_line:  # the line carried over
            yield None, done
            return
        yield buf[: cut + 1], done
        rest = buf[cut + 1:]


def _first_break(buf: bytes, start: int) -> int:
    found = [i for i in (buf.find(b"\n", start), buf.find(b"\r", start)) if i >= 0]
    return min(found) if found else len(buf)


@dataclass(frozen=True)
class _Plan:
    """What every segment is parsed with."""

    path: Path
    head: Head
    names: list[str]
    parse: Any  # pyarrow.csv.ParseOptions
    convert: Any  # pyarrow.csv.ConvertOptions
    values: int  # the first `values` columns of a batch are the class columns
    label: int | None  # the label column's index in the file (it follows the values)
    strings: tuple[int, ...]  # batch columns read as strings
    with_extras: bool
    name_map: dict[str, int]
    keys: Any  # pyarrow array of the class names pyarrow may look labels up in
    key_ids: np.ndarray
    field_limit: int


def _plan(path: Path, h: Head, cols: list[int], label: int | None,
          name_map: dict[str, int], quoted: bool) -> _Plan:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    width = len(h.names)
    names = [f"f{i}" for i in range(width)]  # header names may repeat or be empty
    wanted = cols + ([label] if label is not None else [])
    extras = [i for i in range(width) if i not in wanted]
    with_extras = quoted or len(extras) <= MAX_EXTRA_COLUMNS
    include = wanted + (extras if with_extras else [])
    types = {names[i]: pa.float64() if i in cols else pa.string() for i in include}
    # names int() reads, or that strip() changes, are left to the slow rules
    keys = [k for k in name_map if k == k.strip() and not _is_int(k)]
    return _Plan(
        path, h, names, pacsv.ParseOptions(delimiter=h.delimiter),
        pacsv.ConvertOptions(column_types=types, include_columns=[names[i] for i in include],
                             null_values=[], strings_can_be_null=False),
        len(cols), label, tuple(range(len(cols), len(include))), with_extras, name_map,
        _strings(keys), np.array([name_map[k] for k in keys], dtype=np.int64),
        csv.field_size_limit(),
    )


def _strings(items: list[str]) -> Any:
    """A pyarrow string array, built from its buffers: pa.array() would import pandas
    (0.6 s) to ask whether the list is a pandas object."""
    import pyarrow as pa

    data = [k.encode() for k in items]
    offsets = np.cumsum([0] + [len(d) for d in data], dtype=np.int32)
    return pa.StringArray.from_buffers(len(data), pa.py_buffer(offsets.tobytes()),
                                       pa.py_buffer(b"".join(data)))


def _workers() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MAX_WORKERS, cores or 1))


def blocks(
    path: Path, h: Head, gz: bool, cols: list[int], label: int | None,
    name_map: dict[str, int], max_line: int,
) -> Iterator[tuple[np.ndarray | None, np.ndarray | None, int]]:
    """(values (rows, len(cols)) float64 or None, label ids int64 or None, file bytes
    consumed) per record batch, in file order; raises Fallback where the slow parser must
    take over."""
    offset = data_offset(path, h, gz)
    raw, stream = _open(path, gz)
    try:
        try:
            stream.seek(offset)
        except (OSError, EOFError, zlib.error):
            raise Fallback("unreadable") from None
        segments = _segments(raw, stream, min(SEGMENT_BYTES, max_line), max_line)
        first = next(segments, None)
        if first is None:
            return  # no data rows
        plan = _plan(path, h, cols, label, name_map, first[0] is not None and b'"' in first[0])
        workers = _workers()
        pool = ThreadPoolExecutor(workers, thread_name_prefix="logitcheck-csv")
        pending: deque[tuple[Future[Any] | None, int]] = deque()
        try:
            for seg, done in _chain(first, segments):
                pending.append((pool.submit(_parse, seg, plan) if seg is not None else None,
                                done))
                if seg is None:
                    break
                while len(pending) > workers:
                    yield from _deliver(*pending.popleft())
            while pending:
                yield from _deliver(*pending.popleft())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    finally:
        stream.close()
        raw.close()


def _chain(first: tuple[bytes | None, int], rest: Iterator[tuple[bytes | None, int]]
           ) -> Iterator[tuple[bytes | None, int]]:
    yield first
    yield from rest


def _deliver(future: Future[Any] | None, done: int
             ) -> Iterator[tuple[np.ndarray | None, np.ndarray | None, int]]:
    if future is None:
        raise Fallback("unreadable, or a line too long")
    parsed, problem = future.result()
    for values, ids in parsed:
        yield values, ids, done
    if problem is not None:
        raise Fallback(problem)


def _parse(seg: bytes, plan: _Plan) -> tuple[list[tuple[Any, Any]], str | None]:
    """One segment's batches, and why the rest of it is given up (None: it is not)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if not seg.isascii():
        try:
            seg.decode("utf-8")  # segments end at line breaks: never inside a character
        except UnicodeDecodeError:
            return [], "not UTF-8"
    quoted = b'"' in seg
    if quoted and not plan.with_extras:
        return [], "a quote in a column not read"
    if quoted and _long_line(seg, plan.field_limit):
        return [], "a line above the csv module's field limit, with quotes"
    table = None
    for block in (BLOCK_BYTES, len(seg) + 1):  # a row longer than a block: one block
        try:
            table = pacsv.read_csv(
                pa.py_buffer(seg),
                read_options=pacsv.ReadOptions(column_names=plan.names, use_threads=False,
                                               block_size=block),
                parse_options=plan.parse, convert_options=plan.convert)
            break
        except (pa.ArrowException, OSError) as exc:
            problem = str(exc)
    if table is None:
        return [], problem
    out = []
    paren = b"(" in seg  # once: a scan of the segment
    for batch in table.to_batches():
        if batch.num_rows:
            try:
                out.append(_batch(batch, plan, quoted, paren))
            except (Fallback, pa.ArrowException) as exc:
                return out, str(exc)
    return out, None


def _long_line(data: bytes, limit: int) -> bool:
    """A line longer than `limit` bytes, a window at a time (data starts at a line)."""
    pos, n = 0, len(data)
    while n - pos > limit:
        end = pos + limit + 1  # a line break must come before this
        last = max(data.rfind(b"\n", pos, end), data.rfind(b"\r", pos, end))
        if last < 0:
            return True
        pos = last + 1
    return False


def _batch(batch: Any, plan: _Plan, quoted: bool, paren: bool) -> tuple[Any, Any]:
    import pyarrow.compute as pc

    if quoted:
        for k in plan.strings:
            column = batch.column(k)
            if any(pc.any(pc.match_substring(column, c)).as_py() for c in ("\n", "\r")):
                raise Fallback("a quoted field runs past its line")
    values = None
    if plan.values:
        # no nulls: no null values are declared, and empty cells are no numbers
        values = np.asarray(batch.select(list(range(plan.values))).to_tensor(row_major=True))
        if paren and np.isnan(values).any():
            raise Fallback("a NaN, and a '(': 'nan(...)' is no number to float()")
    ids = _label_ids(batch.column(plan.values), plan) if plan.label is not None else None
    return values, ids


def _label_ids(column: Any, plan: _Plan) -> np.ndarray:
    """The slow parser's rules (an integer, else a class name, else an integral float),
    pyarrow doing the common cases: all integers, or all names exactly."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:  # pyarrow's integers are a subset of int()'s, with the same values
        return _numbers(pc.cast(column, pa.int64()), np.int64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    if len(plan.keys):
        found = pc.index_in(column, value_set=plan.keys)
        if found.null_count == 0:
            return plan.key_ids[_numbers(found, np.int32)]
    cells = column.to_pylist()
    if any(not c.strip() for c in cells):
        raise Fallback("a blank label: a blank line to the slow parser")
    try:
        return label_ids(plan.path, plan.head, cells, 1, plan.label, plan.name_map)
    except InputError:
        raise Fallback("a label that is neither id nor name") from None


def _numbers(array: Any, dtype: type) -> np.ndarray:
    """A pyarrow integer array without nulls as numpy, from its data buffer: to_numpy() on an
    array with a validity bitmap (index_in makes one) would import pandas."""
    start = array.offset
    return np.frombuffer(array.buffers()[1], dtype=dtype)[start: start + len(array)]


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True
