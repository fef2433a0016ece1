"""Thin click layer: commands and shared options -> API -> render -> exit code.

app.py holds the `logitcheck` group and the entry point; analyze.py and commands.py the
commands; options.py and run.py what they share.
"""

from __future__ import annotations


def main() -> None:
    """`logitcheck.cli:main`, the console script of installs made before pyproject.toml
    pointed at logitcheck._entry:main (a venv's `bin/logitcheck` is written at install time
    and is not rewritten by an upgrade of an editable install)."""
    from .app import main as run

    run()
