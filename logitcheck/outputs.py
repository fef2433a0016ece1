"""Where a report goes: the chosen format (stdout or -o FILE), side files, and the human
report on stderr when the chosen format is machine-readable. Returns text; never prints.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError
from .report import RENDERERS, Report
from .settings import Output


@dataclass(frozen=True)
class Terminal:
    """What the CLI knows about its streams."""

    stdout_tty: bool = False
    stderr_tty: bool = False
    width: int = 100
    no_color_env: bool = False  # NO_COLOR set to a non-empty value


def use_color(choice: str, tty: bool, terminal: Terminal) -> bool:
    """--color always forces it; auto colours only a TTY, and only when NO_COLOR is unset."""
    if choice == "always":
        return True
    return choice == "auto" and tty and not terminal.no_color_env


def deliver(
    report: Report | Any, output: Output, terminal: Terminal,
    renderers: Mapping[str, Callable[..., str]] = RENDERERS,
) -> tuple[str, str]:
    """Write -o and the side files; return (stdout text, stderr text). renderers: by format
    (report/batch.py's for a batch run)."""
    to_stdout = output.output is None
    color = use_color(output.color, terminal.stdout_tty and to_stdout, terminal)
    main = renderers[output.format](report, color=color, width=terminal.width,
                                    verbosity=output.verbosity)
    side = (
        (output.json_report, "json"),
        (output.junit_xml, "junit"),
        (output.summary_md, "markdown"),
        (output.html, "html"),
    )
    for path, fmt in side:
        if path is not None:
            write_atomic(path, renderers[fmt](report, color=False, width=100))
    if output.output is not None:
        write_atomic(output.output, main)
    human = ""
    if output.format != "rich":
        human = renderers["rich"](
            report, color=use_color(output.color, terminal.stderr_tty, terminal),
            width=terminal.width, verbosity=output.verbosity,
        )
    return (main if to_stdout else ""), human


def write_atomic(path: str, text: str) -> None:
    """A temp file in the same directory, then os.replace: readers never see half a file."""
    target = Path(path)
    if target.is_dir():
        raise InputError(path, "is a directory, not a file")
    if target.exists() and not target.is_file():  # /dev/null, /dev/stdout, a FIFO: never
        try:  # replace a device by a file (as root, os.replace would): write to it
            with open(target, "w", encoding="utf-8", newline="") as f:
                f.write(text)
        except OSError as exc:
            raise InputError(path, f"cannot write ({exc.strerror or exc})") from None
        return
    import tempfile  # only when a file is written: a fast start

    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise InputError(path, f"cannot write ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report is an ordinary file
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(path, f"cannot write ({exc.strerror or exc})") from None
    except BaseException:  # interrupted (Ctrl-C, a failing renderer): no stray temp file
        Path(tmp).unlink(missing_ok=True)
        raise
