"""The human report at any width: no number cut, no header cut, the file name always there
(long paths lose their leading directories), columns left out by priority and said so."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner
from rich.cells import cell_len

from logitcheck.cli.app import cli
from logitcheck.cli.run import report_width
from logitcheck.report.fit import Column, fit_columns, shorten_path

from .conftest import SAMPLES, save

WIDTHS = (60, 80, 120, 200)


@pytest.fixture
def deep(tmp_path) -> tuple[str, str]:
    """fp16 logits that overflow, in a directory 150+ characters deep."""
    d = tmp_path.joinpath("exports", "nightly", "2026-12-05T22-10-00.123456", "a" * 40,
                          "b" * 40, "run3")
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    z = (rng.normal(size=(1000, 10)) * 10).astype(np.float16)
    z[3, 2] = 60
    y = rng.integers(0, 10, 1000)
    return save(d / "model_logits.npy", z), save(d / "labels.npy", y)


def run(width: int, *args: str):
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": str(width)},
                              catch_exceptions=False)


def check_layout(text: str, width: int) -> None:
    for line in text.splitlines():
        assert cell_len(line) <= width, line
        # an ellipsis only where a path lost its leading directories
        assert all(line[i + 1: i + 2] == "/" for i, c in enumerate(line) if c == "…"), line


@pytest.mark.parametrize("width", WIDTHS)
def test_analyze_report_at_width(deep, width):
    logits, labels = deep
    args = ("analyze", logits, "--labels", labels, "--dtypes", "float16,bfloat16", "-v",
            "--loss-path", "naive")
    result = run(width, *args)
    assert result.exit_code == 1
    text = result.stdout
    check_layout(text, width)
    assert re.search(r"^ logits  \S*/?model_logits\.npy ", text, re.M), text
    assert re.search(r"^ labels  \S*/?labels\.npy ", text, re.M)
    if width < cell_len(logits) + 40:
        assert "…/" in text
    doc = json.loads(run(width, *args, "--format", "json").stdout)
    m = doc["metrics"]
    # every worst row's stable loss, whole (6 significant digits as the table prints them)
    for r in m["worst_rows"][:10]:
        loss = re.escape(format(r["loss"], ".6g"))
        assert re.search(rf"(?<![\d.]){loss}(?![\d.])", text), r
        assert re.search(rf"^{r['row']} ", text, re.M)
    assert f"{m['loss_stable']:.6g}" in text
    # the storage dtype's naive column is never the one left out; headers whole
    for header in ("float16", "stable", "label", "max-logit", "headroom"):
        assert header in text
    if width <= 80:
        assert "not shown at" in text and "float64 naive" in text
    else:
        assert "not shown at" not in text and "float64 naive" in text


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_and_gaussian_reports_at_width(tmp_path, width):
    healthy = str(SAMPLES / "healthy_logits.npy")
    z = np.load(healthy)
    noise = np.random.default_rng(1).normal(size=z.shape) * 2
    other = save(tmp_path / "candidate.npy", (z + noise).astype(np.float16))
    result = run(width, "compare", healthy, other)
    assert result.exit_code == 1
    check_layout(result.stdout, width)
    assert "candidate.npy" in result.stdout and "healthy_logits.npy" in result.stdout
    g = str(SAMPLES / "gaussian.npz")
    result = run(width, "gaussian", g, g, "--targets", g, "--mean-key", "mean",
                 "--scale-key", "log_std", "--targets-key", "targets")
    assert result.exit_code == 0, result.output
    check_layout(result.stdout, width)
    assert "gaussian.npz [log_std]" in result.stdout


def test_shorten_path_keeps_the_file_name():
    path = "/home/ci/builds/2026-12-05/run3/model_logits.npy"
    assert shorten_path(path, 100) == path
    assert shorten_path(path, 34) == "…/2026-12-05/run3/model_logits.npy"
    assert shorten_path(path, 33) == "…/run3/model_logits.npy"
    assert shorten_path(path, 5) == "…/model_logits.npy"  # wider than asked: the name stays
    assert shorten_path("model_logits.npy", 5) == "model_logits.npy"


def test_fit_drops_by_priority_and_never_below_a_cells_width():
    cols = [Column("row", ["123456"]), Column("a", ["1.2345e-05"], drop=2),
            Column("b", ["9.87654321"], drop=5), Column("note", ["a b c d e f"], wrap=True)]
    kept, widths, dropped = fit_columns(cols, 24, {"box": None, "pad_edge": False})
    assert [c.header for c in dropped] == ["b"]
    assert [c.header for c in kept] == ["row", "a", "note"]
    assert widths[:2] == [6, 10]  # numbers whole
    assert widths[2] == 24 - 6 - 10 - 4  # prose takes what is left


def test_report_width_reads_columns(monkeypatch):
    monkeypatch.setenv("COLUMNS", "72")
    assert report_width(False) == 72
    monkeypatch.setenv("COLUMNS", "10")
    assert report_width(False) == 40
    monkeypatch.delenv("COLUMNS")
    assert report_width(False) == 100



@pytest.mark.parametrize("width", (60, 80))
def test_batch_summary_at_width(tmp_path, width):
    config = tmp_path / "logitcheck.yaml"
    config.write_text(
        "version: 1\njobs:\n"
        f"  - name: nightly export of the model with a long name\n"
        f"    logits: {SAMPLES / 'probs_as_logits.npy'}\n"
        f"    labels: {SAMPLES / 'labels.npy'}\n"
        f"  - name: healthy\n    logits: {SAMPLES / 'healthy_logits.npy'}\n"
        f"    labels: {SAMPLES / 'labels.npy'}\n")
    result = run(width, "run", str(config))
    assert result.exit_code == 1
    check_layout(result.stdout, width)
    doc = json.loads(run(width, "run", str(config), "--format", "json").stdout)
    for job in doc["jobs"]:
        assert f"{job['report']['metrics']['loss_stable']:.6g}" in result.stdout
