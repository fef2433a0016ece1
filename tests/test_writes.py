"""Nothing is written but where the user asked, and what is written is written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from logitcheck.cli import outputs
from logitcheck.cli.app import cli
from logitcheck.io import delimited

from .conftest import save
from .writers import write_csv, write_safetensors

Z = np.random.default_rng(5).normal(size=(30, 4)).astype(np.float32)
Y = np.arange(30) % 4


def snapshot(*dirs: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns)
            for d in dirs for p in sorted(d.rglob("*"))}


def inputs(where: Path) -> dict[str, list[str]]:
    rows = [[f"{v:.4f}" for v in r] + [int(c)] for r, c in zip(Z, Y, strict=True)]
    np.savez(where / "z.npz", logits=Z, labels=Y)
    return {
        "npy": [save(where / "z.npy", Z), "--labels", save(where / "y.npy", Y)],
        "npz": [str(where / "z.npz")],
        "safetensors": [write_safetensors(where / "z.safetensors", {"logits": Z, "labels": Y})],
        "csv": [write_csv(where / "z.csv", ["a", "b", "c", "d", "label"], rows)],
        "csv.gz": [write_csv(where / "z.csv.gz", ["a", "b", "c", "d", "label"], rows)],
    }


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """A system temp dir of our own, to see what is left in it."""
    tmp = tmp_path / "systmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp


@pytest.mark.parametrize("fmt", ["npy", "npz", "safetensors", "csv", "csv.gz"])
@pytest.mark.parametrize("extra", [[], ["--format", "json"], ["--format", "junit"],
                                   ["--format", "markdown", "--threads", "2"]])
def test_analyze_writes_nothing_anywhere(tmp_path, monkeypatch, private_tmp, fmt, extra):
    data, cwd = tmp_path / "data", tmp_path / "cwd"
    data.mkdir()
    cwd.mkdir()
    args = inputs(data)[fmt]
    monkeypatch.chdir(cwd)
    before = snapshot(data, cwd, private_tmp)
    result = CliRunner().invoke(cli, ["analyze", *args, *extra])
    assert result.exit_code in (0, 1), result.output
    assert snapshot(data, cwd, private_tmp) == before
    for sub in ("inspect", "rules"):
        CliRunner().invoke(cli, [sub, *(args[:1] if sub == "inspect" else [])])
        assert snapshot(data, cwd, private_tmp) == before


def test_csv_temp_file_is_anonymous_and_gone(tmp_path, private_tmp, monkeypatch):
    """The decoded CSV lives in an unlinked temp file: never visible, never left behind."""
    seen: list[list[str]] = []
    real = tempfile.TemporaryFile

    def watched(*a, **kw):
        f = real(*a, **kw)
        seen.append(os.listdir(private_tmp))
        return f

    monkeypatch.setattr(delimited.tempfile, "TemporaryFile", watched)
    path = inputs(tmp_path)["csv"][0]
    result = CliRunner().invoke(cli, ["analyze", path])
    assert result.exit_code in (0, 1), result.output
    assert seen == [[]]  # one temp file, with no name in the temp dir
    assert os.listdir(private_tmp) == []
    bad = tmp_path / "bad.csv"  # failing half-way through: the temp file goes too
    bad.write_text("a,b\n" + "0.5,0.5\n" * 100 + "x,1\n")
    result = CliRunner().invoke(cli, ["analyze", str(bad)])
    assert result.exit_code == 2 and os.listdir(private_tmp) == []


def _run_with_outputs(tmp_path: Path, target: str, *extra: str):
    z = save(tmp_path / "z.npy", Z)
    y = save(tmp_path / "y.npy", Y)
    return CliRunner().invoke(cli, ["analyze", z, "--labels", y, *extra, target])


@pytest.mark.parametrize("option", ["-o", "--json-report", "--junit-xml", "--summary-md"])
@pytest.mark.parametrize("previous", [None, "the previous complete report\n"])
def test_a_failing_replace_leaves_the_old_file_or_none(tmp_path, monkeypatch, option, previous):
    out = tmp_path / "out" / "report.txt"
    out.parent.mkdir()
    if previous is not None:
        out.write_text(previous)

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outputs.os, "replace", broken_replace)
    result = _run_with_outputs(tmp_path, str(out), "--format", "json", option)
    assert result.exit_code == 2
    message = f"logitcheck: error: {out}: cannot write (No space left on device)"
    assert result.stderr.strip() == message
    assert os.listdir(out.parent) == ([] if previous is None else ["report.txt"])
    if previous is not None:
        assert out.read_text() == previous


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, OSError(5, "Input/output error")])
def test_interrupted_mid_write_leaves_no_half_report(tmp_path, monkeypatch, interrupt):
    out = tmp_path / "out"
    out.mkdir()
    target = out / "r.json"
    target.write_text('{"complete": true}\n')
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, text):
            self.f.write(text[: len(text) // 2])
            self.f.flush()
            raise interrupt

    monkeypatch.setattr(outputs.os, "fdopen", lambda *a, **kw: HalfWriter(real_fdopen(*a, **kw)))
    if isinstance(interrupt, OSError):
        result = _run_with_outputs(tmp_path, str(target), "--json-report")
        assert result.exit_code == 2 and "cannot write (Input/output error)" in result.stderr
    else:
        with pytest.raises(KeyboardInterrupt):
            outputs.write_atomic(str(target), '{"complete": "new"}\n')
    assert os.listdir(out) == ["r.json"]
    assert target.read_text() == '{"complete": true}\n'


def test_a_renderer_that_fails_writes_nothing(tmp_path, monkeypatch):
    from logitcheck import report

    def broken(*a, **kw):
        raise RuntimeError("renderer broke")

    monkeypatch.setitem(report.RENDERERS, "junit", broken)
    out = tmp_path / "out"
    out.mkdir()
    result = _run_with_outputs(tmp_path, str(out / "r.xml"), "--junit-xml")
    assert result.exit_code == 2
    assert os.listdir(out) == []


def test_baseline_write_is_atomic_too(tmp_path, monkeypatch):
    target = tmp_path / "base" / "b.json"
    target.parent.mkdir()
    target.write_text("old\n")
    monkeypatch.setattr(outputs.os, "replace", lambda *a: (_ for _ in ()).throw(OSError(13, "x")))
    z = save(tmp_path / "z.npy", Z)
    result = CliRunner().invoke(cli, ["baseline", "write", str(target), z])
    assert result.exit_code == 2
    assert os.listdir(target.parent) == ["b.json"] and target.read_text() == "old\n"




def test_a_device_or_fifo_is_written_to_not_replaced(tmp_path):
    """`-o /dev/null` as root: os.replace would put a file where the device was."""
    import stat
    import threading

    from logitcheck.cli.outputs import write_atomic

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    write_atomic(str(fifo), "report\n")
    reader.join(timeout=10)
    assert got == ["report\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]  # no temp file left
