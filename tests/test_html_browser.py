"""The HTML page in a real headless browser: the DOM holds the findings and the plots,
the inline script ran (data-ready="1"), and the console reports no errors.

Skips where no chromium is installed (.ci/run installs it on Debian).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from click.testing import CliRunner

from logitcheck.cli.app import cli

from .conftest import SAMPLES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed")


def chromium(tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def console_errors(stderr: str) -> list[str]:
    """Console messages chromium logs with --enable-logging=stderr: 'CONSOLE(...)' lines,
    and uncaught script errors."""
    return [line for line in stderr.splitlines()
            if "CONSOLE" in line or "Uncaught" in line or "SyntaxError" in line]


@pytest.mark.parametrize("name", ["fp32_underflow_logits", "double_softmax"])
def test_html_page_renders_in_a_browser_without_errors(tmp_path, name):
    page = tmp_path / "report.html"
    result = CliRunner().invoke(cli, [
        "analyze", str(SAMPLES / f"{name}.npy"), "--labels", str(SAMPLES / "labels.npy"),
        "--html", str(page), "-q", "--loss-path", "naive"])
    assert result.exit_code == 1
    done = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert 'data-ready="1"' in dom  # the inline script ran on load
    code = "LC102" if name == "fp32_underflow_logits" else "LC202"
    assert f'data-code="{code}"' in dom
    assert dom.count("<svg") >= 2 and "<rect" in dom
    assert 'data-plot="loss"' in dom
    assert "FAIL: " in dom
    assert console_errors(done.stderr) == []


def test_the_console_check_catches_a_script_error(tmp_path):
    # a control: the same check on a page with an error must not pass
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><script>missing();</script></body></html>")
    done = chromium(tmp_path, "--dump-dom", bad.as_uri())
    assert any("missing is not defined" in line for line in console_errors(done.stderr))
