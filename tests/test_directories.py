"""Directory inputs on the local engine: .npy shards and zarr stores read as the one array
they hold, block by block, with the layouts, checks and messages of a single .npy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from logitcheck.cli.app import cli
from logitcheck.io import open_inputs
from logitcheck.io.layout import LazyRowView, RowView
from logitcheck.io.shards import ShardedArray, natural_key, open_shards
from logitcheck.report import fingerprint
from logitcheck.settings import Settings

from .conftest import SAMPLES, assert_clean_error, save
from .conftest import analyze_json as analyze

RNG = np.random.default_rng(5)
LABELS = str(SAMPLES / "labels.npy")


def same_report(a: tuple[int, dict], b: tuple[int, dict]) -> None:
    """Equal but for where the inputs are."""
    docs = [json.loads(json.dumps(x[1])) for x in (a, b)]
    for d in docs:
        for i in d["inputs"]:
            i.pop("path"), i.pop("format"), i.pop("key")
        d["gate"].pop("fingerprint")
    assert a[0] == b[0]
    assert docs[0] == docs[1]


def fails(args: list[str], *fragments: str) -> str:
    return assert_clean_error(CliRunner().invoke(cli, args, catch_exceptions=False), *fragments)


def shard(directory: Path, array: np.ndarray, cuts: list[int], name: str = "s{}") -> str:
    directory.mkdir()
    bounds = [0, *cuts, len(array)]
    for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        np.save(directory / f"{name.format(i)}.npy", array[a:b])
    return str(directory)


class Lazy:
    """A numpy array seen only through shape, dtype and __getitem__, as zarr is."""

    def __init__(self, a: np.ndarray) -> None:
        self.a, self.shape, self.dtype, self.ndim, self.nbytes = a, a.shape, a.dtype, a.ndim, 0

    def __getitem__(self, index):
        return self.a[index].copy()


# --- reading rows -------------------------------------------------------------------------


@pytest.mark.parametrize(("shape", "class_axis", "shift"), [
    ((7, 3), 1, False), ((7,), None, False), ((7, 1), 1, False), ((3, 4, 5), 2, False),
    ((3, 4, 5), 2, True), ((3, 5, 4), 1, False), ((2, 3, 4, 5), 3, True),
    ((2, 3, 4, 5), 1, False), ((2, 3, 4), None, False),
])
def test_lazy_rows_are_rowview_rows_for_every_block(shape, class_axis, shift):
    a = RNG.normal(size=shape)
    moved = a if class_axis is None else np.moveaxis(a, class_axis, -1)
    if shift:
        moved = moved[:, :-1]
    ref = RowView(moved, columns=class_axis is not None)
    lazy = LazyRowView(Lazy(a), class_axis, shift)
    assert (lazy.rows, lazy.lead, lazy.columns) == (ref.rows, ref.lead, ref.columns)
    for start in range(ref.rows):
        for stop in range(start + 1, ref.rows + 1):
            np.testing.assert_array_equal(lazy.read(start, stop), ref.read(start, stop))
    assert lazy.position(ref.rows - 1) == ref.position(ref.rows - 1)


def test_sharded_array_indexing(tmp_path):
    a = RNG.normal(size=(23, 4, 3)).astype(np.float32)
    d = tmp_path / "d"
    shard(d, a, [0, 5, 5, 6, 17])
    s = open_shards(d)
    assert isinstance(s, ShardedArray)
    assert (s.shape, s.dtype, s.nbytes, len(s.shards)) == (a.shape, a.dtype, a.nbytes, 6)
    for lo in range(24):
        for hi in range(lo, 24):
            np.testing.assert_array_equal(s[lo:hi], a[lo:hi])
            np.testing.assert_array_equal(s[lo:hi, 2], a[lo:hi, 2])
    np.testing.assert_array_equal(s[5, 1:3, 0], a[5, 1:3, 0])
    np.testing.assert_array_equal(s[-1], a[-1])
    np.testing.assert_array_equal(np.asarray(s), a)
    with pytest.raises(IndexError):
        s[23]


def test_natural_order():
    names = ["shard-10.npy", "shard-2.npy", "shard-1.npy", "a.npy", "shard-02b.npy"]
    assert sorted(names, key=natural_key) == [
        "a.npy", "shard-1.npy", "shard-2.npy", "shard-02b.npy", "shard-10.npy"]


# --- the report of the one file ---------------------------------------------------------------


def test_shards_give_the_single_file_report_on_threads(tmp_path):
    z = np.load(SAMPLES / "fp16_overflow_logits.npy")
    y = np.load(LABELS)
    # shard-2 must come before shard-10: lexical order would put rows out of place
    logits = shard(tmp_path / "z", z, list(range(150, 2000, 150)), "shard-{}")
    labels = shard(tmp_path / "y", y, [1000])
    expected = analyze(str(SAMPLES / "fp16_overflow_logits.npy"), "--labels", LABELS)
    for extra in ([], ["--chunk-rows", "13", "--threads", "2"]):
        same_report(analyze(logits, "--labels", labels, *extra), expected)
        same_report(analyze(logits, "--labels", LABELS, *extra), expected)
    doc = analyze(logits, "--labels", labels)[1]
    assert doc["inputs"][0]["format"] == "shards"
    assert doc["inputs"][0]["shape"] == [2000, 10]


def test_pytorch_layout_shards(tmp_path):
    """(N, C, d) shards with --class-axis 1; a row is (n, d), numbered across shards."""
    z = RNG.normal(scale=3.0, size=(10, 4, 3)).astype(np.float32)
    z[7, 2, 1] = 200.0  # row 7 * 3 + 1: float32's naive softmax overflows there
    y = RNG.integers(0, 4, size=(10, 3))
    logits = shard(tmp_path / "z", z, [3, 8])
    labels = shard(tmp_path / "y", y, [5])
    args = ["--class-axis", "1", "--chunk-rows", "4"]
    got = analyze(logits, "--labels", labels, *args)
    same_report(got, analyze(save(tmp_path / "z.npy", z), "--labels",
                             save(tmp_path / "y.npy", y), *args))
    naive = got[1]["metrics"]["naive"]["float32"]["no_max_shift"]
    assert naive["first_rows"] == [22]


def test_zarr_formats_groups_and_dense_labels(tmp_path):
    zarr = pytest.importorskip("zarr")
    z = np.load(SAMPLES / "double_softmax.npy")
    y = np.load(LABELS)
    expected = analyze(str(SAMPLES / "double_softmax.npy"), "--labels", LABELS)
    for fmt in (2, 3):
        path = str(tmp_path / f"v{fmt}.zarr")
        g = zarr.open_group(path, mode="w", zarr_format=fmt)
        g.create_array("outputs", shape=z.shape, dtype=z.dtype, chunks=(333, 7))[:] = z
        g.create_array("y", shape=y.shape, dtype=y.dtype, chunks=(256,))[:] = y
        got = analyze(path, "--logits-key", "outputs", "--labels-key", "y", "--chunk-rows", "99")
        same_report(got, expected)
        assert got[1]["inputs"][0]["key"] == "outputs"
        assert got[1]["inputs"][1]["key"] == "y"
    # one-hot targets in a zarr array: read block by block like the logits
    onehot = np.eye(10, dtype=np.float32)[y]
    zarr.create_array(str(tmp_path / "onehot.zarr"), data=onehot, chunks=(300, 10))
    dense = analyze(str(SAMPLES / "double_softmax.npy"), "--labels",
                    str(tmp_path / "onehot.zarr"), "--chunk-rows", "128")
    reference = analyze(str(SAMPLES / "double_softmax.npy"), "--labels",
                        save(tmp_path / "onehot.npy", onehot))
    same_report(dense, reference)
    assert dense[1]["metrics"]["loss_stable"] == expected[1]["metrics"]["loss_stable"]


def test_inspect_describes_directories(tmp_path):
    zarr = pytest.importorskip("zarr")
    z = RNG.normal(size=(30, 4)).astype(np.float32)
    d = shard(tmp_path / "z", z, [10, 20], "part-{}")
    store = str(tmp_path / "s.zarr")
    zarr.create_array(store, data=z, chunks=(8, 4))
    result = CliRunner().invoke(cli, ["inspect", d, store])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1] == "  30 × 4 float32, 480 bytes (3 .npy shards, mapped)"
    assert lines[2] == ("  3 shards, in this order: part-0.npy (10 rows), part-1.npy (10 rows), "
                        "part-2.npy (10 rows)")
    assert lines[4] == "  30 × 4 float32, 480 bytes (zarr, chunks of 8 × 4)"
    doc = json.loads(CliRunner().invoke(cli, ["inspect", d, "--format", "json"]).stdout)
    assert doc["files"][0]["format"] == "shards"
    assert [s["shape"] for s in doc["files"][0]["shards"]] == [[10, 4]] * 3


def test_fingerprint_and_baseline_cover_every_shard(tmp_path):
    z = np.load(SAMPLES / "fp16_overflow_logits.npy")
    d = Path(shard(tmp_path / "z", z, [1000]))
    before = fingerprint.file_fingerprint(d)
    assert before == fingerprint.file_fingerprint(d)
    write = CliRunner().invoke(cli, ["baseline", "write", str(tmp_path / "b.json"), str(d),
                                     "--labels", LABELS])
    assert write.exit_code == 0, write.output
    assert analyze(str(d), "--labels", LABELS, "--baseline", str(tmp_path / "b.json"))[0] == 0
    changed = z[1000:].copy()
    changed[500, 0] += 1  # the middle of the second shard: outside a single file's 2 MiB
    np.save(d / "s1.npy", changed)
    assert fingerprint.file_fingerprint(d) != before


def test_a_yaml_job_reads_a_shard_directory(tmp_path):
    from logitcheck.batch import resolve, runner

    z = np.load(SAMPLES / "fp16_overflow_logits.npy")
    shard(tmp_path / "z", z, [700])
    save(tmp_path / "labels.npy", np.load(LABELS))
    (tmp_path / "c.yaml").write_text("version: 1\njobs:\n  - name: shards\n    logits: z\n"
                                     "    labels: labels.npy\n")
    outcome = runner.run_job(resolve.load(tmp_path / "c.yaml").jobs[0])
    assert outcome.error is None
    assert outcome.report.metrics["naive"]["float16"]["softmax_then_log"]["failed_rows"] == 112
    (tmp_path / "empty").mkdir()
    (tmp_path / "c.yaml").write_text("version: 1\njobs:\n  - name: x\n    logits: empty\n")
    result = CliRunner().invoke(cli, ["config", "validate", str(tmp_path / "c.yaml")])
    assert result.exit_code == 2
    assert "is a directory, holds no .npy shards and is not a zarr store" in result.stderr


# --- errors -----------------------------------------------------------------------------------


def test_shard_errors_name_the_shard_and_the_problem(tmp_path):
    z = RNG.normal(size=(6, 3)).astype(np.float32)
    d = tmp_path / "trunc"
    d.mkdir()
    save(d / "0.npy", z)
    (d / "1.npy").write_bytes(Path(save(tmp_path / "x.npy", z)).read_bytes()[:-8])
    fails(["analyze", str(d)], f"{d / '1.npy'}: truncated")
    d = tmp_path / "scalar"
    d.mkdir()
    save(d / "0.npy", z)
    save(d / "1.npy", np.float32(1))
    fails(["analyze", str(d)], f"{d / '1.npy'}: holds a single value (0-D)")
    d = tmp_path / "notes"
    d.mkdir()
    (d / "README.txt").write_text("no arrays here")
    fails(["analyze", str(d)], f"{d}: is a directory with no .npy shards in it")
    fails(["inspect", str(d)], f"{d}: is a directory with no .npy shards in it")
    d = tmp_path / "labels"
    shard(d, np.arange(5) % 3, [2])
    fails(["analyze", save(tmp_path / "z.npy", z), "--labels", str(d)],
          f"{d}: has 5 labels but the logits have 6 rows")
    d = tmp_path / "big"
    shard(d, z, [3])
    fails(["analyze", str(d), "--max-bytes", "50"], f"{d}: declares 72 B of data, above the "
          "--max-bytes cap of 50 B")


def test_zarr_errors(tmp_path):
    zarr = pytest.importorskip("zarr")
    (tmp_path / "e.zarr").mkdir()
    fails(["analyze", str(tmp_path / "e.zarr")], f"{tmp_path / 'e.zarr'}: not a zarr store (no "
          "zarr.json, .zarray or .zgroup in it)")
    a = str(tmp_path / "a.zarr")
    zarr.create_array(a, data=np.ones((4, 3), np.float32))
    fails(["analyze", a, "--logits-key", "x"], f"{a}: is a zarr array, not a group: "
          "--logits-key 'x' does not apply")
    g = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    g.create_array("first", data=np.ones((4, 3), np.float32))
    g.create_array("second", data=np.ones((4, 3), np.float32))
    fails(["analyze", str(tmp_path / "g.zarr")], "no logits array among 'first', 'second'")
    g.create_array("ids", data=np.ones((4, 3), np.int32))
    fails(["analyze", str(tmp_path / "g.zarr"), "--logits-key", "ids"], f"{tmp_path / 'g.zarr'}: "
          "holds int32 values; model outputs must be float16")


def test_missing_zarr_is_exit_2_with_the_pip_command(tmp_path):
    zarr = pytest.importorskip("zarr")
    store = str(tmp_path / "a.zarr")
    zarr.create_array(store, data=np.ones((4, 3), np.float32))
    code = ("import sys; sys.modules['zarr'] = None\nfrom logitcheck.cli.app import main\n"
            f"sys.argv = ['logitcheck', 'analyze', {store!r}]\nmain()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr == ("logitcheck: error: reading zarr stores needs zarr, which is not "
                           "installed; pip install 'logitcheck[zarr]'\n")


def test_open_inputs_reads_lazily(tmp_path):
    """Nothing but headers is read when shards are opened: the first read maps one shard."""
    z = RNG.normal(size=(40, 5)).astype(np.float32)
    d = shard(tmp_path / "z", z, [10, 20, 30])
    source, _ = open_inputs(d, None, Settings())
    assert source.array._maps == {}
    np.testing.assert_array_equal(source.read(12, 18), z[12:18])
    assert list(source.array._maps) == [1]
