"""The input options shared by `analyze` (and later batch runs): formats, keys, layouts, caps;
and the engine options (`--engine`, `--scheduler`).

Kept apart from cli.py so the command definitions stay short: `@input_options` and
`@engine_options` add the options; options.py maps their values to Settings fields.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "kib": 2**10, "m": 10**6, "mb": 10**6,
          "mib": 2**20, "g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12, "tb": 10**12,
          "tib": 2**40}


class OptionError(click.UsageError):
    """A bad option value, shown as one line like every other error (exit 2)."""

    def show(self, file: Any = None) -> None:
        click.echo(f"logitcheck: error: {self.format_message()}", err=True)


def _fail(param: click.Parameter | None, problem: str) -> None:
    name = param.opts[0] if param is not None and param.opts else "option"
    raise OptionError(f"{name}: {problem}")


class ByteSize(click.ParamType):
    """A byte count: 1000000, 500MB, 8GiB."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        if isinstance(value, int):
            return value
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
        unit = m.group(2).lower() if m else ""
        if not m or unit not in _UNITS or float(m.group(1)) * _UNITS[unit] < 1:
            _fail(param, f"{value!r} is not a size (examples: 1000000, 500MB, 8GiB)")
        return int(float(m.group(1)) * _UNITS[unit])


class Axis(click.ParamType):
    """An axis number, negative from the end."""

    name = "axis"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        try:
            return int(value)
        except (TypeError, ValueError):
            _fail(param, f"{value!r} is not an axis number (e.g. 1, or -1 for the last)")


_OPTIONS = [
    click.option("--logits-key", metavar="KEY", default=None,
                 help="The .npz member or safetensors tensor holding the logits (default: "
                 "logits, predictions, outputs or probs)."),
    click.option("--labels-key", metavar="KEY", default=None,
                 help="The member or tensor holding the labels, in the --labels file or, "
                 "without --labels, in LOGITS itself (default: labels, targets or y)."),
    click.option("--label-column", metavar="NAME", default=None,
                 help="CSV/TSV: the column holding the labels (ids or class names), in the "
                 "--labels file or, without --labels, in LOGITS itself."),
    click.option("--class-columns", metavar="NAMES", default=None,
                 help="CSV/TSV: the class columns, by name or glob, comma-separated "
                 "(e.g. 'p_*'; default: every numeric column but the label column)."),
    click.option("--class-axis", type=Axis(), default=None,
                 help="The axis of LOGITS that holds the classes (default: the last; "
                 "1 for PyTorch's (N, C, d1, ...)). Every other axis indexes rows."),
    click.option("--shift-labels", is_flag=True, default=False,
                 help="Causal-LM exports: logits[:, :-1] predict labels[:, 1:] (labels "
                 "one position shorter are taken as already shifted)."),
    click.option("--max-bytes", type=ByteSize(), default=None,
                 help="Refuse arrays that declare more data than this (e.g. 8GiB). Default: "
                 "no cap on memory-mapped data, 8 GiB on decoded data (CSV, compressed .npz)."),
]


def input_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


_ENGINE_OPTIONS = [
    click.option("--engine", type=click.Choice(["local", "dask"]), default="local",
                 show_default=True,
                 help="Where the chunks are computed: in this process (--threads), or as "
                 "tasks on a dask.distributed cluster (pip install 'logitcheck[dask]')."),
    click.option("--scheduler", metavar="ADDRESS", default=None,
                 help="--engine dask: the scheduler of a running cluster (e.g. "
                 "tcp://10.0.0.5:8786); default: a local cluster of --threads worker "
                 "processes (at least 2), started for the run."),
]


def engine_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_ENGINE_OPTIONS):
        command = option(command)
    return command


class StderrProgress:
    """A rich progress bar on stderr, shown only once the run has taken 2 seconds: one line
    per stage (reading a CSV, analysing the rows), in bytes of input."""

    DELAY_S = 2.0

    def __init__(self) -> None:
        self._started = time.monotonic()
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._stage = ""

    def __call__(self, done: int, total: int, stage: str = "reading") -> None:
        if self._bar is None:
            if time.monotonic() - self._started < self.DELAY_S:
                return
            from rich.console import Console  # only a run that lasts: a fast start
            from rich.progress import DownloadColumn, Progress

            self._bar = Progress(*Progress.get_default_columns(), DownloadColumn(),
                                 console=Console(stderr=True), transient=True)
            self._bar.start()
        if stage != self._stage or self._task is None:
            self._stage = stage
            self._task = self._bar.add_task(stage, total=total)
        self._bar.update(self._task, completed=done)

    def __enter__(self) -> StderrProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def render_inspect(docs: list[dict[str, Any]], fmt: str,
                   errors: list[dict[str, str]] | None = None) -> str:
    """errors: the files that could not be described ({path, error}; JSON lists them)."""
    from ..sanitize import clean_data

    docs = clean_data(docs)  # names, keys, columns and messages come from the files
    errors = clean_data(errors)
    if fmt == "json":
        import json

        doc: dict[str, Any] = {"schema_version": "1", "files": docs}
        if errors:
            doc["errors"] = errors
        return json.dumps(doc, indent=2) + "\n"
    lines = []
    for d in docs:
        lines.append(f"{d['path']}: {d['format']}, {d['bytes']:,} bytes")
        for a in d["arrays"]:
            key = f"{a['key']}: " if a["key"] is not None else ""
            shape = " × ".join(f"{n:,}" for n in a["shape"]) or "scalar"
            lines.append(f"  {key}{shape} {a['dtype']}, {a['bytes']:,} bytes ({a['storage']})")
        if "shards" in d:
            n = len(d["shards"])
            names = [f"{Path(s['path']).name} ({s['shape'][0]:,} rows)" for s in d["shards"]]
            if n > 5:
                names = [*names[:3], f"... {n - 4:,} more", names[-1]]
            lines.append(f"  {n} shard{'s' * (n != 1)}, in this order: {', '.join(names)}")
        if "columns" in d:
            rows = f"{d['rows']:,} rows" if d["rows_exact"] else f"about {d['rows']:,} rows " \
                "(estimated from the file size)"
            header = "header" if d["header"] else "no header; columns numbered from 1"
            lines.append(f"  {len(d['columns'])} columns ({header}): {', '.join(d['columns'])}")
            lines.append(f"  numeric: {', '.join(d['numeric_columns']) or 'none'}; {rows}")
    return "\n".join(lines) + "\n"
