"""Chunk scheduling: which rows go together, and where they are computed.

Chunks are independent and their statistics merge exactly, so serial and threaded runs
(numpy releases the GIL in its loops) give identical results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from .io import Labels, Source
from .numerics import Stats, chunk_stats, merge_all, naive_dtypes
from .settings import Settings


def chunk_rows(source: Source, settings: Settings) -> int:
    if settings.chunk_rows is not None:
        return max(1, settings.chunk_rows)
    classes = source.shape[1]
    return max(1, settings.chunk_bytes // (8 * classes))


def chunk_bounds(rows: int, step: int) -> Iterator[tuple[int, int]]:
    for start in range(0, rows, step):
        yield start, min(start + step, rows)


T = TypeVar("T")


def map_chunks(
    source: Source, settings: Settings, one: Callable[[tuple[int, int]], T]
) -> Iterable[T]:
    """one((start, stop)) for every chunk of rows, in order, serially or on threads."""
    bounds = chunk_bounds(source.shape[0], chunk_rows(source, settings))
    if settings.threads <= 1:
        return map(one, bounds)
    with ThreadPoolExecutor(settings.threads) as pool:
        return list(pool.map(one, bounds))


def compute_stats(source: Source, labels: Labels | None, settings: Settings) -> Stats:
    dtypes = naive_dtypes(source.dtype)

    def one(bounds: tuple[int, int]) -> Stats:
        start, stop = bounds
        y = labels.read(start, stop) if labels is not None else None
        return chunk_stats(source.read(start, stop), y, start, dtypes)

    return merge_all(map_chunks(source, settings, one))
