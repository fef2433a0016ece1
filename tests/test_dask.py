"""--engine dask on a real dask.distributed LocalCluster (2 worker processes): the report
equals the local engine's, bit for bit, on .npy files, .npy shards and zarr stores."""

from __future__ import annotations

import json
import logging
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from logitcheck.cli.app import cli
from logitcheck.compute import dask_engine
from logitcheck.compute.stats import Plan
from logitcheck.errors import InputError, UsageError
from logitcheck.io import Ref
from logitcheck.settings import Settings

from .conftest import SAMPLES, assert_clean_error, save
from .conftest import analyze_json as analyze

distributed = pytest.importorskip("distributed")
zarr = pytest.importorskip("zarr")

LABELS = str(SAMPLES / "labels.npy")
RNG = np.random.default_rng(9)


@pytest.fixture(scope="module")
def cluster():
    """One cluster for the module: starting one costs seconds."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=logging.CRITICAL,
                                  scheduler_kwargs={"dashboard_address": ":0"}) as c:
        yield c


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster, set_as_default=False) as c:
        yield c


def on_cluster(cluster, *args: str) -> tuple[int, dict]:
    return analyze(*args, "--engine", "dask", "--scheduler", cluster.scheduler_address)


def tasks(stream: list[dict], kind: str) -> list[dict]:
    return [t for t in stream if str(t["key"]).startswith(f"('logitcheck-{kind}-")
            or str(t["key"]).startswith(f"logitcheck-{kind}-")]


# --- the same report as the local engine ------------------------------------------------------


@pytest.mark.parametrize(("logits", "extra"), [
    ("fp16_overflow_logits.npy", ["--labels", LABELS]),
    ("fp32_underflow_logits.npy", ["--labels", LABELS, "--dtypes", "float16,bfloat16"]),
    ("double_softmax.npy", ["--labels", LABELS]),
    ("probs_as_logits.npy", ["--labels", LABELS, "--expects", "probabilities"]),
    ("log_probs.npy", []),
    ("binary_logits.npy", ["--labels", str(SAMPLES / "binary_labels.npy")]),
    ("sigmoid_multilabel.npy", []),
])
def test_sample_files_give_the_local_report(cluster, client, logits, extra):
    args = [str(SAMPLES / logits), *extra, "--chunk-rows", "300"]
    local = analyze(*args)
    with distributed.get_task_stream(client) as stream:
        dask = on_cluster(cluster, *args)
    assert dask == local
    assert local[1]["metrics"]["rows"] == 2000
    chunks = tasks(stream.data, "chunk")
    assert len(chunks) == 7  # 2,000 rows in chunks of 300: one task each
    assert len(tasks(stream.data, "merge")) == 1  # 7 parts, merged 8 at a time


def test_many_small_chunks_use_both_workers(cluster, client):
    args = [str(SAMPLES / "fp16_overflow_logits.npy"), "--labels", LABELS, "--chunk-rows", "7"]
    local = analyze(*args)
    with distributed.get_task_stream(client) as stream:
        dask = on_cluster(cluster, *args)
    assert dask == local
    assert local[0] == 0 and local[1]["metrics"]["naive"]["float16"]["softmax_then_log"][
        "failed_rows"] == 112
    chunks = tasks(stream.data, "chunk")
    assert len(chunks) == 286  # ceil(2000 / 7)
    assert len({t["worker"] for t in chunks}) == 2
    assert len(tasks(stream.data, "merge")) == 36 + 5 + 1  # 286 -> 36 -> 5 -> 1


def test_ignore_index_rows(cluster, tmp_path):
    y = np.load(LABELS)
    y[[0, 5, 6, 700, 1999]] = -100
    y[14:21] = -100  # one whole chunk of 7 (rows 14..20) is ignored
    labels = save(tmp_path / "y.npy", y)
    args = [str(SAMPLES / "fp16_overflow_logits.npy"), "--labels", labels, "--chunk-rows", "7"]
    local = analyze(*args)
    assert on_cluster(cluster, *args) == local
    assert local[1]["metrics"]["ignored_rows"] == 12
    assert local[1]["metrics"]["rows"] == 1988


def shard(directory: Path, array: np.ndarray, cuts: list[int], name: str = "part-{}") -> str:
    directory.mkdir()
    bounds = [0, *cuts, len(array)]
    for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        np.save(directory / f"{name.format(i)}.npy", array[a:b])
    return str(directory)


def without_paths(doc: dict) -> dict:
    doc = json.loads(json.dumps(doc))
    for i in doc["inputs"]:
        i.pop("path"), i.pop("format"), i.pop("key")
    doc["gate"].pop("fingerprint")
    return doc


def test_shard_directories_read_as_the_one_file(cluster, tmp_path):
    """Logits and labels sharded at different rows: the report is the single file's, with
    global row numbers, on either engine."""
    z = np.load(SAMPLES / "fp16_overflow_logits.npy")
    y = np.load(LABELS)
    y[[3, 998]] = -100
    # 12 shards: shard-2 sorts before shard-10 (natural order), one shard is empty
    logits = shard(tmp_path / "logits", z, [1, 2, 40, 40, 333, 500, 999, 1000, 1500, 1990, 1999],
                   "shard-{}")
    labels = shard(tmp_path / "labels", y, [700, 1300])
    single = (save(tmp_path / "z.npy", z), save(tmp_path / "y.npy", y))
    expected = analyze(single[0], "--labels", single[1], "--chunk-rows", "7")
    local = analyze(logits, "--labels", labels, "--chunk-rows", "7")
    dask = on_cluster(cluster, logits, "--labels", labels, "--chunk-rows", "7")
    assert dask == local
    assert without_paths(local[1]) == without_paths(expected[1])
    assert [i["format"] for i in dask[1]["inputs"]] == ["shards", "shards"]
    assert dask[1]["metrics"]["naive"]["float16"]["softmax_then_log"]["first_rows"][:3] == [
        34, 77, 80]


def test_zarr_stores(cluster, tmp_path):
    z = np.load(SAMPLES / "fp32_underflow_logits.npy")
    y = np.load(LABELS)
    store = zarr.open_group(str(tmp_path / "export.zarr"), mode="w")
    store.create_array("logits", data=z, chunks=(128, 10))
    store.create_array("labels", data=y, chunks=(500,))
    array = tmp_path / "logits.zarr"
    zarr.create_array(str(array), data=z, chunks=(300, 5))
    expected = analyze(str(SAMPLES / "fp32_underflow_logits.npy"), "--labels", LABELS)
    for args in ([str(tmp_path / "export.zarr")], [str(array), "--labels", LABELS]):
        args += ["--chunk-rows", "100"]
        local = analyze(*args)
        assert on_cluster(cluster, *args) == local
        assert without_paths(local[1]) == without_paths(expected[1])
        assert local[1]["inputs"][0]["format"] == "zarr"


def test_language_model_shards_with_shifted_labels(cluster, tmp_path):
    """(B, T, V) shards along the batch axis, --shift-labels: positions are global too."""
    z = RNG.normal(scale=4.0, size=(6, 9, 5)).astype(np.float16)
    z[4, 3, 1] = 30.0  # float16's naive softmax overflows at (b=4, t=3): row 4 * 8 + 3
    y = RNG.integers(0, 5, size=(6, 9))
    logits = shard(tmp_path / "z", z, [2, 3])
    labels = shard(tmp_path / "y", y, [4])
    args = [logits, "--labels", labels, "--shift-labels", "--chunk-rows", "5"]
    local = analyze(*args)
    assert on_cluster(cluster, *args) == local
    failed = local[1]["metrics"]["naive"]["float16"]["softmax_then_log"]["first_rows"]
    assert 35 in failed
    expected = analyze(save(tmp_path / "z.npy", z), "--labels", save(tmp_path / "y.npy", y),
                       "--shift-labels")
    assert without_paths(local[1]) == without_paths(expected[1])


def test_default_local_cluster():
    """Without --scheduler a LocalCluster is started for the run and closed after it; run as
    `python -m logitcheck` (its worker processes are spawned): stdout is the JSON alone, and
    stderr the human report alone, without the cluster's log lines."""
    args = [sys.executable, "-m", "logitcheck", "analyze", "sample_data/double_softmax.npy",
            "--labels", "sample_data/labels.npy", "--chunk-rows", "500", "--format", "json",
            "--color", "never"]
    procs = [subprocess.run(args + engine, capture_output=True, text=True, cwd=SAMPLES.parent,
                            timeout=120) for engine in ([], ["--engine", "dask"])]
    local, dask = procs
    assert dask.returncode == local.returncode == 1, dask.stderr
    docs = [json.loads(p.stdout) for p in procs]
    for d in docs:
        d.pop("timings")
    assert docs[0] == docs[1]
    assert dask.stderr == local.stderr
    assert "distributed" not in dask.stderr


def test_a_yaml_job_runs_on_the_cluster(cluster, tmp_path):
    from logitcheck.batch import resolve, runner

    config = tmp_path / "logitcheck.yaml"
    config.write_text(
        "version: 1\njobs:\n  - name: fp16\n"
        f"    logits: {SAMPLES / 'fp16_overflow_logits.npy'}\n    labels: {LABELS}\n"
        f"    engine: dask\n    scheduler: {cluster.scheduler_address}\n    chunk-rows: 250\n")
    job = resolve.load(config).jobs[0]
    assert (job.settings.engine, job.settings.scheduler) == ("dask", cluster.scheduler_address)
    outcome = runner.run_job(job)
    local = runner.run_job(resolve.load(config, {"engine": "local", "scheduler": None}).jobs[0])
    assert outcome.error is None and outcome.report is not None
    assert outcome.report.metrics == local.report.metrics
    assert outcome.report.findings == local.report.findings


# --- errors -----------------------------------------------------------------------------------


def test_an_unreachable_scheduler_is_exit_2_naming_it(monkeypatch):
    monkeypatch.setattr(dask_engine, "CONNECT_TIMEOUT_S", 1.0)
    args = ["analyze", str(SAMPLES / "healthy_logits.npy"), "--engine", "dask"]
    result = CliRunner().invoke(cli, [*args, "--scheduler", "tcp://127.0.0.1:9"])
    line = assert_clean_error(result)
    assert line == ("logitcheck: error: --scheduler tcp://127.0.0.1:9: no dask "
                    "scheduler answered within 1 s")
    result = CliRunner().invoke(cli, [*args, "--scheduler", "nonsense"])
    assert_clean_error(result, "--scheduler nonsense: not a scheduler address")
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None,
                                  scheduler_kwargs={"dashboard_address": ":0"},
                                  silence_logs=logging.CRITICAL) as empty:
        address = empty.scheduler_address
        result = CliRunner().invoke(cli, [*args, "--scheduler", address])
    line = assert_clean_error(result)
    assert line == (f"logitcheck: error: --scheduler {address}: the cluster has "
                    "no workers (none joined within 1 s)")


def test_shard_errors_name_the_shard(cluster, tmp_path):
    z = RNG.normal(size=(10, 4)).astype(np.float32)
    d = tmp_path / "dtype"
    d.mkdir()
    save(d / "a-1.npy", z)
    save(d / "a-2.npy", z.astype(np.float16))
    dask = ["--engine", "dask", "--scheduler", cluster.scheduler_address]
    result = CliRunner().invoke(cli, ["analyze", str(d), *dask])
    line = assert_clean_error(result)
    assert line == (
        f"logitcheck: error: {d / 'a-2.npy'}: dtype float16 differs from float32 in a-1.npy "
        "(every shard must have the same dtype)")
    d = tmp_path / "shape"
    d.mkdir()
    save(d / "a-1.npy", z)
    save(d / "a-10.npy", z)
    save(d / "a-2.npy", z[:, :3])
    result = CliRunner().invoke(cli, ["analyze", str(d), *dask])
    assert_clean_error(result, f"{d / 'a-2.npy'}: shape (10, 3) does not match (10, 4) in a-1.npy")
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(cli, ["analyze", str(tmp_path / "empty"), *dask])
    line = assert_clean_error(result)
    assert line == (f"logitcheck: error: {tmp_path / 'empty'}: is a directory "
                    "with no .npy shards in it (and not a zarr store)")


def test_options_dask_cannot_honour_are_refused(tmp_path):
    logits = str(SAMPLES / "healthy_logits.npy")
    for extra, message in (
        (["--backend", "torch"], "--backend torch: runs with --engine local only"),
        (["--cross-check"], "--cross-check: runs with --engine local only"),
    ):
        result = CliRunner().invoke(cli, ["analyze", logits, "--engine", "dask", *extra])
        assert_clean_error(result, message)
    result = CliRunner().invoke(cli, ["analyze", logits, "--scheduler", "tcp://x:1"])
    assert_clean_error(result, "--scheduler tcp://x:1: applies to --engine dask only")
    csv = tmp_path / "z.csv"
    csv.write_text("a,b\n0.5,1.5\n2.0,-1.0\n")
    result = CliRunner().invoke(cli, ["analyze", str(csv), "--engine", "dask"])
    assert_clean_error(result, f"--engine dask: {csv} is CSV", "save it as .npy")
    with pytest.raises(UsageError, match="run with --engine local only"):
        dask_engine.compute_all_dask(None, None, Settings(engine="dask"), jobs=(object(),))


def task(tmp_path: Path, **change) -> dask_engine.Task:
    logits = save(tmp_path / "z.npy", RNG.normal(size=(8, 3)).astype(np.float32))
    fields = dict(run="r", logits=Ref(logits, "npy"), labels=None, settings=Settings(),
                  plan=Plan(("float32", "float64"), storage="float32"), shape=(8, 3),
                  dtype="float32", targets=None)
    return dask_engine.Task(**{**fields, **change})


def test_a_worker_that_cannot_open_the_inputs_says_so(tmp_path):
    """Chunk tasks run here directly: a worker reopens the inputs from their paths."""
    missing = task(tmp_path, run="missing", logits=Ref(str(tmp_path / "gone.npy"), "npy"))
    with pytest.raises(InputError, match=r"gone\.npy: no such file \(on a dask worker\)"):
        dask_engine.chunk_task(missing, 0, 8)
    other = task(tmp_path, run="other", shape=(9, 3))
    with pytest.raises(InputError, match=r"opens as float32 \(8, 3\) .* but as float32 \(9, 3\)"):
        dask_engine.chunk_task(other, 0, 8)
    stats, backends = dask_engine.chunk_task(task(tmp_path, run="ok"), 0, 8)
    assert (stats.rows, backends) == (8, {})
    dask_engine.forget("ok")
    assert "ok" not in dask_engine._OPENED
    # a worker's InputError reaches the client whole
    error = pickle.loads(pickle.dumps(InputError("a.npy", "no such file")))
    assert (error.path, error.problem) == ("a.npy", "no such file")
    assert str(error) == "a.npy: no such file"


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=SAMPLES.parent, timeout=120)


def test_missing_dask_is_exit_2_with_the_pip_command():
    proc = _run(
        "import sys; sys.modules['distributed'] = None\n"
        "from logitcheck.cli.app import main\n"
        "sys.argv = ['logitcheck', 'analyze', 'sample_data/healthy_logits.npy', '--engine',"
        " 'dask']\n"
        "main()\n"
    )
    assert proc.returncode == 2
    assert proc.stderr == ("logitcheck: error: --engine dask: dask.distributed is not "
                           "installed; pip install 'logitcheck[dask]'\n")
    assert proc.stdout == ""
