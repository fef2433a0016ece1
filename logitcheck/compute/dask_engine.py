"""--engine dask: the chunks of one analysis as tasks on a dask.distributed cluster.

Each task is chunks.chunk_part over one chunk of rows (chunks.chunk_rows): exactly what the
local engine computes. The parts are merged in a tree of tasks with Stats.merge, which
is exact and associative, so the report is bit for bit the local engine's.

Tasks carry no array data: only where the inputs are (io.Ref: path, format, key), the
Settings, the Plan and the row bounds. A worker opens the inputs once per run and keeps
them (a small cache in the worker process), so every worker must read the same files at
the same paths (a shared filesystem for a remote cluster). Imported only for
--engine dask: `import logitcheck` never imports dask.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..backends.compute import BackendStats, Job, merge_runs
from ..errors import InputError, LogitcheckError, UsageError
from ..io import Labels, Ref, Source, reopen
from ..settings import Settings
from .chunks import chunk_bounds, chunk_part, chunk_rows, plan_for, row_reader
from .stats import Plan, Stats
from .tables import fill_table_cells

#: How long to wait for --scheduler's scheduler to answer, and for a worker to join it.
CONNECT_TIMEOUT_S = 10.0
#: Worker processes of the LocalCluster started without --scheduler (--threads N > 1: N).
LOCAL_WORKERS = 2
#: Parts merged per merge task: fewer tasks than pairs (each costs the scheduler about a
#: millisecond), still a tree, so no single process ever holds every part.
FAN_IN = 8
_KEEP_OPENED = 4  # runs whose inputs a worker keeps open (concurrent runs on one cluster)

Part = tuple[Stats, dict[str, BackendStats]]


@dataclass(frozen=True)
class Task:
    """What every chunk task of one run shares; small, and sent with each task."""

    run: str  # unique to the run: the key of the worker's cache of opened inputs
    logits: Ref
    labels: Ref | None
    settings: Settings
    plan: Plan
    # what the inputs opened as here; a worker that opens something else refuses to go on
    shape: tuple[int, int]
    dtype: str
    targets: str | None  # None: no labels


# --- on the workers ---------------------------------------------------------------------------

_OPENED: OrderedDict[str, tuple[Source, Labels | None]] = OrderedDict()
_LOCK = threading.Lock()  # a worker may run several tasks at once (threads_per_worker > 1)


def _open(task: Task) -> tuple[Source, Labels | None]:
    source, labels = reopen(task.logits, task.labels, task.settings)
    seen = (source.shape, source.dtype, labels.targets if labels is not None else None)
    wanted = (task.shape, task.dtype, task.targets)
    if seen != wanted:
        raise InputError(task.logits.path, f"opens as {seen[1]} {seen[0]} (labels: {seen[2]}) "
                         f"on the dask worker but as {wanted[1]} {wanted[0]} (labels: "
                         f"{wanted[2]}) where logitcheck runs; every worker must read the same "
                         "files at the same paths")
    return source, labels


def _inputs(task: Task) -> tuple[Source, Labels | None]:
    with _LOCK:
        opened = _OPENED.get(task.run)
        if opened is None:
            opened = _OPENED[task.run] = _open(task)
            while len(_OPENED) > _KEEP_OPENED:
                _OPENED.popitem(last=False)
        else:
            _OPENED.move_to_end(task.run)
        return opened


def _worker() -> str:
    try:
        from distributed import get_worker

        return f"the dask worker {get_worker().address}"
    except ValueError:  # not in a worker (tests call the task functions directly)
        return "a dask worker"


def chunk_task(task: Task, start: int, stop: int) -> Part:
    """One chunk's statistics, computed on a worker."""
    try:
        source, labels = _inputs(task)
    except InputError as exc:  # say where: a path can exist here and not on the worker
        raise InputError(exc.path, f"{exc.problem} (on {_worker()})") from None
    return chunk_part(source, labels, task.settings, task.plan, start, stop)


def merge_parts(*parts: Part) -> Part:
    stats, backends = parts[0]
    for more, more_backends in parts[1:]:
        stats, backends = stats.merge(more), merge_runs(backends, more_backends)
    return stats, backends


def forget(run: str) -> None:
    """Drop a finished run's opened inputs (and their maps) from this worker."""
    with _LOCK:
        _OPENED.pop(run, None)


# --- where logitcheck runs --------------------------------------------------------------------


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise UsageError("--engine dask: dask.distributed is not installed; "
                         "pip install 'logitcheck[dask]'") from None
    return distributed


@contextlib.contextmanager
def _client(settings: Settings) -> Iterator[Any]:
    """A client of --scheduler's cluster, or of a LocalCluster started (and closed) here."""
    distributed = _distributed()
    address = settings.scheduler
    if address is None:
        workers = settings.threads if settings.threads > 1 else LOCAL_WORKERS  # 0, 1: two
        cluster = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
            # no dashboard; the scheduler's HTTP endpoints (health, metrics) on any free port
            # rather than 8787, which another cluster may hold (a warning on stderr)
            scheduler_kwargs={"dashboard_address": ":0"},
            silence_logs=logging.CRITICAL,  # shutdown's heartbeat errors are noise on stderr
        )
        with cluster, distributed.Client(cluster, set_as_default=False) as client:
            yield client
        return
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except ValueError as exc:  # a malformed address: no scheme, no port, unknown scheme
        raise UsageError(f"--scheduler {address}: not a scheduler address ({exc})") from None
    except OSError:  # TimeoutError included
        raise UsageError(f"--scheduler {address}: no dask scheduler answered within "
                         f"{CONNECT_TIMEOUT_S:g} s") from None
    with client:
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except TimeoutError:
            raise UsageError(f"--scheduler {address}: the cluster has no workers (none joined "
                             f"within {CONNECT_TIMEOUT_S:g} s)") from None
        yield client


def _tree(client: Any, parts: list[Any], run: str) -> Any:
    """Merge futures FAN_IN at a time, level by level, into one. Neighbours only, so rows
    stay in order (though Stats.merge gives the same bits in any order)."""
    level = 0
    while len(parts) > 1:
        parts = [
            client.submit(merge_parts, *parts[i : i + FAN_IN],
                          key=f"logitcheck-merge-{run}-{level}-{i // FAN_IN}")
            if len(parts[i : i + FAN_IN]) > 1 else parts[i]
            for i in range(0, len(parts), FAN_IN)
        ]
        level += 1
    return parts[0]


def compute_all_dask(
    source: Source, labels: Labels | None, settings: Settings, jobs: tuple[Job, ...] = ()
) -> tuple[Stats, dict[str, BackendStats]]:
    """engine.compute_all, with each chunk a task on a dask.distributed cluster."""
    if jobs:  # options.build_settings refuses them first; this guards library callers
        raise UsageError("--engine dask: the framework backends (--backend, --cross-check) "
                         "run with --engine local only")
    for stored in (source.stored, labels.stored if labels is not None else None):
        if stored is not None and stored.format in ("csv", "tsv"):
            raise UsageError(f"--engine dask: {stored.path} is {stored.format.upper()}, which "
                             "is decoded where it is opened; save it as .npy (or use "
                             "--engine local)")
    run = uuid.uuid4().hex
    task = Task(run, Ref.of(source.stored), Ref.of(labels.stored) if labels is not None else None,
                settings, plan_for(source, labels, settings), source.shape, source.dtype,
                labels.targets if labels is not None else None)
    bounds = list(chunk_bounds(source.shape[0], chunk_rows(source, settings)))
    with _client(settings) as client:
        try:
            parts = client.map(chunk_task, [task] * len(bounds), [b[0] for b in bounds],
                               [b[1] for b in bounds],
                               key=[f"logitcheck-chunk-{run}-{i}" for i in range(len(bounds))])
            stats, backends = _result(_tree(client, parts, run))
            # the tables' few rows are simulated here, as the local engine does
            return fill_table_cells(stats, task.plan, row_reader(source, labels)), backends
        finally:
            with contextlib.suppress(Exception):  # best effort: the run's result is in
                client.run(forget, run)


def _result(future: Any) -> Part:
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker as exc:
        raise LogitcheckError(f"--engine dask: a worker died while computing ({exc})") from None
    except ImportError as exc:  # the task's own code is missing on the worker
        raise LogitcheckError(f"--engine dask: a worker cannot import logitcheck ({exc}); "
                              "install the same logitcheck on every worker") from None
