"""MkDocs hooks: the pages generated from the code at build time (never committed).

- reference/rules/index.md and reference/rules/LCxxx.md: one page per rule of
  logitcheck.checks.REGISTRY (summary, why, example, each framework's fix), as ruff's rule
  pages;
- guide/python.md: the README's "From Python" section, so the README stays its one source;
- `<!-- gen:severity-model -->` in a page: `logitcheck explain severity`, from the code.

The CLI reference (reference/cli.md) is rendered from click by mkdocs-click; the commands
other than `analyze` are registered when first looked up, so cli.app.load_commands()
registers them all here first. tests/test_site.py builds the site with `mkdocs build --strict`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

#: rule scope -> the command whose findings it makes
COMMAND = {"input": "analyze", "drift": "compare", "gaussian": "gaussian", "batch": "run"}
FRAMEWORKS = {"numpy": "numpy", "pytorch": "PyTorch", "keras": "Keras", "jax": "JAX"}
PYTHON_SECTION = "### From Python"


def md(text: str) -> str:
    """Prose from the registry as Markdown shows it literally: its fixes are code-like
    (`y*np.log(p) + (1-y)*np.log1p(-p)`, `p[np.arange(n), y]`, `<= e`), and Markdown would
    read `*...*` as emphasis, `[...]` as links and `<...>` as HTML."""
    import html

    text = re.sub(r"([\\`*_\[\]])", r"\\\1", text)
    return html.escape(text, quote=False)


def rule_page(rule: Any) -> str:
    fixes = "\n\n".join(f"### {FRAMEWORKS.get(k, k)}\n\n{md(text)}"
                        for k, text in rule.fix.items())
    prefix = rule.code[:3]
    return f"""# {rule.code} {rule.name}

**Default severity:** {rule.severity.label} · **Reported by:** `logitcheck {COMMAND[rule.scope]}`
· **In the terminal:** `logitcheck explain {rule.code}`

{md(rule.summary)}

## Why it matters

{md(rule.why)}

## Example of the mistake

```python
{rule.example}
```

## How to fix it

{fixes}

## Gate

`--severity {rule.code}=LEVEL` moves it (`error`, `warning`, `info`); `--ignore {rule.code}`
drops it, `--select {prefix}` keeps its range only; `--baseline FILE` accepts findings
already known. See [the severity model](../../guide/severity.md) and
[all rules](index.md).
"""


def rules_index(registry: dict[str, Any]) -> str:
    def row(r: Any) -> str:
        summary = md(r.summary).replace("|", "\\|")
        return (f"| [{r.code}]({r.code}.md) | {r.name} | {r.severity.label} | "
                f"{COMMAND[r.scope]} | {summary} |")

    rows = "\n".join(row(registry[c]) for c in sorted(registry))
    return f"""# Rules

Every finding has a rule: a code, a kebab-case name and a default severity. `logitcheck
rules` lists them, `logitcheck explain CODE` prints one. Codes are grouped by range:
LC0xx input integrity (NaN, inf, shapes), LC1xx numerics (overflow, underflow,
precision), LC2xx activation and `from_logits` mistakes, LC3xx labels, LC4xx drift between
two exports (`compare`), LC9xx batch expectations. This page and each rule's page are
generated from the rule registry (`logitcheck/checks/`) when the site is built.

| code | name | severity | command | summary |
|---|---|---|---|---|
{rows}
"""


def python_page(readme: str) -> str:
    section = readme.split(f"\n{PYTHON_SECTION}\n", 1)[1]
    section = re.split(r"\n#{1,3} ", section, maxsplit=1)[0].strip()
    section = section.replace("](docs/", "](../")  # README-relative links, from guide/
    return f"""# Python API

The README's section on the library API, included as it is (its example runs as a
doctest in the tests).

{section}
"""


def on_config(config: Any) -> Any:
    from logitcheck.cli.app import load_commands

    load_commands()  # every command registered, for mkdocs-click

    return config


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    from logitcheck.checks import REGISTRY

    generated = {"reference/rules/index.md": rules_index(REGISTRY)}
    for code, rule in REGISTRY.items():
        generated[f"reference/rules/{code}.md"] = rule_page(rule)
    generated["guide/python.md"] = python_page((ROOT / "README.md").read_text())
    for path, content in generated.items():
        files.append(File.generated(config, path, content=content))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if "<!-- gen:severity-model -->" in markdown:
        from logitcheck.checks import SEVERITY_MODEL

        block = f"```text\n$ logitcheck explain severity\n{SEVERITY_MODEL}\n```"
        markdown = markdown.replace("<!-- gen:severity-model -->", block)
    return markdown
