"""SARIF 2.1.0: the findings as a static-analysis log for code scanning (GitHub, GitLab, IDEs).

One run per document; its tool lists every rule the command ran (summary, why, each
framework's fix) and each finding is one result on the input it is about. SARIF locates a
result by file and line: for a CSV/TSV input the line of the first row the finding names
(as the github format's `line=`); other inputs are binary arrays, so the line is 1 and the
rows are in the message and in `properties.evidence`. A baselined finding carries an
external suppression (code scanning shows it as dismissed). `partialFingerprints` holds
the finding's baseline key (format 2: rule, input names, identity), so code scanning
follows a finding from one export to the next as baselines do.
tests/test_sarif.py validates the output against the SARIF 2.1.0 JSON schema.
"""

from __future__ import annotations

from pathlib import PurePath, PurePosixPath
from typing import Any
from urllib.parse import quote

from .json_format import dumps as json_dumps
from .model import Finding, Report, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
#: the partialFingerprints key: the finding's baseline key (baseline.py, format 2)
FINGERPRINT_KEY = "logitcheckFindingKey/v2"


def artifact_location(path: str) -> dict[str, str]:
    """A relative path stays relative to the checkout (%SRCROOT%); an absolute one is a
    file URI. Either is percent-encoded: SARIF's uri is a URI reference, not a path."""
    pure = PurePath(path)
    if pure.is_absolute():
        return {"uri": "file://" + quote(PurePosixPath(*pure.parts).as_posix())}
    return {"uri": quote(pure.as_posix()), "uriBaseId": "%SRCROOT%"}


def _rule_descriptor(code: str, name: str) -> dict[str, Any]:
    from ..checks import REGISTRY  # the catalogue's text; imported only to write SARIF

    rule = REGISTRY.get(code)
    out: dict[str, Any] = {"id": code, "name": name}
    if rule is None:  # a rule the registry does not know (a test's stand-in): id and name
        return out
    fixes = "\n".join(f"- {fw}: {text}" for fw, text in rule.fix.items())
    out.update({
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.why},
        "help": {
            "text": f"{rule.why}\n\nExample of the mistake: {rule.example}\n\nFix:\n{fixes}",
            "markdown": (f"{rule.why}\n\nExample of the mistake: `{rule.example}`\n\n"
                         f"**Fix**\n\n{fixes}\n\n`logitcheck explain {code}`"),
        },
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {"tags": [name]},
    })
    return out


def _result(finding: Finding, report: Report, rule_index: dict[str, int],
            job: str | None) -> dict[str, Any]:
    from ..gate.baseline import finding_key, input_names
    from .github import first_row

    prefix = f"{job}: " if job else ""
    subject = report.inputs[1 if report.command == "compare" else 0] if report.inputs else None
    row = first_row(finding.evidence)
    line = 1
    if subject is not None and subject.first_line is not None and row is not None:
        line = subject.first_line + row  # CSV/TSV: the row's own line
    result: dict[str, Any] = {
        "ruleId": finding.code,
        "ruleIndex": rule_index[finding.code],
        "level": _LEVEL[finding.severity],
        "message": {"text": prefix + finding.message},
        "locations": [{"physicalLocation": {
            "artifactLocation": artifact_location(report.subject),
            "region": {"startLine": line},
        }}],
        "partialFingerprints": {
            FINGERPRINT_KEY: finding_key(finding, input_names(report.gate.inputs))},
        "properties": {"name": finding.name, "evidence": finding.evidence,
                       "fix": finding.fix, **({"job": job} if job else {})},
    }
    if finding.baselined:
        where = report.gate.baseline or "the baseline"
        result["suppressions"] = [{"kind": "external", "status": "accepted",
                                   "justification": f"accepted in {where}"}]
    return result


def sarif_log(reports: list[tuple[str | None, Report]], exit_code: int,
              errors: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The SARIF document for (job name or None, report) pairs; errors: (job, message) of
    batch jobs that could not run, as tool execution notifications."""
    from .. import __version__

    rules: dict[str, str] = {}
    for _, report in reports:
        rules.update(sorted(report.gate.rules.items()))
        rules.update((f.code, f.name) for f in report.findings)  # even a stand-in's rules
    codes = sorted(rules)
    rule_index = {code: i for i, code in enumerate(codes)}
    results = [_result(f, report, rule_index, job)
               for job, report in reports for f in report.findings]
    invocation: dict[str, Any] = {"executionSuccessful": not errors, "exitCode": exit_code}
    if errors:
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": f"{job}: {message}"}}
            for job, message in errors
        ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "logitcheck",
                "version": __version__,
                "rules": [_rule_descriptor(code, rules[code]) for code in codes],
            }},
            "invocations": [invocation],
            "results": results,
        }],
    }


def render_sarif(report: Report, **_: object) -> str:
    return json_dumps(sarif_log([(None, report)], report.exit_code), indent=2) + "\n"


def render_batch_sarif(batch: Any, **_: object) -> str:
    """One run over every job of a batch (report/batch.py's BatchReport)."""
    reports = [(job.name, job.report) for job in batch.jobs if job.report is not None]
    errors = [(job.name, job.error) for job in batch.jobs if job.report is None]
    return json_dumps(sarif_log(reports, batch.exit_code, errors), indent=2) + "\n"
