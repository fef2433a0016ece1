"""Where a report goes: the chosen format (stdout or -o FILE), side files, and the human
report on stderr when the chosen format is machine-readable. Returns text; never prints.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, UsageError
from ..report import RENDERERS, Report
from ..settings import Output


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
    check_outputs(
        [("-o", output.output), ("--json-report", output.json_report),
         ("--junit-xml", output.junit_xml), ("--summary-md", output.summary_md),
         ("--html", output.html)],
        input_paths(report),
    )
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


def input_paths(report: Any) -> list[str]:
    """Every file a report (or a batch run's reports) was read from: its inputs, its
    baseline, a batch's config."""
    paths: list[str] = []
    reports = [j.report for j in report.jobs] if hasattr(report, "jobs") else [report]
    if hasattr(report, "jobs"):
        paths.append(report.config)
    for r in reports:
        if r is None:
            continue
        paths += list(r.gate.inputs)
        if r.gate.baseline:
            paths.append(r.gate.baseline)
    return paths


def _identity(path: str | os.PathLike) -> tuple[int, int] | None:
    """(device, inode) of the file `path` names, through symlinks; None if there is none."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def _files_under(path: str) -> list[str]:
    """A directory input (shards, a zarr store): the files in it, which an output must not
    replace either."""
    if not os.path.isdir(path):
        return [path]
    found = []
    for root, _, files in os.walk(path):  # never follows symlinked directories: no loop
        found += [os.path.join(root, f) for f in files]
    return found


def check_outputs(outputs: list[tuple[str, str | None]], inputs: list[str]) -> None:
    """Refuse (exit 2), before anything is written, an output that is one of the inputs
    (the same file: same inode, through symlinks and hard links, or the same name) and
    two outputs naming the same file. A device (/dev/null, /dev/stdout) may be shared."""
    taken: dict[object, str] = {}
    for path in inputs:
        for f in _files_under(path):
            ident = _identity(f)
            if ident is not None:
                taken[ident] = f
            taken[os.path.realpath(f)] = f
    seen: dict[object, str] = {}
    for option, path in outputs:
        if path is None:
            continue
        ident = _identity(path)
        try:
            is_device = ident is not None and not os.path.isfile(path)
        except ValueError:
            is_device = False
        keys = ([ident] if ident is not None else []) + [os.path.realpath(path)]
        for key in keys:
            if key in taken:
                raise UsageError(f"{option} {path}: is the input {taken[key]}; refusing to "
                                 "overwrite an input")
            if key in seen and not is_device:
                raise UsageError(f"{option} {path}: the same file as {seen[key]}; give each "
                                 "output its own file")
        for key in keys:
            seen[key] = f"{option} {path}"


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
