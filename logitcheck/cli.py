"""The command line: options -> Settings -> analyze -> render -> exit code. Nothing else."""

from __future__ import annotations

import os
import shutil
import sys

import click

from . import __version__
from .analysis import analyze
from .checks import REGISTRY, find_rule, rules_markdown
from .cli_options import StderrProgress, input_options, input_settings, render_inspect
from .dtypes import FLOATS
from .errors import EXIT_ERROR, LogitcheckError
from .report import RENDERERS, Severity
from .settings import Settings

_FAIL_ON = ("error", "warning", "info", "never")


def _fail(message: str) -> None:
    click.echo(f"logitcheck: error: {message}", err=True)
    sys.exit(EXIT_ERROR)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="logitcheck")
def cli() -> None:
    """Diagnose exported logits, probabilities and labels.

    Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it,
    2 the run could not be completed.
    """


@cli.command("analyze")
@click.argument("logits", type=click.Path(path_type=str))
@click.option("--labels", type=click.Path(path_type=str),
              help="Integer class ids, one per row of LOGITS (any input format).")
@click.option("--format", "fmt", type=click.Choice(sorted(RENDERERS)), default="rich",
              show_default=True, help="What to print on stdout.")
@click.option("--fail-on", type=click.Choice(_FAIL_ON), default="error", show_default=True,
              help="Exit 1 when a finding is at or above this severity.")
@click.option("--expects", type=click.Choice(["logits", "probabilities", "log-probabilities"]),
              default="logits", show_default=True,
              help="What your loss takes: logits (F.cross_entropy, from_logits=True), "
              "probabilities (from_logits=False, sklearn log_loss) or log-probabilities "
              "(F.nll_loss).")
@click.option("--dtypes", "extra_dtypes", default="", metavar="LIST",
              help="Also reproduce the naive paths in these dtypes, e.g. float16,bfloat16 "
              "for mixed-precision training (the storage dtype and wider ones always are).")
@click.option("--ignore-index", type=int, default=-100, show_default=True,
              help="Rows whose label is this are left out, as in torch's F.cross_entropy.")
@click.option("--chunk-rows", type=click.IntRange(min=1), default=None,
              help="Rows per chunk (default: about 16 MiB of float64 work per chunk).")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Chunks computed in parallel.")
@input_options
def analyze_command(logits: str, labels: str | None, fmt: str, fail_on: str, expects: str,
                    extra_dtypes: str, ignore_index: int, chunk_rows: int | None,
                    threads: int, **io_options) -> None:
    """Analyze LOGITS: model outputs in .npy, .npz, safetensors or CSV/TSV (.gz) files.

    2-D (rows, classes), 1-D binary, or N-D with a class axis (--class-axis).
    """
    dtypes = tuple(d.strip() for d in extra_dtypes.split(",") if d.strip())
    unknown = [d for d in dtypes if d not in FLOATS]
    if unknown:
        _fail(f"--dtypes: unknown dtype {unknown[0]!r} (choose from {', '.join(FLOATS)})")
    settings = Settings(
        dtypes=dtypes,
        fail_on=None if fail_on == "never" else Severity.parse(fail_on),
        expects=expects.replace("-", "_"),
        ignore_index=ignore_index,
        chunk_rows=chunk_rows,
        threads=threads,
        **input_settings(io_options),
    )
    try:
        with StderrProgress() as progress:
            report = analyze(logits, labels, settings, progress)
        color = fmt == "rich" and sys.stdout.isatty() and "NO_COLOR" not in os.environ
        width = shutil.get_terminal_size((100, 24)).columns if sys.stdout.isatty() else 100
        text = RENDERERS[fmt](report, color=color, width=width)
    except LogitcheckError as exc:
        _fail(str(exc))
    except MemoryError:
        _fail(f"{logits}: out of memory")
    except Exception as exc:  # noqa: BLE001 - the user gets one line, never a traceback
        if os.environ.get("LOGITCHECK_DEBUG"):
            raise
        _fail(f"internal error ({type(exc).__name__}: {exc}); set LOGITCHECK_DEBUG=1 for details")
    click.echo(text, nl=False)
    sys.exit(report.exit_code)


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
