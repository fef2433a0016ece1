"""A fast start (issue 9): `logitcheck analyze` on a small .npy with the terminal report
loads only what that run needs. Every module below is imported where it is used; a test
here fails as soon as one of them is imported eagerly again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import logitcheck

# Modules the default run (a .npy file, labels, the rich report on stdout) must not load.
NOT_LOADED = (
    # the other renderers, and what they need
    "logitcheck.report.html", "logitcheck.report.junit", "logitcheck.report.markdown",
    "logitcheck.report.github", "logitcheck.report.json_format", "logitcheck.report.batch",
    "logitcheck.report.sarif",
    "xml.etree.ElementTree",
    # the other commands: batch runs (YAML), drift, Gaussian heads, inspect
    "logitcheck.cli.commands", "logitcheck.batch.config", "logitcheck.batch.resolve",
    "logitcheck.batch.runner", "logitcheck.analyses.compare",
    "logitcheck.analyses.gaussian", "logitcheck.io.describe", "yaml",
    # the other input formats (CSV: pyarrow for big files), and the dask engine
    "logitcheck.io.delimited", "logitcheck.io.fastcsv", "logitcheck.io.npz",
    "logitcheck.io.safetensors", "logitcheck.io.shards", "logitcheck.io.zarr_store",
    "pyarrow", "zarr", "logitcheck.compute.dask_engine", "dask", "distributed",
    # the framework backends (extras)
    "logitcheck.backends.torch_backend", "logitcheck.backends.tensorflow_backend",
    "logitcheck.backends.jax_backend", "torch", "tensorflow", "jax",
    # the progress bar, shown only once a run has lasted 2 seconds
    "rich.progress",
)

_PROBE = """
import json, sys
sys.argv = ["logitcheck", *sys.argv[1:]]
from logitcheck.cli.app import main
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def _loaded_by(tmp_path: Path, *args: str) -> tuple[int, str, set[str]]:
    """Run the CLI in a fresh interpreter; (exit code, stdout, modules loaded by the end)."""
    env = dict(os.environ)
    root = str(Path(logitcheck.__file__).resolve().parent.parent)  # this checkout's package
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    env.pop("COLUMNS", None)
    proc = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=120)
    probe = json.loads(proc.stderr.strip().splitlines()[-1])
    return probe["code"], proc.stdout, set(probe["modules"])


def _tiny(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    np.save(tmp_path / "tiny.npy", rng.standard_normal((100, 10)).astype(np.float32))
    np.save(tmp_path / "tiny_labels.npy", rng.integers(0, 10, 100))


def test_analyze_a_tiny_npy_loads_only_what_it_uses(tmp_path):
    _tiny(tmp_path)
    code, stdout, modules = _loaded_by(tmp_path, "analyze", "tiny.npy", "--labels",
                                       "tiny_labels.npy")
    assert code == 0
    assert "input" in stdout and stdout.rstrip().endswith("(fail-on error, exit 0)")
    assert "logitcheck.report.terminal" in modules  # the probe saw the run it is about
    assert sorted(m for m in NOT_LOADED if m in modules) == []


def test_the_chosen_format_loads_its_renderer_only(tmp_path):
    _tiny(tmp_path)
    code, stdout, modules = _loaded_by(tmp_path, "analyze", "tiny.npy", "--labels",
                                       "tiny_labels.npy", "--format", "json")
    assert code == 0
    assert json.loads(stdout)["schema_version"] == "1"
    assert "logitcheck.report.json_format" in modules
    assert "logitcheck.report.terminal" in modules  # the human report, on stderr
    others = [m for m in NOT_LOADED if m != "logitcheck.report.json_format"]
    assert sorted(m for m in others if m in modules) == []


def test_the_public_api_is_there_without_eager_imports():
    proc = subprocess.run(
        [sys.executable, "-c",
         "import sys, logitcheck\n"
         "eager = sorted(m for m in sys.modules if m.startswith('logitcheck.'))\n"
         "from logitcheck import (Finding, Kind, LogitcheckError, Report, Settings, Severity,"
         " __version__, analyze)\n"
         "from logitcheck.report import RENDERERS, render_html\n"
         "from logitcheck.cli.commands import run_command, rules_command\n"
         "assert list(RENDERERS) == ['rich', 'json', 'junit', 'github', 'markdown', 'html',"
         " 'sarif']\n"
         "assert analyze.__module__ == 'logitcheck.analyses.analyze' and callable(render_html)\n"
         "assert set(logitcheck.__all__) <= set(dir(logitcheck))\n"
         "print(eager)\n"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
            str(Path(logitcheck.__file__).resolve().parent.parent),
            os.environ.get("PYTHONPATH")]))},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"  # `import logitcheck` alone imports no submodule


_VERSION_PROBE = """
import json, sys
sys.argv = ["logitcheck", "--version"]
from logitcheck._entry import main
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def test_version_names_the_kernel_without_importing_numpy(tmp_path):
    """`logitcheck --version` (the console script's entry, _entry.main) answers without
    numpy, click or the CLI, and says which code computes: the compiled kernel's (its
    SIMD width, or the portable C) or numpy."""
    env = dict(os.environ)
    root = str(Path(logitcheck.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    for forced, want in ((None, None), ("numpy", "kernel: numpy (LOGITCHECK_KERNEL=numpy)")):
        env.pop("LOGITCHECK_KERNEL", None)
        if forced:
            env["LOGITCHECK_KERNEL"] = forced
        proc = subprocess.run([sys.executable, "-c", _VERSION_PROBE], capture_output=True,
                              text=True, cwd=tmp_path, env=env, timeout=120)
        probe = json.loads(proc.stderr.strip().splitlines()[-1])
        assert probe["code"] == 0
        lines = proc.stdout.splitlines()
        assert lines[0] == f"logitcheck, version {logitcheck.__version__}"
        from logitcheck.compute import kernel

        if want is None:
            want = ("kernel: numpy (the compiled kernel is not built)"
                    if kernel._COMPILED is None and not os.environ.get("LOGITCHECK_KERNEL")
                    else f"kernel: compiled ({kernel.SIMD})" if kernel._COMPILED is not None
                    else lines[1])
        assert lines[1] == want
        loaded = set(probe["modules"])
        assert not loaded & {"numpy", "click", "rich", "logitcheck.cli.app"}, loaded
