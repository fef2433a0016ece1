"""The JSON document: schema_version "1", keys in a stable order, strict JSON numbers.

Strict JSON has no inf or NaN; a value that is one (a row range of inf on float64 logits
near the largest float, a loss that overflows) is written as the string "inf", "-inf" or
"nan", as the rows of metrics.worst_rows already are; Python's float() reads them back.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .model import Report


def json_safe(value: Any) -> Any:
    """`value` with every non-finite float (in dicts, lists, tuples) as its string."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "nan" if math.isnan(value) else "inf" if value > 0 else "-inf"
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def dumps(doc: Any, **kw: Any) -> str:
    """json.dumps of a strict JSON document, non-finite floats as strings."""
    return json.dumps(json_safe(doc), allow_nan=False, **kw)


def render_json(report: Report, **_: object) -> str:
    return dumps(report.to_dict(), indent=2) + "\n"
