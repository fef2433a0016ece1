"""JUnit XML, as GitLab and Jenkins read it.

testsuites > testsuite (one per input) > testcase (one per rule the command runs):
a <failure> for a finding at or above fail-on (and not baselined), <skipped> for a rule
not selected or ignored, passed otherwise; <system-out> carries every finding's message
and evidence, so findings below fail-on are visible too.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from .model import Report

# Characters XML 1.0 forbids (even escaped): C0 controls but tab/LF/CR, surrogates, FFFE/F.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    return _ILLEGAL_XML.sub("", text)


def render_junit(report: Report, **_: object) -> str:
    subject = xml_text(report.subject)
    failing = {id(f) for f in report.failing}
    rules = report.gate.rules
    suite = ET.Element("testsuite", name=subject)
    failures = skipped = 0
    for code, name in rules.items():
        case = ET.SubElement(
            suite, "testcase", classname=f"logitcheck.{report.command}", name=f"{code} {name}"
        )
        found = [f for f in report.findings if f.code == code]
        if code in report.gate.skipped:
            skipped += 1
            ET.SubElement(case, "skipped", message=f"{code} not selected or ignored")
        elif fails := [f for f in found if id(f) in failing]:
            failures += 1
            failure = ET.SubElement(
                case, "failure", message=xml_text(fails[0].message),
                type=f"{code} {fails[0].severity.label}",
            )
            failure.text = xml_text("\n".join(f.message for f in fails))
        if found:
            out = ET.SubElement(case, "system-out")
            out.text = xml_text("\n\n".join(_finding_text(f, subject) for f in found))
    suite.set("tests", str(len(rules)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))
    root = ET.Element(
        "testsuites", name="logitcheck", tests=str(len(rules)), failures=str(failures),
        errors="0", skipped=str(skipped),
    )
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _finding_text(finding, subject: str) -> str:
    mark = " (baselined)" if finding.baselined else ""
    evidence = json.dumps(finding.evidence, indent=2)
    return (
        f"{finding.code} {finding.name} [{finding.severity.label}]{mark} in {subject}\n"
        f"{finding.message}\nevidence: {evidence}"
    )
