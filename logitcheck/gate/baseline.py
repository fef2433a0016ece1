"""Baselines: findings a team has accepted, keyed so that they survive the next export.

A finding's key (format 2) is the sha256 of the canonical JSON of
``{"code": ..., "inputs": [<file names>], "identity": {...}}`` (keys sorted, no whitespace):
the rule, the inputs' file names (not their directories, not their bytes) and the
finding's identity, the entries of its evidence that are strings or booleans (the dtype,
the kind, the backend: what tells two findings of one rule apart), never its counts, rows
or values. A nightly export of the same model, with every value a little different, keeps
its baselined findings; a finding of another dtype or kind is new.

The inputs' fingerprint is kept in the file as information: the report says when the
inputs changed since the baseline was written. Format 1 files (keyed on the fingerprint
and the whole evidence, so any change to the file made every finding new) are still read,
with those keys.

An input's fingerprint is the sha256 of ``b"logitcheck-fp1\\0"``, the file size as 8
little-endian bytes, its first MiB (which holds the .npy header) and its last MiB. That
reads at most 2 MiB whatever the file size, and any change to the header, the size, or
the rows at either end changes it. A run's fingerprint hashes those of all its inputs
in order (logits, labels; or reference, candidate, labels). A directory input (.npy
shards, a zarr store) hashes every file under it, each by its path and fingerprint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..report.model import Finding, Report

FORMAT_VERSION = "2"
_READ = ("1", "2")


def input_names(paths: list[str] | tuple[str, ...]) -> list[str]:
    """The inputs as a baseline knows them: their file (or directory) names."""
    return [Path(p).name or str(p) for p in paths]


def identity(finding: Finding) -> dict[str, Any]:
    """What tells this finding from another of the same rule on the same inputs, and stays
    the same from one export to the next: the evidence's strings and booleans."""
    return {k: v for k, v in finding.evidence.items() if isinstance(v, str | bool)}


def _digest(doc: dict[str, Any]) -> str:
    import json  # here, not at the top: a run with no findings never needs it

    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def finding_key(finding: Finding, names: list[str]) -> str:
    """Format 2: the rule, the inputs' file names, the finding's identity."""
    return _digest({"code": finding.code, "inputs": names, "identity": identity(finding)})


def finding_key_v1(finding: Finding, fingerprint: str) -> str:
    """Format 1: the rule, the inputs' fingerprint and the whole evidence."""
    return _digest({"code": finding.code, "input": fingerprint, "evidence": finding.evidence})


def dumps(report: Report) -> str:
    """The baseline file for a report's findings (sorted, so it diffs well)."""
    import json

    names = input_names(report.gate.inputs)
    entries = sorted(
        (
            {
                "key": finding_key(f, names),
                "code": f.code,
                "name": f.name,
                "input": report.subject,
                "identity": identity(f),
                "message": f.message,
            }
            for f in report.findings
        ),
        key=lambda e: (e["code"], e["key"]),
    )
    doc = {"logitcheck_baseline": FORMAT_VERSION, "inputs": names,
           "fingerprint": report.gate.fingerprint, "findings": entries}
    return json.dumps(doc, indent=2) + "\n"


@dataclass(frozen=True)
class Accepted:
    """What a baseline file accepts."""

    version: str
    keys: frozenset[str]
    fingerprint: str | None  # of the inputs when it was written (format 2)

    def key(self, finding: Finding, names: list[str], fingerprint: Callable[[], str]) -> str:
        if self.version == "1":
            return finding_key_v1(finding, fingerprint())
        return finding_key(finding, names)


def load(path: str) -> Accepted:
    """The baseline file's keys; InputError (exit 2) if it is not one."""
    import json

    from ..io.guard import check_input

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
    if not isinstance(doc, dict) or "logitcheck_baseline" not in doc:
        raise InputError(
            path, f'not a baseline file (no "logitcheck_baseline": "{FORMAT_VERSION}")'
        )
    version = doc["logitcheck_baseline"]
    if version not in _READ:
        raise InputError(path, f"baseline format {version!r} is not one this logitcheck reads "
                         f"({', '.join(_READ)}); write it again with `logitcheck baseline "
                         "write`")
    entries = doc.get("findings")
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("key"), str) for e in entries
    ):
        raise InputError(path, 'malformed baseline: "findings" must be a list of {"key": ...}')
    fingerprint = doc.get("fingerprint")
    return Accepted(version, frozenset(e["key"] for e in entries),
                    fingerprint if isinstance(fingerprint, str) else None)

