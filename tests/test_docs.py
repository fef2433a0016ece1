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


def test_readme_documents_every_analyze_and_inspect_option():
    text = README.read_text()
    for command in ("analyze", "inspect"):
        for param in cli.commands[command].params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt != "--help":
                    assert opt in text, (command, opt)
