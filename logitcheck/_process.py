"""Settings for the command line's own process, applied on import, before numpy loads."""

import ctypes
import os

# logitcheck never calls numpy's BLAS, and OpenBLAS starts a thread per core that spins for
# about 0.1 s after numpy is imported, on the cores the analysis runs on: 8 % of the whole
# `logitcheck analyze` process on a 1M x 10 file on 2 cores. A user's own setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _keep_freed_memory() -> None:
    """glibc returns freed blocks of a few MiB to the system (mmap, arena trimming), so each
    chunk's row arrays were faulted in afresh: some 3,600 page faults (about 20 ms of CPU
    here) on a 1M x 10 file. Blocks up to 32 MiB now come from the heap and are reused; the
    peak memory is the same. Other C libraries: left as they are."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's malloc.h
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        mallopt(m_mmap_threshold, 32 << 20)
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        mallopt(m_trim_threshold, 128 << 20)


_keep_freed_memory()
