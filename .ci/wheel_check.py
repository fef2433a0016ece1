"""Checks an installed logitcheck (a built wheel, cibuildwheel's test-command): the
compiled kernel loads and names its code, the README's first command runs on the bundled
sample (exit 1: its findings), and the kernel's tests pass against the installed package.

    python .ci/wheel_check.py PROJECT_DIR
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

project = Path(sys.argv[1]).resolve()
with tempfile.TemporaryDirectory() as tmp:  # away from the source tree: the installed copy
    os.chdir(tmp)
    import logitcheck
    from logitcheck.compute import kernel

    assert Path(logitcheck.__file__).resolve().parent != project / "logitcheck"
    print("logitcheck", logitcheck.__version__, "from", logitcheck.__file__,
          "kernel:", kernel.KERNEL, kernel.SIMD)
    if os.environ.get("LOGITCHECK_REQUIRE_COMPILED") and kernel.KERNEL != "compiled":
        sys.exit("wheel_check: the wheel has no compiled kernel")
    shutil.copytree(project / "sample_data", "sample_data")
    run = subprocess.run(["logitcheck", "analyze", "sample_data/fp16_overflow_logits.npy",
                          "--labels", "sample_data/labels.npy"], capture_output=True, text=True)
    print(run.stdout[-400:])
    if run.returncode != 1 or "LC1" not in run.stdout:  # the sample's overflow findings
        sys.exit(f"wheel_check: the README's command exited {run.returncode}: {run.stderr}")
    version = subprocess.run(["logitcheck", "--version"], capture_output=True, text=True)
    print(version.stdout)
    if "kernel: compiled" not in version.stdout and os.environ.get("LOGITCHECK_REQUIRE_COMPILED"):
        sys.exit("wheel_check: --version does not name the compiled kernel")
    # the kernel's tests, importing the installed package (tests/ is copied: no logitcheck/)
    shutil.copytree(project / "tests", "tests")
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              "-W", "error", "tests/test_kernel.py"]))
