from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from click.testing import CliRunner

from logitcheck.cli.app import cli

from .conftest import SAMPLES, save
from .reference import exact_losses

LABELS = str(SAMPLES / "labels.npy")
HEALTHY = str(SAMPLES / "healthy_logits.npy")
ONE_LINE_ERROR = re.compile(r"^logitcheck: error: \S.*\n$")


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def compare_json(*args: str):
    result = run("compare", *args, "--format", "json")
    return result, (json.loads(result.stdout) if result.stdout else None)


def reference_drift(a: np.ndarray, b: np.ndarray) -> dict:
    """Independent float64 numbers: softmax then log (not log-softmax), plain numpy."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    diff = np.abs(b - a).max(axis=1)

    def softmax(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    p, q = softmax(a), softmax(b)
    kl = (p * (np.log(p) - np.log(q))).sum(axis=1)
    agree = a.argmax(axis=1) == b.argmax(axis=1)
    return {"diff": diff, "kl": kl, "agree": agree}


@pytest.fixture
def fp16_roundtrip(tmp_path) -> str:
    z = np.load(HEALTHY)
    return save(tmp_path / "fp16.npy", z.astype(np.float16).astype(np.float32))


def test_fp16_roundtrip_values_match_numpy_float64(fp16_roundtrip, labels):
    result, doc = compare_json(HEALTHY, fp16_roundtrip, "--labels", LABELS)
    assert result.exit_code == 0, result.stderr
    assert doc["command"] == "compare" and doc["kind"] is None
    assert [i["role"] for i in doc["inputs"]] == ["reference", "candidate", "labels"]
    m = doc["metrics"]
    a, b = np.load(HEALTHY), np.load(fp16_roundtrip)
    ref = reference_drift(a, b)
    assert m["rows"] == m["rows_compared"] == 2000 and m["classes"] == 10
    assert m["max_abs_diff"] == ref["diff"].max()  # a difference of floats: exact
    assert m["max_abs_diff_row"] == int(np.argmax(ref["diff"]))
    assert m["kl_mean"] == pytest.approx(ref["kl"].mean(), rel=1e-6, abs=1e-15)
    assert m["kl_max"] == pytest.approx(ref["kl"].max(), rel=1e-6)
    assert m["kl_max_row"] == int(np.argmax(ref["kl"]))
    assert 0 < m["kl_mean"] < 1e-5
    assert m["top1_agreement"] == ref["agree"].mean()
    assert m["top1_disagreeing_rows"] == int((~ref["agree"]).sum())
    assert m["first_top1_disagreeing_rows"] == [int(r) for r in np.flatnonzero(~ref["agree"])[:10]]
    la, lb = exact_losses(a, labels).mean(), exact_losses(b, labels).mean()
    assert m["loss_reference"] == pytest.approx(la, rel=1e-12)
    assert m["loss_candidate"] == pytest.approx(lb, rel=1e-12)
    assert m["loss_delta"] == pytest.approx(lb - la, abs=1e-12)
    assert m["kind_reference"]["name"] == m["kind_candidate"]["name"] == "logits"
    assert doc["findings"] == []


def test_result_does_not_depend_on_chunk_size_or_threads(fp16_roundtrip):
    docs = [
        compare_json(HEALTHY, fp16_roundtrip, "--labels", LABELS, *extra)[1]["metrics"]
        for extra in ([], ["--chunk-rows", "7"], ["--chunk-rows", "333"],
                      ["--chunk-rows", "1999", "--threads", "3"])
    ]
    assert all(d == docs[0] for d in docs[1:])


def test_probabilities_candidate_is_a_kind_change(labels):
    probs = str(SAMPLES / "probs_as_logits.npy")
    result, doc = compare_json(HEALTHY, probs, "--labels", LABELS)
    assert result.exit_code == 1
    codes = {f["code"]: f for f in doc["findings"]}
    assert set(codes) == {"LC401", "LC402", "LC404", "LC405"}
    assert codes["LC405"]["evidence"]["reference_kind"] == "logits"
    assert codes["LC405"]["evidence"]["candidate_kind"] == "probabilities"
    assert codes["LC401"]["severity"] == "warning"
    a, b = np.load(HEALTHY), np.load(probs)
    ref = reference_drift(a, b)
    assert codes["LC402"]["evidence"]["kl_mean"] == pytest.approx(ref["kl"].mean(), rel=1e-9)
    assert codes["LC402"]["evidence"]["kl_max_row"] == int(np.argmax(ref["kl"]))
    # the argmax survives a softmax: no LC403
    assert doc["metrics"]["top1_agreement"] == 1.0
    lb = exact_losses(b, labels).mean()
    assert codes["LC404"]["evidence"]["loss_candidate"] == pytest.approx(lb, rel=1e-12)
    for f in doc["findings"]:
        assert set(f["fix"]) == {"numpy", "pytorch", "keras", "jax"}


def test_double_softmax_candidate_is_a_kind_change():
    result, doc = compare_json(HEALTHY, str(SAMPLES / "double_softmax.npy"), "--labels", LABELS)
    assert result.exit_code == 1
    lc405 = next(f for f in doc["findings"] if f["code"] == "LC405")
    assert lc405["evidence"]["candidate_kind"] == "double_softmax"


def test_thresholds_and_top1_disagreement(tmp_path):
    z = np.load(HEALTHY)
    flipped = z.copy()
    flipped[[3, 50]] = -flipped[[3, 50]]  # the argmax moves on two rows
    path = save(tmp_path / "c.npy", flipped)
    result, doc = compare_json(HEALTHY, path, "--min-top1-agreement", "0.9995")
    lc403 = next(f for f in doc["findings"] if f["code"] == "LC403")
    assert lc403["evidence"]["first_rows"] == [3, 50]
    assert lc403["evidence"]["top1_agreement"] == 1998 / 2000
    _, doc = compare_json(HEALTHY, path, "--min-top1-agreement", "0.999", "--max-kl", "1e9",
                          "--max-abs-diff", "1e9")
    assert doc["findings"] == [] and doc["exit_code"] == 0
    assert doc["metrics"]["thresholds"] == {
        "max_abs_diff": 1e9, "max_kl": 1e9, "min_top1_agreement": 0.999, "max_loss_delta": 0.01
    }


def test_gate_options_apply_to_compare(fp16_roundtrip):
    args = ("compare", HEALTHY, fp16_roundtrip, "--max-abs-diff", "1e-4")
    assert run(*args).exit_code == 0  # LC401 is a warning
    assert run(*args, "--fail-on", "warning").exit_code == 1
    assert run(*args, "--severity", "LC401=error").exit_code == 1
    assert run(*args, "--severity", "LC401=error", "--exit-zero").exit_code == 0
    assert run(*args, "--fail-on", "warning", "--ignore", "LC4").exit_code == 0
    root = ET.fromstring(run(*args, "--format", "junit", "--fail-on", "warning").stdout)
    cases = list(root.iter("testcase"))
    assert [c.get("name").split()[0] for c in cases] == ["LC401", "LC402", "LC403", "LC404",
                                                        "LC405"]
    assert cases[0].find("failure") is not None and root.get("failures") == "1"
    assert root.find("testsuite").get("name") == fp16_roundtrip


def test_compare_baseline(tmp_path, fp16_roundtrip):
    base = tmp_path / "b.json"
    # a baseline written by analyze does not cover drift findings
    assert run("baseline", "write", str(base), HEALTHY).exit_code == 0
    args = ("compare", HEALTHY, fp16_roundtrip, "--max-abs-diff", "1e-4", "--fail-on", "warning")
    result = run(*args, "--baseline", str(base), "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["findings"][0]["baselined"] is False


@pytest.mark.parametrize(
    ("shape", "axis"),
    [((2000, 5), "axis 1 (classes): 10 vs 5"), ((1999, 10), "axis 0 (rows): 2,000 vs 1,999")],
)
def test_shape_mismatch_names_both_files_and_the_axis(tmp_path, shape, axis):
    path = save(tmp_path / "c.npy", np.zeros(shape, dtype=np.float32))
    result = run("compare", HEALTHY, path)
    assert result.exit_code == 2
    assert ONE_LINE_ERROR.match(result.stderr)
    assert HEALTHY in result.stderr and path in result.stderr and axis in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        [HEALTHY, str(SAMPLES / "missing.npy")],
        [HEALTHY, HEALTHY, "--labels", str(SAMPLES / "binary_logits.npy")],
        [HEALTHY, HEALTHY, "--max-kl", "-1"],
        [HEALTHY, HEALTHY, "--max-abs-diff", "abc"],
        [HEALTHY, HEALTHY, "--min-top1-agreement", "1.5"],
        [HEALTHY, HEALTHY, "--max-loss-delta", "-0.1"],
        [HEALTHY],
    ],
)
def test_compare_bad_input_is_one_line_exit_2(args):
    result = run("compare", *args, "--exit-zero")
    assert result.exit_code == 2
    assert ONE_LINE_ERROR.match(result.stderr), result.stderr


def test_nonfinite_rows_are_left_out(tmp_path):
    z = np.load(HEALTHY)
    c = z.copy()
    c[5, 2] = np.nan
    c[9, 0] = np.inf
    path = save(tmp_path / "c.npy", c)
    _, doc = compare_json(HEALTHY, path)
    m = doc["metrics"]
    assert m["rows_with_nonfinite_values"] == 2
    assert m["first_rows_with_nonfinite_values"] == [5, 9]
    assert m["rows_compared"] == 1998
    assert m["max_abs_diff"] == 0.0 and m["kl_mean"] == 0.0 and m["top1_agreement"] == 1.0


def test_binary_outputs_compare_as_two_logits(tmp_path):
    z = np.load(SAMPLES / "binary_logits.npy")
    path = save(tmp_path / "c.npy", (z + 0.5).astype(z.dtype))
    _, doc = compare_json(str(SAMPLES / "binary_logits.npy"), path)
    a = np.stack([np.zeros(z.size), z.astype(np.float64)], axis=1)
    b = np.stack([np.zeros(z.size), (z + 0.5).astype(z.dtype).astype(np.float64)], axis=1)
    ref = reference_drift(a, b)
    assert doc["metrics"]["kl_mean"] == pytest.approx(ref["kl"].mean(), rel=1e-9)
    assert doc["metrics"]["top1_agreement"] == ref["agree"].mean()


def test_compare_rich_report_shows_the_drift_table(fp16_roundtrip):
    result = run("compare", HEALTHY, fp16_roundtrip)
    assert "drift (candidate vs reference)" in result.stdout
    assert "logits → logits" in result.stdout
    assert result.stdout.splitlines()[-1] == "PASS: no findings (fail-on error, exit 0)"


def test_compare_leaves_ignored_labels_out_and_takes_one_hot_targets(tmp_path):
    import json

    import numpy as np
    from click.testing import CliRunner

    from logitcheck.cli.app import cli

    from .conftest import SAMPLES
    from .reference import exact_losses

    z = np.load(SAMPLES / "healthy_logits.npy")
    p = np.load(SAMPLES / "fp16_overflow_logits.npy")
    y = np.load(SAMPLES / "labels.npy")
    masked = y.copy()
    masked[::4] = -100
    np.save(tmp_path / "y.npy", masked)
    np.save(tmp_path / "onehot.npy", np.eye(10)[y])
    keep = masked != -100
    for labels, rows in (("y.npy", keep), ("onehot.npy", np.ones_like(keep))):
        result = CliRunner().invoke(cli, [
            "compare", str(SAMPLES / "healthy_logits.npy"),
            str(SAMPLES / "fp16_overflow_logits.npy"),
            "--labels", str(tmp_path / labels), "--format", "json"])
        assert result.exit_code in (0, 1), result.output
        m = json.loads(result.stdout)["metrics"]
        expected = exact_losses(z[rows], y[rows]).mean()
        assert m["loss_reference"] == pytest.approx(expected, rel=1e-12)
        assert m["loss_candidate"] == pytest.approx(
            exact_losses(p.astype(np.float64)[rows], y[rows]).mean(), rel=1e-12)
        assert m["rows_compared"] == 2000
