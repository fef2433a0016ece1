"""Backends (--backend, --cross-check): each framework against the float64 reference, and
its naive-path failures against a direct computation with that framework, row for row.

Each framework is skipped cleanly where it is not installed (CI installs them all).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from logitcheck import analyze
from logitcheck.backends import NAMES, load
from logitcheck.backends.compute import (
    Job,
    dtype_rows,
    make_task,
    reference_loss,
    tolerance,
)
from logitcheck.cli.app import cli
from logitcheck.compute.engine import compute_all
from logitcheck.compute.stats import Plan
from logitcheck.io import open_labels, open_logits
from logitcheck.settings import Settings

from .conftest import SAMPLES

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FRAMEWORKS = {"torch": "torch", "tensorflow": "tensorflow", "jax": "jax"}
SAMPLE_FILES = ["healthy_logits", "probs_as_logits", "fp16_overflow_logits",
                "fp32_underflow_logits", "double_softmax", "log_probs"]
DTYPES = ("float16", "bfloat16", "float32", "float64")


def _backend(name: str):
    if name in FRAMEWORKS:
        pytest.importorskip(FRAMEWORKS[name])
    return load(name)


def _task(z: np.ndarray, y: np.ndarray | None, plan: Plan):
    values = z.astype(np.float64).reshape(z.shape[0], -1)
    task = make_task(values, y, plan, -100)
    return task, reference_loss(z, values, task), values


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("sample", SAMPLE_FILES)
def test_stable_loss_matches_the_float64_reference_in_every_dtype(name, sample, labels):
    backend = _backend(name)
    z = np.load(SAMPLES / f"{sample}.npy")
    task, reference, values = _task(z, labels, Plan(DTYPES, z.dtype.name))
    scale = 1 + np.abs(reference) + np.abs(values).max(axis=1)
    for dtype in DTYPES:
        if backend.unsupported(dtype):
            assert name == "numpy" and dtype == "bfloat16"
            continue
        with backend.session():
            rows = dtype_rows(backend, z, task, dtype)
        tol = tolerance(dtype, z.shape[1])
        assert np.isfinite(rows.stable).all(), (name, sample, dtype)
        assert (np.abs(rows.stable - reference) / scale).max() <= tol, (name, sample, dtype)
        assert abs(rows.stable.mean() - reference.mean()) / scale.mean() <= tol


def _direct(name: str, z: np.ndarray, y: np.ndarray, dtype: str):
    """The two naive paths written straight in the framework: -log(softmax(z))[y] and
    log(sum(exp(z))) - z[y], per row, as float64 numpy."""
    rows = np.arange(z.shape[0])
    if name == "torch":
        import torch

        t = torch.tensor(np.asarray(z, dtype=np.float64)).to(getattr(torch, dtype))
        a = -torch.log(torch.softmax(t, dim=1))
        b = torch.log(torch.exp(t).sum(dim=1, keepdim=True)) - t
        return [x.double().numpy()[rows, y] for x in (a, b)]
    if name == "tensorflow":
        import tensorflow as tf

        t = tf.cast(tf.constant(np.asarray(z, dtype=np.float64)), getattr(tf, dtype))
        a = -tf.math.log(tf.nn.softmax(t, axis=1))
        b = tf.math.log(tf.reduce_sum(tf.exp(t), axis=1, keepdims=True)) - t
        return [tf.cast(x, tf.float64).numpy()[rows, y] for x in (a, b)]
    import jax
    import jax.numpy as jnp

    with jax.enable_x64(True):
        t = jnp.asarray(np.asarray(z, dtype=np.float64)).astype(getattr(jnp, dtype))
        a = -jnp.log(jax.nn.softmax(t, axis=1))
        b = jnp.log(jnp.sum(jnp.exp(t), axis=1, keepdims=True)) - t
        return [np.asarray(x).astype(np.float64)[rows, y] for x in (a, b)]


@pytest.mark.parametrize("name", list(FRAMEWORKS))
@pytest.mark.parametrize(("sample", "dtype"), [
    ("fp16_overflow_logits", "float16"), ("fp32_underflow_logits", "float32"),
    ("fp32_underflow_logits", "float16"), ("fp32_underflow_logits", "bfloat16"),
])
def test_naive_failures_are_what_the_framework_produces(name, sample, dtype, labels):
    backend = _backend(name)
    z = np.load(SAMPLES / f"{sample}.npy")
    task, reference, _ = _task(z, labels, Plan((dtype,), z.dtype.name))
    with backend.session():
        rows = dtype_rows(backend, z, task, dtype)
    direct = _direct(name, z, labels, dtype)
    for path, expected in zip(("softmax_then_log", "no_max_shift"), direct, strict=True):
        ours = rows.naive.losses[path]
        failed = np.flatnonzero(~np.isfinite(ours) & np.isfinite(reference))
        assert failed.tolist() == np.flatnonzero(~np.isfinite(expected)).tolist(), path
        np.testing.assert_array_equal(ours, expected)
    # and through the engine, in chunks: the same counts and first rows
    source = open_logits(SAMPLES / f"{sample}.npy")
    y = open_labels(SAMPLES / "labels.npy", *source.shape)
    _, stats = compute_all(source, y, Settings(chunk_rows=333, dtypes=(dtype,)),
                           (Job(backend, (dtype,), True),))
    for path, expected in zip(("softmax_then_log", "no_max_shift"), direct, strict=True):
        want = np.flatnonzero(~np.isfinite(expected))
        got = stats[name].dtypes[dtype].naive[path].failed
        assert (got.count, list(got.first)) == (want.size, want[:10].tolist()), path


def test_framework_softmax_underflows_where_numpy_emulation_overflows(labels):
    pytest.importorskip("torch")
    report = analyze(SAMPLES / "fp16_overflow_logits.npy", SAMPLES / "labels.npy",
                     Settings(backend="torch"))
    ours = report.metrics["backend"]["dtypes"]["float16"]
    numpy_naive = report.metrics["naive"]["float16"]
    # numpy's softmax emulation has no max shift: it overflows; torch.softmax shifts
    assert numpy_naive["softmax_then_log"]["overflow_rows"] == 112
    assert ours["softmax_then_log"]["failed_rows"] == 0
    assert ours["no_max_shift"] == {**numpy_naive["no_max_shift"],
                                   "max_rel_gap": ours["no_max_shift"]["max_rel_gap"],
                                   "max_rel_gap_row": ours["no_max_shift"]["max_rel_gap_row"]}


def test_torch_loss_apis_as_called(labels):
    torch = pytest.importorskip("torch")
    z = np.load(SAMPLES / "healthy_logits.npy")
    y = labels.copy()
    y[:5] = -100
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        np.save(f"{tmp}/y.npy", y)
        report = analyze(SAMPLES / "healthy_logits.npy", f"{tmp}/y.npy",
                         Settings(backend="torch", label_smoothing=0.1))
    api = report.metrics["backend"]["api_losses"]
    expected = torch.nn.functional.cross_entropy(
        torch.tensor(z), torch.tensor(y), ignore_index=-100, label_smoothing=0.1).item()
    assert api["torch F.cross_entropy"]["loss"] == pytest.approx(expected, rel=1e-6)
    assert api["torch F.cross_entropy"]["dtype"] == "float32"
    assert report.metrics["backend"]["dtypes"]["float32"]["stable"]["agrees"]


def test_keras_from_logits_false_is_clipped_on_logits(labels):
    keras = pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    z = np.load(SAMPLES / "fp32_underflow_logits.npy")
    report = analyze(SAMPLES / "fp32_underflow_logits.npy", SAMPLES / "labels.npy",
                     Settings(backend="tensorflow"))
    api = report.metrics["backend"]["api_losses"]
    clipped = api["Keras SparseCategoricalCrossentropy(from_logits=False)"]
    direct = keras.losses.SparseCategoricalCrossentropy(from_logits=False)(labels, z)
    assert clipped["loss"] == pytest.approx(float(direct), rel=1e-5)
    p_y = z[np.arange(len(labels)), labels]
    assert clipped["capped_rows"] == int(np.count_nonzero(p_y < np.float32(1e-7)))
    logits = api["Keras SparseCategoricalCrossentropy(from_logits=True)"]
    assert logits["loss"] == pytest.approx(report.metrics["loss_stable"], rel=1e-6)


def test_jax_without_optax_says_so():
    pytest.importorskip("jax")
    report = analyze(SAMPLES / "healthy_logits.npy", SAMPLES / "labels.npy",
                     Settings(backend="jax"))
    b = report.metrics["backend"]
    try:
        import optax  # noqa: F401
    except ImportError:
        assert b["api_losses"] == {} and "optax is not installed" in b["notes"][0]
    else:
        loss = b["api_losses"]["optax.softmax_cross_entropy_with_integer_labels"]["loss"]
        assert loss == pytest.approx(report.metrics["loss_stable"], rel=1e-6)
    assert set(b["dtypes"]) == {"float32", "float64"}


def test_binary_outputs_on_torch_use_bce_with_logits():
    torch = pytest.importorskip("torch")
    z = np.load(SAMPLES / "binary_logits.npy")
    y = np.load(SAMPLES / "binary_labels.npy")
    report = analyze(SAMPLES / "binary_logits.npy", SAMPLES / "binary_labels.npy",
                     Settings(backend="torch"))
    b = report.metrics["backend"]
    assert all(d["stable"]["agrees"] for d in b["dtypes"].values())
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(z.reshape(-1)), torch.tensor(y.astype(z.dtype))).item()
    loss = b["api_losses"]["torch F.binary_cross_entropy_with_logits"]["loss"]
    assert loss == pytest.approx(expected, rel=1e-6)


def _same_up_to_rounding(a, b, path=""):
    """Counts, rows, statuses and verdicts equal; losses equal to 1e-6; gaps not compared:
    TF and JAX vectorise differently for different batch shapes, so a row's last bits may
    depend on the chunk it is in (the statistics themselves merge exactly)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            if k not in ("mean_rel_gap", "max_row_gap", "max_row_gap_row", "max_rel_gap",
                         "max_rel_gap_row"):
                _same_up_to_rounding(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-6), path
    else:
        assert a == b, path


@pytest.mark.parametrize("name", list(FRAMEWORKS))
def test_chunks_and_threads_do_not_change_the_backend_metrics(name):
    _backend(name)
    args = (SAMPLES / "fp32_underflow_logits.npy", SAMPLES / "labels.npy")
    whole = analyze(*args, Settings(backend=name, dtypes=("float16",), cross_check=True))
    parts = analyze(*args, Settings(backend=name, dtypes=("float16",), cross_check=True,
                                    chunk_rows=97, threads=3))
    _same_up_to_rounding(whole.metrics["backend"], parts.metrics["backend"])
    if name == "torch":  # torch's CPU kernels give the same bits whatever the batch
        assert whole.metrics["backend"]["dtypes"] == parts.metrics["backend"]["dtypes"]


def test_cross_check_lists_every_backend_and_agrees_on_samples():
    report = analyze(SAMPLES / "fp32_underflow_logits.npy", SAMPLES / "labels.npy",
                     Settings(cross_check=True))
    cc = report.metrics["backend"]["cross_check"]
    assert list(cc["backends"]) == [n for n in NAMES if n in cc["backends"]]
    assert set(cc["backends"]) == set(NAMES)
    assert cc["tolerance"] == pytest.approx(4 * np.finfo(np.float32).eps * (1 + np.log2(10)))
    for name, c in cc["backends"].items():
        missing = "not installed" in c["status"] and "pip install 'logitcheck[" in c["status"]
        assert c["status"] == "ok" or missing
        if c["status"] == "ok":
            assert c["agrees"] and c["failed_rows"] == 0, name
    assert "LC110" not in [f.code for f in report.findings]


def test_a_backend_that_disagrees_is_lc110(monkeypatch):
    from logitcheck.backends import numpy_backend

    real = numpy_backend.NumpyBackend.log_softmax
    monkeypatch.setattr(numpy_backend.NumpyBackend, "log_softmax",
                        lambda self, t: real(self, t) * np.float32(1.001))
    report = analyze(SAMPLES / "healthy_logits.npy", SAMPLES / "labels.npy",
                     Settings(cross_check=True))
    lc110 = [f for f in report.findings if f.code == "LC110"]
    assert [f.evidence["backend"] for f in lc110] == ["numpy"]
    assert lc110[0].evidence["mean_rel_gap"] > lc110[0].evidence["tolerance"]
    assert not report.metrics["backend"]["cross_check"]["backends"]["numpy"]["agrees"]
    assert report.exit_code == 1


def test_an_unsupported_dtype_is_reported_not_skipped(monkeypatch):
    pytest.importorskip("torch")
    from logitcheck.backends import torch_backend

    real = torch_backend.TorchBackend._probe
    monkeypatch.setattr(torch_backend.TorchBackend, "_probe",
                        lambda self, d: "RuntimeError: no kernel" if d == "bfloat16"
                        else real(self, d))
    report = analyze(SAMPLES / "healthy_logits.npy", SAMPLES / "labels.npy",
                     Settings(backend="torch", dtypes=("bfloat16",)))
    dtypes = report.metrics["backend"]["dtypes"]
    assert dtypes["bfloat16"] == {"status": "unsupported: RuntimeError: no kernel"}
    assert dtypes["float32"]["status"] == "ok"
    out = CliRunner().invoke(cli, ["analyze", str(SAMPLES / "healthy_logits.npy"), "--labels",
                                   str(SAMPLES / "labels.npy"), "--backend", "torch",
                                   "--dtypes", "bfloat16"]).stdout
    assert "unsupported" in out and "loss paths on torch" in out


def test_default_backend_computes_nothing_more():
    report = analyze(SAMPLES / "healthy_logits.npy", SAMPLES / "labels.npy")
    b = report.metrics["backend"]
    assert (b["name"], b["dtypes"], b["api_losses"], b["cross_check"]) == ("numpy", {}, {}, None)


# --- the process: imports, missing frameworks, devices, clean stdout -------------------

def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=SAMPLES.parent, timeout=300)


def test_import_and_default_analyze_load_no_framework():
    proc = _run(
        "import sys, logitcheck\n"
        "from logitcheck.cli.app import main\n"
        "logitcheck.analyze('sample_data/healthy_logits.npy', 'sample_data/labels.npy')\n"
        "sys.argv = ['logitcheck', 'analyze', 'sample_data/fp16_overflow_logits.npy',"
        " '--labels', 'sample_data/labels.npy', '--format', 'json', '--loss-path', 'naive']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
        "bad = [m for m in ('torch', 'tensorflow', 'jax', 'keras', 'optax', 'dask', 'distributed',"
        " 'zarr') if m in sys.modules]\n"
        "print('LOADED', bad, code, file=sys.stderr)\n"
    )
    assert "LOADED [] 1" in proc.stderr, proc.stderr


@pytest.mark.parametrize(("name", "module", "label"), [
    ("torch", "torch", "PyTorch"), ("tensorflow", "tensorflow", "TensorFlow"),
    ("jax", "jax", "JAX"),
])
def test_a_missing_framework_is_exit_2_with_the_pip_command(name, module, label):
    proc = _run(
        f"import sys; sys.modules[{module!r}] = None\n"
        "from logitcheck.cli.app import main\n"
        f"sys.argv = ['logitcheck', 'analyze', 'sample_data/healthy_logits.npy', '--backend',"
        f" {name!r}]\n"
        "main()\n"
    )
    assert proc.returncode == 2
    assert proc.stderr == (f"logitcheck: error: --backend {name}: {label} is not installed; "
                           f"pip install 'logitcheck[{name}]'\n")
    assert proc.stdout == ""


def test_an_unavailable_device_is_exit_2():
    args = ["analyze", str(SAMPLES / "healthy_logits.npy")]
    result = CliRunner().invoke(cli, [*args, "--device", "cuda"])
    assert result.exit_code == 2
    assert result.stderr == ("logitcheck: error: --device cuda: --backend numpy runs on the "
                             "CPU here; --device is for --backend torch or jax\n")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        result = CliRunner().invoke(cli, [*args, "--backend", "torch", "--device", "cuda"])
        assert result.exit_code == 2
        assert result.stderr.startswith("logitcheck: error: --device cuda: not available to "
                                        "PyTorch")
        assert result.stderr.count("\n") == 1
    result = CliRunner().invoke(cli, [*args, "--backend", "torch", "--device", "nonsense"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1


def test_tensorflow_json_stdout_stays_clean():
    pytest.importorskip("tensorflow")
    proc = subprocess.run(
        [sys.executable, "-m", "logitcheck", "analyze", "sample_data/fp16_overflow_logits.npy",
         "--labels", "sample_data/labels.npy", "--backend", "tensorflow", "--format", "json",
         "--loss-path", "naive"],
        capture_output=True, text=True, cwd=SAMPLES.parent, timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["metrics"]["backend"]["name"] == "tensorflow"
    assert "I0000" not in proc.stderr and "oneDNN" not in proc.stderr
