"""The command line: options -> Settings -> analyze/compare -> render -> exit code."""

from __future__ import annotations

import functools
import os
import shutil
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from . import __version__, baseline, gate
from .analysis import analyze
from .checks import REGISTRY, find_rule, rules_markdown
from .cli_options import StderrProgress, input_options, input_settings, render_inspect
from .drift import compare
from .dtypes import FLOATS
from .errors import EXIT_ERROR, LogitcheckError, UsageError
from .outputs import Terminal, deliver, write_atomic
from .report import RENDERERS, Report, Severity
from .settings import DriftThresholds, Output, Settings

_FAIL_ON = ("error", "warning", "info", "never")


def _fail(message: str) -> None:
    click.echo(f"logitcheck: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


class _Group(click.Group):
    """Usage errors are one line on stderr and exit 2, like every other error."""

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:
            _fail(" ".join(exc.format_message().split()))
        except click.Abort:
            _fail("aborted")
        if standalone_mode:
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="logitcheck")
def cli() -> None:
    """Diagnose exported logits, probabilities and labels.

    Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it,
    2 the run could not be completed.
    """


def _run_options(f: Callable) -> Callable:
    """Options that change what is computed and which findings count."""
    options = [
        click.option("--labels", type=click.Path(path_type=str),
                     help="Class ids, one per row (1-D), or (rows, classes) one-hot, soft "
                     "or multi-label targets."),
        click.option("--chunk-rows", type=click.IntRange(min=1), default=None,
                     help="Rows per chunk (default: about 32 MiB of float64 work per chunk)."),
        click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Chunks computed in parallel."),
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


_EXPECTS = click.option(
    "--expects", type=click.Choice(["logits", "probabilities", "log-probabilities"]),
    default="logits", show_default=True,
    help="What your loss takes: logits (F.cross_entropy, from_logits=True), probabilities "
    "(from_logits=False, sklearn log_loss) or log-probabilities (F.nll_loss).",
)


def _dtypes(text: str) -> tuple[str, ...]:
    dtypes = tuple(d.strip() for d in text.split(",") if d.strip())
    unknown = [d for d in dtypes if d not in FLOATS]
    if unknown:
        choices = ", ".join(FLOATS)
        raise UsageError(f"--dtypes: unknown dtype {unknown[0]!r} (choose from {choices})")
    return dtypes


def _settings(kw: dict[str, Any], **more: Any) -> Settings:
    fail_on = kw.get("fail_on", "error")
    return Settings(
        dtypes=_dtypes(kw["extra_dtypes"]),
        ignore_index=kw["ignore_index"],
        label_smoothing=kw["label_smoothing"],
        multilabel=kw["multi_label"],
        fail_on=None if fail_on == "never" else Severity.parse(fail_on),
        expects=kw.get("expects", "logits").replace("-", "_"),
        chunk_rows=kw["chunk_rows"],
        threads=kw["threads"],
        select=gate.split_codes("--select", kw["select"]),
        ignore=gate.split_codes("--ignore", kw["ignore"]),
        severity=gate.parse_severity(kw["severities"]),
        baseline=kw.get("baseline_file"),
        exit_zero=kw.get("exit_zero", False),
        **input_settings(kw),
        **more,
    )


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


def _finish(what: str, make_report: Callable[[], Report], output: Output) -> None:
    def run() -> Report:
        report = make_report()
        terminal = Terminal(
            stdout_tty=sys.stdout.isatty(),
            stderr_tty=sys.stderr.isatty(),
            width=shutil.get_terminal_size((100, 24)).columns if sys.stdout.isatty() else 100,
            no_color_env=bool(os.environ.get("NO_COLOR")),
        )
        texts.extend(deliver(report, output, terminal))
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
@_run_options
@input_options
@_gate_options
def analyze_command(logits: str, **kw: Any) -> None:
    """Analyze LOGITS: model outputs in .npy, .npz, safetensors or CSV/TSV (.gz) files.

    2-D (rows, classes), 1-D binary, or N-D with a class axis (--class-axis).
    """
    settings = _guarded("options", lambda: _settings(kw))

    def run() -> Report:
        with StderrProgress() as progress:
            return analyze(logits, kw["labels"], settings, progress)

    _finish(logits, run, _guarded("options", lambda: _output(kw)))


@cli.command("compare")
@click.argument("reference", type=click.Path(path_type=str))
@click.argument("candidate", type=click.Path(path_type=str))
@click.option("--max-abs-diff", type=click.FloatRange(min=0), show_default=True,
              default=DriftThresholds.max_abs_diff,
              help="LC401: the largest |candidate - reference| logit allowed.")
@click.option("--max-kl", type=click.FloatRange(min=0), show_default=True,
              default=DriftThresholds.max_kl,
              help="LC402: the mean KL(reference || candidate) allowed, in nats.")
@click.option("--min-top1-agreement", type=click.FloatRange(0, 1), show_default=True,
              default=DriftThresholds.min_top1_agreement,
              help="LC403: the share of rows whose argmax must agree.")
@click.option("--max-loss-delta", type=click.FloatRange(min=0), show_default=True,
              default=DriftThresholds.max_loss_delta,
              help="LC404: the |mean loss difference| allowed, in nats (needs --labels).")
@_run_options
@_gate_options
def compare_command(reference: str, candidate: str, max_abs_diff: float, max_kl: float,
                    min_top1_agreement: float, max_loss_delta: float, **kw: Any) -> None:
    """Compare CANDIDATE (an fp16, ONNX, quantized or retrained export) with REFERENCE.

    Both are (rows, classes) .npy files of the same shape.
    """
    thresholds = DriftThresholds(max_abs_diff, max_kl, min_top1_agreement, max_loss_delta)
    settings = _guarded("options", lambda: _settings(kw, drift=thresholds))
    _finish(candidate, lambda: compare(reference, candidate, kw["labels"], settings),
            _guarded("options", lambda: _output(kw)))


@cli.group("baseline")
def baseline_group() -> None:
    """Accept the current findings, so that `analyze --baseline FILE` fails only on new ones."""


@baseline_group.command("write")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.argument("logits", type=click.Path(path_type=str))
@_EXPECTS
@_run_options
@input_options
def baseline_write_command(file: str, logits: str, **kw: Any) -> None:
    """Record the findings of `analyze LOGITS` (same options) in FILE."""

    def run() -> Report:
        report = analyze(logits, kw["labels"], _settings(kw))
        write_atomic(file, baseline.dumps(report))
        return report

    report = _guarded(logits, run)
    n = len(report.findings)
    click.echo(f"logitcheck: wrote {n} finding{'s' * (n != 1)} to {file}", err=True)
    sys.exit(0)


@cli.command("inspect")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def inspect_command(files: tuple[str, ...], fmt: str) -> None:
    """Shape, dtype, keys and size of each FILE, from its headers alone (no data is read)."""
    from .io.describe import describe

    try:
        docs = [describe(f) for f in files]
    except LogitcheckError as exc:
        _fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        if os.environ.get("LOGITCHECK_DEBUG"):
            raise
        _fail(f"internal error ({type(exc).__name__}: {exc}); set LOGITCHECK_DEBUG=1 for details")
    click.echo(render_inspect(docs, fmt), nl=False)


def main() -> None:
    cli(prog_name="logitcheck")


@cli.command("rules")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text",
              show_default=True, help="markdown prints the README's rule table.")
def rules_command(fmt: str) -> None:
    """List every rule: code, name, default severity, summary."""
    if fmt == "markdown":
        click.echo(rules_markdown(), nl=False)
        return
    for code in sorted(REGISTRY):
        r = REGISTRY[code]
        click.echo(f"{r.code}  {r.name:<36} {r.severity.label:<8} {r.summary}")


@cli.command("explain")
@click.argument("code")
def explain_command(code: str) -> None:
    """Explain one rule (by code, e.g. LC201, or name): what, why, example, fix."""
    r = find_rule(code)
    if r is None:
        _fail(f"no rule {code!r}; 'logitcheck rules' lists them")
    click.echo(f"{r.code} {r.name} ({r.severity.label})\n\n{r.summary}\n\nWhy: {r.why}\n")
    click.echo(f"Example of the mistake:\n    {r.example}\n\nFix:")
    for framework, text in r.fix.items():
        click.echo(f"  {framework}: {text}")
