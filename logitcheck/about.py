"""What `logitcheck --version` and every report say about this install: the version and which
code computes the row statistics. Imports no numpy (the extension does not either), so the
console script's --version stays fast."""

from __future__ import annotations

import os
from typing import Any

from . import __version__

#: why numpy computes where the compiled kernel is built but its fma() is a library call
#: (_kernel.c's fast_fma): nothing a user can install changes it
NO_FMA = "no fma instruction for the compiled kernel here: numpy is faster"


def kernel_choice() -> tuple[Any, str]:
    """The compiled kernel module that computes the row statistics, or None for numpy, and
    its words for --version and the reports: "compiled (avx512)", "compiled (avx2)",
    "compiled (portable)" (the portable C: ARM, other compilers), or "numpy (why)". The one
    place that decides (compute/kernel.py asks it too); the extension imports no numpy, so
    this costs a shared-library load at most.

    LOGITCHECK_KERNEL=numpy forces numpy; LOGITCHECK_KERNEL=compiled forces the kernel
    also where its fma() is a call into the C library (x86-64 CPUs without FMA, MSVC's x64
    build), which makes it some 15x slower than numpy."""
    want = os.environ.get("LOGITCHECK_KERNEL", "").lower()
    if want == "numpy":
        return None, "numpy (LOGITCHECK_KERNEL=numpy)"
    try:
        from . import _kernel  # type: ignore[attr-defined]
    except ImportError:
        return None, "numpy (the compiled kernel is not built)"
    if not hasattr(_kernel, "fast_fma"):  # built in place from older sources
        return None, "numpy (the compiled kernel is older than this logitcheck: reinstall)"
    if want != "compiled" and not _kernel.fast_fma():
        return None, f"numpy ({NO_FMA}; LOGITCHECK_KERNEL=compiled uses it)"
    return _kernel, f"compiled ({_kernel.simd()})"


def kernel_description() -> str:
    """kernel_choice()'s words."""
    return kernel_choice()[1]


def version_text() -> str:
    return f"logitcheck, version {__version__}\nkernel: {kernel_description()}"
