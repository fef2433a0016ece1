"""The rows the report's tables show (the worst rows, the first naive failures) with
every naive loss of theirs: picked per chunk, their cells filled once after the merge."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from .losses import (
    naive_softmax,
)
from .mergeable import (
    FirstRows,
    RowIds,
    RowValues,
    TopRows,
    row_id,
)
from .stats import PATHS, Plan, Stats


def _tables(worst: list[int], first: list[int] | None, loss, target, hard: bool, exact,
            offset: RowIds) -> dict:
    """The worst rows and the first rows whose naive path fails in the storage dtype (None:
    not computed), with every naive loss of theirs from exact(rows) (None: left for
    fill_table_cells)."""
    out: dict = {}
    picked = sorted(set(worst) | set(first or ()))
    losses = exact(np.asarray(picked, dtype=np.intp)) if picked and exact else {}
    where = {row: k for k, row in enumerate(picked)}

    def row_values(i: int) -> RowValues:
        k = where[i]
        cells = tuple((d, p, float(losses[d].losses[p][k])) for d in losses for p in PATHS)
        return RowValues(
            row_id(offset, i),
            None if target is None else int(target[i]),
            float(np.exp(-loss[i])) if hard and np.isfinite(loss[i]) else None,
            float(loss[i]),
            cells,
        )

    if worst:
        out["worst_rows"] = TopRows(tuple(row_values(i) for i in worst))
    if first is not None:
        out["naive_failure_rows"] = FirstRows(tuple(row_values(i) for i in first))
    return out


def fill_table_cells(stats: Stats, plan: Plan,
                     read: Callable[[list[int]], tuple[np.ndarray, np.ndarray | None]]
                     ) -> Stats:
    """The merged Stats with the naive losses of its table rows (worst rows, first naive
    failures) simulated: softmax chunks leave them out, since only the rows that make the
    final tables need them. read(rows) gives those rows' values (as stored) and labels."""
    if stats.rows == 0 or stats.binary or stats.targets == "multilabel":
        return stats  # sigmoid tables are filled in their chunks, from arrays at hand
    tables = (stats.worst_rows, stats.naive_failure_rows)
    rows = sorted({r.row for t in tables for r in t.rows if not r.naive})
    if not rows:
        return stats
    z, labels = read(rows)
    target = np.asarray([next(r.target for t in tables for r in t.rows if r.row == i)
                         for i in rows], dtype=np.intp)
    dense = None
    if labels is not None and plan.targets == "dense":
        dense = np.asarray(labels, dtype=np.float64)
    if labels is not None and plan.smoothing:
        c = z.shape[1]
        if dense is None:
            dense = np.zeros((len(rows), c))
            dense[np.arange(len(rows)), target] = 1.0
        dense = (1.0 - plan.smoothing) * dense + plan.smoothing / c
    sims = {d: naive_softmax(z, d, target, dense) for d in plan.dtypes}
    at = {row: k for k, row in enumerate(rows)}

    def filled(r: RowValues) -> RowValues:
        if r.naive:
            return r
        k = at[r.row]
        return replace(r, naive=tuple((d, p, float(sims[d].losses[p][k]))
                                      for d in plan.dtypes for p in PATHS))

    return replace(stats, worst_rows=TopRows(tuple(map(filled, stats.worst_rows.rows))),
                   naive_failure_rows=FirstRows(tuple(map(filled,
                                                          stats.naive_failure_rows.rows))))
