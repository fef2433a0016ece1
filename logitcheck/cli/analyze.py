"""`logitcheck analyze`: the default command, loaded first (a fast start)."""

from __future__ import annotations

from typing import Any

import click

from .. import __version__, _process  # noqa: F401  (_process: before numpy loads)
from ..analyses.analyze import analyze
from ..report import Report
from .options import StderrProgress, _gate_options, analyze_inputs
from .run import _finish, _guarded, _output, _project_defaults, _settings


@click.command("analyze")
@click.argument("logits", type=click.Path(path_type=str))
@analyze_inputs
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
