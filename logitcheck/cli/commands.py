"""The commands other than `analyze`: compare, baseline, gaussian, inspect, run, config,
rules and explain.

The group (app.py) imports this module by name the first time one of them is looked up (a
command line that names one, `--help`), so that `logitcheck analyze` does not build their
options: a fast start. This module does not import app.py; app.COMMANDS names its commands.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from ..analyses.analyze import analyze
from ..checks import REGISTRY, SEVERITY_MODEL, find_rule, rules_markdown
from ..errors import EXIT_ERROR, LogitcheckError
from ..gate import baseline
from ..options import SCALES
from ..report import Report
from ..sanitize import clean
from ..settings import DriftThresholds
from .options import (
    _EXPECTS,
    _LOSS_PATH,
    _analysis_options,
    _backend_options,
    _compute_options,
    _gate_options,
    _run_options,
    analyze_inputs,
    engine_options,
    input_options,
    render_inspect,
)
from .outputs import check_outputs, input_paths, write_atomic
from .run import _fail, _finish, _guarded, _output, _project_defaults, _settings


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


@click.command("compare")
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
    from ..analyses.compare import compare  # the commands' own modules load with them: a fast start

    _finish(candidate, lambda: compare(reference, candidate, kw["labels"], settings),
            _guarded("options", lambda: _output(kw)))


@click.group("baseline")
def baseline_group() -> None:
    """Accept the current findings, so that `analyze --baseline FILE` fails only on new ones."""


@baseline_group.command("write")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.argument("logits", type=click.Path(path_type=str))
@analyze_inputs
def baseline_write_command(file: str, logits: str, **kw: Any) -> None:
    """Record the findings of `analyze LOGITS` (same options) in FILE."""
    _guarded("pyproject.toml", lambda: _project_defaults(kw))  # the same analysis as analyze

    def run() -> Report:
        report = analyze(logits, kw["labels"], _settings(kw))
        check_outputs([("baseline write", file)], input_paths(report))  # never an input
        write_atomic(file, baseline.dumps(report))
        return report

    report = _guarded(logits, run)
    n = len(report.findings)
    click.echo(f"logitcheck: wrote {n} finding{'s' * (n != 1)} to {clean(file)}", err=True)
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


@click.command("gaussian")
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
    from ..analyses.gaussian import analyze_gaussian

    _finish(scale, lambda: analyze_gaussian(mean, scale, targets, settings), _output(kw))


@click.command("inspect")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def inspect_command(files: tuple[str, ...], fmt: str) -> None:
    """Shape, dtype, keys and size of each FILE, from its headers alone (no data is read).

    Every readable FILE is described; each one that is not gets one error line on stderr,
    and the exit code is then 2."""
    from ..io.describe import describe

    docs, errors = [], []
    for f in files:
        try:
            docs.append(describe(f))
        except LogitcheckError as exc:
            errors.append({"path": f, "error": str(exc)})
        except Exception as exc:  # noqa: BLE001 - one line, never a traceback
            if os.environ.get("LOGITCHECK_DEBUG"):
                raise
            errors.append({"path": f, "error": f"internal error ({type(exc).__name__}: {exc}); "
                           "set LOGITCHECK_DEBUG=1 for details"})
    if docs:  # what could be read, even when another file could not
        click.echo(render_inspect(docs, fmt, errors), nl=False)
    for e in errors:
        click.echo(f"logitcheck: error: {e['error']}", err=True)
    sys.exit(EXIT_ERROR if errors else 0)


@click.command("run")
@click.argument("config", default="logitcheck.yaml", type=click.Path(path_type=str))
@click.option("--jobs", "only", multiple=True, metavar="NAME",
              help="Run only these jobs (names or globs on names; repeatable).")
@click.option("-j", "--parallel", type=click.IntRange(min=1), default=1, show_default=True,
              help="Jobs run at once (threads).")
@_EXPECTS
@_LOSS_PATH
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
    from ..batch import resolve, runner
    from ..report.batch import BATCH_RENDERERS, BatchReport

    jobs = _guarded(config, lambda: resolve.load(config, given).select(only))
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


@click.group("config")
def config_group() -> None:
    """Check a batch config, or print the jobs it resolves to."""


@config_group.command("validate")
@click.argument("config", default="logitcheck.yaml", type=click.Path(path_type=str))
def config_validate_command(config: str) -> None:
    """Validate CONFIG (default ./logitcheck.yaml) without running anything."""
    from ..batch import resolve

    jobs = _guarded(config, lambda: resolve.load(config).jobs)
    click.echo(f"{clean(config)}: ok, {len(jobs)} job{'s' * (len(jobs) != 1)}")


@config_group.command("show")
@click.argument("config", default="logitcheck.yaml", type=click.Path(path_type=str))
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml",
              show_default=True)
def config_show_command(config: str, fmt: str) -> None:
    """Print CONFIG's jobs with every setting resolved (and where each came from), and
    the analyze defaults of [tool.logitcheck] in the nearest pyproject.toml."""
    from ..batch import resolve
    from .project_config import load

    project = _guarded("pyproject.toml", load)
    ctx = click.get_current_context()
    doc: dict[str, Any] = {}
    # no CONFIG given and no ./logitcheck.yaml: what pyproject.toml sets, if it sets anything
    if not (project.path and ctx.get_parameter_source("config") is
            click.core.ParameterSource.DEFAULT and not os.path.exists(config)):
        jobs = _guarded(config, lambda: resolve.load(config).jobs)
        doc = {"config": config, "jobs": [j.to_dict() for j in jobs]}
    if project.path:
        doc["defaults_from_pyproject"] = project.to_dict()
    if fmt == "json":
        import json

        click.echo(json.dumps(doc, indent=2))
    else:
        import yaml

        click.echo(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), nl=False)


@click.command("rules")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown"]), default="text",
              show_default=True, help="markdown: the rules as a Markdown table.")
def rules_command(fmt: str) -> None:
    """List every rule: code, name, default severity, summary."""
    if fmt == "markdown":
        click.echo(rules_markdown(), nl=False)
        return
    for code in sorted(REGISTRY):
        r = REGISTRY[code]
        click.echo(f"{r.code}  {r.name:<36} {r.severity.label:<8} {r.summary}")


@click.command("explain")
@click.argument("code")
def explain_command(code: str) -> None:
    """Explain one rule (by code, e.g. LC201, or name): what, why, example, fix.
    `explain severity`: when a finding is an error, a warning or an info."""
    if code.strip().lower() == "severity":
        click.echo(SEVERITY_MODEL)
        return
    r = find_rule(code)
    if r is None:
        _fail(f"no rule {code!r}; 'logitcheck rules' lists them")
    click.echo(f"{r.code} {r.name} ({r.severity.label})\n\n{r.summary}\n\nWhy: {r.why}\n")
    click.echo(f"Example of the mistake:\n    {r.example}\n\nFix:")
    for framework, text in r.fix.items():
        click.echo(f"  {framework}: {text}")
