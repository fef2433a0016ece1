"""The Report model and its renderers: pure functions from a Report to text."""

from __future__ import annotations

from .json_format import render_json
from .model import Finding, InputInfo, Kind, Report, Severity
from .terminal import render_rich

#: format name -> renderer; drives the --format choice.
RENDERERS = {
    "rich": render_rich,
    "json": render_json,
}

__all__ = ["RENDERERS", "Finding", "InputInfo", "Kind", "Report", "Severity"]
