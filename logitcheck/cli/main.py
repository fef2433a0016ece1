"""The command line: options -> Settings -> analyze/compare -> render -> exit code."""

from __future__ import annotations

import atexit
import errno
import functools
import gc
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import click

from .. import __version__, _process  # noqa: F401  (_process: before numpy loads)
from .._entry import version_text
from ..analyses.analyze import analyze
from ..backends import NAMES as BACKENDS
from ..errors import EXIT_ERROR, LogitcheckError, UsageError
from ..options import DEFAULTS, build_settings
from ..report import RENDERERS, Report
from ..sanitize import clean
from ..settings import Output, Settings
from .options import StderrProgress, engine_options, input_options
from .outputs import Terminal, deliver

_FAIL_ON = ("error", "warning", "info", "never")


def _fail(message: str) -> None:
    click.echo(f"logitcheck: error: {clean(message)}", err=True)  # one line, always
    sys.exit(EXIT_ERROR)


#: the commands defined in commands.py, imported the first time one is looked up
_LATER = ("baseline", "compare", "config", "explain", "gaussian", "inspect", "rules", "run")


class _Group(click.Group):
    """Usage errors are one line on stderr and exit 2, like every other error.

    `analyze` is defined here; the other commands (_LATER) in commands.py, which is
    imported only when one of them is looked up (or listed, as by --help): `logitcheck
    analyze` does not build the options of eight commands it does not run.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *_LATER})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _LATER and cmd_name not in self.commands:
            from . import commands  # noqa: F401 - registers them on `cli`
        return super().get_command(ctx, cmd_name)

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        try:
            rv = self._main(args, prog_name, complete_var, **extra)
        except SystemExit:
            _flush_stdout()  # here, not at the interpreter's exit: a failure gets one line
            raise
        except OSError as exc:  # a failed write to stdout (the rest is caught in _guarded)
            if exc.errno not in _WRITE_ERRORS:
                _fail(f"internal error ({type(exc).__name__}: {exc}); set LOGITCHECK_DEBUG=1 "
                      "for details")
            _stdout_failed(exc)
        _flush_stdout()
        if standalone_mode:
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv

    def _main(self, args: Any, prog_name: Any, complete_var: Any, **extra: Any) -> Any:
        try:
            with warnings.catch_warnings():
                # No library warning reaches the user's terminal: numerics scope their own
                # (np.errstate) and findings carry what matters. The filters are process-wide,
                # so this also covers the engine's threads. LOGITCHECK_DEBUG shows them.
                if not os.environ.get("LOGITCHECK_DEBUG"):
                    warnings.simplefilter("ignore")
                rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:
            _fail(" ".join(exc.format_message().split()))
        except click.Abort:
            _fail("aborted")
        return rv


_WRITE_ERRORS = {errno.EPIPE, errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EBADF,
                 getattr(errno, "EDQUOT", errno.ENOSPC)}


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except OSError as exc:
        _stdout_failed(exc)


def _stdout_failed(exc: OSError) -> None:
    """Writing the report failed (`> /dev/full`, a closed pipe): one line and exit 2."""
    try:  # what is still buffered must not fail again, with a traceback, at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (tests' CliRunner)
        pass
    _fail(f"cannot write the output to stdout ({exc.strerror or exc})")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="logitcheck", message=version_text())
def cli() -> None:
    """Diagnose exported logits, probabilities and labels.

    Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it,
    2 the run could not be completed.
    """


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


def _settings(kw: dict[str, Any], **more: Any) -> Settings:
    """The same option -> Settings mapping as YAML batches (options.py)."""
    known = {k: v for k, v in kw.items() if k in DEFAULTS}
    return build_settings(known, **more)


def _project_defaults(kw: dict[str, Any]) -> None:
    """[tool.logitcheck] (project_config.py) fills the options not given on the command
    line, among those the command has (`baseline write` takes the analysis options, not
    --baseline or --fail-on)."""
    from .project_config import load

    ctx = click.get_current_context()
    for param, value in load().values.items():
        if param in kw and (ctx.get_parameter_source(param)
                            is not click.core.ParameterSource.COMMANDLINE):
            kw[param] = value


def _output(kw: dict[str, Any]) -> Output:
    if kw["quiet"] and kw["verbose"]:
        raise UsageError("-q/--quiet and -v/--verbose exclude each other")
    verbosity = -1 if kw["quiet"] else 1 if kw["verbose"] else 0
    return Output(kw["fmt"], kw["output"], kw["json_report"], kw["junit_xml"], kw["summary_md"],
                  kw["color"], verbosity, kw["html_file"])


T = TypeVar("T")


def _guarded(what: str, run: Callable[[], T]) -> T:
    """Run; any failure is one line on stderr and exit 2, never a traceback."""
    try:
        return run()
    except LogitcheckError as exc:
        _fail(str(exc))
    except MemoryError:
        _fail(f"{what}: out of memory")
    except Exception as exc:  # noqa: BLE001 - the user gets one line, never a traceback
        if os.environ.get("LOGITCHECK_DEBUG"):
            raise
        _fail(f"internal error ({type(exc).__name__}: {exc}); set LOGITCHECK_DEBUG=1 for details")
    raise AssertionError  # pragma: no cover - _fail exits


def report_width(tty: bool) -> int:
    """COLUMNS when set (as rich and shutil read it), else a terminal's width; pipes and
    files get 100 columns. At least 40: the tables are laid out for it (report/fit.py)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return max(40, int(columns))
    if tty:
        import shutil

        return max(40, shutil.get_terminal_size((100, 24)).columns)
    return 100


def _finish(what: str, make_report: Callable[[], Any], output: Output,
            renderers: Any = RENDERERS) -> None:
    def run() -> Report:
        report = make_report()
        terminal = Terminal(
            stdout_tty=sys.stdout.isatty(),
            stderr_tty=sys.stderr.isatty(),
            width=report_width(sys.stdout.isatty()),
            no_color_env=bool(os.environ.get("NO_COLOR")),
        )
        texts.extend(deliver(report, output, terminal, renderers))
        return report

    texts: list[str] = []
    report = _guarded(what, run)
    stdout, stderr = texts
    keep_ansi = True if output.color == "always" else None  # click strips it off a non-TTY
    if stderr:
        click.echo(stderr, nl=False, err=True, color=keep_ansi)
    click.echo(stdout, nl=False, color=keep_ansi)
    sys.exit(report.exit_code)


@cli.command("analyze")
@click.argument("logits", type=click.Path(path_type=str))
@_EXPECTS
@_LOSS_PATH
@_run_options
@input_options
@_backend_options
@engine_options
@_gate_options
def analyze_command(logits: str, **kw: Any) -> None:
    """Analyze LOGITS: model outputs in .npy, .npz, safetensors, .pt or CSV/TSV (.gz) files,
    a directory of .npy shards, or a zarr store.

    2-D (rows, classes), 1-D binary, or N-D with a class axis (--class-axis).
    Defaults may come from [tool.logitcheck] in the nearest pyproject.toml; options given
    here win.
    """
    _guarded("pyproject.toml", lambda: _project_defaults(kw))
    settings = _guarded("options", lambda: _settings(kw))

    def run() -> Report:
        with StderrProgress() as progress:
            return analyze(logits, kw["labels"], settings, progress)

    _finish(logits, run, _guarded("options", lambda: _output(kw)))


def __getattr__(name: str) -> Any:
    """The other commands' objects (run_command, rules_command, ...), as before the split."""
    if name.endswith(("_command", "_group")) or name in ("_drift_options", "_gaussian_options"):
        from . import commands

        if hasattr(commands, name):
            return getattr(commands, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    # At exit, after the handlers registered during the run (a dask cluster's): move every
    # object out of the collector's reach. The interpreter's shutdown otherwise runs full
    # collections over all of numpy's, rich's and logitcheck's objects, about 80 ms of a
    # 0.7 s tiny run, after its output is written, to free memory the OS takes back anyway.
    # Nothing changes before the exit handlers run.
    atexit.register(gc.freeze)
    from ..io.guard import install_bus_error_handler

    install_bus_error_handler()  # a mapped input truncated mid-read: one line, exit 2
    cli(prog_name="logitcheck")
