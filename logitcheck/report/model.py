"""The plain data a run produces. Renderers read it; nothing here formats text."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from ..errors import EXIT_FINDINGS, EXIT_OK


class Severity(enum.IntEnum):
    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


@dataclass(frozen=True)
class Finding:
    code: str
    name: str
    severity: Severity
    message: str
    evidence: dict[str, Any]
    fix: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity.label,
            "message": self.message,
            "evidence": self.evidence,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class InputInfo:
    role: str  # "logits" or "labels"
    path: str
    shape: tuple[int, ...]
    dtype: str
    nbytes: int
    format: str = "npy"  # npy | npz | safetensors | csv | tsv
    key: str | None = None  # the .npz member, tensor or CSV column(s) read

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "path": self.path,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "bytes": self.nbytes,
            "format": self.format,
            "key": self.key,
        }


@dataclass(frozen=True)
class Kind:
    """What the array holds, inferred from its values alone."""

    name: str
    confidence: float
    evidence: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "confidence": self.confidence, "evidence": self.evidence}


@dataclass
class Report:
    inputs: list[InputInfo]
    kind: Kind
    metrics: dict[str, Any]
    findings: list[Finding]
    fail_on: Severity | None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def failing(self) -> list[Finding]:
        if self.fail_on is None:
            return []
        return [f for f in self.findings if f.severity >= self.fail_on]

    @property
    def exit_code(self) -> int:
        return EXIT_FINDINGS if self.failing else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": "1",
            "inputs": [i.to_dict() for i in self.inputs],
            "kind": self.kind.to_dict(),
            "metrics": self.metrics,
            "findings": [f.to_dict() for f in self.findings],
            "fail_on": self.fail_on.label if self.fail_on is not None else "never",
            "exit_code": self.exit_code,
            "timings": self.timings,
        }
