"""The `logitcheck` command's entry point: `--version` answers without importing numpy
(or anything of the CLI's); every other command goes to cli.main."""

from __future__ import annotations

import os
import sys

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


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        print(version_text())
        sys.exit(0)
    from .cli.main import main as cli_main

    cli_main()
