"""--format sarif: valid SARIF 2.1.0 (against the schema in tests/data), one result per
finding with the right rule, level, file and baseline key.

tests/data/sarif-schema-2.1.0.json is the SARIF 2.1.0 (rtm.5) JSON schema as published by
OASIS and SchemaStore, taken from the npm package @microsoft/jest-sarif 1.0.0-beta.0
(lib/schemas/sarif-2.1.0-rtm.5.json), so the test runs offline.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from logitcheck.checks import REGISTRY
from logitcheck.cli.app import cli

jsonschema = pytest.importorskip("jsonschema")

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
SAMPLES = Path(__file__).resolve().parent.parent / "sample_data"


def validate(doc: dict) -> None:
    validator = jsonschema.Draft4Validator(SCHEMA)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def sarif(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, [*args, "--format", "sarif"], catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def test_the_schema_catches_a_broken_log():
    # the validation below can fail: a result without its message is not SARIF
    code, doc = sarif("analyze", str(SAMPLES / "probs_as_logits.npy"),
                      "--labels", str(SAMPLES / "labels.npy"))
    del doc["runs"][0]["results"][0]["message"]
    with pytest.raises(AssertionError):
        validate(doc)
    doc["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(AssertionError):
        validate(doc)


def test_analyze_sarif_is_valid_with_one_result_per_finding():
    code, doc = sarif("analyze", str(SAMPLES / "probs_as_logits.npy"),
                      "--labels", str(SAMPLES / "labels.npy"))
    validate(doc)
    assert code == 1
    assert doc["version"] == "2.1.0"
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "logitcheck"
    ids = [r["id"] for r in driver["rules"]]
    assert ids == sorted(ids) and "LC201" in ids and "LC401" not in ids  # analyze's rules
    lc201 = driver["rules"][ids.index("LC201")]
    assert lc201["shortDescription"]["text"] == REGISTRY["LC201"].summary
    assert lc201["defaultConfiguration"]["level"] == "error"
    assert REGISTRY["LC201"].fix["keras"] in lc201["help"]["text"]
    (result,) = [r for r in run["results"] if r["ruleId"] == "LC201"]
    assert result["level"] == "error"
    assert ids[result["ruleIndex"]] == "LC201"
    location = result["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": (SAMPLES / "probs_as_logits.npy").as_uri()}
    assert result["partialFingerprints"]["logitcheckFindingKey/v2"]
    assert "suppressions" not in result
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}  # .npy
    assert run["invocations"] == [{"executionSuccessful": True, "exitCode": 1}]


def test_relative_paths_are_relative_to_the_checkout(tmp_path, monkeypatch):
    import shutil

    shutil.copy(SAMPLES / "fp16_overflow_logits.npy", tmp_path / "fp16 logits.npy")
    shutil.copy(SAMPLES / "labels.npy", tmp_path / "labels.npy")
    monkeypatch.chdir(tmp_path)
    code, doc = sarif("analyze", "fp16 logits.npy", "--labels", "labels.npy")
    validate(doc)
    assert code == 0  # LC101 on the stable path: a warning
    (result,) = [r for r in doc["runs"][0]["results"] if r["ruleId"] == "LC101"]
    assert result["level"] == "warning"
    location = result["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "fp16%20logits.npy", "uriBaseId": "%SRCROOT%"}


def test_baselined_findings_are_suppressed_with_the_baseline_key(tmp_path):
    logits, labels = str(SAMPLES / "double_softmax.npy"), str(SAMPLES / "labels.npy")
    baseline = tmp_path / "baseline.json"
    result = CliRunner().invoke(cli, ["baseline", "write", str(baseline), logits,
                                      "--labels", labels])
    assert result.exit_code == 0, result.output
    keys = {f["key"] for f in json.loads(baseline.read_text())["findings"]}
    code, doc = sarif("analyze", logits, "--labels", labels, "--baseline", str(baseline))
    validate(doc)
    assert code == 0
    results = doc["runs"][0]["results"]
    assert results and {r["partialFingerprints"]["logitcheckFindingKey/v2"]
                        for r in results} == keys
    for r in results:
        assert r["suppressions"] == [{"kind": "external", "status": "accepted",
                                      "justification": f"accepted in {baseline}"}]


def test_compare_and_gaussian_sarif_are_valid():
    code, doc = sarif("compare", str(SAMPLES / "healthy_logits.npy"),
                      str(SAMPLES / "probs_as_logits.npy"))
    validate(doc)
    assert code == 1
    rules = {r["ruleId"] for r in doc["runs"][0]["results"]}
    assert "LC405" in rules
    uri = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri["uri"].endswith("probs_as_logits.npy")  # the candidate
    g = str(SAMPLES / "gaussian_fp16.npz")
    code, doc = sarif("gaussian", g, g, "--targets", g, "--mean-key", "mean",
                      "--scale-key", "log_std", "--targets-key", "targets")
    validate(doc)
    assert code == 1
    assert {"LC121", "LC122", "LC123"} <= {r["ruleId"] for r in doc["runs"][0]["results"]}


def test_a_batch_run_is_one_sarif_run_over_every_job(tmp_path):
    import shutil

    for f in SAMPLES.glob("*.np[yz]"):
        shutil.copy(f, tmp_path / f.name)
    shutil.copy(SAMPLES / "logitcheck.yaml", tmp_path / "logitcheck.yaml")
    (tmp_path / "broken.yaml").write_text(
        "version: 1\njobs:\n  - name: ok\n    logits: healthy_logits.npy\n"
        "  - name: broken\n    logits: truncated.npy\n")
    (tmp_path / "truncated.npy").write_bytes((SAMPLES / "healthy_logits.npy").read_bytes()[:200])
    code, doc = sarif("run", str(tmp_path / "logitcheck.yaml"))
    validate(doc)
    assert code == 1
    (run,) = doc["runs"]
    jobs = {r["properties"]["job"] for r in run["results"]}
    assert {"export-vs-reference", "precision-fp16_overflow_logits"} <= jobs
    assert all(r["message"]["text"].startswith(r["properties"]["job"] + ": ")
               for r in run["results"])
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "broken.yaml"), "--format", "sarif"])
    assert result.exit_code == 2
    doc = json.loads(result.stdout)
    validate(doc)
    (invocation,) = doc["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False and invocation["exitCode"] == 2
    (note,) = invocation["toolExecutionNotifications"]
    assert note["message"]["text"].startswith("broken: ") and "truncated.npy" in \
        note["message"]["text"]


def test_a_csv_finding_points_at_its_row_line(tmp_path):
    import numpy as np

    z = np.load(SAMPLES / "healthy_logits.npy")[:50].astype(np.float64)
    z[7, 3] = np.nan
    lines = ["c0,c1,c2,c3,c4,c5,c6,c7,c8,c9"] + [",".join(repr(float(v)) for v in row) for row in z]
    (tmp_path / "export.csv").write_text("\n".join(lines) + "\n")
    code, doc = sarif("analyze", str(tmp_path / "export.csv"))
    validate(doc)
    (result,) = [r for r in doc["runs"][0]["results"] if r["ruleId"] == "LC001"]
    # row 7 is the 9th line: the header, then rows 0..7
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 9}
    assert "line=9," in CliRunner().invoke(
        cli, ["analyze", str(tmp_path / "export.csv"), "--format", "github"]).stdout
