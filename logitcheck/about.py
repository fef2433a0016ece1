"""What `logitcheck --version` and every report say about this install: the version and which
code computes the row statistics. Imports no numpy (the extension does not either), so the
console script's --version stays fast."""

from __future__ import annotations

import os

from . import __version__


#: why numpy computes where the compiled kernel is built but its fma() is a library call
#: (_kernel.c's fast_fma): nothing a user can install changes it
NO_FMA = "no fma instruction for the compiled kernel here: numpy is faster"


def kernel_description() -> str:
    """Which code computes the row statistics: "compiled (avx512)", "compiled (avx2)",
    "compiled (portable)" (the portable C: ARM, other compilers), or "numpy (...)", as
    compute/kernel.py chooses. The extension imports no numpy, so this costs a
    shared-library load at most."""
    want = os.environ.get("LOGITCHECK_KERNEL", "").lower()
    if want == "numpy":
        return "numpy (LOGITCHECK_KERNEL=numpy)"
    try:
        from . import _kernel  # type: ignore[attr-defined]
    except ImportError:
        return "numpy (the compiled kernel is not built)"
    if want != "compiled" and not _kernel.fast_fma():
        return f"numpy ({NO_FMA}; LOGITCHECK_KERNEL=compiled uses it)"
    return f"compiled ({_kernel.simd()})"


def version_text() -> str:
    return f"logitcheck, version {__version__}\nkernel: {kernel_description()}"
