"""[tool.logitcheck] in pyproject.toml: defaults for analyze, the command line wins, bad
tables are exit 2 naming the file and key, `config show` prints them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from logitcheck.cli.app import cli
from logitcheck.cli.project_config import find_pyproject, load

from .conftest import SAMPLES, assert_clean_error


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project with the samples in data/, run from a subdirectory."""
    (tmp_path / "data").mkdir()
    for name in ("fp16_overflow_logits.npy", "labels.npy", "sigmoid_multilabel.npy"):
        shutil.copy(SAMPLES / name, tmp_path / "data" / name)
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def analyze(*args: str) -> tuple[int, dict]:
    result = run("analyze", "../data/fp16_overflow_logits.npy", "--labels",
                 "../data/labels.npy", "--format", "json", *args)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def test_defaults_apply_and_the_command_line_wins(project):
    assert analyze()[0] == 0  # LC101 on the stable path: a warning
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.logitcheck]\nloss-path = "naive"\n'
        'dtypes = ["bfloat16"]\nseverity = {LC104 = "warning"}\n')
    code, doc = analyze()
    assert code == 1 and doc["fail_on"] == "error"
    assert "bfloat16" in doc["metrics"]["naive"]
    assert doc["gate"]["severity"] == {"LC104": "warning"}
    lc101 = next(f for f in doc["findings"] if f["code"] == "LC101")
    assert lc101["severity"] == "error"  # --loss-path naive from pyproject
    code, doc = analyze("--loss-path", "stable")  # the command line wins
    assert code == 0
    assert next(f for f in doc["findings"] if f["code"] == "LC101")["severity"] == "warning"
    assert "bfloat16" in doc["metrics"]["naive"]  # the others still apply


def test_underscores_paths_and_the_nearest_table(project):
    baseline = project / "base.json"
    result = run("baseline", "write", str(baseline), "../data/fp16_overflow_logits.npy",
                 "--labels", "../data/labels.npy")
    assert result.exit_code == 0, result.output
    (project / "pyproject.toml").write_text(
        '[tool.logitcheck]\nfail_on = "warning"\nbaseline = "base.json"\n')
    # a pyproject.toml without the table is passed over, as ruff does
    (project / "sub" / "pyproject.toml").write_text('[project]\nname = "sub"\n')
    assert find_pyproject(Path.cwd()) == project / "pyproject.toml"
    code, doc = analyze()
    assert code == 0  # the warnings are baselined
    assert doc["fail_on"] == "warning" and doc["gate"]["baseline"] == str(baseline)
    assert all(f["baselined"] for f in doc["findings"])
    code, doc = analyze("--fail-on", "info")
    assert doc["fail_on"] == "info" and doc["gate"]["baseline"] == str(baseline)


@pytest.mark.parametrize(("table", "fragment"), [
    ('fail-on = "warn"', "[tool.logitcheck] fail-on: 'warn' is not one of error, warning"),
    ('fail-onn = "warning"', "[tool.logitcheck] fail-onn: unknown setting (did you mean "
                             "'fail-on'?)"),
    ("max-kl = 0.1", "[tool.logitcheck] max-kl: not an option of analyze"),
    ('threads = "2"', "[tool.logitcheck] threads: expected an integer, got str '2'"),
    ('select = ["LC9999"]', "[tool.logitcheck] select:"),
    ("fail-on = [", "not valid TOML"),
])
def test_a_bad_table_is_exit_2_naming_the_file_and_key(project, table, fragment):
    (project / "pyproject.toml").write_text(f"[tool.logitcheck]\n{table}\n")
    result = run("analyze", "../data/fp16_overflow_logits.npy")
    line = assert_clean_error(result, str(project / "pyproject.toml"), fragment)
    assert "internal error" not in line


def test_config_show_prints_the_pyproject_defaults(project):
    (project / "pyproject.toml").write_text(
        '[tool.logitcheck]\nfail-on = "warning"\nselect = "LC1,LC2"\ndtypes = "float16"\n')
    result = run("config", "show", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"defaults_from_pyproject": {
        "pyproject": str(project / "pyproject.toml"),
        "analyze": {"fail-on": "warning", "select": ["LC1", "LC2"], "dtypes": ["float16"]},
    }}
    shutil.copy(SAMPLES / "logitcheck.yaml", project / "sub" / "logitcheck.yaml")
    for name in ("healthy_logits.npy", "probs_as_logits.npy", "fp16_overflow_logits.npy",
                 "fp32_underflow_logits.npy", "gaussian.npz", "labels.npy"):
        shutil.copy(SAMPLES / name, project / "sub" / name)
    doc = json.loads(run("config", "show", "--format", "json").stdout)
    assert doc["config"] == "logitcheck.yaml" and len(doc["jobs"]) == 6
    assert doc["defaults_from_pyproject"]["analyze"]["fail-on"] == "warning"


def test_without_a_table_nothing_changes(project):
    (project / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert load().path is None and load().values == {}
    result = run("config", "show")  # no logitcheck.yaml and nothing from pyproject
    assert_clean_error(result, "logitcheck.yaml")


def test_baseline_write_takes_the_analysis_defaults_but_not_the_gate(project):
    # pyproject names a baseline that does not exist yet: baseline write must not read it,
    # and must record what analyze (with the same defaults) reports
    base = project / "base.json"
    args = ("baseline", "write", str(base), "../data/fp16_overflow_logits.npy", "--labels",
            "../data/labels.npy")
    assert run(*args).exit_code == 0
    assert [f["code"] for f in json.loads(base.read_text())["findings"]] == ["LC101"]
    base.unlink()
    (project / "pyproject.toml").write_text(
        '[tool.logitcheck]\nloss-path = "naive"\nignore = ["LC101"]\n'
        'baseline = "base.json"\nfail-on = "info"\n')
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert json.loads(base.read_text())["findings"] == []  # LC101 ignored, from pyproject
    code, doc = analyze()
    assert code == 0 and doc["fail_on"] == "info" and doc["findings"] == []
    assert doc["gate"]["baseline"] == str(base) and doc["gate"]["suppressed"] == {"LC101": 1}
