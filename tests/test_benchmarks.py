"""A smoke run of benchmarks/run.py: two tiny shapes, one rep, every tool that is installed."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from logitcheck.compute import kernel

ROOT = Path(__file__).resolve().parent.parent
CASES = ["2000x1000-float32", "2000x1000-float16"]  # two of the four: torch starts in ~3 s


def test_quick_run_writes_every_row_and_target(tmp_path: Path):
    md, js = tmp_path / "bench.md", tmp_path / "bench.json"
    out = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--quick", "--reps", "1", "--startup-reps", "1",
         "--no-big", "--skip-missing", "--cases", ",".join(CASES), "--tmp", str(tmp_path),
         "--markdown", str(md), "--json", str(js)],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=120,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    text = md.read_text()
    assert text in out.stdout
    res = json.loads(js.read_text())
    tools = ["read (raw bytes)", "logitcheck (process)", "logitcheck.analyze",
             "logitcheck.analyze, portable kernel", "logitcheck.analyze, numpy path"]
    have_torch = importlib.util.find_spec("torch") is not None
    if have_torch:
        tools += ["torch F.cross_entropy", "exp limit (torch.exp)"]
    if importlib.util.find_spec("scipy") is not None:
        tools.append("scipy log_softmax")
    lines = text.splitlines()
    # the header names the kernel's code, asked of a child that imports logitcheck
    assert f"kernel SIMD {kernel.SIMD if kernel.SIMD else 'None'}" in text
    assert ("| shape | dtype | GB | tool | median s | best s | GB/s | × torch | × limit "
            "| peak RSS MiB |") in lines
    for shape, dtype in [("2,000 × 1,000", "float32"), ("2,000 × 1,000", "float16")]:
        rows = [r for r in lines if r.startswith(f"| {shape} | {dtype} |")]
        assert sorted(r.split(" | ")[3] for r in rows[:-1]) == sorted(tools)
        target = rows[-1].split(" | ")  # the targets table comes last
        assert len(target) == 11
        verdicts = {"PASS", "FAIL"} if have_torch else {"n/a"}
        assert target[4] in verdicts
        if dtype == "float32":  # C >= 1000: the exp-limit target applies
            assert target[7] in verdicts
        else:
            assert target[5:8] == ["–", "–", "–"]
        assert target[9] in ("PASS", "FAIL")  # peak RSS, judged with or without torch
    verdicts = {"PASS", "FAIL"} if have_torch else {"n/a"}
    for code in ("portable kernel", "numpy path"):  # float32, C = 1000 (issue 23)
        row = [r for r in lines if r.startswith(f"| {code} | 2,000 × 1,000 | float32 |")]
        assert len(row) == 1 and row[0].split(" | ")[5].rstrip(" |") in verdicts
    assert not any(r.startswith("| portable kernel | 2,000 × 1,000 | float16") for r in lines)
    assert "| ratio (target < 2x) |" in text
    assert set(res["cases"]) == set(CASES)
    for case in res["cases"].values():
        for t in case["tools"].values():
            assert len(t["seconds"]) == 1 and t["median_s"] > 0 and t["peak_rss_mib"] > 0
        assert case["tools"]["api"]["info"][0]["kind"] == "logits"
        assert case["tools"]["api_numpy"]["info"][0]["kernel"].startswith("numpy")
        if kernel._COMPILED is not None:
            assert case["tools"]["api_portable"]["info"][0]["kernel"] == "compiled (portable)"
        if have_torch:  # the data is what run.py says: both see the same mean loss
            assert abs(case["tools"]["torch"]["info"][0]["loss"]
                       - case["tools"]["scipy"]["info"][0]["loss"]) < 1e-2
    assert not list(tmp_path.glob("logitcheck-bench-*"))  # the generated files are gone


def test_stages_script_reports_each_stage_and_the_budget(tmp_path: Path):
    """benchmarks/stages.py on a small narrow file, with torch: every stage's row, a cost per
    row that is a positive number, and the budget sentence that compares them."""
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")
    md = tmp_path / "stages.md"
    out = subprocess.run(
        [sys.executable, "benchmarks/stages.py", "--rows", "20000", "--reps", "1",
         "--markdown", str(md)],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=120,
    )
    if "compiled kernel is not available" in out.stderr:
        pytest.skip("no compiled kernel")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    rows = {line.split(" | ")[0][2:]: float(line.split(" | ")[1].rstrip(" |"))
            for line in md.read_text().splitlines()
            if line.startswith("| ") and not line.startswith(("| stage", "|---"))}
    assert list(rows) == ["row statistics", "row stage", "chunk", "torch, 1 thread (wall)",
                          "torch, 2 threads (wall)"]
    assert all(v > 0 for v in rows.values())
    assert "2x torch on 2 cores leaves" in md.read_text()


def test_floors_script_times_each_path_against_torch():
    """benchmarks/floors.py on a small file: every row, in order, with a positive time and
    its ratio to torch (torch's own is 1.00)."""
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")
    out = subprocess.run(
        [sys.executable, "benchmarks/floors.py", "--rows", "2000", "--classes", "100",
         "--reps", "1"],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=120,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    rows = [line.split(" | ") for line in out.stdout.splitlines()
            if line.startswith("| ") and not line.startswith(("| what", "|---"))]
    names = [r[0][2:] for r in rows]
    want = ["torch F.cross_entropy", "float64 exp, numpy",
            "numpy passes (exp, argmax, argmin, abs then min, sum)",
            "numpy path (kernel._numpy_row_stats)"]
    if kernel._COMPILED is not None:
        want.append(f"kernel row pass ({kernel.SIMD})")
    assert names == want
    assert all(float(r[1]) > 0 for r in rows) and rows[0][2].rstrip(" |") == "1.00"
