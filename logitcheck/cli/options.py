"""The commands' options: the input options (formats, keys, layouts, caps), the engine
options (`--engine`, `--scheduler`), and the option groups of the commands (`@_run_options`,
`@_gate_options`, ...), so the of the commands (`@_run_options`, `@_gate_options`, ...), so the
command modules stay short; logitcheck/options.py maps the values to Settings fields.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..backends import NAMES as BACKENDS
from ..report import RENDERERS

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


_FAIL_ON = ("error", "warning", "info", "never")


def _run_options(f: Callable) -> Callable:
    """Options that change what is computed and which findings count."""
    return click.option("--labels", type=click.Path(path_type=str),
                        help="Class ids, one per row (1-D), or (rows, classes) one-hot, soft "
                        "or multi-label targets.")(_analysis_options(f))


def _analysis_options(f: Callable) -> Callable:
    """_run_options but --labels: what `run` can set for every job."""
    options = [
        click.option("--label-smoothing", type=click.FloatRange(0.0, 1.0, max_open=True),
                     default=0.0, show_default=True,
                     help="As torch's F.cross_entropy(label_smoothing=...)."),
        click.option("--multi-label", is_flag=True,
                     help="Read a (rows, classes) 0/1 label array as independent binary "
                     "targets (BCE with logits) instead of one-hot / soft rows."),
        click.option("--ignore-index", type=int, default=-100, show_default=True,
                     help="Rows whose label is this are left out, as in torch's "
                     "F.cross_entropy."),
    ]
    return _compute_options(functools.reduce(lambda g, opt: opt(g), reversed(options), f))


def _compute_options(f: Callable) -> Callable:
    """How the work is split, the extra dtypes, and which rules count."""
    options = [
        click.option("--chunk-rows", type=click.IntRange(min=1), default=None,
                     help="Rows per chunk (default: about 32 MiB of the file, at most "
                     "262,144 rows, and two chunks a thread where the file has them)."),
        click.option("--threads", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Chunks computed in parallel (0: one per core)."),
        click.option("--select", multiple=True, metavar="CODES",
                     help="Only these rules (codes or prefixes, comma-separated, repeatable)."),
        click.option("--ignore", multiple=True, metavar="CODES",
                     help="Not these rules (codes or prefixes); wins over --select."),
        click.option("--severity", "severities", multiple=True, metavar="CODE=LEVEL",
                     help="Override a rule's severity, e.g. LC207=error (repeatable)."),
        click.option("--dtypes", "extra_dtypes", default="", metavar="LIST",
                     help="Also reproduce the naive paths in these dtypes, e.g. "
                     "float16,bfloat16 for mixed-precision training (the storage dtype and "
                     "wider ones always are)."),
    ]
    return functools.reduce(lambda g, opt: opt(g), reversed(options), f)


def _gate_options(f: Callable) -> Callable:
    """Options of the gate and of where the report goes."""
    options = [
        click.option("--format", "fmt", type=click.Choice(list(RENDERERS)), default="rich",
                     show_default=True, help="What to print on stdout (or write to -o)."),
        click.option("-o", "--output", type=click.Path(path_type=str), default=None,
                     help="Write the chosen format to this file instead of stdout."),
        click.option("--json-report", type=click.Path(path_type=str), default=None,
                     help="Also write the JSON report to this file."),
        click.option("--junit-xml", type=click.Path(path_type=str), default=None,
                     help="Also write a JUnit XML report to this file."),
        click.option("--summary-md", type=click.Path(path_type=str), default=None,
                     help="Also write a Markdown summary (e.g. to $GITHUB_STEP_SUMMARY)."),
        click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto",
                     show_default=True, help="auto: only on a TTY and when NO_COLOR is unset."),
        click.option("--fail-on", type=click.Choice(_FAIL_ON), default="error",
                     show_default=True, help="Exit 1 when a finding is at or above this."),
        click.option("--exit-zero", is_flag=True,
                     help="Report only: exit 0 whatever the findings (errors still exit 2)."),
        click.option("--baseline", "baseline_file", type=click.Path(path_type=str),
                     default=None,
                     help="Fail only on findings not in this file (logitcheck baseline write)."),
        click.option("--html", "html_file", type=click.Path(path_type=str), default=None,
                     help="Also write a self-contained HTML page (report and plots) to this "
                     "file."),
        click.option("-q", "--quiet", is_flag=True,
                     help="The human report is the verdict line only."),
        click.option("-v", "--verbose", is_flag=True,
                     help="Add each finding's evidence, every framework's fix and the dtype "
                     "zones to the human report."),
    ]
    return functools.reduce(lambda g, opt: opt(g), reversed(options), f)


def _backend_options(f: Callable) -> Callable:
    """Where the losses are also computed (analyze): backends/ imports them lazily."""
    options = [
        click.option("--backend", type=click.Choice(BACKENDS), default="numpy",
                     show_default=True, help="Also compute the stable and naive paths and the "
                     "loss APIs with this framework (numpy: the float64 reference only)."),
        click.option("--device", default="cpu", show_default=True,
                     help="torch and jax: cpu, cuda, cuda:1, ..."),
        click.option("--cross-check", is_flag=True,
                     help="The stable path on every installed backend, against the reference "
                     "(LC110)."),
    ]
    return functools.reduce(lambda g, opt: opt(g), reversed(options), f)


_EXPECTS = click.option(
    "--expects", type=click.Choice(["logits", "probabilities", "log-probabilities"]),
    default="logits", show_default=True,
    help="What your loss takes: logits (F.cross_entropy, from_logits=True), probabilities "
    "(from_logits=False, sklearn log_loss) or log-probabilities (F.nll_loss).",
)


_LOSS_PATH = click.option(
    "--loss-path", type=click.Choice(["stable", "naive"]), default="stable",
    show_default=True,
    help="The loss path you compute: stable (log-softmax, F.cross_entropy, from_logits=True: "
    "a naive path that would break is a warning) or naive (softmax then log by hand: an "
    "error).",
)


def analyze_inputs(f: Callable) -> Callable:
    """What `analyze` and `baseline write` share: the loss, run, input, backend and engine
    options (a baseline records the findings analyze reports with the same options)."""
    options = [_EXPECTS, _LOSS_PATH, _run_options, input_options, _backend_options,
               engine_options]
    return functools.reduce(lambda g, opt: opt(g), reversed(options), f)
