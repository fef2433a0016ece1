"""Baselines: findings a team has accepted, keyed by content so they survive reruns.

A finding's key is the sha256 of the canonical JSON of
``{"code": ..., "input": <inputs fingerprint>, "evidence": ...}`` (keys sorted, no
whitespace, floats as Python's shortest round-trip repr). The evidence is computed from
exactly-merged statistics, so the key does not depend on chunk size or thread count.

An input's fingerprint is the sha256 of ``b"logitcheck-fp1\\0"``, the file size as 8
little-endian bytes, its first MiB (which holds the .npy header) and its last MiB. That
reads at most 2 MiB whatever the file size, and any change to the header, the size, or
the rows at either end changes it. A run's fingerprint hashes those of all its inputs
in order (logits, labels; or reference, candidate, labels). A directory input (.npy
shards, a zarr store) hashes every file under it, each by its path and fingerprint.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from .errors import InputError
from .report.model import Finding, Report

FORMAT_VERSION = "1"
_MIB = 1 << 20


def file_fingerprint(path: str | Path) -> str:
    if os.path.isdir(path):
        return _directory_fingerprint(Path(path))
    digest = hashlib.sha256(b"logitcheck-fp1\0")
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            digest.update(size.to_bytes(8, "little"))
            digest.update(f.read(_MIB))
            f.seek(max(0, size - _MIB))
            digest.update(f.read(_MIB))
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror or exc})") from None
    return digest.hexdigest()


def _directory_fingerprint(path: Path) -> str:
    """A directory input (.npy shards, a zarr store): each file's relative path and
    fingerprint, in sorted order, so adding, removing or renaming a file changes it too."""
    digest = hashlib.sha256(b"logitcheck-dir1\0")
    try:
        files = sorted(f for f in path.rglob("*") if f.is_file())
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror or exc})") from None
    for f in files:
        digest.update(f.relative_to(path).as_posix().encode() + b"\0")
        digest.update(file_fingerprint(f).encode())
    return digest.hexdigest()


def inputs_fingerprint(paths: list[str]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(file_fingerprint(path).encode())
    return digest.hexdigest()


def finding_key(finding: Finding, fingerprint: str) -> str:
    import json  # here, not at the top: a run with no findings never needs it

    doc = {"code": finding.code, "input": fingerprint, "evidence": finding.evidence}
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def dumps(report: Report) -> str:
    """The baseline file for a report's findings (sorted, so it diffs well)."""
    import json

    entries = sorted(
        (
            {
                "key": finding_key(f, report.gate.fingerprint),
                "code": f.code,
                "name": f.name,
                "input": report.subject,
                "message": f.message,
            }
            for f in report.findings
        ),
        key=lambda e: (e["code"], e["key"]),
    )
    doc = {"logitcheck_baseline": FORMAT_VERSION, "findings": entries}
    return json.dumps(doc, indent=2) + "\n"


def load_keys(path: str) -> frozenset[str]:
    """The accepted keys in a baseline file; InputError (exit 2) if it is not one."""
    import json

    from .io.guard import check_input

    check_input(path, allow_dir=False, what="baseline file")  # a FIFO would block forever
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "no such baseline file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read the baseline ({exc})") from None
    try:
        doc: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not a baseline file (invalid JSON: {exc.msg})") from None
    if not isinstance(doc, dict) or doc.get("logitcheck_baseline") != FORMAT_VERSION:
        raise InputError(
            path, f'not a baseline file (no "logitcheck_baseline": "{FORMAT_VERSION}")'
        )
    entries = doc.get("findings")
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("key"), str) for e in entries
    ):
        raise InputError(path, 'malformed baseline: "findings" must be a list of {"key": ...}')
    return frozenset(e["key"] for e in entries)

