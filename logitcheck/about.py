"""What `logitcheck --version` and every report say about this install: the version and which
code computes the row statistics. Imports no numpy (the extension does not either), so the
console script's --version stays fast."""

from __future__ import annotations

import os

from . import __version__


def kernel_description() -> str:
    """Which code computes the row statistics: "compiled (avx512)", "compiled (avx2)",
    "compiled (portable)" (the portable C: ARM, other compilers), or "numpy (...)". The
    extension imports no numpy, so this costs a shared-library load at most."""
    if os.environ.get("LOGITCHECK_KERNEL", "").lower() == "numpy":
        return "numpy (LOGITCHECK_KERNEL=numpy)"
    try:
        from . import _kernel  # type: ignore[attr-defined]
    except ImportError:
        return "numpy (the compiled kernel is not built)"
    return f"compiled ({_kernel.simd()})"


def version_text() -> str:
    return f"logitcheck, version {__version__}\nkernel: {kernel_description()}"
