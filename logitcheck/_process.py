"""Settings for the command line's own process, applied on import, before numpy loads.

Every platform-specific call (the C library through ctypes: mallopt, madvise) goes through
libc() here, which is None wherever it cannot be had: on Windows `ctypes.CDLL(None)` raises
TypeError, and macOS has no mallopt. Nothing here may stop the command from starting.
"""

from __future__ import annotations

import os
import sys
from typing import Any

# logitcheck never calls numpy's BLAS, and OpenBLAS starts a thread per core that spins for
# about 0.1 s after numpy is imported, on the cores the analysis runs on: 8 % of the whole
# `logitcheck analyze` process on a 1M x 10 file on 2 cores. A user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

_UNSET = object()
_libc: Any = _UNSET


def libc() -> Any:
    """The process's C library (ctypes.CDLL, errno kept), or None where there is none to
    load this way (Windows, a platform without dlopen)."""
    global _libc
    if _libc is _UNSET:
        _libc = None
        if os.name == "posix":
            try:
                import ctypes

                _libc = ctypes.CDLL(None, use_errno=True)
            except (OSError, TypeError, AttributeError, ImportError):
                _libc = None
    return _libc


def libc_function(name: str, argtypes: list | None = None) -> Any:
    """A function of the C library, or None when the library or the function is missing."""
    lib = libc()
    if lib is None:
        return None
    try:
        fn = getattr(lib, name)
    except AttributeError:
        return None
    if argtypes is not None:
        fn.argtypes = argtypes
    return fn


def _keep_freed_memory() -> None:
    """glibc returns freed blocks of a few MiB to the system (mmap, arena trimming), so each
    chunk's row arrays were faulted in afresh: some 3,600 page faults (about 20 ms of CPU
    here) on a 1M x 10 file. Blocks up to 32 MiB now come from the heap and are reused; the
    peak memory is the same. Other C libraries (macOS, musl, Windows): left as they are."""
    if not sys.platform.startswith("linux"):
        return
    mallopt = libc_function("mallopt")
    if mallopt is None:  # musl has none
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
    try:
        if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
            mallopt(m_mmap_threshold, 32 << 20)
        if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
            mallopt(m_trim_threshold, 128 << 20)
    except (OSError, TypeError, ValueError):  # advice only: never worth failing the start
        pass


_keep_freed_memory()
