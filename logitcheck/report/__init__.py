"""The Report model and its renderers: pure functions from a Report to text."""

from __future__ import annotations

from .github import render_github
from .html import render_html
from .json_format import render_json
from .junit import render_junit
from .markdown import render_markdown
from .model import Finding, InputInfo, Kind, Report, Severity
from .terminal import render_rich

#: format name -> renderer; drives the --format choice.
RENDERERS = {
    "rich": render_rich,
    "json": render_json,
    "junit": render_junit,
    "github": render_github,
    "markdown": render_markdown,
    "html": render_html,
}

__all__ = ["RENDERERS", "Finding", "InputInfo", "Kind", "Report", "Severity"]
