"""The README and the docs site against the code: every option of every command documented
in the user guide, the rule pages generated from the registry, the examples valid, the
README's cookbook commands giving the findings and exit codes it says."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from logitcheck.checks import REGISTRY, rules_markdown
from logitcheck.cli.app import cli

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
GUIDE = DOCS / "guide"


def guide_text() -> str:
    """The hand-written user guide: where options are explained in words."""
    return "\n".join(p.read_text() for p in sorted(GUIDE.glob("*.md")))


def hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rule_pages_are_generated_from_the_registry():
    h = hooks()
    index = h.rules_index(REGISTRY)
    rows = [line for line in index.splitlines() if line.startswith("| [LC")]
    assert [row.split("]")[0].removeprefix("| [") for row in rows] == sorted(REGISTRY)
    for code, rule in REGISTRY.items():
        row = next(r for r in rows if r.startswith(f"| [{code}]({code}.md) |"))
        assert f"| {rule.name} | {rule.severity.label} |" in row
        assert h.md(rule.summary).replace("|", "\\|") in row
        page = h.rule_page(rule)
        assert page.startswith(f"# {code} {rule.name}\n")
        assert f"```python\n{rule.example}\n```" in page
        for text in (rule.summary, rule.why, *rule.fix.values()):
            assert h.md(text) in page, (code, text)  # tests/test_site.py: as rendered
        assert f"**Default severity:** {rule.severity.label}" in page
    # the CLI's markdown table is the same registry
    out = CliRunner().invoke(cli, ["rules", "--format", "markdown"]).stdout
    assert out == rules_markdown()


def test_rules_lists_every_code():
    out = CliRunner().invoke(cli, ["rules"]).stdout
    assert [line.split()[0] for line in out.splitlines()] == sorted(REGISTRY)


def test_explain_prints_why_example_and_each_fix():
    result = CliRunner().invoke(cli, ["explain", "LC202"])
    assert result.exit_code == 0
    rule = REGISTRY["LC202"]
    for text in (rule.summary, rule.why, rule.example, *rule.fix.values()):
        assert text in result.stdout
    assert CliRunner().invoke(cli, ["explain", "double-softmax"]).stdout == result.stdout


def test_explain_an_unknown_rule_is_exit_2():
    result = CliRunner().invoke(cli, ["explain", "LC999"])
    assert result.exit_code == 2
    assert "no rule 'LC999'" in result.stderr


def test_every_rule_has_a_fix_for_each_framework():
    for rule in REGISTRY.values():
        assert set(rule.fix) == {"numpy", "pytorch", "keras", "jax"}, rule.code
        assert rule.code[2] in "012349" and rule.name == rule.name.lower()


def test_the_guide_documents_every_option_of_every_command():
    from logitcheck.cli.analyze import analyze_command
    from logitcheck.cli.commands import (
        baseline_write_command,
        compare_command,
        config_show_command,
        gaussian_command,
        inspect_command,
        run_command,
    )
    from logitcheck.report import RENDERERS

    text = guide_text()
    commands = (analyze_command, compare_command, baseline_write_command, run_command,
                config_show_command, inspect_command, gaussian_command)
    for command in commands:
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--"):
                    assert f"`{opt}" in text or f" {opt} " in text, (command.name, opt)
    report_page = (GUIDE / "report.md").read_text()
    for fmt in RENDERERS:
        assert f"- `{fmt}`:" in report_page, fmt
    severity_page = (GUIDE / "severity.md").read_text()
    assert f"`--format {'|'.join(RENDERERS)}`".replace("|", "\\|") in severity_page


def test_github_actions_job_gates_and_uploads_junit():
    import yaml

    text = (GUIDE / "ci.md").read_text()
    block = text.split("## In GitHub Actions\n\n```yaml\n")[1].split("```")[0]
    steps = yaml.safe_load(block)["jobs"]["gate-export"]["steps"]
    runs = " ".join(s.get("run", "") for s in steps)
    assert "logitcheck analyze" in runs and "--format github" in runs
    assert "--junit-xml report.xml" in runs
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["with"]["path"] == "report.xml"


def test_the_action_inputs_and_hooks_are_documented():
    import yaml

    text = (GUIDE / "ci.md").read_text()
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    for name in action["inputs"]:
        assert f"| `{name}` |" in text, name
    for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text()):
        assert f"- id: {hook['id']} " in text, hook["id"]


def test_the_pyproject_example_is_a_valid_table(tmp_path):
    from logitcheck.cli.project_config import load

    text = (GUIDE / "ci.md").read_text()
    block = text.split("```toml\n")[1].split("```")[0]
    (tmp_path / "pyproject.toml").write_text(block)
    defaults = load(tmp_path)
    assert defaults.path == tmp_path / "pyproject.toml"
    assert defaults.values["fail_on"] == "warning" and defaults.values["loss_path"] == "naive"
    assert defaults.values["baseline_file"] == str(tmp_path / ".logitcheck-baseline.json")


def test_batch_config_is_valid_and_documents_every_key(tmp_path):
    import shutil

    from logitcheck.batch import config as batch
    from logitcheck.batch import resolve
    from logitcheck.options import OPTIONS

    section = (GUIDE / "batch.md").read_text()
    block = section.split("```yaml\n")[1].split("```")[0]
    for f in [*ROOT.joinpath("sample_data").glob("*.np[yz]")]:
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "logitcheck.yaml").write_text(block)
    jobs = resolve.load(tmp_path / "logitcheck.yaml", env={}).jobs
    assert [j.name for j in jobs] == [
        "healthy", "precision-fp16_overflow_logits", "precision-fp32_underflow_logits",
        "export-vs-reference", "regression-head",
    ]
    for key in (*OPTIONS, *batch.JOB_KEYS, *batch.EXPECT_KEYS, "version", "defaults", "jobs"):
        assert f"`{key}`" in section or f"`expect.{key}`" in section, key


def test_the_severity_model_page_has_the_codes_model():
    h = hooks()
    from logitcheck.checks import SEVERITY_MODEL

    page = (GUIDE / "severity.md").read_text()
    out = h.on_page_markdown(page, None, None, None)
    assert "<!-- gen:" not in out and SEVERITY_MODEL in out


# --- the README: the front page ---


def test_readme_is_short_and_keeps_both_set_up_commands():
    text = README.read_text()
    assert len(text.encode()) < 12 * 1024
    assert ("```bash\npython3 -m venv .venv && . .venv/bin/activate && pip install . && "
            "logitcheck analyze sample_data/fp16_overflow_logits.npy --labels "
            "sample_data/labels.npy\n```") in text
    assert ("```bash\npython3 -m venv .venv && . .venv/bin/activate && pip install "
            "torch==2.13.0 && pip install -e '.[dev,frameworks,dask]' && pytest\n```") in text
    assert "![the terminal report" in text and "(docs/terminal.png)" in text


def test_readme_and_docs_links_resolve():
    # pages generated at build time (docs/hooks.py): mkdocs --strict checks links to them
    generated = {DOCS / "reference/rules/index.md", DOCS / "guide/python.md"}
    for page in [README, *DOCS.rglob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if target.startswith(("http://", "https://")):
                continue
            path = (page.parent / target).resolve()
            assert path.exists() or path in generated, (page.name, target)


def _cookbook_commands() -> list[tuple[str, list[str], int | None]]:
    """The README's `logitcheck ...` lines on sample_data: (line, codes, exit code)."""
    text = README.read_text().split("## Common mistakes")[1].split("\n## ")[0]
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            if line.startswith("logitcheck ") and "sample_data/" in line:
                command, _, comment = line.partition("# ->")
                codes = re.findall(r"LC\d{3}", comment)
                code = re.search(r"exit (\d)", comment)
                out.append((command.strip(), codes, int(code.group(1)) if code else None))
    return out


@pytest.mark.parametrize(("line", "codes", "exit_code"), _cookbook_commands())
def test_readme_cookbook_commands_give_what_they_say(line, codes, exit_code, monkeypatch):
    monkeypatch.chdir(ROOT)
    args = shlex.split(line)[1:]
    result = CliRunner().invoke(cli, args)
    assert exit_code is not None, line  # every sample command says its exit code
    assert result.exit_code == exit_code, (line, result.output[-2000:])
    for code in codes:
        assert code in result.output, (line, code)


def test_the_cookbook_covers_the_common_mistakes():
    text = README.read_text()
    heads = re.findall(r"^### (.+)$", text.split("## Common mistakes")[1], flags=re.M)
    for topic in ("Probabilities saved as logits", "Double softmax", "Keras", "fp16",
                  "Hugging Face", "CSV", "CI gate", "Nightly batch", "From Python"):
        assert any(topic in h for h in heads), topic
    assert len(_cookbook_commands()) >= 6


def _readme_line(start: str) -> list[str]:
    text = README.read_text().split("## Common mistakes")[1]
    (line,) = [ln for ln in text.splitlines() if ln.startswith(start)]
    return shlex.split(line.split("#")[0])[1:]


def test_readme_hugging_face_and_csv_commands_on_made_exports(tmp_path, monkeypatch):
    """The cookbook's commands on files of their names: a tiny causal LM whose logits at t
    predict token t + 1 (labels saved as input_ids), and its probabilities as CSV."""
    import numpy as np

    rng = np.random.default_rng(0)
    b, t, v = 4, 64, 50
    ids = rng.integers(0, v, (b, t))
    z = rng.normal(0, 1, (b, t, v)).astype(np.float32)
    for i in range(b):
        z[i, np.arange(t - 1), ids[i, 1:]] += 4.0
    np.save(tmp_path / "lm_logits.npy", z)
    np.save(tmp_path / "input_ids.npy", ids)
    p = np.exp(z[0] - z[0].max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    rows = [",".join(["id", *(f"p_{c}" for c in range(v)), "label"])]
    rows += [",".join([str(r), *(f"{x:.6f}" for x in p[r]), str(ids[0, (r + 1) % t])])
             for r in range(t)]
    (tmp_path / "predictions.csv").write_text("\n".join(rows) + "\n")
    monkeypatch.chdir(tmp_path)

    hf = _readme_line("logitcheck analyze lm_logits.npy")
    assert "--shift-labels" in hf
    result = CliRunner().invoke(cli, [*hf, "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["findings"] == [] and doc["metrics"]["rows"] == b * (t - 1)
    unshifted = [a for a in hf if a != "--shift-labels"]
    result = CliRunner().invoke(cli, [*unshifted, "--format", "json"])
    assert result.exit_code == 1
    assert [f["code"] for f in json.loads(result.stdout)["findings"]] == ["LC304"]

    csv = _readme_line("logitcheck analyze predictions.csv")
    result = CliRunner().invoke(cli, [*csv, "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["kind"]["name"] == "probabilities" and doc["metrics"]["rows"] == t
    assert doc["inputs"][0]["columns"] == [f"p_{c}" for c in range(v)]
