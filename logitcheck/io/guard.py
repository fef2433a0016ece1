"""What an input must be before it is opened, and what it must stay while it is read.

Opening a FIFO blocks until a writer comes (forever, in CI); a character device reads
without end; a file truncated under a memory map kills the process with SIGBUS. These
checks make each of them one line and exit 2.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import InputError

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def kind_of(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def check_input(path: str | Path, allow_dir: bool = True, what: str = "file") -> os.stat_result:
    """The stat of `path` (symlinks followed) if it is a regular file, or a directory where
    one is allowed; else InputError. Never opens it."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(path, f"no such {what}") from None
    except OSError as exc:  # a symlink loop (ELOOP), a name too long, a permission
        raise InputError(path, f"cannot be read ({exc.strerror or exc})") from None
    except ValueError as exc:  # an embedded NUL
        raise InputError(path, f"not a valid path ({exc})") from None
    if stat.S_ISREG(st.st_mode) or (allow_dir and stat.S_ISDIR(st.st_mode)):
        return st
    if stat.S_ISDIR(st.st_mode):
        raise InputError(path, "is a directory, not a file")
    raise InputError(path, f"is {kind_of(st.st_mode)}, not a regular file; refused (reading "
                     "it could block forever or never end)")


class ChangedWhileRead(InputError):
    """The file is shorter than what was mapped: another process truncated or rewrote it."""

    def __init__(self, path: object, problem: str = "file changed while being read") -> None:
        super().__init__(path, problem)


def check_size(path: str | Path, needed: int) -> None:
    """Before a mapped range up to byte `needed` is touched: the file still holds it (a
    truncated file would raise SIGBUS on the first page past its new end)."""
    try:
        size = os.stat(path).st_size
    except OSError:
        raise ChangedWhileRead(path, "file changed while being read (it is gone)") from None
    if size < needed:
        raise ChangedWhileRead(path, f"file changed while being read (now {size:,} bytes, "
                               f"{needed:,} expected)")
