from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from logitcheck.checks import REGISTRY, rules_markdown
from logitcheck.cli import cli

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_rule_table_is_generated_from_the_registry():
    text = README.read_text()
    table = text.split("<!-- rules:start -->\n")[1].split("<!-- rules:end -->")[0]
    assert table == rules_markdown()


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


def test_readme_documents_every_option_of_every_command():
    from logitcheck.cli import (
        analyze_command,
        baseline_write_command,
        compare_command,
        config_show_command,
        run_command,
    )
    from logitcheck.report import RENDERERS

    text = README.read_text()
    from logitcheck.cli import gaussian_command, inspect_command

    commands = (analyze_command, compare_command, baseline_write_command, run_command,
                config_show_command, inspect_command, gaussian_command)
    for command in commands:
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--"):
                    assert f"`{opt}" in text or f" {opt} " in text, (command.name, opt)
    for fmt in RENDERERS:
        assert f"- `{fmt}`:" in text, fmt


def test_readme_github_actions_job_gates_and_uploads_junit():
    import yaml

    text = README.read_text()
    block = text.split("### In GitHub Actions\n\n```yaml\n")[1].split("```")[0]
    steps = yaml.safe_load(block)["jobs"]["gate-export"]["steps"]
    runs = " ".join(s.get("run", "") for s in steps)
    assert "logitcheck analyze" in runs and "--format github" in runs
    assert "--junit-xml report.xml" in runs
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["with"]["path"] == "report.xml"


def test_readme_batch_config_is_valid_and_documents_every_key(tmp_path):
    import shutil

    from logitcheck import batch
    from logitcheck.options import OPTIONS

    text = README.read_text()
    section = text.split("### Batch runs: `logitcheck run`\n")[1].split("\n## ")[0]
    block = section.split("```yaml\n")[1].split("```")[0]
    for f in [*README.parent.joinpath("sample_data").glob("*.np[yz]")]:
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "logitcheck.yaml").write_text(block)
    jobs = batch.load(tmp_path / "logitcheck.yaml", env={}).jobs
    assert [j.name for j in jobs] == [
        "healthy", "precision-fp16_overflow_logits", "precision-fp32_underflow_logits",
        "export-vs-reference", "regression-head",
    ]
    for key in (*OPTIONS, *batch.JOB_KEYS, *batch.EXPECT_KEYS, "version", "defaults", "jobs"):
        assert f"`{key}`" in section or f"`expect.{key}`" in section, key
