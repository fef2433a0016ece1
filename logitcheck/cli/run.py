"""What every command does around its work: Settings from its options (and
[tool.logitcheck]), failures as one line and exit 2, the report to stdout and its files, and
the exit code."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from .. import __version__, _process  # noqa: F401  (_process: before numpy loads)
from ..errors import EXIT_ERROR, LogitcheckError, UsageError
from ..options import DEFAULTS, build_settings
from ..report import RENDERERS, Report
from ..sanitize import clean
from ..settings import Output, Settings
from .outputs import Terminal, deliver


def _fail(message: str) -> None:
    click.echo(f"logitcheck: error: {clean(message)}", err=True)  # one line, always
    sys.exit(EXIT_ERROR)


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
