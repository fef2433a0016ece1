from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from logitcheck.cli.app import cli

from .conftest import SAMPLES, save

LABELS = str(SAMPLES / "labels.npy")
ERROR_FILE = str(SAMPLES / "probs_as_logits.npy")  # LC201, error
WARNING_FILE = str(SAMPLES / "sigmoid_multilabel.npy")  # LC207, warning
INFO_FILE = str(SAMPLES / "log_probs.npy")  # LC205, info
HEALTHY = str(SAMPLES / "healthy_logits.npy")
ONE_LINE_ERROR = re.compile(r"^logitcheck: error: \S.*\n$")


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def doc(*args: str) -> dict:
    result = run(*args, "--format", "json")
    return json.loads(result.stdout)


# (file, severity of its one finding)
SAMPLES_BY_SEVERITY = {"error": ERROR_FILE, "warning": WARNING_FILE, "info": INFO_FILE}
RANK = {"info": 1, "warning": 2, "error": 3, "never": 99}


@pytest.mark.parametrize("fail_on", ["error", "warning", "info", "never"])
@pytest.mark.parametrize("found", ["error", "warning", "info", "none", "input-error"])
@pytest.mark.parametrize("exit_zero", [False, True])
def test_exit_code_for_every_fail_on_exit_zero_and_input_error(fail_on, found, exit_zero):
    path = {"none": HEALTHY, "input-error": str(SAMPLES / "missing.npy")}.get(
        found, SAMPLES_BY_SEVERITY.get(found)
    )
    args = ["analyze", path, "--fail-on", fail_on] + (["--exit-zero"] if exit_zero else [])
    result = run(*args)
    if found == "input-error":
        expected = 2  # a run that could not be completed never exits 0
        assert ONE_LINE_ERROR.match(result.stderr)
    elif found == "none" or exit_zero:
        expected = 0
    else:
        expected = 1 if RANK[found] >= RANK[fail_on] else 0
    assert result.exit_code == expected


def test_each_sample_gives_the_finding_the_matrix_assumes():
    for severity, path in SAMPLES_BY_SEVERITY.items():
        [finding] = doc("analyze", path)["findings"]
        assert finding["severity"] == severity


def test_exit_zero_is_recorded_in_json():
    d = doc("analyze", ERROR_FILE, "--exit-zero")
    assert d["exit_code"] == 0 and d["gate"]["exit_zero"] is True
    assert d["findings"][0]["code"] == "LC201"


def test_ignore_by_prefix_suppresses_and_counts():
    result = run("analyze", ERROR_FILE, "--ignore", "LC2", "--format", "json")
    d = json.loads(result.stdout)
    assert result.exit_code == 0
    assert d["findings"] == []
    assert d["gate"]["ignore"] == ["LC2"]
    assert d["gate"]["suppressed"] == {"LC201": 1}
    assert all(code.startswith("LC2") for code in d["gate"]["skipped_rules"])
    assert "LC101" not in d["gate"]["skipped_rules"]


def test_select_comma_separated_and_repeatable():
    d = doc("analyze", ERROR_FILE, "--select", "LC0,LC1", "--select", "lc201")
    assert d["gate"]["select"] == ["LC0", "LC1", "LC201"]
    assert [f["code"] for f in d["findings"]] == ["LC201"]
    assert "LC202" in d["gate"]["skipped_rules"] and "LC101" not in d["gate"]["skipped_rules"]
    d = doc("analyze", ERROR_FILE, "--select", "LC1")
    assert d["findings"] == [] and d["exit_code"] == 0


def test_ignore_wins_over_select():
    d = doc("analyze", ERROR_FILE, "--select", "LC2", "--ignore", "LC201")
    assert d["findings"] == [] and d["gate"]["suppressed"] == {"LC201": 1}


def test_severity_override_changes_the_gate():
    result = run("analyze", WARNING_FILE, "--severity", "LC207=error", "--format", "json")
    d = json.loads(result.stdout)
    assert result.exit_code == 1
    assert d["findings"][0]["severity"] == "error"
    assert d["gate"]["severity"] == {"LC207": "error"}
    result = run("analyze", ERROR_FILE, "--severity", "lc201=info")
    assert result.exit_code == 0


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--select", "LC8"], "--select"),
        (["--ignore", "LC2,"], "--ignore"),
        (["--severity", "LC207"], "--severity"),
        (["--severity", "LC999=error"], "--severity"),
        (["--severity", "LC207=fatal"], "--severity"),
        (["--fail-on", "sometimes"], "--fail-on"),
        (["--format", "xml"], "--format"),
        (["--color", "sometimes"], "--color"),
        (["--chunk-rows", "0"], "--chunk-rows"),
        (["--baseline", "/nonexistent/baseline.json"], "/nonexistent/baseline.json"),
        (["-o", "/nonexistent/dir/out.json"], "/nonexistent/dir/out.json"),
        (["--junit-xml", "/nonexistent/dir/r.xml"], "/nonexistent/dir/r.xml"),
        (["--json-report", str(SAMPLES)], str(SAMPLES)),
        (["--summary-md", "/nonexistent/dir/s.md"], "/nonexistent/dir/s.md"),
    ],
)
def test_bad_option_is_one_line_and_exit_2(args, names):
    result = run("analyze", HEALTHY, *args)
    assert result.exit_code == 2
    assert ONE_LINE_ERROR.match(result.stderr), result.stderr
    assert names in result.stderr
    assert result.stdout == ""


def test_bad_baseline_files_are_exit_2(tmp_path):
    for name, text, problem in (
        ("not.json", "{", "invalid JSON"),
        ("other.json", '{"a": 1}', "not a baseline file"),
        ("keys.json", '{"logitcheck_baseline": "1", "findings": [1]}', "malformed baseline"),
    ):
        path = tmp_path / name
        path.write_text(text)
        result = run("analyze", HEALTHY, "--baseline", str(path))
        assert result.exit_code == 2
        assert ONE_LINE_ERROR.match(result.stderr) and problem in result.stderr
        assert str(path) in result.stderr


def test_baseline_accepts_known_findings_and_fails_on_new_ones(tmp_path):
    base = str(tmp_path / "baseline.json")
    result = run("baseline", "write", base, ERROR_FILE, "--labels", LABELS)
    assert result.exit_code == 0
    assert "wrote 1 finding" in result.stderr
    written = json.loads(Path(base).read_text())
    assert written["logitcheck_baseline"] == "2"
    assert written["inputs"] == ["probs_as_logits.npy", "labels.npy"]
    assert re.fullmatch(r"[0-9a-f]{64}", written["fingerprint"])
    assert [e["code"] for e in written["findings"]] == ["LC201"]
    assert re.fullmatch(r"[0-9a-f]{64}", written["findings"][0]["key"])

    # same file: the finding is still reported, marked baselined, and the run passes
    result = run("analyze", ERROR_FILE, "--labels", LABELS, "--baseline", base, "--format", "json")
    d = json.loads(result.stdout)
    assert result.exit_code == 0 and d["exit_code"] == 0
    assert [(f["code"], f["baselined"]) for f in d["findings"]] == [("LC201", True)]
    assert d["gate"]["baseline"] == base
    # chunking and threads do not change the keys
    assert run("analyze", ERROR_FILE, "--labels", LABELS, "--baseline", base,
               "--chunk-rows", "7", "--threads", "3").exit_code == 0

    # a new finding (another file) fails
    assert run("analyze", str(SAMPLES / "double_softmax.npy"), "--labels", LABELS,
               "--baseline", base).exit_code == 1


def test_baseline_of_a_healthy_run_fails_on_a_changed_file(tmp_path):
    base = str(tmp_path / "baseline.json")
    z = np.load(HEALTHY)
    path = save(tmp_path / "export.npy", z)
    assert run("baseline", "write", base, path, "--labels", LABELS).exit_code == 0
    assert json.loads(Path(base).read_text())["findings"] == []
    assert run("analyze", path, "--labels", LABELS, "--baseline", base).exit_code == 0
    # the same export after a softmax crept in: a new finding
    e = np.exp(z - z.max(axis=1, keepdims=True))
    save(tmp_path / "export.npy", (e / e.sum(axis=1, keepdims=True)).astype(np.float32))
    result = run("analyze", path, "--labels", LABELS, "--baseline", base, "--format", "json")
    assert result.exit_code == 1
    assert [(f["code"], f["baselined"]) for f in json.loads(result.stdout)["findings"]] == [
        ("LC201", False)
    ]


def test_baseline_survives_a_new_export_and_says_it_changed(tmp_path):
    base = str(tmp_path / "baseline.json")
    z = np.load(ERROR_FILE)
    path = save(tmp_path / "p.npy", z)
    assert run("baseline", "write", base, path).exit_code == 0
    result = run("analyze", path, "--baseline", base, "-q")
    assert (result.exit_code, result.stdout) == (0, "PASS: 0 new; 1 baselined (fail-on error, "
                                                    "exit 0)\n")
    # the nightly export: every value a little different, same file name, another directory
    nightly = tmp_path / "2026-12-06"
    nightly.mkdir()
    p = z * (1 + 0.01 * np.random.default_rng(3).random(z.shape))
    moved = save(nightly / "p.npy", (p / p.sum(axis=1, keepdims=True)).astype(z.dtype))
    result = run("analyze", moved, "--baseline", base, "-q")
    assert (result.exit_code, result.stdout) == (
        0, "PASS: 0 new; 1 baselined, the inputs changed since the baseline (fail-on error, "
        "exit 0)\n")
    d = doc("analyze", moved, "--baseline", base)
    assert d["gate"]["changed_since_baseline"] is True
    assert d["gate"]["baseline_fingerprint"] == json.loads(Path(base).read_text())["fingerprint"]
    assert [(f["code"], f["baselined"]) for f in d["findings"]] == [("LC201", True)]
    # another file name is another input: its findings are new
    other = save(tmp_path / "q.npy", z)
    result = run("analyze", other, "--baseline", base, "-q")
    assert (result.exit_code, result.stdout) == (
        1, "FAIL: 1 new (1 error); 0 baselined (fail-on error, exit 1)\n")


def test_baseline_findings_of_one_rule_differ_by_identity(tmp_path):
    from logitcheck.gate.baseline import finding_key
    from logitcheck.report.model import Finding, Severity

    def finding(dtype: str, rows: int) -> Finding:
        return Finding("LC104", "low-precision-headroom", Severity.INFO, "m",
                       {"dtype": dtype, "max_logit": 1999.0, "first_rows": [rows]}, {})

    names = ["p.npy"]
    assert finding_key(finding("float16", 1), names) == finding_key(finding("float16", 7), names)
    assert finding_key(finding("float16", 1), names) != finding_key(finding("bfloat16", 1), names)
    assert finding_key(finding("float16", 1), names) != finding_key(finding("float16", 1), ["q"])


def test_a_format_1_baseline_is_still_read(tmp_path):
    from logitcheck.gate.baseline import finding_key_v1
    from logitcheck.report.fingerprint import file_fingerprint
    from logitcheck.report.model import Finding, Severity

    z = np.load(ERROR_FILE)
    path = save(tmp_path / "p.npy", z)
    evidence = doc("analyze", path)["findings"][0]["evidence"]
    fingerprint = __import__("hashlib").sha256(file_fingerprint(path).encode()).hexdigest()
    key = finding_key_v1(Finding("LC201", "probabilities-as-logits", Severity.ERROR, "",
                                 evidence, {}), fingerprint)
    base = tmp_path / "v1.json"
    base.write_text(json.dumps({"logitcheck_baseline": "1", "findings": [{"key": key}]}))
    result = run("analyze", path, "--baseline", str(base), "-q")
    assert (result.exit_code, result.stdout) == (0, "PASS: 0 new; 1 baselined (fail-on error, "
                                                    "exit 0)\n")
    z[-1] = z[-1][::-1]  # format 1 keys hold the file's bytes: a changed file is new
    save(tmp_path / "p.npy", z)
    assert run("analyze", path, "--baseline", str(base)).exit_code == 1
    base.write_text(json.dumps({"logitcheck_baseline": "7", "findings": []}))
    result = run("analyze", path, "--baseline", str(base))
    assert result.exit_code == 2
    assert "baseline format '7' is not one this logitcheck reads (1, 2)" in result.stderr


def test_baseline_write_rejects_bad_input():
    result = run("baseline", "write", "/tmp/never-written.json", str(SAMPLES / "missing.npy"))
    assert result.exit_code == 2 and ONE_LINE_ERROR.match(result.stderr)
