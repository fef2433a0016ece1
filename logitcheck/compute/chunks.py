"""What every engine computes per chunk: the chunk size, the chunks' bounds, the Plan, and
chunk_part, the statistics of one chunk of rows. The local engine (engine.py) and the dask
engine (dask_engine.py) both schedule chunk_part; neither imports the other's module.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator

import numpy as np

from ..backends.compute import BackendStats, Job, chunk_backend_stats
from ..inference import row_sum_tolerance
from ..io import Labels, Source
from ..settings import Settings
from .mergeable import RowIds
from .numerics import chunk_stats
from .stats import Plan, Stats, naive_dtypes

#: Rows per chunk at most: the numpy code's temporaries (some fifty float64 a row) come in
#: parts of numerics.NUMPY_BLOCK_BYTES, so this bounds the compiled code's row arrays and
#: the Python work per chunk (some 3 ms, holding the GIL): on C = 10, 65,536 rows a chunk
#: spent a fifth of the run there.
MAX_CHUNK_ROWS = 262144
#: ... and at least two chunks a thread where the file has the rows, so that the threads
#: finish together: on 1M x 10 and 2 threads, 4 chunks took 81-83 ms, 8 chunks 86-88.
CHUNKS_PER_THREAD = 2
MIN_CHUNK_ROWS = 8192


def chunk_rows(source: Source, settings: Settings) -> int:
    if settings.chunk_rows is not None:
        return max(1, settings.chunk_rows)
    # a chunk is chunk_bytes of the file (the numpy code takes it in smaller parts:
    # numerics.NUMPY_BLOCK_BYTES of float64 each)
    rows = source.shape[0]
    row_bytes = max(1, source.stored.nbytes // max(1, rows))
    spread = max(MIN_CHUNK_ROWS, -(-rows // (CHUNKS_PER_THREAD * thread_count(settings))))
    return max(1, min(MAX_CHUNK_ROWS, spread, settings.chunk_bytes // row_bytes))


def thread_count(settings: Settings) -> int:
    """--threads, or one per core (0): numpy and the kernel release the GIL."""
    return settings.threads or os.cpu_count() or 1


def chunk_bounds(rows: int, step: int) -> Iterator[tuple[int, int]]:
    for start in range(0, rows, step):
        yield start, min(start + step, rows)


def target_tolerance(labels: Labels | None, classes: int) -> float:
    """How far from 1 a row of soft targets stored in the labels' dtype may sum."""
    if labels is None or labels.array.dtype.kind != "f":
        return 0.0
    return row_sum_tolerance(labels.array.dtype.name, classes)


def plan_for(source: Source, labels: Labels | None, settings: Settings) -> Plan:
    return Plan(
        naive_dtypes(source.dtype, settings.dtypes),
        storage=source.dtype,
        targets=labels.targets if labels is not None else "ids",
        smoothing=settings.label_smoothing,
        target_tolerance=target_tolerance(labels, source.shape[1]),
        frameworks=settings.expects == "probabilities",
    )


def chunk_part(
    source: Source, labels: Labels | None, settings: Settings, plan: Plan,
    start: int, stop: int, jobs: tuple[Job, ...] = (), offset: int = 0,
) -> tuple[Stats, dict[str, BackendStats]]:
    """The statistics of rows [start, stop): the one unit of work every engine schedules
    (serial, threads, dask). Labelled ignore_index rows are left out and counted. Rows are
    numbered from `offset` (a batch's first row in a stream of batches: api.Checker)."""

    def both(z: np.ndarray, y: np.ndarray | None, rows: RowIds) -> tuple[Stats, dict]:
        stats = chunk_stats(z, y, rows, plan)
        if not jobs:
            return stats, {}
        return stats, chunk_backend_stats(jobs, z, y, rows, plan, settings.ignore_index)

    z = source.read(start, stop)
    try:
        return _labelled_part(z, labels, settings, start, source.shape[1], both, offset)
    finally:
        source.release(start, stop)  # the mapped pages leave this process's memory


def _labelled_part(z: np.ndarray, labels: Labels | None, settings: Settings, start: int,
                   classes: int, both: Callable, offset: int = 0) -> tuple[Stats, dict]:
    """both(z, y, row ids) on the rows whose label is not ignore_index."""
    stop = start + z.shape[0]
    first = offset + start  # the number of the block's first row
    if labels is None:
        return both(z, None, first)
    y = labels.read(start, stop)
    if labels.targets != "ids":  # ignore_index applies to class ids only, as in torch
        return both(z, y, first)
    keep = y != settings.ignore_index
    if keep.all():
        return both(z, y, first)
    ignored = int(keep.size - np.count_nonzero(keep))
    if not keep.any():
        return Stats(classes=classes, labelled=True, ignored=ignored), {}
    rows = first + np.flatnonzero(keep)  # the kept rows keep their numbers
    part, backend = both(z[keep], y[keep], rows)
    return dataclasses.replace(part, ignored=ignored), backend


def row_reader(source: Source, labels: Labels | None
               ) -> Callable[[list[int]], tuple[np.ndarray, np.ndarray | None]]:
    """read(rows): those rows' values and labels (a few rows: tables.fill_table_cells)."""

    def read(rows: list[int]) -> tuple[np.ndarray, np.ndarray | None]:
        z = np.concatenate([np.array(source.read(r, r + 1)) for r in rows])
        y = None if labels is None else np.concatenate([labels.read(r, r + 1) for r in rows])
        return z, y

    return read
