"""The JSON report against its schema (docs/reference/report.schema.json): every sample's
report validates, the schema refuses what it should, and every metric it names is
explained in the docs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from logitcheck.cli.app import cli

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "docs/reference/report.schema.json").read_text())
S = str(ROOT / "sample_data")
GAUSSIAN = [f"{S}/gaussian_fp16.npz", f"{S}/gaussian_fp16.npz", "--targets",
            f"{S}/gaussian_fp16.npz", "--mean-key", "mean", "--scale-key", "log_std",
            "--targets-key", "targets"]

RUNS = [
    ["analyze", f"{S}/healthy_logits.npy", "--labels", f"{S}/labels.npy"],
    ["analyze", f"{S}/healthy_logits.npy", "--labels", f"{S}/labels.npy",
     "--expects", "probabilities"],
    ["analyze", f"{S}/probs_as_logits.npy", "--labels", f"{S}/labels.npy"],
    ["analyze", f"{S}/double_softmax.npy", "--labels", f"{S}/labels.npy"],
    ["analyze", f"{S}/log_probs.npy", "--labels", f"{S}/labels.npy",
     "--expects", "log-probabilities"],
    ["analyze", f"{S}/softmax_wrong_axis.npy", "--labels", f"{S}/labels.npy"],
    ["analyze", f"{S}/sigmoid_multilabel.npy"],
    ["analyze", f"{S}/fp16_overflow_logits.npy", "--labels", f"{S}/labels.npy",
     "--dtypes", "bfloat16", "--loss-path", "naive"],
    ["analyze", f"{S}/fp32_underflow_logits.npy", "--labels", f"{S}/labels.npy"],
    ["analyze", f"{S}/binary_probs.npy", "--labels", f"{S}/binary_labels.npy"],
    ["analyze", f"{S}/double_sigmoid.npy"],
    ["compare", f"{S}/healthy_logits.npy", f"{S}/probs_as_logits.npy",
     "--labels", f"{S}/labels.npy"],
    ["compare", f"{S}/healthy_logits.npy", f"{S}/double_softmax.npy"],
    ["gaussian", *GAUSSIAN],
]


def validate(doc: dict) -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert not errors, errors[:5]


def report(args: list[str]) -> dict:
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def test_the_schema_is_a_valid_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("args", RUNS, ids=lambda a: " ".join(Path(x).name for x in a[:2]))
def test_every_sample_report_validates(args):
    validate(report(args))


def test_non_finite_values_and_a_baseline_validate(tmp_path):
    z = np.load(f"{S}/healthy_logits.npy").copy()
    z[3, 2], z[7, 0] = np.nan, np.inf
    np.save(tmp_path / "nan.npy", z)
    doc = report(["analyze", str(tmp_path / "nan.npy"), "--labels", f"{S}/labels.npy"])
    validate(doc)
    assert doc["metrics"]["health"]["nan_values"] == 1
    baseline = tmp_path / "b.json"
    CliRunner().invoke(cli, ["baseline", "write", str(baseline), f"{S}/double_softmax.npy"])
    doc = report(["analyze", f"{S}/double_softmax.npy", "--baseline", str(baseline)])
    validate(doc)
    assert doc["gate"]["baseline"] == str(baseline) and doc["findings"][0]["baselined"]


def test_each_batch_job_report_validates(tmp_path):
    import shutil

    for f in Path(S).glob("*"):
        shutil.copy(f, tmp_path / f.name)
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "logitcheck.yaml"),
                                      "--format", "json"])
    assert result.exit_code == 1
    jobs = json.loads(result.stdout)["jobs"]
    assert {j["type"] for j in jobs} == {"analyze", "compare", "gaussian"}
    for job in jobs:
        validate(job["report"])


def test_the_schema_refuses_what_it_should():
    doc = report(RUNS[2])
    for change in (
        lambda d: d.update(schema_version="2"),
        lambda d: d["findings"][0].update(severity="fatal"),
        lambda d: d["findings"][0]["fix"].pop("jax"),
        lambda d: d["metrics"].update(an_undocumented_metric=1),
        lambda d: d.update(kind=None, command="compare"),
        lambda d: d.update(exit_code=2),
    ):
        broken = json.loads(json.dumps(doc))
        change(broken)
        with pytest.raises(AssertionError):
            validate(broken)


def test_every_metric_in_the_schema_is_explained_in_the_docs():
    docs = (ROOT / "docs/reference/json.md").read_text()
    gaussian_docs = (ROOT / "docs/guide/analyses.md").read_text()
    for branch in SCHEMA["allOf"]:
        command = branch["if"]["properties"]["command"]["const"]
        metrics = branch["then"]["properties"]["metrics"]["properties"]
        text = gaussian_docs if command == "gaussian" else docs
        for key in metrics:  # `key`, `metrics.key`, `metrics.key.<dtype>`, `a`, `key` in a list
            assert re.search(rf"[`,] ?(metrics\.)?{re.escape(key)}[`.]", text), (command, key)
