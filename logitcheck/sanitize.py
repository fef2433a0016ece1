"""The one sanitiser for text that comes from an input: file names, keys, column names,
values quoted in messages. It runs where such text enters a Report or an error message,
before any renderer, so that no input can add a line (a forged `::error::` workflow
command, a fake JUnit line), move the cursor or retitle the terminal (ANSI/OSC escapes).

Control characters (C0, DEL, C1), line and paragraph separators and the bidirectional
overrides are shown escaped as Python does (`\\x1b`, `\\u2028`), and so is the first colon
of `::` (`\\x3a:`); everything else is kept.
"""

from __future__ import annotations

import re
from typing import Any

# C0 and C1 controls, DEL; U+2028/2029 (line breaks to some renderers); the bidi controls
# that reorder what a terminal shows ("Trojan source"); U+FEFF, invisible.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069"
                     "\ufeff]")


def _escape(match: re.Match[str]) -> str:
    c = ord(match.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


# "::" starts a GitHub workflow command wherever a renderer puts it at the start of a line
# (a table wraps a long name at any space, or folds it anywhere): never let one through
_COMMAND = re.compile(":(?=:)")


def clean(text: object) -> str:
    """`text` as one line with every control character shown escaped, and no "::"."""
    s = text if isinstance(text, str) else str(text)
    return _COMMAND.sub(r"\\x3a", _UNSAFE.sub(_escape, s))


def clean_data(value: Any) -> Any:
    """clean() on every string (keys too) of nested dicts, lists and tuples."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(k) if isinstance(k, str) else k: clean_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_data(v) for v in value]
    if isinstance(value, tuple):
        return tuple(clean_data(v) for v in value)
    return value


# what makes links, images and code spans, and breaks table cells; < > &: HTML-escaped
_MARKDOWN = re.compile(r"([\\`\[\]|])")


def markdown_text(text: object) -> str:
    """Text safe in a Markdown table cell or heading: one line, HTML escaped, and every
    character that makes a link, an image or a code span, or ends a cell, escaped."""
    import html

    s = " ".join(clean(text).split())
    return html.escape(_MARKDOWN.sub(r"\\\1", s), quote=False)
