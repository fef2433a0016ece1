from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner

from logitcheck.checks import rules_in
from logitcheck.cli.app import cli
from logitcheck.report.github import escape_data, escape_property
from logitcheck.report.junit import render_junit, xml_text
from logitcheck.report.markdown import render_markdown
from logitcheck.report.model import Finding, GateInfo, InputInfo, Kind, Report, Severity

from .conftest import SAMPLES

LABELS = str(SAMPLES / "labels.npy")
ERROR_FILE = str(SAMPLES / "probs_as_logits.npy")
WARNING_FILE = str(SAMPLES / "sigmoid_multilabel.npy")
HEALTHY = str(SAMPLES / "healthy_logits.npy")
INPUT_RULES = list(rules_in("input"))

# ::level key=value,key=value::message — values and message escaped as command.ts does
COMMAND = re.compile(
    r"^::(?P<level>error|warning|notice) (?P<props>[^:]*)::(?P<message>[^\r\n]*)$"
)
PROPERTY = re.compile(r"^(?P<key>file|title)=(?P<value>[^,:\r\n]*)$")


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def unescape_data(text: str) -> str:
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def unescape_property(text: str) -> str:
    return unescape_data(text.replace("%3A", ":").replace("%2C", ","))


def parse_github(text: str) -> list[tuple[str, dict[str, str], str]]:
    out = []
    for line in text.splitlines():
        m = COMMAND.match(line)
        assert m, line
        props = {}
        for part in m["props"].split(","):
            p = PROPERTY.match(part)
            assert p, part
            props[p["key"]] = unescape_property(p["value"])
        out.append((m["level"], props, unescape_data(m["message"])))
    return out


def test_json_keeps_the_version_1_fields_in_order_and_adds_gate_fields():
    result = run("analyze", ERROR_FILE, "--labels", LABELS, "--format", "json")
    doc = json.loads(result.stdout)
    assert list(doc) == [
        "schema_version", "inputs", "kind", "metrics", "findings", "fail_on", "exit_code",
        "timings", "command", "gate",
    ]
    assert list(doc["findings"][0]) == [
        "code", "name", "severity", "message", "evidence", "fix", "baselined"
    ]
    assert doc["command"] == "analyze"
    assert list(doc["gate"]) == [
        "select", "ignore", "severity", "skipped_rules", "suppressed", "baseline",
        "fingerprint", "baseline_fingerprint", "changed_since_baseline", "exit_zero",
    ]
    assert re.fullmatch(r"[0-9a-f]{64}", doc["gate"]["fingerprint"])


def test_machine_formats_put_the_human_report_on_stderr():
    for fmt in ("json", "junit", "github", "markdown"):
        result = run("analyze", ERROR_FILE, "--format", fmt)
        assert result.stderr.splitlines()[-1] == "FAIL: 1 error (fail-on error, exit 1)"
        assert "LC201 probabilities-as-logits · error" in result.stderr
    result = run("analyze", ERROR_FILE)
    assert result.stderr == ""
    assert result.stdout.splitlines()[-1] == "FAIL: 1 error (fail-on error, exit 1)"


def test_junit_structure_for_gitlab_and_jenkins():
    result = run("analyze", ERROR_FILE, "--labels", LABELS, "--format", "junit",
                 "--ignore", "LC1", "--fail-on", "warning")
    root = ET.fromstring(result.stdout)
    assert root.tag == "testsuites"
    [suite] = list(root)
    assert suite.tag == "testsuite" and suite.get("name") == ERROR_FILE
    cases = suite.findall("testcase")
    assert [c.get("name").split()[0] for c in cases] == INPUT_RULES
    assert all(c.get("classname") == "logitcheck.analyze" for c in cases)
    by_code = {c.get("name").split()[0]: c for c in cases}
    [failure] = by_code["LC201"].findall("failure")
    assert failure.get("type") == "LC201 error"
    assert failure.get("message").startswith("every value lies in")
    evidence = by_code["LC201"].find("system-out").text
    assert "evidence:" in evidence and '"loss_as_logits": ' in evidence
    skipped = [c for c in cases if c.find("skipped") is not None]
    ignored = [code for code in INPUT_RULES if code.startswith("LC1")]
    assert sorted(c.get("name").split()[0] for c in skipped) == ignored
    passed = [c for c in cases if len(c) == 0]
    assert len(passed) == len(INPUT_RULES) - 1 - len(ignored)
    for el in (suite, root):
        assert el.get("tests") == str(len(INPUT_RULES))
        assert (el.get("failures"), el.get("errors"), el.get("skipped")) == (
            "1", "0", str(len(ignored)))


def test_junit_finding_below_fail_on_passes_with_its_evidence():
    root = ET.fromstring(run("analyze", WARNING_FILE, "--format", "junit").stdout)
    case = next(c for c in root.iter("testcase") if c.get("name").startswith("LC207"))
    assert case.find("failure") is None and case.find("skipped") is None
    assert "LC207 sigmoid-probabilities-as-logits [warning]" in case.find("system-out").text
    assert root.get("failures") == "0"


def test_junit_strips_characters_xml_forbids():
    assert xml_text("a\x00b\x1bc\ud800d\ufffee\tf\ng") == "abcde\tf\ng"
    report = _report("row\x00s\x07 <&> \"quoted\"", path="odd\x01name.npy")
    text = render_junit(report)
    root = ET.fromstring(text)
    failure = next(root.iter("failure"))
    # control characters from inputs reach the renderer already escaped (sanitize.py)
    assert failure.get("message") == 'row\\x00s\\x07 <&> "quoted"'
    assert root.find("testsuite").get("name") == "odd\\x01name.npy"


def test_github_commands_parse_and_carry_level_file_title_message():
    result = run("analyze", WARNING_FILE, "--format", "github")
    commands = parse_github(result.stdout)
    assert commands[0][0] == "warning"
    title = "LC207 sigmoid-probabilities-as-logits"
    assert commands[0][1] == {"file": WARNING_FILE, "title": title}
    assert commands[-1] == ("notice", {"title": "logitcheck"},
                            "PASS: 1 warning (fail-on error, exit 0)")
    info = parse_github(run("analyze", str(SAMPLES / "log_probs.npy"), "--format", "github").stdout)
    assert info[0][0] == "notice"
    error = parse_github(run("analyze", ERROR_FILE, "--format", "github").stdout)
    assert error[0][0] == "error" and error[0][1]["title"] == "LC201 probabilities-as-logits"


def test_github_escaping_follows_the_toolkit():
    assert escape_data("50%\r\nx: a, b") == "50%25%0D%0Ax: a, b"
    assert escape_property("C:\\a,b%\n") == "C%3A\\a%2Cb%25%0A"
    from logitcheck.report.github import render_github

    report = _report("line one\nline 2: 100%, done\r", path="dir,x/a:b.npy")
    [finding, _] = parse_github(render_github(report))
    assert finding == ("error", {"file": "dir,x/a:b.npy", "title": "LC201 probabilities-as-logits"},
                       "line one\\x0aline 2: 100%, done\\x0d")  # sanitised before rendering


def test_markdown_summary_structure_and_size_limit():
    text = run("analyze", ERROR_FILE, "--labels", LABELS, "--format", "markdown").stdout
    lines = text.splitlines()
    assert lines[0] == f"## logitcheck analyze: {ERROR_FILE}"
    assert lines[2] == "**FAIL: 1 error (fail-on error, exit 1)**"
    rows = [line for line in lines if line.startswith("| LC")]
    assert [r.split(" | ")[0] for r in rows] == ["| LC201"]
    assert text.count("<details>") == text.count("</details>") == 1
    details = text.split("<details>")[1]
    evidence = json.loads(details.split("```json\n")[1].split("\n```")[0])
    assert set(evidence) >= {"loss_as_logits", "loss_as_probabilities"}

    big = _report("x" * 5000, count=500)
    full = render_markdown(big)
    assert len(full.encode()) < 1024 * 1024
    small = render_markdown(big, max_bytes=20_000)
    assert len(small.encode()) <= 20_000 + 200
    assert re.search(r"_… \d+ more part\(s\) left out to stay under 1 MiB._\n$", small)


def test_output_file_and_side_files(tmp_path):
    out, js, junit, md = (tmp_path / n for n in ("o.txt", "r.json", "r.xml", "s.md"))
    result = run("analyze", ERROR_FILE, "--format", "github", "-o", str(out),
                 "--json-report", str(js), "--junit-xml", str(junit), "--summary-md", str(md))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert parse_github(out.read_text())[0][1]["title"] == "LC201 probabilities-as-logits"
    assert json.loads(js.read_text())["findings"][0]["code"] == "LC201"
    assert ET.fromstring(junit.read_text()).get("failures") == "1"
    assert md.read_text().startswith("## logitcheck analyze")
    assert "FAIL: 1 error" in result.stderr  # the human report
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.txt", "r.json", "r.xml", "s.md"]


def test_color_auto_never_always(monkeypatch):
    ansi = re.compile(r"\x1b\[")
    assert not ansi.search(run("analyze", ERROR_FILE).stdout)  # not a TTY
    assert ansi.search(run("analyze", ERROR_FILE, "--color", "always").stdout)
    assert not ansi.search(run("analyze", ERROR_FILE, "--color", "never").stdout)
    from logitcheck.cli.outputs import Terminal, use_color

    tty = Terminal(stdout_tty=True)
    assert use_color("auto", True, tty)
    assert not use_color("auto", True, Terminal(stdout_tty=True, no_color_env=True))
    assert not use_color("auto", False, tty)
    assert use_color("always", False, Terminal(no_color_env=True))
    assert not use_color("never", True, tty)


def _report(message: str, path: str = "a.npy", count: int = 1) -> Report:
    finding = Finding("LC201", "probabilities-as-logits", Severity.ERROR, message,
                      {"rows": 3}, {"numpy": "fix <it>"})
    return Report(
        inputs=[InputInfo("logits", path, (3, 2), "float32", 24)],
        kind=Kind("probabilities", 0.99, {}),
        metrics={"loss_stable": None},
        findings=[finding] * count,
        fail_on=Severity.ERROR,
        gate=GateInfo(rules={"LC201": "probabilities-as-logits"}),
    )


def test_rendered_files_are_replaced_atomically(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("old")
    assert run("analyze", HEALTHY, "--format", "json", "-o", str(target)).exit_code == 0
    assert json.loads(Path(target).read_text())["exit_code"] == 0
