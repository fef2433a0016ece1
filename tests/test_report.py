"""The human report: snapshots at width 100 per sample file, verbosity, the HTML page."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from logitcheck.cli.app import cli
from logitcheck.report.html import render_html

from .conftest import SAMPLES, save

ROOT = SAMPLES.parent
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
UPDATE = os.environ.get("LOGITCHECK_UPDATE_SNAPSHOTS") == "1"
BINARY = ("binary_logits", "binary_probs", "double_sigmoid")
LOGIT_SAMPLES = sorted(p.stem for p in SAMPLES.glob("*.npy") if "labels" not in p.stem)


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def analyze_sample(name: str, *args: str):
    labels = "binary_labels.npy" if name in BINARY else "labels.npy"
    return run("analyze", f"sample_data/{name}.npy", "--labels", f"sample_data/{labels}", *args)


#: A float64 naive path's gap at float64's rounding (a few ulp) is libm's last bits, which
#: differ by CPU (numpy takes exp and log from its AVX-512 code where the CPU has it): its
#: digits are not compared, only that it is there.
_ROUNDING_GAP = re.compile(r"gap ≤ \d\.\de-1[5-7]\)")


#: The verbose report names the code that computed (the CPU's SIMD width, or numpy).
_KERNEL_LINE = re.compile(r"^kernel: .*$", re.M)


def _comparable(text: str) -> str:
    text = _KERNEL_LINE.sub("kernel: (this machine's)", text)
    return _ROUNDING_GAP.sub("gap ≤ (float64 rounding))", text)


def check_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    if UPDATE or not path.exists():
        if not UPDATE:
            pytest.fail(f"no snapshot {path.name}: run with LOGITCHECK_UPDATE_SNAPSHOTS=1")
        path.write_text(text, encoding="utf-8")
    assert _comparable(text) == _comparable(path.read_text(encoding="utf-8")), (
        f"{path.name} differs; if the change is intended: LOGITCHECK_UPDATE_SNAPSHOTS=1 pytest")


@pytest.fixture(autouse=True)
def _at_the_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # relative paths in the report: the same on every machine


def test_the_samples_are_all_covered():
    assert len(LOGIT_SAMPLES) == 11


@pytest.mark.parametrize("name", LOGIT_SAMPLES)
def test_terminal_report_snapshot(name):
    result = analyze_sample(name)
    assert result.exit_code in (0, 1)
    assert "\x1b[" not in result.stdout  # no terminal: no colour
    assert max(len(line) for line in result.stdout.splitlines()) <= 100
    check_snapshot(name, result.stdout)


def test_verbose_report_snapshot():
    result = analyze_sample("fp32_underflow_logits", "-v")
    check_snapshot("fp32_underflow_logits.verbose", result.stdout)


def test_quiet_prints_the_verdict_only():
    result = analyze_sample("fp16_overflow_logits", "-q", "--loss-path", "naive")
    assert result.stdout == "FAIL: 1 error (fail-on error, exit 1)\n"
    assert result.exit_code == 1
    result = analyze_sample("fp16_overflow_logits", "-q")  # the stable path: a hazard
    assert result.stdout == "PASS: 1 warning (fail-on error, exit 0)\n"
    assert result.exit_code == 0
    # with a machine-readable format the human report on stderr is the verdict too
    result = analyze_sample("healthy_logits", "-q", "--format", "json")
    assert result.stderr == "PASS: no findings (fail-on error, exit 0)\n"
    assert result.stdout.startswith("{")


def test_quiet_and_verbose_exclude_each_other():
    result = analyze_sample("healthy_logits", "-q", "-v")
    assert result.exit_code == 2
    assert "-q/--quiet and -v/--verbose" in result.stderr


def test_default_shows_one_fix_and_verbose_all_four_with_evidence_and_zones():
    default = analyze_sample("double_softmax").stdout
    assert "fix (PyTorch):" in default and "fix (Keras/TF):" not in default
    assert "logitcheck explain LC202" in default
    assert "evidence:" not in default and "dtype zones" not in default
    verbose = analyze_sample("fp16_overflow_logits", "-v").stdout
    for name in ("PyTorch", "Keras/TF", "JAX", "numpy"):
        assert f"fix ({name}):" in verbose
    assert "evidence:" in verbose and "dtype zones" in verbose
    assert "worst rows by stable loss (top 10)" in verbose


def test_the_pictures_match_the_kind():
    overflow = analyze_sample("fp16_overflow_logits").stdout
    assert "row max logit: headroom to exp overflow" in overflow
    assert "↑ f16 11.09: exp overflows" in overflow
    assert "↑ f16 17.33: p rounds to 0" in overflow
    double = analyze_sample("double_softmax").stdout
    assert "ln(row max / row min): double softmax test" in double
    assert "e: double softmax keeps every row left" in double
    assert "headroom to exp overflow" not in double
    binary = analyze_sample("binary_logits").stdout
    assert "stable loss per row" in binary and "row max logit" not in binary


def test_first_naive_failures_table_lists_the_failing_rows():
    out = analyze_sample("fp16_overflow_logits").stdout
    table = out.split("first rows a naive path fails on (float16")[1].split("naive columns")[0]
    rows = [line.split()[0] for line in table.strip().splitlines()[2:]]
    assert rows == ["34", "77", "80", "91", "138", "169", "203", "222", "224", "238"]
    assert "inf / inf" in table


def test_n_d_logits_show_positions(tmp_path):
    rng = np.random.default_rng(5)
    z = (rng.normal(0, 4, size=(2, 6, 5)) + 14 * (rng.random((2, 6, 1)) > 0.5)).astype(np.float16)
    y = rng.integers(0, 5, size=(2, 6))
    result = run("analyze", save(tmp_path / "z.npy", z), "--labels", save(tmp_path / "y.npy", y))
    assert "position" in result.stdout
    assert re.search(r"b=\d, t=\d", result.stdout)


def test_html_is_written_atomically_and_escapes_the_data(tmp_path):
    z = np.load(SAMPLES / "fp16_overflow_logits.npy")
    evil = tmp_path / "<img src=x onerror=alert(1)>&\"x'.npy"
    save(evil, z)
    page = tmp_path / "report.html"
    result = run("analyze", str(evil), "--labels", "sample_data/labels.npy", "--html", str(page),
                 "-q", "--loss-path", "naive")
    assert result.exit_code == 1
    text = page.read_text(encoding="utf-8")
    assert "<img" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;&amp;&quot;x&#x27;.npy" in text
    assert text.count("<script>") == 1  # ours: it only marks the page as loaded
    assert text.count("<svg") == 3 and "LC101" in text
    assert not re.search(r"<[^>]*\s(src|href)=|@import|url\(", text)  # nothing is fetched
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_html_format_on_stdout_for_compare_has_no_pictures():
    result = run("compare", "sample_data/healthy_logits.npy",
                 "sample_data/fp16_overflow_logits.npy", "--format", "html")
    assert result.stdout.startswith("<!DOCTYPE html>")
    assert "<svg" not in result.stdout and "Drift" in result.stdout


def test_html_renderer_is_pure(tmp_path):
    from logitcheck.analyses.analyze import analyze

    report = analyze("sample_data/double_softmax.npy", "sample_data/labels.npy")
    assert render_html(report) == render_html(report)
    assert 'data-plot="log_ratio"' in render_html(report)
