"""logitcheck inside Python: check() and Checker against `logitcheck analyze` on the same
data saved to a file, streaming against one call, merged Checkers against one Checker."""

from __future__ import annotations

import doctest
import importlib
import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import logitcheck
from logitcheck import Checker, check
from logitcheck.errors import InputError, UsageError
from logitcheck.options import DEFAULTS, OPTIONS

from .conftest import SAMPLES, analyze_json, save
from .writers import write_safetensors


def core(doc: dict[str, Any]) -> dict[str, Any]:
    """A report's JSON without what depends on where the data came from: timings, the
    inputs' path and format, the files' fingerprint."""
    doc = json.loads(json.dumps(doc))  # a copy, with JSON's types
    doc.pop("timings", None)
    doc["gate"].pop("fingerprint")
    for i in doc["inputs"]:
        i.pop("path"), i.pop("format"), i.pop("key")
    return doc


def assert_same(report: logitcheck.Report, other: logitcheck.Report | tuple[int, dict]) -> None:
    """Equal reports: the same metrics (losses bit for bit), findings, rows, exit code."""
    if isinstance(other, tuple):
        code, doc = other
    else:
        code, doc = other.exit_code, other.to_dict()
    mine = core(report.to_dict())
    theirs = core(doc)
    assert mine["metrics"] == theirs["metrics"]
    assert mine["findings"] == theirs["findings"]
    assert mine == theirs
    assert report.exit_code == code


def cli(tmp_path: Path, z: np.ndarray, y: np.ndarray | None, *args: str) -> tuple[int, dict]:
    """`logitcheck analyze` on z (and y) saved as .npy files."""
    logits = save(tmp_path / "z.npy", z)
    more = ["--labels", save(tmp_path / "y.npy", y)] if y is not None else []
    return analyze_json(logits, *more, *args)


def kwargs(args: tuple[str, ...]) -> dict[str, Any]:
    """CLI options -> check()'s keywords (flags are True)."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(args):
        name = args[i].removeprefix("--").replace("-", "_")
        if i + 1 < len(args) and not args[i + 1].startswith("--"):
            value: Any = args[i + 1]
            out[name] = int(value) if value.lstrip("-").isdigit() else value
            i += 2
        else:
            out[name] = True
            i += 1
    return out


# --- one call: the same Report as the CLI ------------------------------------------------------

SAMPLE_RUNS = [
    ("healthy_logits.npy", "labels.npy", ()),
    ("fp16_overflow_logits.npy", "labels.npy", ("--loss-path", "naive")),
    ("fp16_overflow_logits.npy", "labels.npy", ("--dtypes", "bfloat16", "--fail-on", "info")),
    ("fp32_underflow_logits.npy", "labels.npy", ()),
    ("probs_as_logits.npy", "labels.npy", ()),
    ("probs_as_logits.npy", "labels.npy", ("--expects", "probabilities")),
    ("double_softmax.npy", "labels.npy", ("--select", "LC2", "--severity", "LC202=warning")),
    ("log_probs.npy", "labels.npy", ("--expects", "log-probabilities")),
    ("binary_logits.npy", "binary_labels.npy", ()),
    ("binary_probs.npy", "binary_labels.npy", ()),
    ("softmax_wrong_axis.npy", None, ()),
    ("sigmoid_multilabel.npy", None, ("--ignore", "LC0")),
]


@pytest.mark.parametrize(("logits", "labels", "args"), SAMPLE_RUNS)
def test_check_on_numpy_arrays_is_the_cli_report(logits, labels, args):
    z = np.load(SAMPLES / logits)
    y = np.load(SAMPLES / labels) if labels else None
    more = ("--labels", str(SAMPLES / labels)) if labels else ()
    expected = analyze_json(str(SAMPLES / logits), *more, *args)
    report = check(z, y, **kwargs(args))
    assert_same(report, expected)
    # the file path through check() is the CLI's run too
    assert_same(check(str(SAMPLES / logits), str(SAMPLES / labels) if labels else None,
                      **kwargs(args)), expected)


def test_check_reports_the_arrays_as_inputs():
    z = np.load(SAMPLES / "healthy_logits.npy")
    y = np.load(SAMPLES / "labels.npy")
    r = check(z, y)
    assert [(i.role, i.path, i.format, i.shape, i.dtype, i.nbytes) for i in r.inputs] == [
        ("logits", "logits", "numpy", z.shape, "float32", z.nbytes),
        ("labels", "labels", "numpy", y.shape, y.dtype.name, y.nbytes)]
    assert r.to_dict()["gate"]["fingerprint"] == ""  # no file to fingerprint


def _lm(seed: int = 0, b: int = 6, t: int = 9, c: int = 7, dtype: Any = np.float32):
    """(B, T, C) logits whose position t predicts the token at t + 1 (unshifted labels)."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, c, size=(b, t))
    z = rng.normal(size=(b, t, c))
    z[:, :-1][np.eye(c, dtype=bool)[tokens[:, 1:]]] += 4.0
    return z.astype(dtype), tokens


def test_check_nd_logits_and_shift_labels_is_the_cli_report(tmp_path):
    z, y = _lm()
    args = ("--shift-labels",)
    assert_same(check(z, y, shift_labels=True), cli(tmp_path, z, y, *args))
    r = check(z, y)  # unshifted: LC304 says so, with (b, t) positions
    assert_same(r, cli(tmp_path, z, y))
    assert "LC304" in [f.code for f in r.findings]


# --- frameworks -------------------------------------------------------------------------------


def _fp16_rows(seed: int = 3, n: int = 500, c: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=3, size=(n, c))
    z[rng.random(n) < 0.05] += 10  # past float16's exp limit on some rows
    y = rng.integers(0, c, size=n)
    y[rng.random(n) < 0.1] = -100
    return z, y


def _bf16_exact(x: np.ndarray) -> np.ndarray:
    """float32 values that bfloat16 holds exactly (round to nearest even, as torch does)."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return bits.astype(np.uint32).view(np.float32)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_torch_tensors_with_grad(tmp_path, dtype):
    torch = pytest.importorskip("torch")
    z, y = _fp16_rows()
    z = z.astype(dtype)
    t = torch.tensor(z, requires_grad=True)
    report = check(t * 1, torch.tensor(y), loss_path="naive")  # a tensor with a grad_fn
    assert report.inputs[0].format == "torch"
    assert_same(report, cli(tmp_path, z, y, "--loss-path", "naive"))
    # a non-contiguous view (a transposed PyTorch (C, N) layout read with class_axis 0)
    tt = torch.tensor(np.ascontiguousarray(z.T)).T
    assert not tt.is_contiguous()
    assert_same(check(tt, torch.tensor(y), loss_path="naive"), report)


def test_torch_bfloat16_is_the_cli_report_on_a_bf16_safetensors_file(tmp_path):
    torch = pytest.importorskip("torch")
    z, y = _fp16_rows(n=300)
    z = _bf16_exact(z)
    t = torch.tensor(z).to(torch.bfloat16).requires_grad_()
    assert np.array_equal(t.detach().float().numpy(), z)
    path = write_safetensors(tmp_path / "out.safetensors",
                             {"logits": z, "labels": y.astype(np.int64)}, bf16=("logits",))
    expected = analyze_json(path, "--dtypes", "float16")
    report = check(t, torch.tensor(y), dtypes="float16")
    assert report.inputs[0].dtype == "bfloat16"
    assert_same(report, expected)
    # and streamed, in batches of 37 rows
    c = Checker(dtypes=["float16"])
    for k in range(0, 300, 37):
        c.update(t[k:k + 37], torch.tensor(y[k:k + 37]))
    assert_same(c.report(), report)


def test_jax_arrays(tmp_path):
    jnp = pytest.importorskip("jax.numpy")
    z, y = _fp16_rows(n=400)
    z32, y = z.astype(np.float32), y.astype(np.int32)  # JAX's default integers
    report = check(jnp.asarray(z32), jnp.asarray(y))
    assert report.inputs[0].format == "jax"
    assert_same(report, cli(tmp_path, z32, y))
    zb = _bf16_exact(z32)
    path = write_safetensors(tmp_path / "b.safetensors", {"logits": zb, "labels": y},
                             bf16=("logits",))
    expected = analyze_json(path)
    assert_same(check(jnp.asarray(zb, dtype=jnp.bfloat16), jnp.asarray(y)), expected)
    c = Checker()
    for k in range(0, 400, 64):
        c.update(jnp.asarray(zb[k:k + 64], dtype=jnp.bfloat16), jnp.asarray(y[k:k + 64]))
    assert_same(c.report(), expected)


def test_tensorflow_tensors(tmp_path):
    tf = pytest.importorskip("tensorflow")
    z, y = _fp16_rows(n=400)
    z16 = z.astype(np.float16)
    report = check(tf.constant(z16), tf.constant(y), loss_path="naive")
    assert report.inputs[0].format == "tensorflow"
    assert_same(report, cli(tmp_path, z16, y, "--loss-path", "naive"))
    zb = _bf16_exact(z.astype(np.float32))
    path = write_safetensors(tmp_path / "b.safetensors", {"logits": zb, "labels": y},
                             bf16=("logits",))
    expected = analyze_json(path)
    assert_same(check(tf.cast(tf.constant(zb), tf.bfloat16), tf.constant(y)), expected)
    c = Checker()
    for k in range(0, 400, 64):
        c.update(tf.cast(tf.constant(zb[k:k + 64]), tf.bfloat16), tf.constant(y[k:k + 64]))
    assert_same(c.report(), expected)


# --- streaming: the same Report as one call -----------------------------------------------------


def _stream(z, y, cuts, axis: int = 0, **options) -> logitcheck.Report:
    c = Checker(**options)
    ys = [None] * (len(cuts) + 1) if y is None else np.split(y, cuts)
    for zz, yy in zip(np.split(z, cuts, axis=axis), ys, strict=True):
        c.update(zz, yy)
    report = c.report()
    assert c.rows == report.metrics["rows"] + report.metrics["ignored_rows"]
    return report


def _cuts(n: int, k: int, seed: int = 0) -> np.ndarray:
    """k - 1 cut points: k batches of random sizes, some of one row."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(np.arange(1, n), k - 1, replace=False))


STREAMS = {
    # name: (logits, labels, options)
    "fp16 overflow, ignored rows": (*_fp16_rows(n=2000), {"loss_path": "naive"}),
    "float16 as stored": ((_fp16_rows(n=2000)[0]).astype(np.float16), _fp16_rows(n=2000)[1],
                          {"dtypes": "bfloat16", "fail_on": "info"}),
    "probabilities": (np.load(SAMPLES / "probs_as_logits.npy"), np.load(SAMPLES / "labels.npy"),
                      {"expects": "probabilities"}),
    # an 11th class no row is: labels 1..10 are all in range, and all off by one
    "1-based labels": (np.c_[np.load(SAMPLES / "healthy_logits.npy"),
                             np.full(2000, -4.0, dtype=np.float32)],
                       np.load(SAMPLES / "labels.npy") + 1, {}),
    "binary": (np.load(SAMPLES / "binary_logits.npy"), np.load(SAMPLES / "binary_labels.npy"),
               {}),
    "no labels": (np.load(SAMPLES / "softmax_wrong_axis.npy"), None, {}),
    "rounded probabilities": (np.round(np.load(SAMPLES / "probs_as_logits.npy"), 4),
                              np.load(SAMPLES / "labels.npy"), {"expects": "probabilities"}),
    # in [0, 1] but for one row: the batches that hold it leave the [0, 1] evidence out
    "nearly unit values": (np.where(np.arange(2000)[:, None] == 1234, 1.5,
                                    np.load(SAMPLES / "probs_as_logits.npy")),
                           np.load(SAMPLES / "labels.npy"), {}),
    "soft targets": (np.load(SAMPLES / "healthy_logits.npy"),
                     np.full((2000, 10), 0.1, dtype=np.float32), {"label_smoothing": 0.1}),
}


@pytest.mark.parametrize("name", list(STREAMS))
def test_a_stream_of_100_batches_is_one_call(name):
    z, y, options = STREAMS[name]
    one = check(z, y, **options)
    assert_same(_stream(z, y, _cuts(len(z), 100), **options), one)


def test_1_based_labels_are_found_in_a_stream_whose_probe_spans_batches():
    z, y, options = STREAMS["1-based labels"]
    cuts = np.r_[np.arange(1, 40), _cuts(len(z) - 40, 60, seed=5) + 40]  # 39 one-row batches
    r = _stream(z, y, cuts, **options)
    assert "LC304" in [f.code for f in r.findings]
    assert r.metrics["label_readings"]["sample_rows"] == 2000
    assert_same(r, check(z, y, **options))


def test_a_stream_of_lm_batches_keeps_positions_and_the_shift_reading():
    z, y = _lm(b=40, t=9)
    cuts = _cuts(40, 12, seed=2)
    for options in ({}, {"shift_labels": True}):
        one = check(z, y, **options)
        streamed = _stream(z, y, cuts, **options)
        assert_same(streamed, one)
        assert streamed.positions == one.positions
        assert streamed.inputs[0].shape == (40, 9, 7)


def test_torch_layout_batches_along_the_first_axis_and_class_axis_1():
    z, y = _lm(b=30, t=5, c=4)
    zt = np.ascontiguousarray(np.moveaxis(z, 2, 1))  # (N, C, T), as nn.CrossEntropyLoss takes
    one = check(zt, y, class_axis=1)
    last = check(z, y)  # the same rows, the same numbers
    assert core(one.to_dict())["metrics"] == core(last.to_dict())["metrics"]
    assert one.findings == last.findings
    assert_same(_stream(zt, y, _cuts(30, 9), class_axis=1), one)


def test_a_stream_mixes_frameworks_and_skips_empty_batches(tmp_path):
    torch = pytest.importorskip("torch")
    z, y = _fp16_rows(n=600)  # float64: plain lists are read as that
    c = Checker(loss_path="naive")
    c.update(torch.tensor(z[:200]), torch.tensor(y[:200]))
    c.update(z[200:200], y[200:200])  # an empty last batch of a loader
    c.update(z[200:450].tolist(), list(y[200:450]))  # plain lists go through np.asarray
    c.update(torch.tensor(z[450:]), y[450:])
    assert (c.rows, c.batches) == (600, 4)
    assert_same(c.report(), cli(tmp_path, z, y, "--loss-path", "naive"))


def test_files_are_batches_too(tmp_path):
    z, y = _fp16_rows(n=900)
    z = z.astype(np.float16)
    c = Checker()
    for k in range(3):
        c.update(save(tmp_path / f"z{k}.npy", z[300 * k:300 * (k + 1)]),
                 save(tmp_path / f"y{k}.npy", y[300 * k:300 * (k + 1)]))
    r = c.report()
    assert r.inputs[0].path.endswith("z0.npy, " + str(tmp_path / "z1.npy") + ", "
                                     + str(tmp_path / "z2.npy"))
    assert_same(r, check(z, y))


# --- merging ----------------------------------------------------------------------------------


def test_merged_checkers_are_one_checker_in_any_grouping():
    z, y = _fp16_rows(n=3000)
    options = {"loss_path": "naive", "dtypes": "float16"}
    one = Checker(**options)
    parts = []
    cuts = [700, 1500, 2200]
    for k, (zz, yy) in enumerate(zip(np.split(z, cuts), np.split(y, cuts), strict=True)):
        one.update(zz, yy)
        part = Checker(**options)
        for a, b in zip(np.array_split(zz, k + 1), np.array_split(yy, k + 1), strict=True):
            part.update(a, b)
        parts.append(pickle.loads(pickle.dumps(part)))  # as ranks send them
    expected = one.report()
    left = Checker(**options).merge(parts[0]).merge(parts[1])
    left.merge(Checker(**options))  # an empty rank
    left.merge(parts[2]).merge(parts[3])
    a, b, c, d = (pickle.loads(pickle.dumps(p)) for p in parts)
    right = a.merge(b.merge(c.merge(d)))
    assert left.rows == right.rows == 3000
    assert_same(left.report(), expected)
    assert_same(right.report(), expected)
    assert_same(expected, check(z, y, **options))


def test_merge_refuses_other_options_and_other_layouts():
    z, y = _fp16_rows(n=50)
    a = Checker.of(z, y)
    with pytest.raises(UsageError, match="different options"):
        a.merge(Checker.of(z, y, loss_path="naive"))
    with pytest.raises(UsageError, match="float32 batches of shape"):
        a.merge(Checker.of(z.astype(np.float32), y))
    with pytest.raises(UsageError, match="itself"):
        a.merge(a)


# --- options, errors --------------------------------------------------------------------------


def test_the_keywords_are_the_option_table():
    from logitcheck.api import KEYWORDS, Options

    analyze = {o.name.replace("-", "_") for o in OPTIONS.values() if "analyze" in o.commands}
    assert set(KEYWORDS) == analyze == set(Options.__annotations__)


def test_python_values_for_options():
    z, y = _fp16_rows(n=200)
    r = check(z, y, select=["LC1", "LC2"], ignore=("LC104",), severity={"LC101": "info"},
              dtypes=["float16"], fail_on=None, expects="log_probabilities",
              ignore_index=np.int64(-100))
    s = r.gate
    assert (s.select, s.ignore, s.severity) == (("LC1", "LC2"), ("LC104",), {"LC101": "info"})
    assert r.fail_on is None and r.exit_code == 0 and r.ok
    assert r.metrics["loss"]["expects"] == "log_probabilities"
    assert check(z, y, fail_on=logitcheck.Severity.INFO).fail_on == logitcheck.Severity.INFO
    assert DEFAULTS["fail_on"] == "error" and check(z, y).fail_on == logitcheck.Severity.ERROR


@pytest.mark.parametrize(("options", "error", "message"), [
    ({"fail_on": "sometimes"}, UsageError,
     "fail_on: 'sometimes' is not one of error, warning, info, never"),
    ({"label_smoothing": 1.0}, UsageError, "label_smoothing: 1.0 is out of range"),
    ({"select": "LC999"}, UsageError, "select: 'LC999' matches no rule code"),
    ({"expect": "logits"}, TypeError, "unexpected option 'expect'"),
    ({"logits_key": "z"}, UsageError, "logits_key: applies to files only"),
    ({"engine": "dask"}, UsageError, "engine: applies to files only"),
])
def test_bad_options_are_one_line_errors(options, error, message):
    z, y = _fp16_rows(n=20)
    with pytest.raises(error) as info:
        check(z, y, **options)
    assert message in str(info.value)


def test_bad_arrays_are_named_errors():
    z, y = _fp16_rows(n=20)
    with pytest.raises(InputError, match=r"^labels: has 19 labels but the logits have 20 rows"):
        check(z, y[:-1])
    with pytest.raises(InputError, match=r"^logits: holds int64 values"):
        check(y, y)
    with pytest.raises(InputError, match=r"^labels: row 3: label 9 is outside the 6 classes"):
        check(z, np.where(np.arange(20) == 3, 9, 0))
    c = Checker.of(z, y)
    with pytest.raises(UsageError, match=r"this batch is float32 batches of shape \(n, 6\)"):
        c.update(z.astype(np.float32), y)
    with pytest.raises(UsageError, match="came with labels; every batch must"):
        c.update(z, None)
    with pytest.raises(UsageError, match="no rows yet"):
        Checker().report()
    c.reset()
    c.update(z.astype(np.float32), y)  # a new stream: a new first batch
    assert c.rows == 20 and c.report().inputs[0].dtype == "float32"


# --- the Report in Python ---------------------------------------------------------------------


def test_report_methods():
    z = np.load(SAMPLES / "probs_as_logits.npy")
    y = np.load(SAMPLES / "labels.npy")
    r = check(z, y)
    assert not r.ok and r.exit_code == 1
    assert r.loss == r.metrics["loss"]["value"] == r.metrics["loss_stable"]
    assert json.loads(r.to_json()) == json.loads(r.render("json"))
    assert json.loads(r.to_json())["findings"][0]["code"] == r.findings[0].code == "LC201"
    assert r.render("rich", verbosity=-1) == "FAIL: 1 error (fail-on error, exit 1)\n"
    assert "LC201" in r.render("markdown") and "<testsuite" in r.render("junit")
    text = repr(r)
    assert text.startswith("<logitcheck Report analyze: FAIL: 1 error (fail-on error, exit 1)")
    assert "\n  LC201 probabilities-as-logits [error]: " in text
    html = r._repr_html_()
    assert html.startswith('<iframe srcdoc="&lt;!DOCTYPE html&gt;')
    assert "<style>" not in html  # the page's styles stay inside the frame
    with pytest.raises(ValueError, match="unknown format 'pdf'"):
        r.render("pdf")
    probs = check(z, y, expects="probabilities")
    assert probs.ok and probs.loss == probs.metrics["loss"]["value"]
    assert check(z).loss is None  # no labels


# --- the package: imports and doctests --------------------------------------------------------


def test_check_imports_no_framework_it_was_not_given():
    code = (
        "import sys, numpy as np, logitcheck\n"
        "r = logitcheck.check(np.eye(3, dtype=np.float32) * 5, np.arange(3))\n"
        "c = logitcheck.Checker(); c.update(np.eye(3) * 5, [0, 1, 2]); c.report()\n"
        "import logitcheck.testing, logitcheck.callbacks\n"
        "bad = [m for m in ('torch', 'tensorflow', 'jax', 'keras', 'dask') if m in sys.modules]\n"
        "print('LOADED', bad, r.exit_code)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=SAMPLES.parent, timeout=300)
    assert "LOADED [] 0" in proc.stdout, proc.stderr


def test_py_typed_and_all():
    assert (Path(logitcheck.__file__).parent / "py.typed").exists()
    for name in logitcheck.__all__:
        assert getattr(logitcheck, name) is not None
    assert {"check", "Checker"} <= set(logitcheck.__all__)


@pytest.mark.parametrize("module", ["logitcheck.api", "logitcheck.testing",
                                    "logitcheck.report.model"])
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0


def test_readme_from_python_examples():
    readme = Path(__file__).resolve().parent.parent / "README.md"
    text = readme.read_text().split("<!-- from-python:start -->\n")[1]
    text = text.split("<!-- from-python:end -->")[0].replace("```python\n", "").replace(
        "```\n", "")
    test = doctest.DocTestParser().get_doctest(text, {}, "README", str(readme), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.summarize(verbose=False) == (0, 13)


# --- more of what a stream keeps --------------------------------------------------------------


def test_a_stream_holds_the_statistics_not_the_rows():
    z, y = _fp16_rows(n=20000)
    c = Checker(loss_path="naive")
    for zz, yy in zip(np.array_split(z, 100), np.array_split(y, 100), strict=True):
        c.update(zz, yy)
    assert len(c._kept) <= 20  # the rows the two report tables show
    assert c._sampled == sum(s.shape[0] for s in c._sample_z) == 4096  # probe.MAX_ROWS
    assert_same(c.report(), check(z, y, loss_path="naive"))


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_a_stream_with_a_framework_backend_is_one_call(backend):
    pytest.importorskip(backend)
    z, y = _fp16_rows(n=1200)
    z = z.astype(np.float16)
    options = {"backend": backend, "cross_check": True}
    one = check(z, y, **options)
    assert one.metrics["backend"]["name"] == backend
    assert one.metrics["backend"]["dtypes"]["float16"]["no_max_shift"]["failed_rows"] > 0
    cuts = _cuts(1200, 30, seed=4)
    if backend == "jax":
        # XLA's log_softmax of a row differs in the last bits with the block's shape (as
        # --chunk-rows changes it): the same blocks give the same numbers
        options["chunk_rows"] = 40
        one = check(z, y, **options)
        cuts = np.arange(40, 1200, 40)
    assert_same(_stream(z, y, cuts, **options), one)
    a = Checker.of(z[:520], y[:520], **options)
    b = pickle.loads(pickle.dumps(Checker.of(z[520:], y[520:], **options)))
    assert_same(a.merge(b).report(), one)


def test_multi_label_probabilities_as_the_cli(tmp_path):
    rng = np.random.default_rng(7)
    targets = rng.integers(0, 2, size=(300, 4)).astype(np.float32)
    p = (1 / (1 + np.exp(-(6 * targets - 3 + rng.normal(size=(300, 4)))))).astype(np.float32)
    args = ("--expects", "probabilities", "--multi-label")
    expected = cli(tmp_path, p, targets, *args)  # a TypeError before: no single label
    report = check(p, targets, expects="probabilities", multi_label=True)
    assert_same(report, expected)
    assert_same(_stream(p, targets, _cuts(300, 20), expects="probabilities",
                        multi_label=True), report)


def test_a_stream_of_many_files_names_the_first_three():
    from logitcheck.api import _named

    names = None
    out = "a"
    for name in ("b", "a", "c", "d", "e", "d"):
        out = _named(out, name)
    assert out == "a, b, c (+3 more)"
    assert _named(names, "x") is None


# --- logitcheck.testing -----------------------------------------------------------------------


@pytest.mark.parametrize("framework", ["numpy", "torch", "jax", "tensorflow"])
def test_assert_outputs_ok_with_each_framework(tmp_path, framework):
    from logitcheck.testing import assert_outputs_ok

    z = np.load(SAMPLES / "fp16_overflow_logits.npy")
    y = np.load(SAMPLES / "labels.npy")
    as_tensor = {"numpy": np.asarray}
    if framework != "numpy":
        module = pytest.importorskip(framework)
        as_tensor[framework] = {"torch": lambda a: module.tensor(a),
                                "jax": lambda a: module.numpy.asarray(a),
                                "tensorflow": lambda a: module.constant(a)}[framework]
    t = as_tensor[framework]
    y_t = t(y.astype(np.int32) if framework == "jax" else y)
    report = assert_outputs_ok(t(z), y_t)  # LC101 is a warning on the stable path
    assert_same(report, cli(tmp_path, z, np.asarray(y_t), "--fail-on", "error"))
    with pytest.raises(AssertionError) as info:
        assert_outputs_ok(t(z), y_t, fail_on="warning")
    lines = str(info.value).splitlines()
    assert lines[0] == "logitcheck: FAIL: 1 warning (fail-on warning, exit 1)"
    assert lines[1].startswith("LC101 naive-overflow [warning]: the naive softmax would overflow "
                               "in float16")
    assert lines[2].startswith("  fix (pytorch): ")
    with pytest.raises(AssertionError, match="LC101 naive-overflow .error."):
        assert_outputs_ok(t(z), y_t, loss_path="naive")


def test_merged_small_ranks_share_the_label_probe():
    z, y, options = STREAMS["1-based labels"]
    cuts = [5, 17, 18, 40, 1000]
    ranks = [Checker.of(zz, yy, **options) for zz, yy in zip(np.split(z, cuts),
                                                              np.split(y, cuts), strict=True)]
    merged = ranks[0]
    for r in ranks[1:]:
        merged.merge(r)
    report = merged.report()
    assert "LC304" in [f.code for f in report.findings]
    assert_same(report, check(z, y, **options))
