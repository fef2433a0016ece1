"""logitcheck run: YAML configs (validation, interpolation, globs, precedence), running and
the combined exit code, and the batch formats."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import click
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from logitcheck.batch import resolve
from logitcheck.batch.config import ConfigError
from logitcheck.cli.app import cli
from logitcheck.options import DEFAULTS, OPTIONS

from .conftest import SAMPLES, save

CONFIG = "logitcheck.yaml"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding a few sample files under short names."""
    for name in ("healthy_logits", "probs_as_logits", "sigmoid_multilabel", "labels",
                 "fp16_overflow_logits", "log_probs"):
        shutil.copy(SAMPLES / f"{name}.npy", tmp_path / f"{name}.npy")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(text: str, path: str = CONFIG) -> str:
    Path(path).write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env=env)


def run_json(*args: str) -> tuple[int, dict]:
    result = run("run", *args, "--format", "json")
    return result.exit_code, json.loads(result.stdout)


def error_of(text: str, env: dict[str, str] | None = None) -> str:
    write(text)
    with pytest.raises(ConfigError) as exc:
        resolve.load(CONFIG, env=env or {})
    return str(exc.value)


# --- precedence: built-in < defaults < job < command line ---

PRECEDENCE = """
version: 1
defaults:
  fail-on: warning
  dtypes: float16
  select: [LC1, LC2]
jobs:
  - name: inherits
    logits: healthy_logits.npy
  - name: overrides
    logits: healthy_logits.npy
    fail_on: info
    dtypes: []
    label-smoothing: 0.1
"""


def test_precedence_builtin_defaults_job(here):
    write(PRECEDENCE)
    inherits, overrides = resolve.load(CONFIG).jobs
    assert inherits.options == {**DEFAULTS, "fail_on": "warning", "extra_dtypes": "float16",
                                "select": ("LC1", "LC2")}
    assert overrides.options == {**DEFAULTS, "fail_on": "info", "extra_dtypes": "",
                                 "select": ("LC1", "LC2"), "label_smoothing": 0.1}
    assert inherits.origin["fail-on"] == "defaults" and overrides.origin["fail-on"] == "job"
    assert inherits.origin["threads"] == "built-in"
    assert overrides.settings.label_smoothing == 0.1 and overrides.settings.dtypes == ()


def test_precedence_command_line_overrides_every_job(here):
    write(PRECEDENCE)
    code, doc = run_json(CONFIG, "--fail-on", "error", "--select", "LC101")
    assert code == 0
    for job in doc["jobs"]:
        assert job["report"]["fail_on"] == "error"
        assert job["report"]["gate"]["select"] == ["LC101"]
    # options not given on the command line keep the config's values
    naive = [list(j["report"]["metrics"]["naive"]) for j in doc["jobs"]]
    assert naive == [["float16", "float32", "float64"], ["float32", "float64"]]
    overrides = resolve.load(CONFIG, {"fail_on": "never"}).jobs[1]
    assert overrides.options["fail_on"] == "never"
    assert overrides.origin["fail-on"] == "command line"


def test_command_line_default_values_do_not_override(here):
    # --threads 1 is click's default: only options actually given count
    write(PRECEDENCE.replace("fail-on: warning", "fail-on: warning\n  threads: 3"))
    code, doc = run_json(CONFIG)
    assert [j["report"]["fail_on"] for j in doc["jobs"]] == ["warning", "info"]
    assert [j.options["threads"] for j in resolve.load(CONFIG).jobs] == [3, 3]


def test_option_table_defaults_match_the_click_options():
    from logitcheck.cli.commands import run_command

    params = {p.name: p for p in run_command.params}
    for option in OPTIONS.values():
        param = params[option.param]
        default = param.get_default(click.Context(run_command))
        default = () if param.multiple and default not in ((), None) else default
        assert default == option.default, option.name
        assert f"--{option.name}" in params[option.param].opts


# --- interpolation ---


def test_interpolation_set_default_and_escape(here):
    write("""
    version: 1
    defaults:
      fail-on: ${FAIL_ON}
      threads: ${THREADS:-2}
    jobs:
      - name: ${NAME:-nightly}-$${literal}
        logits: ${DIR:-.}/healthy_logits.npy
    """)
    [job] = resolve.load(CONFIG, env={"FAIL_ON": "info", "DIR": str(here)}).jobs
    assert job.options["fail_on"] == "info"
    assert job.options["threads"] == 2  # a plain scalar is read as YAML reads it: an int
    assert job.name == "nightly-${literal}"
    assert job.inputs["logits"] == str(here / "healthy_logits.npy")
    [job] = resolve.load(CONFIG, env={"FAIL_ON": "error", "NAME": "x", "THREADS": "4"}).jobs
    assert (job.name, job.options["threads"]) == ("x-${literal}", 4)


def test_interpolation_unset_variable_is_an_error(here):
    text = """
    version: 1
    jobs:
      - name: a
        logits: healthy_logits.npy
        fail-on: ${FAIL_ON}
    """
    assert error_of(text) == (
        "logitcheck.yaml:5: jobs[0].fail-on: environment variable FAIL_ON is not set "
        "(use ${FAIL_ON:-default} for a default)"
    )
    assert resolve.load(CONFIG, env={"FAIL_ON": "never"}).jobs[0].options["fail_on"] == "never"


def test_interpolation_in_quoted_scalar_stays_a_string(here):
    text = """
    version: 1
    jobs:
      - name: a
        logits: healthy_logits.npy
        threads: "${N:-2}"
    """
    assert error_of(text) == (
        "logitcheck.yaml:5: jobs[0].threads: expected an integer, got str '2'"
    )


def test_unset_variable_through_the_cli_is_exit_2(here):
    write("version: 1\njobs:\n  - name: a\n    logits: ${EXPORT_DIR}/x.npy\n")
    result = run("run", CONFIG, env={"EXPORT_DIR": None})  # type: ignore[dict-item]
    assert result.exit_code == 2
    assert result.stderr == (
        "logitcheck: error: logitcheck.yaml:4: jobs[0].logits: environment variable "
        "EXPORT_DIR is not set (use ${EXPORT_DIR:-default} for a default)\n"
    )


# --- globs and {stem} ---


def test_glob_gives_one_job_per_file_with_stem_paired_labels(here, labels):
    for stem in ("b", "a"):
        save(here / f"run_{stem}.npy", np.load(SAMPLES / "healthy_logits.npy"))
        save(here / f"run_{stem}_labels.npy", labels)
    write("""
    version: 1
    jobs:
      - name: nightly
        logits: run_?.npy
        labels: "{stem}_labels.npy"
    """)
    jobs = resolve.load(CONFIG).jobs
    assert [j.name for j in jobs] == ["nightly-run_a", "nightly-run_b"]
    assert [j.inputs for j in jobs] == [
        {"logits": "run_a.npy", "labels": "run_a_labels.npy"},
        {"logits": "run_b.npy", "labels": "run_b_labels.npy"},
    ]
    code, doc = run_json(CONFIG, "--jobs", "*_b")
    assert code == 0 and [j["name"] for j in doc["jobs"]] == ["nightly-run_b"]
    assert doc["jobs"][0]["report"]["inputs"][1]["path"] == "run_b_labels.npy"


def test_glob_pairing_with_a_missing_labels_file(here, labels):
    save(here / "run_a.npy", np.load(SAMPLES / "healthy_logits.npy"))
    save(here / "run_b.npy", np.load(SAMPLES / "healthy_logits.npy"))
    save(here / "run_a_labels.npy", labels)
    assert error_of("""
    version: 1
    jobs:
      - name: nightly
        logits: run_?.npy
        labels: "{stem}_labels.npy"
    """) == (
        "logitcheck.yaml:5: jobs[0].labels: no such file 'run_b_labels.npy' "
        "(for logits: 'run_b.npy')"
    )


def test_paths_are_relative_to_the_config_file(here):
    (here / "conf").mkdir()
    write("""
    version: 1
    defaults:
      labels: ../labels.npy
    jobs:
      - name: a
        logits: ../healthy_logits.npy
    """, "conf/nightly.yaml")
    [job] = resolve.load("conf/nightly.yaml").jobs
    assert job.inputs == {"logits": "healthy_logits.npy", "labels": "labels.npy"}


# --- validation: every error names the file, the line and the key path ---

JOB = "version: 1\njobs:\n  - name: a\n    logits: healthy_logits.npy\n"

VALIDATION = {
    "unknown top-level key": (
        "version: 1\njob:\n  - name: a\n",
        "logitcheck.yaml:2: job: unknown key (did you mean 'jobs'?)",
    ),
    "unknown job key": (
        JOB + "    fail_onn: warning\n",
        "logitcheck.yaml:5: jobs[0].fail_onn: unknown key (did you mean 'fail-on'?)",
    ),
    "unknown key, no close match": (
        JOB + "    colour: red\n",
        "logitcheck.yaml:5: jobs[0].colour: unknown key",
    ),
    "unknown defaults key": (
        "version: 1\ndefaults:\n  max_kll: 1\njobs:\n  - name: a\n    logits: x.npy\n",
        "logitcheck.yaml:3: defaults.max_kll: unknown key (did you mean 'max-kl'?)",
    ),
    "wrong type": (
        JOB + "    threads: two\n",
        "logitcheck.yaml:5: jobs[0].threads: expected an integer, got str 'two'",
    ),
    "boolean is not a number": (
        JOB + "    ignore-index: true\n",
        "logitcheck.yaml:5: jobs[0].ignore-index: expected an integer, got bool True",
    ),
    "out of range": (
        JOB + "    label-smoothing: 1.5\n",
        "logitcheck.yaml:5: jobs[0].label-smoothing: 1.5 is out of range (must be >= 0.0 "
        "and < 1.0)",
    ),
    "bad choice": (
        JOB + "    fail-on: warn\n",
        "logitcheck.yaml:5: jobs[0].fail-on: 'warn' is not one of error, warning, info, never",
    ),
    "bad rule code": (
        JOB + "    select: [LC2, LC999]\n",
        "logitcheck.yaml:5: jobs[0].select: 'LC999' matches no rule code; 'logitcheck rules' "
        "lists them",
    ),
    "bad severity": (
        JOB + "    severity: {LC207: fatal}\n",
        "logitcheck.yaml:5: jobs[0].severity: 'fatal' for LC207 is not one of error, "
        "warning, info",
    ),
    "bad dtype": (
        JOB + "    dtypes: [float8]\n",
        "logitcheck.yaml:5: jobs[0].dtypes: unknown dtype 'float8' (choose from float16, "
        "bfloat16, float32, float64)",
    ),
    "mapping expected": (
        "version: 1\ndefaults: [1]\njobs: []\n",
        "logitcheck.yaml:2: defaults: expected a mapping, got a list",
    ),
    "missing version": (
        "jobs:\n  - name: a\n",
        "logitcheck.yaml:1: missing key 'version' (expected version: 1)",
    ),
    "unsupported version": (
        "version: 2\njobs: []\n",
        "logitcheck.yaml:1: version: unsupported version 2 (expected 1)",
    ),
    "no jobs": (
        "version: 1\njobs: []\n",
        "logitcheck.yaml:2: jobs: expected a non-empty list of jobs, got an empty list",
    ),
    "missing name": (
        "version: 1\njobs:\n  - logits: healthy_logits.npy\n",
        "logitcheck.yaml:3: jobs[0]: missing key 'name'",
    ),
    "missing input": (
        "version: 1\njobs:\n  - name: a\n    labels: labels.npy\n",
        "logitcheck.yaml:3: jobs[0]: missing key 'logits'",
    ),
    "bad job type": (
        JOB + "    type: comparison\n",
        "logitcheck.yaml:5: jobs[0].type: 'comparison' is not one of analyze, compare, gaussian",
    ),
    "duplicate key": (
        JOB + "    fail-on: info\n    fail-on: error\n",
        "logitcheck.yaml:6: jobs[0].fail-on: duplicate key",
    ),
    "same key spelled twice": (
        JOB + "    fail-on: info\n    fail_on: error\n",
        "logitcheck.yaml:6: jobs[0].fail_on: duplicate key (also given as 'fail-on')",
    ),
    "duplicate job name": (
        JOB + "  - name: a\n    logits: log_probs.npy\n",
        "logitcheck.yaml:5: jobs[1].name: duplicate job name 'a' (also jobs[0])",
    ),
    "missing file": (
        "version: 1\njobs:\n  - name: a\n    logits: missing.npy\n",
        "logitcheck.yaml:4: jobs[0].logits: no such file 'missing.npy'",
    ),
    "missing labels": (
        JOB + "    labels: nolabels.npy\n",
        "logitcheck.yaml:5: jobs[0].labels: no such file 'nolabels.npy'",
    ),
    "missing baseline": (
        "version: 1\ndefaults:\n  baseline: base.json\njobs:\n  - name: a\n    logits: x\n",
        "logitcheck.yaml:3: defaults.baseline: no such file 'base.json'",
    ),
    "glob matches nothing": (
        "version: 1\njobs:\n  - name: a\n    logits: exports/*.npy\n",
        "logitcheck.yaml:4: jobs[0].logits: the glob 'exports/*.npy' matches no file",
    ),
    "compare option on an analyze job": (
        JOB + "    max-kl: 0.1\n",
        "logitcheck.yaml:5: jobs[0].max-kl: applies to compare jobs only",
    ),
    "analyze input on a compare job": (
        "version: 1\njobs:\n  - name: a\n    type: compare\n    logits: x.npy\n",
        "logitcheck.yaml:5: jobs[0].logits: not a key of compare jobs (it belongs to analyze "
        "jobs; set type: analyze)",
    ),
    "unknown expectation": (
        JOB + "    expect:\n      max-los: 1\n",
        "logitcheck.yaml:6: jobs[0].expect.max-los: unknown key (did you mean 'max-loss'?)",
    ),
    "unknown kind": (
        JOB + "    expect: {kind: logit}\n",
        "logitcheck.yaml:5: jobs[0].expect.kind: 'logit' is not a kind (did you mean "
        "'logits'?); kinds: logits, probabilities, log_probabilities, double_softmax, "
        "sigmoid_probabilities, double_sigmoid, softmax_wrong_axis, binary_logits, "
        "binary_probabilities",
    ),
    "negative max-loss": (
        JOB + "    labels: labels.npy\n    expect: {max-loss: -1}\n",
        "logitcheck.yaml:6: jobs[0].expect.max-loss: expected a number >= 0, got -1",
    ),
    "max-loss without labels": (
        JOB + "    expect:\n      max-loss: 1\n",
        "logitcheck.yaml:6: jobs[0].expect.max-loss: needs labels (there is no loss without "
        "them)",
    ),
    "naive failures on a compare job": (
        "version: 1\njobs:\n  - name: a\n    type: compare\n    reference: log_probs.npy\n"
        "    candidate: log_probs.npy\n    expect: {max-naive-failures: 0}\n",
        "logitcheck.yaml:7: jobs[0].expect.max-naive-failures: unknown key for compare jobs",
    ),
    "forbid an unknown code": (
        JOB + "    expect: {forbid: [LC7]}\n",
        "logitcheck.yaml:5: jobs[0].expect.forbid: 'LC7' matches no rule code; "
        "'logitcheck rules' lists them",
    ),
    "python tag": (
        JOB + "    fail-on: !!python/object:os.system echo\n",
        "logitcheck.yaml:5: jobs[0].fail-on: the tag 'tag:yaml.org,2002:python/object:"
        "os.system' is not allowed (plain YAML only: strings, numbers, booleans, null, "
        "lists, mappings)",
    ),
    "custom tag": (
        JOB + "    threads: !env THREADS\n",
        "logitcheck.yaml:5: jobs[0].threads: the tag '!env' is not allowed (plain YAML only: "
        "strings, numbers, booleans, null, lists, mappings)",
    ),
    "merge key": (
        "version: 1\nx: &d {fail-on: info}\njobs:\n  - <<: *d\n    name: a\n",
        "logitcheck.yaml:4: jobs[0]: merge keys (<<) are not supported; shared settings go "
        "in defaults:",
    ),
    "invalid YAML": (
        "version: 1\njobs:\n  - name: a\n   logits: [x\n",
        "logitcheck.yaml:4: invalid YAML: expected <block end>, but found '<block mapping start>'",
    ),
    "malformed variable": (
        JOB + "    labels: ${LABELS\n",
        "logitcheck.yaml:5: jobs[0].labels: malformed variable reference '${LABELS' "
        "(use ${VAR} or ${VAR:-default})",
    ),
    "empty file": ("", "logitcheck.yaml:1: the file is empty; expected version: 1 and jobs:"),
}


@pytest.mark.parametrize("name", list(VALIDATION))
def test_validation_error(here, name):
    text, message = VALIDATION[name]
    Path(CONFIG).write_text(text)
    with pytest.raises(ConfigError) as exc:
        resolve.load(CONFIG, env={})
    assert str(exc.value) == message


@pytest.mark.parametrize("command", [("run",), ("config", "validate"), ("config", "show")])
def test_validation_errors_are_one_line_and_exit_2_before_anything_runs(here, command):
    write(JOB + "    fail-on: warn\n")
    result = run(*command, "--json-report", "r.json") if command == ("run",) else run(*command)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == ("logitcheck: error: logitcheck.yaml:5: jobs[0].fail-on: 'warn' "
                             "is not one of error, warning, info, never\n")
    assert not Path("r.json").exists()


def test_missing_config_file(here):
    result = run("run")
    assert (result.exit_code, result.stderr) == (
        2, "logitcheck: error: logitcheck.yaml: no such config file\n")


def test_billion_laughs_is_refused(here):
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    write("version: 1\n" + "\n".join(lines) + "\njobs: []\n")
    with pytest.raises(ConfigError) as exc:
        resolve.load(CONFIG)
    # the 10,001st repeated value is deep inside the expansion of a4; the line is that value's
    assert str(exc.value) == ("logitcheck.yaml:2: a4[0][2][0][6][7]: aliases expand to more "
                              "than 10,000 repeated values (an alias bomb?); refused")


def test_many_aliases_are_refused(here):
    write("version: 1\nx: &x 1\ny: [" + ", ".join(["*x"] * 101) + "]\njobs: []\n")
    with pytest.raises(ConfigError) as exc:
        resolve.load(CONFIG)
    assert str(exc.value) == "logitcheck.yaml:3: more than 100 aliases; refused"


def test_a_recursive_alias_is_refused(here):
    write("version: 1\nx: &x [*x]\njobs: []\n")
    with pytest.raises(ConfigError) as exc:
        resolve.load(CONFIG)
    assert str(exc.value).startswith("logitcheck.yaml:2: x[0][0]")


# --- running ---

MIXED = """
version: 1
defaults:
  labels: labels.npy
jobs:
  - name: healthy
    logits: healthy_logits.npy
  - name: probs
    logits: probs_as_logits.npy
  - name: broken
    logits: broken.npy
  - name: sigmoid
    logits: sigmoid_multilabel.npy
    labels: null
  - name: drift
    type: compare
    reference: healthy_logits.npy
    candidate: log_probs.npy
"""


def _strip_timings(doc: dict) -> dict:
    for job in doc["jobs"]:
        if "report" in job:
            job["report"].pop("timings", None)
    return doc


def test_exit_code_combines_pass_fail_and_error_and_every_job_runs(here):
    Path("broken.npy").write_bytes(b"\x93NUMPY not really")
    write(MIXED)
    code, doc = run_json(CONFIG)
    assert code == 2
    assert doc["exit_code"] == 2
    statuses = {j["name"]: j["status"] for j in doc["jobs"]}
    assert statuses == {"healthy": "pass", "probs": "fail", "broken": "error",
                        "sigmoid": "warn", "drift": "fail"}
    broken = doc["jobs"][2]
    assert set(broken) == {"name", "type", "status", "error"}
    assert broken["error"].startswith("broken.npy: ")
    assert [f["code"] for f in doc["jobs"][1]["report"]["findings"]] == ["LC201"]
    assert [f["code"] for f in doc["jobs"][4]["report"]["findings"]] == ["LC405", "LC401"]
    assert run("run", CONFIG, "--jobs", "healthy", "--jobs", "p*").exit_code == 1
    assert run("run", CONFIG, "--jobs", "healthy", "--jobs", "sigmoid").exit_code == 0
    assert run("run", CONFIG, "--jobs", "healthy", "--fail-on", "warning").exit_code == 0
    assert run("run", CONFIG, "--jobs", "sigmoid", "--fail-on", "warning").exit_code == 1
    # --exit-zero: findings never fail, but a job that could not run still exits 2
    assert run("run", CONFIG, "--exit-zero", "--jobs", "[!b]*").exit_code == 0
    assert run("run", CONFIG, "--exit-zero").exit_code == 2


def test_unknown_job_name_is_exit_2(here):
    write(MIXED.replace("broken.npy", "healthy_logits.npy"))
    result = run("run", CONFIG, "--jobs", "nightly")
    assert result.exit_code == 2
    assert result.stderr == ("logitcheck: error: logitcheck.yaml: --jobs 'nightly' matches no "
                             "job (jobs: healthy, probs, broken, sigmoid, drift)\n")


def test_parallel_and_serial_runs_give_the_same_reports(here):
    Path("broken.npy").write_bytes(b"\x93NUMPY not really")
    write(MIXED)
    serial = run_json(CONFIG)
    parallel = run_json(CONFIG, "-j", "4")
    assert serial[0] == parallel[0] == 2
    assert _strip_timings(serial[1]) == _strip_timings(parallel[1])
    chunked = run_json(CONFIG, "-j", "3", "--threads", "2", "--chunk-rows", "300")
    assert _strip_timings(chunked[1]) == _strip_timings(serial[1])


def test_expectations_met_and_unmet(here):
    write("""
    version: 1
    defaults: {labels: labels.npy}
    jobs:
      - name: met
        logits: healthy_logits.npy
        expect: {kind: logits, max-loss: 0.76, max-naive-failures: 0, forbid: [LC1, LC2]}
      - name: unmet
        logits: fp16_overflow_logits.npy
        expect: {kind: probabilities, max-loss: 0.78, max-naive-failures: 111, forbid: LC101}
      - name: compare
        type: compare
        reference: healthy_logits.npy
        candidate: probs_as_logits.npy
        select: [LC9]
        expect: {kind: logits, max-loss: 2}
    """)
    code, doc = run_json(CONFIG)
    assert code == 1
    met, unmet, compare = doc["jobs"]
    assert met["status"] == "pass" and met["report"]["findings"] == []
    evidence = [f["evidence"] for f in unmet["report"]["findings"] if f["code"] == "LC901"]
    assert evidence == [
        {"expectation": "kind", "expected": "probabilities", "actual": "logits"},
        {"expectation": "max-loss", "expected": 0.78, "actual": 0.783578353202683},
        {"expectation": "max-naive-failures", "expected": 111, "actual": 112},
        {"expectation": "forbid", "expected": ["LC101"], "actual": "LC101"},
    ]
    messages = [f["message"] for f in unmet["report"]["findings"] if f["code"] == "LC901"]
    assert messages[1] == "expected a mean stable loss of at most 0.78, got 0.783578"
    assert messages[2] == ("expected at most 111 rows where a naive path fails in the "
                           "storage dtype float16, got 112")
    assert messages[3] == "LC101 naive-overflow fired, which expect.forbid forbids"
    # compare: the candidate's kind and loss; --select LC9 keeps only the expectations
    assert [(f["code"], f["evidence"]["expectation"]) for f in compare["report"]["findings"]] \
        == [("LC901", "kind")]


def test_expectations_go_through_the_gate(here):
    write("""
    version: 1
    jobs:
      - name: a
        logits: probs_as_logits.npy
        severity: {LC901: warning}
        expect: {kind: logits}
    """)
    code, doc = run_json(CONFIG)
    [job] = doc["jobs"]
    assert [(f["code"], f["severity"]) for f in job["report"]["findings"]] == [
        ("LC201", "error"), ("LC901", "warning")]
    assert code == 1
    code, doc = run_json(CONFIG, "--ignore", "LC201")
    assert code == 0 and doc["jobs"][0]["status"] == "warn"
    assert doc["jobs"][0]["report"]["gate"]["skipped_rules"] == ["LC201"]


# --- outputs ---


def test_formats_compose_the_single_report_renderers(here):
    Path("broken.npy").write_bytes(b"\x93NUMPY not really")
    write(MIXED)
    result = run("run", CONFIG, "--format", "junit", "--json-report", "r.json",
                 "--summary-md", "s.md", "-o", "r.xml")
    assert result.exit_code == 2 and result.stdout == ""
    assert "logitcheck run logitcheck.yaml" in result.stderr  # the human report
    root = ET.parse("r.xml").getroot()
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["healthy", "probs", "broken", "sigmoid", "drift"]
    assert suites[0].get("file") == "healthy_logits.npy"
    assert (root.get("failures"), root.get("errors")) == ("2", "1")
    assert suites[2].find("testcase/error").get("message").startswith("broken.npy: ")
    assert suites[0].find("testcase[@name='LC901 expectation-unmet']") is not None
    assert json.loads(Path("r.json").read_text())["exit_code"] == 2
    md = Path("s.md").read_text()
    assert md.startswith("# logitcheck run: logitcheck.yaml\n\n**FAIL: 5 jobs: 1 pass, 1 warn, "
                         "2 fail, 1 error (exit 2)**\n")
    assert "| probs | fail | probabilities | 1.80827 | LC201 |" in md
    assert "## probs: logitcheck analyze: probs_as_logits.npy" in md

    github = run("run", CONFIG, "--format", "github").stdout.splitlines()
    assert "::error file=probs_as_logits.npy,title=probs%3A LC201 probabilities-as-logits::" \
        in "\n".join(github)
    assert any(line.startswith("::error title=logitcheck broken::broken.npy: ")
               for line in github)
    assert github[-1] == ("::notice title=logitcheck run::FAIL: 5 jobs: 1 pass, 1 warn, 2 fail,"
                          " 1 error (exit 2)")


def test_rich_report_summary_and_quiet(here):
    write(MIXED.replace("broken.npy", "healthy_logits.npy"))
    full = run("run", CONFIG).stdout
    assert full.splitlines()[0].strip() == "logitcheck run logitcheck.yaml"
    assert "│ probs │ fail │ probabilities │ 1.80827 │ LC201" in re.sub(" +", " ", full)
    assert full.count("holds:") == 4  # each analyze job's own report
    assert full.rstrip().endswith("FAIL: 5 jobs: 2 pass, 1 warn, 2 fail (exit 1)")
    quiet = run("run", CONFIG, "-q").stdout
    assert "healthy · pass" not in quiet and "probs · fail" in quiet and "drift · fail" in quiet


def test_config_show_prints_resolved_jobs(here):
    write(PRECEDENCE)
    shown = yaml.safe_load(run("config", "show", CONFIG).stdout)
    as_json = json.loads(run("config", "show", CONFIG, "--format", "json").stdout)
    assert shown == as_json
    overrides = shown["jobs"][1]
    assert overrides["logits"] == "healthy_logits.npy" and overrides["labels"] is None
    assert overrides["settings"]["fail-on"] == "info"
    assert overrides["settings"]["select"] == ["LC1", "LC2"]
    assert overrides["settings"]["dtypes"] == []
    assert overrides["origin"] == {"fail-on": "job", "select": "defaults", "label-smoothing":
                                   "job", "dtypes": "job"}
    assert "max-kl" not in overrides["settings"]  # a compare setting
    result = run("config", "validate", CONFIG)
    assert (result.exit_code, result.stdout) == (0, "logitcheck.yaml: ok, 2 jobs\n")


def test_the_sample_config_runs(samples):
    code, doc = run_json(str(samples / "logitcheck.yaml"))
    assert code == 1
    statuses = {j["name"]: j["status"] for j in doc["jobs"]}
    assert statuses == {
        "healthy": "pass",
        "probs-as-logits": "fail",
        "precision-fp16_overflow_logits": "fail",
        "precision-fp32_underflow_logits": "fail",
        "export-vs-reference": "fail",
        "regression-head": "pass",
    }


def test_a_batch_run_as_one_html_page(samples, tmp_path):
    page = tmp_path / "run.html"
    result = CliRunner().invoke(cli, ["run", str(samples / "logitcheck.yaml"), "-q",
                                      "--html", str(page)])
    assert result.exit_code == 1, result.output
    text = page.read_text()
    for job in ("healthy", "probs-as-logits", "export-vs-reference", "regression-head"):
        assert f"<td>{job}</td>" in text
    assert text.count("<section>") == 6
