"""The plain data a run produces. Renderers read it; nothing here formats text."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..errors import EXIT_FINDINGS, EXIT_OK
from ..sanitize import clean, clean_data
from .fingerprint import inputs_fingerprint
from .renderers import RENDERERS


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
    baselined: bool = False  # accepted in --baseline: reported, never fails the run

    def __post_init__(self) -> None:  # messages quote paths, keys and values from inputs
        object.__setattr__(self, "message", clean(self.message))
        object.__setattr__(self, "evidence", clean_data(self.evidence))

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity.label,
            "message": self.message,
            "evidence": self.evidence,
            "fix": self.fix,
            "baselined": self.baselined,
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
    # CSV/TSV: the class columns read, the id columns left out, the line of row 0
    columns: tuple[str, ...] | None = None
    left_out: tuple[str, ...] = ()
    first_line: int | None = None

    def cleaned(self) -> InputInfo:
        """Path, key and column names sanitised (for the Report; gate.inputs keeps the real
        paths)."""
        from dataclasses import replace

        key = clean(self.key) if self.key is not None else None
        columns = clean_data(self.columns) if self.columns is not None else None
        return replace(self, path=clean(self.path), key=key, columns=columns,
                       left_out=clean_data(self.left_out))

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "path": self.path,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "bytes": self.nbytes,
            "format": self.format,
            "key": self.key,
            "columns": list(self.columns) if self.columns is not None else None,
            "left_out_columns": list(self.left_out),
            "first_line": self.first_line,
        }


@dataclass(frozen=True)
class Kind:
    """What the array holds, inferred from its values alone."""

    name: str
    confidence: float
    evidence: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "confidence": self.confidence, "evidence": self.evidence}


@dataclass(frozen=True)
class GateInfo:
    """How the gate treated the findings: which rules ran, what it dropped or accepted."""

    rules: dict[str, str] = field(default_factory=dict)  # code -> name, every rule it ran
    skipped: tuple[str, ...] = ()  # codes of rules not selected, or ignored
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    severity: dict[str, str] = field(default_factory=dict)  # code -> overridden severity
    suppressed: dict[str, int] = field(default_factory=dict)  # skipped code -> findings dropped
    baseline: str | None = None
    inputs: tuple[str, ...] = ()  # the paths the fingerprint covers
    exit_zero: bool = False
    baseline_fingerprint: str | None = None  # of the inputs when the baseline was written

    @property
    def changed_since_baseline(self) -> bool | None:
        """Did the inputs change since the baseline was written (None: no baseline, or one
        that does not say)?"""
        if self.baseline is None or self.baseline_fingerprint is None:
            return None
        return self.baseline_fingerprint != self.fingerprint

    @cached_property
    def fingerprint(self) -> str:
        """Of the inputs, as baseline keys use it ("" without inputs). Computed when first
        asked for (the JSON report, a baseline): it reads up to 2 MiB of each input."""
        return inputs_fingerprint(list(self.inputs)) if self.inputs else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "select": list(self.select),
            "ignore": list(self.ignore),
            "severity": dict(self.severity),
            "skipped_rules": list(self.skipped),
            "suppressed": dict(self.suppressed),
            "baseline": clean(self.baseline) if self.baseline is not None else None,
            "fingerprint": self.fingerprint,
            "baseline_fingerprint": self.baseline_fingerprint,
            "changed_since_baseline": self.changed_since_baseline,
            "exit_zero": self.exit_zero,
        }


@dataclass
class Report:
    inputs: list[InputInfo]
    kind: Kind | None  # None for compare: both kinds are in its metrics
    metrics: dict[str, Any]
    findings: list[Finding]
    fail_on: Severity | None
    timings: dict[str, float] = field(default_factory=dict)
    gate: GateInfo = field(default_factory=GateInfo)
    command: str = "analyze"  # or "compare"
    # N-D logits: where each row the report tables show sits ('b=3, t=210'); not in JSON
    positions: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # input-derived text is sanitised once, here, before any renderer: paths and keys,
        # and the class and column names metrics hold (gate.inputs keeps the real paths)
        self.inputs = [i.cleaned() for i in self.inputs]
        self.metrics = clean_data(self.metrics)

    @property
    def failing(self) -> list[Finding]:
        """Findings at or above fail-on that are not baselined (what makes the run fail)."""
        if self.fail_on is None:
            return []
        return [f for f in self.findings if f.severity >= self.fail_on and not f.baselined]

    @property
    def exit_code(self) -> int:
        if self.gate.exit_zero:
            return EXIT_OK
        return EXIT_FINDINGS if self.failing else EXIT_OK

    @property
    def ok(self) -> bool:
        """Nothing fails the gate: exit code 0."""
        return self.exit_code == EXIT_OK

    @property
    def loss(self) -> float | None:
        """The mean loss the declared loss computes (`expects`), metrics["loss"]["value"]:
        inf where a label's probability is 0; None without labels (or for compare)."""
        value = (self.metrics.get("loss") or {}).get("value")
        return float(value) if isinstance(value, (str, int, float)) else None

    def to_json(self) -> str:
        """The JSON report, as `--format json` prints it."""
        return self.render("json")

    def render(self, fmt: str = "rich", *, color: bool = False, width: int = 100,
               verbosity: int = 0) -> str:
        """The report in a --format: rich (plain text unless color), json, junit, github,
        markdown or html. verbosity: -1 the verdict line, 1 evidence and zones too.

        >>> import numpy as np, logitcheck
        >>> r = logitcheck.check(np.array([[4.0, 0.0], [0.0, 4.0]] * 32), [0, 1] * 32)
        >>> print(r.render(verbosity=-1), end="")
        PASS: no findings (fail-on error, exit 0)
        >>> r
        <logitcheck Report analyze: PASS: no findings (fail-on error, exit 0)
          64 rows x 2 classes, holds logits; loss 0.0181499 (-log_softmax(z)[y])>
        """
        if fmt not in RENDERERS:
            raise ValueError(f"unknown format {fmt!r} (formats: {', '.join(RENDERERS)})")
        return RENDERERS[fmt](self, color=color, width=width, verbosity=verbosity)

    def __repr__(self) -> str:
        lines = [f"<logitcheck Report {self.command}: {verdict(self)}"]
        m = self.metrics
        if self.kind is not None and "rows" in m:
            loss = m.get("loss") or {}
            about = f"{m['rows']:,} rows x {m['classes']:,} classes, holds {self.kind.name}"
            if loss.get("value") is not None:
                about += f"; loss {self.loss:.6g} ({loss['formula']})"
            lines.append("  " + about)
        for f in self.findings:
            lines.append(f"  {f.code} {f.name} [{f.severity.label}]: {f.message}")
        return "\n".join(lines) + ">"

    def _repr_html_(self) -> str:
        """Jupyter: the HTML report, in an iframe so that its styles stay inside it."""
        from html import escape

        page = self.render("html")
        return (f'<iframe srcdoc="{escape(page, quote=True)}" style="width:100%;height:640px;'
                'border:1px solid #ddd" sandbox="allow-scripts"></iframe>')

    @property
    def subject(self) -> str:
        """The input the findings are about: the logits, or compare's candidate."""
        return self.inputs[1].path if self.command == "compare" else self.inputs[0].path

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": "1",
            "inputs": [i.to_dict() for i in self.inputs],
            "kind": self.kind.to_dict() if self.kind is not None else None,
            "metrics": self.metrics,
            "findings": [f.to_dict() for f in self.findings],
            "fail_on": self.fail_on.label if self.fail_on is not None else "never",
            "exit_code": self.exit_code,
            "timings": self.timings,
            "command": self.command,
            "gate": self.gate.to_dict(),
        }


def _counts(findings: list[Finding]) -> str:
    """'2 errors, 1 warning' ('' for none)."""
    counts = {s: sum(1 for f in findings if f.severity == s) for s in Severity}
    return ", ".join(f"{n} {s.label}{'s' * (n != 1)}"
                     for s, n in sorted(counts.items(), reverse=True) if n)


def verdict(report: Report) -> str:
    """'FAIL: 2 errors (fail-on error, exit 1)'; with --baseline, what is new first:
    'PASS: 0 new; 2 baselined (fail-on error, exit 0)',
    'FAIL: 1 new (1 error); 2 baselined, the inputs changed since the baseline (...)'."""
    if report.gate.baseline is not None:
        new = [f for f in report.findings if not f.baselined]
        found = f"{len(new)} new" + (f" ({_counts(new)})" if new else "")
        found += f"; {len(report.findings) - len(new)} baselined"
        if report.gate.changed_since_baseline:
            found += ", the inputs changed since the baseline"
    else:
        found = _counts(report.findings) or "no findings"
    suppressed = sum(report.gate.suppressed.values())
    if suppressed:
        found += f", {suppressed} suppressed by --select/--ignore"
    gate = report.fail_on.label if report.fail_on is not None else "never"
    if report.gate.exit_zero:
        gate += ", exit-zero"
    mark = "FAIL" if report.exit_code else "PASS"
    return f"{mark}: {found} (fail-on {gate}, exit {report.exit_code})"
