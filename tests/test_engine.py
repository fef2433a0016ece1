"""The local engine: threads by default, bounded chunks, progress, released pages."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

import logitcheck
from logitcheck.compute.chunks import MAX_CHUNK_ROWS, chunk_rows, thread_count
from logitcheck.compute.engine import compute_stats
from logitcheck.io import open_inputs
from logitcheck.settings import Settings


def _files(tmp_path: Path, n: int = 3000, c: int = 12) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    z, y = tmp_path / "z.npy", tmp_path / "y.npy"
    np.save(z, (rng.normal(0, 5, (n, c))).astype(np.float32))
    np.save(y, rng.integers(0, c, n))
    return z, y


def test_default_threads_are_one_per_core_and_give_the_serial_statistics(tmp_path):
    z, y = _files(tmp_path)
    assert Settings().threads == 0 and thread_count(Settings()) >= 1
    serial = Settings(threads=1, chunk_rows=97)
    source, labels = open_inputs(z, y, serial)
    one = compute_stats(source, labels, serial)
    many = compute_stats(source, labels, dataclasses.replace(serial, threads=0))
    four = compute_stats(source, labels, dataclasses.replace(serial, threads=4))
    assert one == many == four and one.rows == 3000


def test_chunk_rows_bound_bytes_and_rows_and_give_each_thread_several_chunks():
    from types import SimpleNamespace

    from logitcheck.compute.chunks import CHUNKS_PER_THREAD, MIN_CHUNK_ROWS

    def source(rows, c, itemsize=4):
        return SimpleNamespace(shape=(rows, c), stored=SimpleNamespace(nbytes=rows * c * itemsize))

    two = Settings(threads=2)
    assert chunk_rows(source(1_000_000, 10), two) == 1_000_000 // (CHUNKS_PER_THREAD * 2)
    assert chunk_rows(source(10_000_000, 10), two) == MAX_CHUNK_ROWS  # narrow: rows bound it
    assert chunk_rows(source(200_000, 1000), two) == (32 << 20) // 4000  # chunk_bytes of file
    assert chunk_rows(source(100, 10), two) == MIN_CHUNK_ROWS  # small files: one chunk
    assert chunk_rows(source(1_000_000, 10), Settings(threads=2, chunk_rows=97)) == 97


def test_progress_counts_the_input_bytes_as_chunks_finish(tmp_path):
    z, y = _files(tmp_path)
    calls = []
    logitcheck.analyze(z, y, Settings(chunk_rows=500, threads=2),
                       progress=lambda done, total, stage="reading": calls.append(
                           (done, total, stage)))
    total = 3000 * 12 * 4
    assert [c[2] for c in calls] == ["analysing"] * 6
    assert [c[0] for c in calls] == [total * k // 6 for k in range(1, 7)]
    assert all(c[1] == total for c in calls)


def test_released_pages_leave_the_statistics_unchanged(tmp_path, monkeypatch):
    """madvise(DONTNEED) on finished chunks: the next read of a page maps it again. (Files
    up to KEEP_MAPPED_BYTES stay mapped: this one is released.)"""
    from logitcheck.io import layout

    monkeypatch.setattr(layout, "KEEP_MAPPED_BYTES", 0)
    z, y = _files(tmp_path, n=20000, c=64)
    settings = Settings(chunk_rows=333, threads=2)
    source, labels = open_inputs(z, y, settings)
    first = compute_stats(source, labels, settings)
    assert compute_stats(source, labels, settings) == first  # same pages, released twice
    source.release(0, source.shape[0])
    assert np.array_equal(source.read(0, 5), np.load(z)[:5])


def test_threads_return_chunks_in_order_with_few_in_flight_and_raise_a_chunks_error():
    import threading
    import time

    from logitcheck.compute.engine import _ordered

    taken, lock = [], threading.Lock()
    before = threading.active_count()

    def one(bounds):
        with lock:
            taken.append(bounds[0])
        time.sleep(0.001 * (bounds[0] % 3))  # finish out of order
        return bounds[0]

    consumed = []
    for got in _ordered(one, [(k, k + 1) for k in range(40)], 3):
        with lock:  # taken, not yet consumed: at most 2 * threads
            assert len(taken) - len(consumed) <= 6
        consumed.append(got)
    assert consumed == list(range(40))

    def fails(bounds):
        if bounds[0] == 5:
            raise ValueError("chunk 5")
        return bounds[0]

    got = []
    try:
        for value in _ordered(fails, [(k, k + 1) for k in range(20)], 2):
            got.append(value)
    except ValueError as exc:
        assert str(exc) == "chunk 5"
    else:
        raise AssertionError("no error")
    assert got == [0, 1, 2, 3, 4]
    assert threading.active_count() == before  # the workers stopped
