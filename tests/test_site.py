"""The docs site builds with `mkdocs build --strict` (a broken link or anchor, a page left
out, a failing hook is an error), and its generated pages hold what the code says.

Skips where the `docs` extra (mkdocs, mkdocs-material, mkdocs-click) is not installed.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from logitcheck.checks import REGISTRY

ROOT = Path(__file__).resolve().parent.parent

for _module in ("mkdocs", "material", "mkdocs_click"):
    pytest.importorskip(_module, reason="the docs extra: pip install -e '.[docs]'")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
         str(ROOT / "mkdocs.yml"), "--site-dir", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": pythonpath, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "WARNING" not in proc.stderr, proc.stderr[-4000:]
    return out


def text_of(page: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def test_every_rule_has_its_generated_page(site):
    index = text_of(site / "reference/rules/index.html")
    for code, rule in REGISTRY.items():
        page = text_of(site / f"reference/rules/{code}/index.html")
        for text in (rule.summary, rule.why, rule.example, *rule.fix.values()):
            assert text in page, (code, text)
        assert code in index and rule.summary in index


def test_the_cli_reference_has_every_command_and_option(site):
    from click import Group

    from logitcheck.cli.app import load_commands

    cli = load_commands()  # every command registered

    page = (site / "reference/cli/index.html").read_text()
    text = text_of(site / "reference/cli/index.html")

    def walk(group: Group, prefix: str):
        for name, command in group.commands.items():
            yield f"{prefix}-{name}", command
            if isinstance(command, Group):
                yield from walk(command, f"{prefix}-{name}")

    commands = list(walk(cli, "logitcheck"))
    assert len(commands) >= 12
    for anchor, command in commands:
        assert f'id="{anchor}"' in page, anchor
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--"):
                    assert opt in text, (anchor, opt)
    assert "_LOGITCHECK_COMPLETE=bash_source logitcheck" in text


def test_the_guide_pages_and_the_python_page_are_there(site):
    for page in ("guide/inputs", "guide/analyses", "guide/severity", "guide/report",
                 "guide/ci", "guide/batch", "guide/scaling", "guide/python",
                 "reference/json", "internals/architecture", "internals/kernel",
                 "internals/benchmarks", "internals/hardening"):
        assert (site / page / "index.html").is_file(), page
    python = text_of(site / "guide/python/index.html")
    assert "logitcheck.check(z, y)" in python and "Checker" in python
    severity = text_of(site / "guide/severity/index.html")
    from logitcheck.checks import SEVERITY_MODEL

    assert SEVERITY_MODEL.splitlines()[0] in severity
    assert not list(site.rglob("*.py"))  # the hooks and scripts stay out of the site
