"""The `logitcheck` command's entry point: `--version` answers without importing numpy
(or anything of the CLI's); every other command goes to cli.app.main."""

from __future__ import annotations

import sys

from .about import version_text


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        print(version_text())
        sys.exit(0)
    from .cli.app import main as cli_main

    cli_main()
