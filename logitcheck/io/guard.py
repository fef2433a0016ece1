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


def check_mapped(array: object) -> None:
    """Before a block of a memory-mapped array is read: its file still holds every byte of
    the map. (A file truncated in the instant between this check and the read is caught by
    the bus-error handler the command line installs.)"""
    import numpy as np

    if isinstance(array, np.memmap) and getattr(array, "filename", None):
        check_size(array.filename, int(array.offset) + int(array.nbytes))


_handler: object = None  # the installed ctypes callback: kept alive for the process


def install_bus_error_handler() -> bool:
    """On SIGBUS (a mapped file shrank while it was read), write one line and exit 2
    instead of dying with no message (exit 135). The command line only: a library must not
    take over a process's signals. False where it cannot be installed (no SIGBUS, no C
    library: Windows). Python's signal.signal cannot do this: its handler runs later, in
    the main thread, and the faulting load would repeat forever."""
    global _handler
    import signal
    import time

    from .._process import libc_function

    sigbus = getattr(signal, "SIGBUS", None)
    set_handler = libc_function("signal")
    if sigbus is None or set_handler is None:
        return False
    import ctypes

    message = (b"logitcheck: error: file changed while being read (an input was truncated "
               b"while it was mapped: bus error)\n")

    exiting: list[bool] = []

    @ctypes.CFUNCTYPE(None, ctypes.c_int)
    def on_bus_error(signum: int) -> None:  # pragma: no cover - runs in the dying process
        # the callback holds the GIL: one thread says it and exits; any other thread that
        # faults meanwhile (two chunks of one file) waits for the exit, silent
        if not exiting:
            exiting.append(True)
            os.write(2, message)
            os._exit(2)
        while True:
            time.sleep(1)

    try:
        set_handler.argtypes = [ctypes.c_int, ctypes.c_void_p]
        set_handler.restype = ctypes.c_void_p
        set_handler(sigbus, ctypes.cast(on_bus_error, ctypes.c_void_p))
    except (OSError, TypeError, ValueError, ctypes.ArgumentError):
        return False
    _handler = on_bus_error
    return True
