"""The local engine: the chunks of one run (chunks.py) computed serially or on threads, and
compute_all, which hands --engine dask to dask_engine.py.

Chunks are independent and their statistics merge exactly, so serial and threaded runs
(numpy releases the GIL in its loops) give identical results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from ..backends.compute import BackendStats, Job, merge_runs
from ..io import Labels, Source
from ..settings import Settings
from .chunks import chunk_bounds, chunk_part, chunk_rows, plan_for, row_reader, thread_count
from .stats import Plan, Stats
from .tables import fill_table_cells

T = TypeVar("T")


def map_chunks(
    source: Source, settings: Settings, one: Callable[[tuple[int, int]], T]
) -> Iterable[T]:
    """one((start, stop)) for every chunk of rows, in order, serially or on threads."""
    step = chunk_rows(source, settings)
    bounds = chunk_bounds(source.shape[0], step)
    threads = min(thread_count(settings), -(-source.shape[0] // step))
    if threads <= 1:
        return map(one, bounds)
    return _ordered(one, bounds, threads)


def _ordered(one: Callable[[tuple[int, int]], T], bounds: Iterable[tuple[int, int]],
             threads: int) -> Iterator[T]:
    """one() over bounds on `threads` threads, results in order, with at most 2 * threads
    chunks taken and not yet consumed: results are merged as they come, so memory stays
    bounded. (Plain threads: concurrent.futures imports logging, some 14 ms of a run.)"""
    import threading

    jobs = list(bounds)
    lock = threading.Lock()
    ready = threading.Condition(lock)
    room = threading.Semaphore(2 * threads)
    stop = threading.Event()
    # every worker is started before any takes a chunk: a worker holding the GIL in its
    # chunk's Python code held up the next one's start by up to the switch interval (5 ms)
    go = threading.Event()
    order = iter(range(len(jobs)))  # the next job to take, under the lock
    results: dict[int, tuple[bool, object]] = {}

    def work() -> None:
        go.wait()
        while True:
            room.acquire()
            with lock:
                k = None if stop.is_set() else next(order, None)
            if k is None:
                return
            try:
                got: tuple[bool, object] = (True, one(jobs[k]))
            except BaseException as exc:  # noqa: BLE001 - raised in order by the consumer
                got = (False, exc)
            with ready:
                results[k] = got
                ready.notify()

    workers = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
    try:
        for w in workers:
            w.start()
    except BaseException:  # a thread that cannot start: the started ones stop at once
        stop.set()
        raise
    finally:
        go.set()
    try:
        for k in range(len(jobs)):
            with ready:
                while k not in results:
                    ready.wait()
                ok, value = results.pop(k)
            room.release()
            if not ok:
                raise value  # type: ignore[misc]
            yield value  # type: ignore[misc]
    finally:  # done, failed or abandoned: the workers finish their chunk and stop
        stop.set()
        for _ in workers:
            room.release()
        for w in workers:
            w.join()


def compute_stats(source: Source, labels: Labels | None, settings: Settings) -> Stats:
    return compute_all(source, labels, settings)[0]


def compute_all(
    source: Source, labels: Labels | None, settings: Settings, jobs: tuple[Job, ...] = (),
    progress: Callable[..., None] | None = None, *, plan: Plan | None = None,
    offset: int = 0, fill: bool = True,
) -> tuple[Stats, dict[str, BackendStats]]:
    """The numpy reference Stats and, from the same read of each chunk, each backend job's
    BackendStats (one chunk converted to a framework at a time: streaming holds).

    One batch of a stream (api.Checker) passes the stream's `plan`, its first row's number
    (`offset`) and fill=False: the table cells are filled once, after the last batch."""
    if settings.engine == "dask":  # imported only here: `import logitcheck` never loads dask
        from .dask_engine import compute_all_dask

        return compute_all_dask(source, labels, settings, jobs)
    plan = plan or plan_for(source, labels, settings)

    def one(bounds: tuple[int, int]) -> tuple[Stats, dict]:
        return chunk_part(source, labels, settings, plan, *bounds, jobs=jobs, offset=offset)

    stats, backends = Stats(), {}
    rows = source.shape[0]
    row_bytes = source.stored.nbytes // max(1, rows)  # of the file: what the bar counts
    for part, backend in map_chunks(source, settings, one):  # lazy when serial
        stats, backends = stats.merge(part), merge_runs(backends, backend)
        if progress is not None:
            progress((stats.rows + stats.ignored) * row_bytes, rows * row_bytes, "analysing")
    if not fill:
        return stats, backends
    return fill_table_cells(stats, plan, row_reader(source, labels)), backends
