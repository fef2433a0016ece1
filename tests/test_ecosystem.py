"""The GitHub Action (action.yml) and the pre-commit hooks (.pre-commit-hooks.yaml): their
command lines, read from the YAML, run on the sample data as GitHub and pre-commit run them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_data"


def _env(**more: str) -> dict[str, str]:
    """This interpreter's `logitcheck` first on PATH, running this checkout's code."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PATH": path, "PYTHONPATH": pythonpath, **more}


def run_action(inputs: dict[str, str], workdir: Path) -> tuple[int, str, str, dict[str, str]]:
    """Run action.yml's steps as a runner does: `if` on the inputs, ${{ inputs.x }} in env,
    bash -eo pipefail, GITHUB_ACTION_PATH, GITHUB_STEP_SUMMARY and GITHUB_OUTPUT files.
    Returns (exit code of the last step run, its stdout, the summary, the outputs)."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    given = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
    assert set(inputs) <= set(given), set(inputs) - set(given)
    given.update(inputs)
    assert action["runs"]["using"] == "composite"
    summary, outputs = workdir / "summary.md", workdir / "outputs.txt"
    summary.write_text("")
    outputs.write_text("")
    code, stdout = 0, ""
    for step in action["runs"]["steps"]:
        condition = step.get("if")
        if condition is not None:
            m = re.fullmatch(r"inputs\.([\w-]+) == '(.*)'", condition)
            assert m, condition  # the only form of condition the test understands
            if given[m.group(1)] != m.group(2):
                continue
        env = {k: re.sub(r"\$\{\{ inputs\.([\w-]+) \}\}", lambda m: given[m.group(1)], v)
               for k, v in step.get("env", {}).items()}
        assert "${{" not in step["run"]  # inputs reach the script through env only
        assert step["shell"] == "bash"
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=workdir, capture_output=True, text=True, timeout=300,
            env=_env(GITHUB_ACTION_PATH=str(ROOT), GITHUB_STEP_SUMMARY=str(summary),
                     GITHUB_OUTPUT=str(outputs), PIP_DRY_RUN="1", PIP_NO_DEPS="1",
                     PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0", **env),
        )
        code, stdout = proc.returncode, proc.stdout
        if code:
            break
    outs = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    return code, stdout, summary.read_text(), outs


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    for f in SAMPLES.glob("*"):
        if f.suffix in (".npy", ".npz", ".yaml"):
            shutil.copy(f, tmp_path / f.name)
    return tmp_path


def test_action_installs_from_its_checkout(workdir):
    # pip runs in dry-run mode (PIP_DRY_RUN): the install line resolves this checkout
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    install = action["runs"]["steps"][0]
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", install["run"]],
        cwd=workdir, capture_output=True, text=True, timeout=300,
        env=_env(GITHUB_ACTION_PATH=str(ROOT), LOGITCHECK_VERSION="", PIP_DRY_RUN="1",
                 PIP_NO_DEPS="1", PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0"),
    )
    assert proc.returncode == 0, proc.stderr
    assert "Would install logitcheck-" in proc.stdout


def test_action_annotates_findings_and_writes_the_summary(workdir):
    code, stdout, summary, outputs = run_action(
        {"args": "probs_as_logits.npy --labels labels.npy", "install": "false",
         "json-report": "report.json"}, workdir)
    assert code == 1 and outputs == {"exit-code": "1"}
    lines = stdout.splitlines()
    assert any(line.startswith("::error file=probs_as_logits.npy,title=LC201 "
                               "probabilities-as-logits::") for line in lines)
    assert lines[-1].startswith("::notice title=logitcheck::FAIL: ")
    assert "LC201" in summary and summary.startswith("#")
    assert json.loads((workdir / "report.json").read_text())["exit_code"] == 1


def test_action_passes_a_healthy_export_and_splits_quoted_args(workdir):
    shutil.copy(workdir / "healthy_logits.npy", workdir / "healthy logits.npy")
    code, stdout, summary, outputs = run_action(
        {"args": "'healthy logits.npy' --labels labels.npy --fail-on warning",
         "install": "false"}, workdir)
    assert code == 0 and outputs == {"exit-code": "0"}
    assert stdout.splitlines() == ["::notice title=logitcheck::PASS: no findings "
                                   "(fail-on warning, exit 0)"]
    assert "PASS" in summary


def test_action_runs_a_batch_config(workdir):
    code, stdout, summary, outputs = run_action(
        {"command": "run", "args": "logitcheck.yaml", "install": "false"}, workdir)
    assert code == 1 and outputs == {"exit-code": "1"}
    title = "title=export-vs-reference%3A LC405 kind-changed::"  # ':' escaped in a property
    assert f"::error file=probs_as_logits.npy,{title}" in stdout
    assert "export-vs-reference" in summary


def _hook_command(hook: dict, files: list[str]) -> list[str]:
    """The command pre-commit runs: entry, args, then the staged files that match `files`
    (unless pass_filenames is false)."""
    command = shlex.split(hook["entry"]) + list(hook.get("args", []))
    matching = [f for f in files if re.search(hook.get("files", ""), f)]
    if not matching:
        return []
    return command + (matching if hook.get("pass_filenames", True) else [])


def test_pre_commit_hooks_run_on_the_sample_exports(workdir):
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"logitcheck", "logitcheck-inspect"}
    for hook in hooks.values():
        assert hook["language"] == "python"
    staged = sorted(f.name for f in workdir.iterdir()) + ["README.md", "src/model.py"]
    # the batch hook: the sample config fails (four of its jobs do)
    command = _hook_command(hooks["logitcheck"], staged)
    assert command == ["logitcheck", "run", "-q"]
    proc = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=300,
                          env=_env())
    assert proc.returncode == 1, proc.stderr
    assert "FAIL" in proc.stdout
    # ... and passes on a config of healthy exports only
    (workdir / "logitcheck.yaml").write_text(
        "version: 1\njobs:\n  - name: healthy\n    logits: healthy_logits.npy\n"
        "    labels: labels.npy\n")
    proc = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=300,
                          env=_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # not run when no export or config is staged
    assert _hook_command(hooks["logitcheck"], ["README.md", "src/model.py"]) == []
    # the inspect hook gets each staged export, and a broken one fails it (exit 2)
    command = _hook_command(hooks["logitcheck-inspect"], staged)
    assert command[:2] == ["logitcheck", "inspect"]
    assert "labels.npy" in command and "logitcheck.yaml" not in command
    proc = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=300,
                          env=_env())
    assert proc.returncode == 0, proc.stderr
    (workdir / "broken.npy").write_bytes(b"not an array")
    command = _hook_command(hooks["logitcheck-inspect"], [*staged, "broken.npy"])
    proc = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=300,
                          env=_env())
    assert proc.returncode == 2
    assert proc.stderr.strip() == "logitcheck: error: broken.npy: not a .npy file (bad magic " \
        "string)"


def test_gaussian_markdown_summary_states_the_nll():
    # the action's summary of a batch with a gaussian job (it has no `kind`) once failed
    import numpy as np
    from click.testing import CliRunner

    from logitcheck.cli.app import cli

    g = str(SAMPLES / "gaussian.npz")
    result = CliRunner().invoke(cli, ["gaussian", g, g, "--targets", g, "--mean-key", "mean",
                                      "--scale-key", "log_std", "--targets-key", "targets",
                                      "--format", "markdown"])
    assert result.exit_code == 0, result.output
    with np.load(g) as z:
        mu, s, y = (z[k].astype(np.float64) for k in ("mean", "log_std", "targets"))
    nll = np.mean(s + 0.5 * np.log(2 * np.pi) + 0.5 * ((y - mu) * np.exp(-s)) ** 2)
    assert f"Gaussian NLL (stable, float64) {nll:.6g}; torch GaussianNLLLoss" in result.stdout
    result = CliRunner().invoke(cli, ["gaussian", g, g, "--mean-key", "mean", "--scale-key",
                                      "log_std", "--format", "markdown"])
    assert "\nGaussian NLL: no targets\n" in result.stdout


def _complete(words: str, shell: str = "bash") -> list[str]:
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    proc = subprocess.run(
        [sys.executable, "-m", "logitcheck"], capture_output=True, text=True, timeout=120,
        env=_env(COMP_WORDS=words, COMP_CWORD=str(cword),
                 _LOGITCHECK_COMPLETE=f"{shell}_complete"),
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_shell_completion_as_documented():
    # docs/reference/cli.md: eval "$(_LOGITCHECK_COMPLETE=bash_source logitcheck)"
    proc = subprocess.run([sys.executable, "-m", "logitcheck"], capture_output=True,
                          text=True, timeout=120, env=_env(_LOGITCHECK_COMPLETE="bash_source"))
    assert proc.returncode == 0 and "_logitcheck_completion()" in proc.stdout
    assert _complete("logitcheck ana") == ["plain,analyze"]
    assert _complete("logitcheck con") == ["plain,config"]
    assert _complete("logitcheck config s") == ["plain,show"]
    assert _complete("logitcheck analyze x.npy --fail-on ") == [
        "plain,error", "plain,warning", "plain,info", "plain,never"]
    assert "plain,sarif" in _complete("logitcheck run --format ")
