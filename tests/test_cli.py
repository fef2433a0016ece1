from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from click.testing import CliRunner

from logitcheck.cli.app import cli

from .conftest import SAMPLES, assert_clean_error, save
from .reference import exact_losses

LABELS = str(SAMPLES / "labels.npy")


def run(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result


def run_json(*args: str):
    result = run("analyze", *args, "--format", "json")
    return result, (json.loads(result.stdout) if result.stdout else None)


def test_healthy_sample_passes_with_exact_metrics(labels):
    result, doc = run_json(str(SAMPLES / "healthy_logits.npy"), "--labels", LABELS)
    assert result.exit_code == 0
    assert doc["schema_version"] == "1"
    assert doc["exit_code"] == 0
    assert doc["findings"] == []
    assert doc["kind"]["name"] == "logits"
    assert [i["role"] for i in doc["inputs"]] == ["logits", "labels"]
    assert doc["inputs"][0]["shape"] == [2000, 10]
    assert doc["inputs"][0]["dtype"] == "float32"
    assert doc["inputs"][1]["dtype"] == "int64"
    z = np.load(SAMPLES / "healthy_logits.npy")
    m = doc["metrics"]
    assert m["rows"] == 2000
    assert m["loss_stable"] == pytest.approx(exact_losses(z, labels).mean(), rel=1e-12)
    assert m["accuracy"] == np.mean(z.argmax(axis=1) == labels)
    assert set(m["naive"]) == {"float32", "float64"}
    for dtype in m["naive"].values():
        for path in ("softmax_then_log", "no_max_shift"):
            assert dtype[path]["failed_rows"] == 0
            assert dtype[path]["first_rows"] == []


def test_probabilities_sample_gives_lc201_with_both_losses(labels):
    result, doc = run_json(str(SAMPLES / "probs_as_logits.npy"), "--labels", LABELS)
    assert result.exit_code == 1
    assert doc["kind"]["name"] == "probabilities"
    [finding] = doc["findings"]
    assert finding["code"] == "LC201"
    assert finding["name"] == "probabilities-as-logits"
    assert finding["severity"] == "error"
    assert set(finding["fix"]) == {"numpy", "pytorch", "keras", "jax"}
    p = np.load(SAMPLES / "probs_as_logits.npy").astype(np.float64)
    rows = np.arange(len(labels))
    as_logits = exact_losses(p, labels).mean()  # softmax applied once more by the loss
    correct = -np.log(p[rows, labels]).mean()
    assert finding["evidence"]["loss_as_logits"] == pytest.approx(as_logits, rel=1e-12)
    assert finding["evidence"]["loss_as_probabilities"] == pytest.approx(correct, rel=1e-12)
    assert f"{as_logits:.4f}" in finding["message"] and f"{correct:.4f}" in finding["message"]
    assert as_logits > 1.5 and correct < 0.8


@pytest.mark.parametrize("loss_path, severity, code", [
    (None, "warning", 0), ("stable", "warning", 0), ("naive", "error", 1)])
def test_fp16_sample_gives_lc101_with_exact_rows(labels, loss_path, severity, code):
    # the severity model: a naive path that would break is a hazard (warning) on the
    # stable loss path, the default, and an error when the user's own path is naive
    more = ("--loss-path", loss_path) if loss_path else ()
    result, doc = run_json(str(SAMPLES / "fp16_overflow_logits.npy"), "--labels", LABELS, *more)
    assert result.exit_code == code
    assert [f["code"] for f in doc["findings"]] == ["LC101"]
    finding = doc["findings"][0]
    z16 = np.load(SAMPLES / "fp16_overflow_logits.npy")
    with np.errstate(over="ignore"):
        overflow_rows = np.flatnonzero(np.isinf(np.exp(z16).sum(axis=1)))
    assert finding["severity"] == severity
    assert finding["evidence"]["loss_path"] == (loss_path or "stable")
    assert finding["evidence"]["headroom"] == pytest.approx(11.0898 - float(z16.max()), abs=1e-4)
    assert ("would overflow" in finding["message"]) == (severity == "warning")
    assert finding["evidence"]["dtype"] == "float16"
    assert finding["evidence"]["rows"] == overflow_rows.size > 0
    assert finding["evidence"]["first_rows"] == overflow_rows[:10].tolist()
    assert finding["evidence"]["overflow_threshold"] == pytest.approx(11.0898, abs=1e-4)
    naive16 = doc["metrics"]["naive"]["float16"]
    assert naive16["softmax_then_log"]["failed_rows"] == overflow_rows.size
    assert doc["metrics"]["naive"]["float32"]["softmax_then_log"]["failed_rows"] == 0


def test_fp32_sample_gives_lc102_on_the_confidently_wrong_rows(labels):
    result, doc = run_json(str(SAMPLES / "fp32_underflow_logits.npy"), "--labels", LABELS,
                           "--loss-path", "naive")
    assert result.exit_code == 1
    errors = [f for f in doc["findings"] if f["severity"] == "error"]
    assert [f["code"] for f in errors] == ["LC102"]
    finding = errors[0]
    z = np.load(SAMPLES / "fp32_underflow_logits.npy").astype(np.float64)
    rows = np.arange(len(labels))
    gap = z.max(axis=1) - z[rows, labels]
    # p_y = exp(-gap)/(1 + ...) rounds to 0 in float32 past ~103.97
    expected = np.flatnonzero(gap > 104.5)
    assert finding["evidence"]["rows"] == expected.size > 30
    assert finding["evidence"]["first_rows"] == expected[:10].tolist()
    assert finding["evidence"]["paths"]["no_max_shift"]["failed_rows"] == 0
    # the gradient of the naive path is NaN exactly there (0 * inf in backprop)
    assert doc["metrics"]["gradients"]["naive_nan_rows"] == expected.size
    naive = doc["metrics"]["naive"]
    assert naive["float32"]["softmax_then_log"]["underflow_rows"] == expected.size
    assert naive["float64"]["softmax_then_log"]["failed_rows"] == 0


def test_without_labels_the_paths_are_checked_at_the_least_likely_class():
    result, doc = run_json(str(SAMPLES / "fp32_underflow_logits.npy"))
    assert doc["metrics"]["evaluated_at"] == "least_likely_class"
    assert doc["metrics"]["loss_stable"] is None and doc["metrics"]["accuracy"] is None
    z = np.load(SAMPLES / "fp32_underflow_logits.npy").astype(np.float64)
    expected = np.flatnonzero(z.max(axis=1) - z.min(axis=1) > 104.5)
    assert doc["metrics"]["naive"]["float32"]["softmax_then_log"]["failed_rows"] == expected.size
    assert result.exit_code == 0  # a hazard on the default stable path
    assert {f["code"]: f["severity"] for f in doc["findings"]}["LC102"] == "warning"


def test_non_finite_input_gives_lc001(tmp_path):
    z = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    z[7, 1] = np.nan
    z[9, 0] = np.inf
    z[9, 2] = -np.inf
    result, doc = run_json(save(tmp_path / "z.npy", z))
    assert result.exit_code == 1
    [finding] = doc["findings"]
    assert finding["code"] == "LC001"
    ev = finding["evidence"]
    assert ev["nan"] == {"values": 1, "rows": 1, "first_rows": [7]}
    assert ev["posinf"] == {"values": 1, "rows": 1, "first_rows": [9]}
    assert ev["neginf"] == {"values": 1, "rows": 1, "first_rows": [9]}
    assert doc["metrics"]["first_rows_with_nonfinite_loss"] == [7, 9]


@pytest.mark.parametrize(
    ("fail_on", "code"), [("error", 1), ("warning", 1), ("info", 1), ("never", 0)]
)
def test_fail_on_controls_the_exit_code(fail_on, code):
    result = run("analyze", str(SAMPLES / "probs_as_logits.npy"), "--fail-on", fail_on)
    assert result.exit_code == code


def test_rich_report_names_the_input_the_losses_the_finding_and_the_verdict():
    result = run("analyze", str(SAMPLES / "probs_as_logits.npy"), "--labels", LABELS)
    out = result.stdout
    assert result.exit_code == 1
    for text in ("probs_as_logits.npy", "2,000 × 10", "float32", "loss paths",
                 "LC201 probabilities-as-logits", "fix (PyTorch)", "FAIL: 1 error"):
        assert text in out
    assert "\x1b[" not in out  # no colour codes without a terminal
    assert out.rstrip().splitlines()[-1] == "FAIL: 1 error (fail-on error, exit 1)"


# --- bad input: one line naming the file and the problem, exit 2, no traceback ---

def _bad(tmp_path, name: str, array) -> str:
    path = tmp_path / name
    np.save(path, array, allow_pickle=True)
    return str(path)


def test_missing_file(tmp_path):
    missing = str(tmp_path / "nope.npy")
    assert_clean_error(run("analyze", missing), missing, "no such file")


def test_pickled_object_array_is_refused_without_unpickling(tmp_path):
    path = _bad(tmp_path, "obj.npy", np.array([[object(), 1]], dtype=object))
    assert_clean_error(run("analyze", path), path, "pickled")


def test_string_dtype(tmp_path):
    path = _bad(tmp_path, "s.npy", np.array([["a", "b"], ["c", "d"]]))
    assert_clean_error(run("analyze", path), path, "strings")


def test_integer_logits(tmp_path):
    path = _bad(tmp_path, "i.npy", np.ones((3, 4), dtype=np.int32))
    assert_clean_error(run("analyze", path), path, "int32", "float16, float32 or float64")


def test_wrong_rank(tmp_path):
    path = _bad(tmp_path, "r.npy", np.zeros((), dtype=np.float32))
    assert_clean_error(run("analyze", path), path, "2-D", "()")


def test_no_class_columns(tmp_path):
    path = _bad(tmp_path, "c.npy", np.zeros((5, 0), dtype=np.float32))
    assert_clean_error(run("analyze", path), path, "no class columns")


def test_no_rows(tmp_path):
    path = _bad(tmp_path, "e.npy", np.zeros((0, 3), dtype=np.float32))
    assert_clean_error(run("analyze", path), path, "no rows")


def test_labels_of_the_wrong_length(tmp_path):
    z = _bad(tmp_path, "z.npy", np.zeros((10, 3), dtype=np.float32))
    y = _bad(tmp_path, "y.npy", np.zeros(9, dtype=np.int64))
    assert_clean_error(run("analyze", z, "--labels", y), y, "9 labels", "10 rows")


def test_labels_out_of_range(tmp_path):
    z = _bad(tmp_path, "z.npy", np.zeros((10, 3), dtype=np.float32))
    y = _bad(tmp_path, "y.npy", np.array([0, 1, 2, 3, 0, 1, -5, 0, 0, -100]))
    assert_clean_error(run("analyze", z, "--labels", y), y, "row 3", "label 3", "[0, 2]",
                       "2 such rows")


def test_labels_of_the_wrong_shape(tmp_path):
    z = _bad(tmp_path, "z.npy", np.zeros((10, 3), dtype=np.float32))
    y = _bad(tmp_path, "y.npy", np.zeros((10, 4)))
    assert_clean_error(run("analyze", z, "--labels", y), y, "shape (10, 4) does not match",
                       "logits (10, 3)")


def test_fractional_float_labels(tmp_path):
    z = _bad(tmp_path, "z.npy", np.zeros((3, 3), dtype=np.float32))
    y = _bad(tmp_path, "y.npy", np.array([0.0, 1.5, 2.0]))
    assert_clean_error(run("analyze", z, "--labels", y), y, "row 1", "1.5")


def test_whole_float_labels_are_accepted(tmp_path):
    z = _bad(tmp_path, "z.npy", np.zeros((3, 3), dtype=np.float32))
    y = _bad(tmp_path, "y.npy", np.array([0.0, 1.0, 2.0]))
    assert run("analyze", z, "--labels", y).exit_code == 0


def test_truncated_file(tmp_path):
    path = tmp_path / "t.npy"
    np.save(path, np.zeros((100, 10), dtype=np.float32))
    data = path.read_bytes()
    path.write_bytes(data[:-100])
    assert_clean_error(run("analyze", str(path)), str(path), "truncated", "4,000 bytes")


def test_not_an_npy_file(tmp_path):
    path = tmp_path / "fake.npy"
    path.write_bytes(pickle.dumps([1, 2, 3]))
    assert_clean_error(run("analyze", str(path)), str(path), "not a .npy file")


def test_garbled_header(tmp_path):
    path = tmp_path / "g.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': <f4'   \n")
    assert_clean_error(run("analyze", str(path)), str(path), "malformed .npy header")


def test_unsupported_extension(tmp_path):
    path = tmp_path / "z.txt"
    path.write_text("a,b\n1,2\n")
    assert_clean_error(run("analyze", str(path)), str(path), "unsupported format '.txt'")


def test_a_directory(tmp_path):
    d = tmp_path / "dir.npy"
    d.mkdir()
    assert run("analyze", str(d)).exit_code == 2


def test_python_dash_m_runs_the_cli():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "logitcheck", "analyze", str(SAMPLES / "healthy_logits.npy"),
         "--labels", LABELS, "--format", "json"],
        capture_output=True, text=True, check=False,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["exit_code"] == 0


def test_sample_data_is_what_the_script_makes(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.make(tmp_path)
    for path in SAMPLES.glob("*.npy"):
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_one_hot_rows_give_valid_json(tmp_path):
    z = save(tmp_path / "onehot.npy", np.eye(5, dtype=np.float32)[np.arange(100) % 5])
    y = save(tmp_path / "y.npy", np.arange(100) % 5)
    result, doc = run_json(z, "--labels", y)
    assert result.exit_code == 1
    assert doc["kind"]["name"] == "probabilities"
    assert doc["kind"]["evidence"]["max_log_ratio"] is None
    assert [f["code"] for f in doc["findings"]] == ["LC201"]
    assert doc["findings"][0]["evidence"]["loss_as_probabilities"] == 0.0


def test_ignore_index_rows_are_left_out_as_torch_does(tmp_path, labels):
    z = np.load(SAMPLES / "healthy_logits.npy")
    masked = labels.copy()
    masked[::3] = -100
    y = save(tmp_path / "y.npy", masked)
    result, doc = run_json(str(SAMPLES / "healthy_logits.npy"), "--labels", y)
    keep = masked != -100
    assert doc["metrics"]["rows"] == keep.sum()
    assert doc["metrics"]["ignored_rows"] == (~keep).sum()
    expected = exact_losses(z[keep], labels[keep]).mean()
    assert doc["metrics"]["loss_stable"] == pytest.approx(expected, rel=1e-12)
    # another ignore index, and the rows keep their numbers in the evidence
    masked[::3] = 7
    y = save(tmp_path / "y7.npy", np.where(keep, labels, 99))
    result, doc = run_json(str(SAMPLES / "fp32_underflow_logits.npy"), "--labels", y,
                           "--ignore-index", "99")
    finding = [f for f in doc["findings"] if f["code"] == "LC102"][0]
    zu = np.load(SAMPLES / "fp32_underflow_logits.npy").astype(np.float64)
    gap = zu.max(axis=1) - zu[np.arange(len(labels)), labels]
    assert finding["evidence"]["first_rows"] == np.flatnonzero((gap > 104.5) & keep)[:10].tolist()


def test_every_label_ignored_is_lc301(tmp_path):
    y = save(tmp_path / "y.npy", np.full(2000, -100))
    result, doc = run_json(str(SAMPLES / "healthy_logits.npy"), "--labels", y)
    assert result.exit_code == 1
    assert [f["code"] for f in doc["findings"]] == ["LC301"]
    assert doc["metrics"]["rows"] == 0 and doc["metrics"]["ignored_rows"] == 2000


def test_classes_that_never_occur_are_lc302(tmp_path, labels):
    y = save(tmp_path / "y.npy", np.where(labels == 4, 5, labels))
    result, doc = run_json(str(SAMPLES / "healthy_logits.npy"), "--labels", y)
    assert result.exit_code == 0
    [finding] = doc["findings"]
    assert (finding["code"], finding["severity"]) == ("LC302", "info")
    assert finding["evidence"]["first_missing"] == [4]
