"""The command line: options -> Settings -> analyze/compare -> render -> exit code.

This module holds the `logitcheck` group and the entry point; each command lives in its own
module (analyze.py, commands.py), which the group imports by name the first time the command
is looked up. The command modules do not import this one: no import cycle.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import sys
import warnings
from typing import Any

import click

from .. import __version__, _process  # noqa: F401  (_process: before numpy loads)
from ..about import version_text
from .analyze import analyze_command
from .run import _WRITE_ERRORS, _fail, _flush_stdout, _stdout_failed

#: command name -> (module of this package, its click command). `analyze` is registered
#: at import; the others when first looked up (or listed, as by --help): `logitcheck analyze`
#: does not build the options of eight commands it does not run.
COMMANDS = {
    "analyze": ("analyze", "analyze_command"),
    "baseline": ("commands", "baseline_group"),
    "compare": ("commands", "compare_command"),
    "config": ("commands", "config_group"),
    "explain": ("commands", "explain_command"),
    "gaussian": ("commands", "gaussian_command"),
    "inspect": ("commands", "inspect_command"),
    "rules": ("commands", "rules_command"),
    "run": ("commands", "run_command"),
}
_PACKAGE = __name__.rpartition(".")[0]  # logitcheck.cli


class _Group(click.Group):
    """Usage errors are one line on stderr and exit 2, like every other error; the commands
    of COMMANDS are imported the first time they are looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, name = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(f"{_PACKAGE}.{module}"), name)
            self.add_command(command, cmd_name)
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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="logitcheck", message=version_text())
def cli() -> None:
    """Diagnose exported logits, probabilities and labels.

    Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it,
    2 the run could not be completed.
    """


cli.add_command(analyze_command)  # the default run: no lookup by name


def load_commands() -> click.Group:
    """`cli` with every command registered (mkdocs-click and tests walk `cli.commands`)."""
    ctx = click.Context(cli)
    for name in COMMANDS:
        cli.get_command(ctx, name)
    return cli


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
