"""The command line: options -> Settings -> analyze/compare -> render -> exit code."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from . import __version__, baseline
from .analysis import analyze
from .backends import NAMES as BACKENDS
from .checks import REGISTRY, find_rule, rules_markdown
from .cli_options import StderrProgress, engine_options, input_options, render_inspect
from .errors import EXIT_ERROR, LogitcheckError, UsageError
from .gaussian import SCALES, analyze_gaussian
from .options import DEFAULTS, build_settings
from .outputs import Terminal, deliver, write_atomic
from .report import RENDERERS, Report
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
                     help="Rows per chunk (default: about 32 MiB of float64 work, at most "
                     "65,536 rows)."),
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


def _settings(kw: dict[str, Any], **more: Any) -> Settings:
    """The same option -> Settings mapping as YAML batches (options.py)."""
    known = {k: v for k, v in kw.items() if k in DEFAULTS}
    return build_settings(known, **more)


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


def _finish(what: str, make_report: Callable[[], Any], output: Output,
            renderers: Any = RENDERERS) -> None:
    def run() -> Report:
        report = make_report()
        terminal = Terminal(
            stdout_tty=sys.stdout.isatty(),
            stderr_tty=sys.stderr.isatty(),
            width=shutil.get_terminal_size((100, 24)).columns if sys.stdout.isatty() else 100,
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
@_run_options
@input_options
@_backend_options
@engine_options
@_gate_options
def analyze_command(logits: str, **kw: Any) -> None:
    """Analyze LOGITS: model outputs in .npy, .npz, safetensors or CSV/TSV (.gz) files, a
    directory of .npy shards, or a zarr store.

    2-D (rows, classes), 1-D binary, or N-D with a class axis (--class-axis).
    """
    settings = _guarded("options", lambda: _settings(kw))

    def run() -> Report:
        with StderrProgress() as progress:
            return analyze(logits, kw["labels"], settings, progress)

    _finish(logits, run, _guarded("options", lambda: _output(kw)))


def _drift_options(f: Callable) -> Callable:
    options = [
        click.option("--max-abs-diff", type=click.FloatRange(min=0), show_default=True,
                     default=DriftThresholds.max_abs_diff,
                     help="LC401: the largest |candidate - reference| logit allowed."),
        click.option("--max-kl", type=click.FloatRange(min=0), show_default=True,
                     default=DriftThresholds.max_kl,
                     help="LC402: the mean KL(reference || candidate) allowed, in nats."),
        click.option("--min-top1-agreement", type=click.FloatRange(0, 1), show_default=True,
                     default=DriftThresholds.min_top1_agreement,
                     help="LC403: the share of rows whose argmax must agree."),
        click.option("--max-loss-delta", type=click.FloatRange(min=0), show_default=True,
                     default=DriftThresholds.max_loss_delta,
                     help="LC404: the |mean loss difference| allowed, in nats (needs --labels)."),
    ]
    return functools.reduce(lambda g, opt: opt(g), reversed(options), f)


@cli.command("compare")
@click.argument("reference", type=click.Path(path_type=str))
@click.argument("candidate", type=click.Path(path_type=str))
@_drift_options
@_run_options
@_gate_options
def compare_command(reference: str, candidate: str, max_abs_diff: float, max_kl: float,
                    min_top1_agreement: float, max_loss_delta: float, **kw: Any) -> None:
    """Compare CANDIDATE (an fp16, ONNX, quantized or retrained export) with REFERENCE.

    Both are (rows, classes) .npy files of the same shape.
    """
    thresholds = DriftThresholds(max_abs_diff, max_kl, min_top1_agreement, max_loss_delta)
    settings = _guarded("options", lambda: _settings(kw, drift=thresholds))
    from .drift import compare  # the commands' own modules load with them: a fast start

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
@_backend_options
@engine_options
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


def _gaussian_options(f: Callable) -> Callable:
    """How a Gaussian head's arrays are found and what its scale column holds."""
    options = [
        click.option("--scale", "--scale-kind", "scale_kind", type=click.Choice(SCALES),
                     default="log-std", show_default=True,
                     help="What SCALE holds (--scale-kind in YAML batches: scale-kind)."),
        click.option("--mean-key", metavar="KEY", default=None,
                     help="The .npz/safetensors key or CSV column of MEAN."),
        click.option("--scale-key", metavar="KEY", default=None,
                     help="The .npz/safetensors key or CSV column of SCALE."),
        click.option("--targets-key", metavar="KEY", default=None,
                     help="The .npz/safetensors key or CSV column of the targets."),
    ]
    return functools.reduce(lambda g, opt: opt(g), reversed(options), f)


@cli.command("gaussian")
@click.argument("mean", type=click.Path(path_type=str))
@click.argument("scale", type=click.Path(path_type=str))
@click.option("--targets", type=click.Path(path_type=str), default=None,
              help="The regression targets (same shape as MEAN); without them only the "
              "scale column is checked.")
@_gaussian_options
@_compute_options
@_gate_options
def gaussian_command(mean: str, scale: str, targets: str | None, **kw: Any) -> None:
    """Check a Gaussian NLL head: MEAN and SCALE (a log-std by default) against targets.

    The stable NLL in float64, the naive path (variance first) per dtype, the scale column's
    zones, and torch's nn.GaussianNLLLoss beside it. The files may be the same .npz,
    safetensors or CSV, with a key or column for each.
    """
    settings = _guarded("options", lambda: _settings(kw))
    _finish(scale, lambda: analyze_gaussian(mean, scale, targets, settings), _output(kw))


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


@cli.command("run")
@click.argument("config", default="logitcheck.yaml", type=click.Path(path_type=str))
@click.option("--jobs", "only", multiple=True, metavar="NAME",
              help="Run only these jobs (names or globs on names; repeatable).")
@click.option("-j", "--parallel", type=click.IntRange(min=1), default=1, show_default=True,
              help="Jobs run at once (threads).")
@_EXPECTS
@_drift_options
@_analysis_options
@input_options
@_backend_options
@engine_options
@_gaussian_options
@_gate_options
def run_command(config: str, only: tuple[str, ...], parallel: int,
                **kw: Any) -> None:
    """Run the jobs of a YAML CONFIG (default ./logitcheck.yaml).

    Options given here override every job's settings (built-in < defaults < job <
    command line). Exit 2 if a job could not run, else 1 if a job fails, else 0.
    """
    ctx = click.get_current_context()
    given = {k: v for k, v in kw.items()
             if ctx.get_parameter_source(k) is click.core.ParameterSource.COMMANDLINE}
    from . import batch, runner
    from .report.batch import BATCH_RENDERERS, BatchReport

    jobs = _guarded(config, lambda: batch.load(config, given).select(only))
    progress = _progress(len(jobs)) if sys.stderr.isatty() else contextlib.nullcontext(None)
    with progress as advance:
        outcomes = runner.run_jobs(jobs, parallel, advance)
    # -q: the summary and only the failing or erroring jobs' reports
    report = BatchReport(config, outcomes, kw["quiet"])
    _finish(config, lambda: report, _output(kw), BATCH_RENDERERS)


def _progress(total: int) -> Any:
    """A progress bar on stderr across jobs; yields the per-job callback."""
    from rich.console import Console
    from rich.progress import Progress

    @contextlib.contextmanager
    def bar() -> Any:
        with Progress(console=Console(stderr=True), transient=True) as p:
            task = p.add_task("logitcheck run", total=total)
            yield lambda outcome: p.update(task, advance=1,
                                           description=f"{outcome.name}: {outcome.status}")

    return bar()


@cli.group("config")
def config_group() -> None:
    """Check a batch config, or print the jobs it resolves to."""


@config_group.command("validate")
@click.argument("config", default="logitcheck.yaml", type=click.Path(path_type=str))
def config_validate_command(config: str) -> None:
    """Validate CONFIG (default ./logitcheck.yaml) without running anything."""
    from . import batch

    jobs = _guarded(config, lambda: batch.load(config).jobs)
    click.echo(f"{config}: ok, {len(jobs)} job{'s' * (len(jobs) != 1)}")


@config_group.command("show")
@click.argument("config", default="logitcheck.yaml", type=click.Path(path_type=str))
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml",
              show_default=True)
def config_show_command(config: str, fmt: str) -> None:
    """Print CONFIG's jobs with every setting resolved (and where each came from)."""
    from . import batch

    jobs = _guarded(config, lambda: batch.load(config).jobs)
    doc = {"config": config, "jobs": [j.to_dict() for j in jobs]}
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2))
    else:
        import yaml

        click.echo(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), nl=False)


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
