"""The JSON document: schema_version "1", keys in a stable order, strict JSON numbers."""

from __future__ import annotations

import json

from .model import Report


def render_json(report: Report, **_: object) -> str:
    return json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n"
