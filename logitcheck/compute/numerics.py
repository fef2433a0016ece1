"""Per-chunk statistics of a (rows, classes) array, and their merge.

The stable loss is computed in float64 as scipy's log_softmax does, refined so that it is
accurate to a few ulp even for confident rows (log1p of the mass outside the max). The
two naive paths are reproduced in each dtype that matters:

    (a) "softmax then log":  -log(exp(z_y) / sum(exp(z)))
    (b) "no max shift":      log(sum(exp(z))) - z_y

A naive path *fails* on a row when it gives inf or NaN where the stable loss is finite;
the failure is an *overflow* when sum(exp(z)) is inf in that dtype (one exp, or their
sum, passed the dtype's max), and an *underflow* otherwise (p_y or the sum rounds to 0).

Without labels, the paths are evaluated at each row's least likely class: the naive
log-softmax of a row has a non-finite entry exactly when that one is non-finite.
"""

from __future__ import annotations

import numpy as np

from .dtypes import facts
from .evidence import _health, _largest_finite, _readings, _value_evidence, decimals
from .kernel import (
    CONSTANT,
    CORRECT,
    GAPS,
    LOSS_NONFINITE,
    LSE,
    RANGE,
    SATURATED,
    WORST,
    ZERO_LABEL,
    RowStats,
    dtype_bits,
    row_buffers,
    row_stats,
    softmax_rows,
)
from .losses import (
    Naive,
    derived_thresholds,
    holds,
    naive_sigmoid,
    naive_softmax,
    naive_softmax_derived,
    sigmoid_loss,
    softmax_loss,
)
from .mergeable import (
    KEEP_TABLE_ROWS,
    ExactSum,
    Extreme,
    Histogram,
    RowIds,
    RowSet,
    merge_largest,
    row_id,
)
from .stats import (
    LOG_RATIO_EDGES,
    LOGIT_EDGES,
    LOSS_EDGES,
    PATHS,
    LabelCounts,
    PathStats,
    Plan,
    Stats,
    merge_all,
)
from .tables import _tables

_EPS64 = float(np.finfo(np.float64).eps)


def chunk_stats(
    z: np.ndarray,
    labels: np.ndarray | None,
    offset: RowIds,
    plan: Plan,
) -> Stats:
    """Statistics of a block of rows; `offset` numbers them (see mergeable.RowIds).

    z is (n, classes), or (n,) / (n, 1) for a binary output, in its stored dtype. labels
    are class ids (n,), or (n, classes) rows for plan.targets "dense" and "multilabel".
    A softmax block is read once by kernel.row_stats; everything else follows from those
    per-row numbers (and, for rows near a dtype's limits, an exact simulation).
    """
    binary = z.ndim == 1 or z.shape[1] == 1
    sigmoid = binary or plan.targets == "multilabel"
    n = z.shape[0]
    z = np.asarray(z).reshape(n, -1)
    logits_with_ids = not sigmoid and labels_are_ids(plan, labels)
    if logits_with_ids and n and (z[0] < 0).any():
        # the first row says logits (a block of probabilities would be read twice): the
        # compiled stage computes the row statistics itself. None: a row it does not take,
        # which the compiled stage would not take from row_stats either
        fast = _softmax_compiled(z, None, labels, offset, plan)
        if fast is not None:
            return fast
        logits_with_ids = False
    # multi-label needs its row sums too; the argmin is the target of unlabelled rows
    rows = None if binary else row_stats(z, least_likely=labels is None)
    if rows is not None and logits_with_ids:
        lo, hi = rows.min.min(), rows.max.max()
        if np.isfinite(lo) and np.isfinite(hi) and lo < 0:
            # logits with class ids: the compiled per-row stage does the rest (None: a
            # block it does not take; the numpy code is the reference)
            fast = _softmax_compiled(z, rows, labels, offset, plan)
            if fast is not None:
                return fast
    # the numpy code holds float64 copies of what it reads for probabilities, dense or
    # smoothed targets and sigmoid outputs: it takes those blocks in parts of
    # NUMPY_BLOCK_BYTES (the statistics do not depend on how rows are split); logits with
    # class ids it takes whole (per-row arrays only; a part costs some 1.5 ms of Python)
    step = max(1, NUMPY_BLOCK_BYTES // (8 * z.shape[1]))
    if n <= step or _per_row_only(rows, plan):
        return _numpy_chunk_stats(z, labels, offset, plan, rows)
    parts = []
    for i in range(0, n, step):
        j = min(n, i + step)
        parts.append(_numpy_chunk_stats(
            z[i:j], None if labels is None else labels[i:j],
            offset + i if isinstance(offset, int) else offset[i:j], plan,
            None if rows is None else rows.part(i, j)))
    return merge_all(parts)


def _per_row_only(rows: RowStats | None, plan: Plan) -> bool:
    """Whether _numpy_chunk_stats holds only per-row arrays for this block: finite logits
    (some value outside [0, 1]) with class ids or no labels."""
    if rows is None or plan.smoothing or plan.targets != "ids":
        return False
    lo, hi = rows.min.min(), rows.max.max()
    return bool(np.isfinite(lo) and np.isfinite(hi) and (lo < 0 or hi > 1))


#: The float64 bytes of one block of the numpy code (chunk_stats splits larger ones).
NUMPY_BLOCK_BYTES = 8 * 1024 * 1024


def _numpy_chunk_stats(z: np.ndarray, labels: np.ndarray | None, offset: RowIds,
                       plan: Plan, rows: RowStats | None) -> Stats:
    """chunk_stats in numpy, from the block's row statistics (softmax)."""
    binary = z.shape[1] == 1
    sigmoid = binary or plan.targets == "multilabel"
    n = z.shape[0]
    if sigmoid:
        values = np.array(z, dtype=np.float64, order="C")
        lo, hi = values.min(), values.max()  # NaN if any NaN
    else:
        lo, hi = rows.min.min(), rows.max.max()  # NaN if any NaN (its row's are NaN)
    all_finite = bool(np.isfinite(lo) and np.isfinite(hi))
    if all_finite:
        health = {"finite_min": float(lo), "finite_max": float(hi)}
    else:
        health = _health(z, offset)
    positive = all_finite and lo > 0
    in_unit = bool(lo >= 0 and hi <= 1)
    # the smallest nonzero |value|, when every value is finite: it spares decimals() a scan
    min_abs = float(rows.min_abs.min()) if rows is not None and all_finite else None
    out = _value_evidence(z, rows, binary, offset, positive, in_unit, min_abs)
    out.update(health)
    if sigmoid:
        out.update(_sigmoid_part(z, values, labels, offset, plan, binary, positive))
    else:
        out.update(_softmax_part(z, rows, labels, offset, plan, positive, in_unit))
    loss = out.pop("_loss")
    extra = {k: out.pop(k) for k in [k for k in out if k.startswith("_")]}
    report_part = _report_part(loss, extra, offset, plan, labels is not None)
    finite_loss = np.isfinite(loss)
    # p_y rounds to 1 in the storage dtype: the gradient p - onehot(y) is 0 for the label
    saturated = finite_loss & (loss < facts(plan.storage).eps / 2)
    return Stats(
        rows=n,
        classes=1 if binary else z.shape[1],
        labelled=labels is not None,
        targets=plan.targets if labels is not None else "ids",
        loss=ExactSum.of(loss[finite_loss]),
        nonfinite_loss=RowSet.from_mask(~finite_loss, offset),
        worst_loss=_worst(loss, finite_loss, offset) if finite_loss.any() else None,
        saturated=RowSet.from_mask(saturated, offset) if labels is not None else RowSet(),
        **out,
        **report_part,
    )


def labels_are_ids(plan: Plan, labels) -> bool:
    """Hard class-id targets (or none), the values read as logits only."""
    return plan.targets == "ids" and not plan.smoothing and not plan.frameworks


def _softmax_compiled(z, r: RowStats | None, labels, offset, plan: Plan) -> Stats | None:
    """chunk_stats for a block of finite logits with a negative value (so neither
    probabilities nor log-ratios), from kernel.softmax_rows: the numpy code's Stats bit for
    bit (both take log and log1p from the kernel); None where the kernel declines or no
    value is negative. r None: the kernel computes the row statistics itself."""
    with row_buffers(z.shape[0]) as buffers:  # the Stats keep no view of them
        return _softmax_compiled_into(z, r, labels, offset, plan, buffers)


def _softmax_compiled_into(z, r: RowStats | None, labels, offset, plan: Plan,
                           buffers) -> Stats | None:
    n, c = z.shape
    labelled = labels is not None
    target = np.asarray(labels, dtype=np.intp) if labelled else None
    derived = [d for d in plan.dtypes if holds(plan.storage, d)]
    out = softmax_rows(z, r, target, facts(plan.storage).eps / 2,
                       [(d, *derived_thresholds(d, c)) for d in derived],
                       LOSS_EDGES, LOGIT_EDGES, buffers)
    if out is None:
        return None
    # the block's extremes (every value finite: the kernel declines other rows)
    lo, hi, min_abs = out.agg if r is None else (
        float(r.min.min()), float(r.max.max()), float(r.min_abs.min()))
    if not lo < 0:
        return None
    health = {"finite_min": lo, "finite_max": hi}
    if target is None:
        target = r.amin if r is not None else out.amin
    loss, flags = out.loss, out.flags

    def rows_with(bits: int, want: int | None = None, maybe: bool = True) -> RowSet:
        if not maybe:
            return RowSet()
        hit = flags & bits
        return RowSet.from_mask(hit == (bits if want is None else want), offset)

    def extreme(slot: int) -> Extreme | None:
        got = out.extreme(slot)
        return None if got is None else Extreme(got[0], row_id(offset, got[1]))

    def path(fail: int, over: int, gap: Extreme | None, subnormal: int | None,
             extra: bool) -> PathStats:
        """A path's stats from its flag bits (`extra`: simulated rows set some too)."""
        maybe = extra or out.count(fail) > 0
        return PathStats(
            failed=rows_with(fail, maybe=maybe),
            overflow=rows_with(fail | over, maybe=maybe),
            underflow=rows_with(fail | over, fail, maybe=maybe),
            subnormal=RowSet() if subnormal is None else rows_with(
                subnormal, maybe=extra or out.count(subnormal) > 0),
            max_rel_gap=gap,
        )

    naive: dict[str, dict[str, PathStats]] = {}
    for d in plan.dtypes:
        if d not in derived:  # the cast moves values: simulated on every row
            naive[d] = naive_stats(naive_softmax(z, d, target), loss, offset)
            continue
        k = derived.index(d)
        near, fail_a, fail_b, over, sub = dtype_bits(k)
        gaps = [extreme(GAPS + 2 * k), extreme(GAPS + 2 * k + 1)]
        near_rows = np.flatnonzero(flags & near) if out.count(near) else None
        if near_rows is not None:  # simulated; their flags and gaps join the others
            ex = naive_softmax(z[near_rows], d, target[near_rows])
            ok_loss = np.isfinite(loss[near_rows])
            a_ok, b_ok = (np.isfinite(ex.losses[p]) for p in PATHS)
            bits = (np.where(ok_loss & ~a_ok, fail_a, 0) | np.where(ok_loss & ~b_ok, fail_b, 0)
                    | np.where(ex.overflowed[PATHS[0]], over, 0)
                    | np.where(a_ok & ex.subnormal, sub, 0))
            flags[near_rows] |= bits.astype(np.uint32)
            ids = near_rows + offset if isinstance(offset, int) else offset[near_rows]
            sim = naive_stats(ex, loss[near_rows], ids)
            gaps = [merge_largest(g, sim[p].max_rel_gap)
                    for g, p in zip(gaps, PATHS, strict=True)]
        extra = near_rows is not None
        naive[d] = {PATHS[0]: path(fail_a, over, gaps[0], sub, extra),
                    PATHS[1]: path(fail_b, over, gaps[1], None, extra)}

    k = derived.index(plan.storage)
    fails = dtype_bits(k)[1] | dtype_bits(k)[2]
    first = np.flatnonzero(flags & fails)[:KEEP_TABLE_ROWS].tolist() if any(
        naive[plan.storage][p].failed for p in PATHS) else []

    fields: dict = {}
    if labelled:
        fields.update(
            frameworks={},
            loss_as_probabilities=ExactSum(out.sums[1], out.counted[1]),
            zero_label_value=rows_with(ZERO_LABEL, maybe=out.count(ZERO_LABEL) > 0),
            loss_as_log_probabilities=ExactSum(out.sums[2], out.counted[2]),
            label_counts=LabelCounts(out.label_counts),
            correct=out.count(CORRECT),
            saturated=rows_with(SATURATED, maybe=out.count(SATURATED) > 0),
        )
    worst = out.worst if labelled else []
    return Stats(
        rows=n,
        classes=c,
        labelled=labelled,
        targets=plan.targets if labelled else "ids",
        loss=ExactSum(out.sums[0], out.counted[0]),
        nonfinite_loss=rows_with(LOSS_NONFINITE, maybe=out.count(LOSS_NONFINITE) > 0),
        worst_loss=extreme(WORST),
        max_range=extreme(RANGE),
        constant_rows=rows_with(CONSTANT, maybe=out.count(CONSTANT) > 0),
        lse_dev=extreme(LSE),
        decimals=decimals(z, z.dtype, min_abs),
        naive=naive,
        loss_hist=Histogram(LOSS_EDGES, tuple(out.loss_counts.tolist())),
        max_logit_hist=Histogram(LOGIT_EDGES, tuple(out.max_counts.tolist())),
        range_hist=Histogram(LOGIT_EDGES, tuple(out.range_counts.tolist())),
        **health,
        **fields,
        **_tables(worst, first, loss, target, True, None, offset),
    )


def _softmax_part(z, r: RowStats, labels, offset, plan: Plan, positive: bool,
                  in_unit: bool) -> dict:
    """Softmax cross-entropy: stable loss, readings of the values, naive paths."""
    n, c = z.shape
    rows = np.arange(n)
    out: dict = {}
    dense = None
    if labels is not None and plan.targets == "dense":
        dense = np.asarray(labels, dtype=np.float64)
        target = dense.argmax(axis=1)
        off = np.abs(dense.sum(axis=1) - 1.0) > plan.target_tolerance
        out["soft_rows_off"] = RowSet.from_mask(off, offset)
    elif labels is not None:
        target = np.asarray(labels, dtype=np.intp)
    if labels is not None and plan.smoothing:
        if dense is None:
            dense = np.zeros((n, c))
            dense[rows, target] = 1.0
        dense = (1.0 - plan.smoothing) * dense + plan.smoothing / c
    if labels is None:
        target = r.amin  # the least likely class: where naive paths break first

    top, zmax = r.top, r.max  # top: the first NaN, if any: the row's max is then NaN
    z_target = np.asarray(z[rows, target], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        span = zmax - r.min
    out["max_range"] = _largest_finite(span, offset)
    out["constant_rows"] = RowSet.from_mask(span == 0, offset)
    if labels is not None:
        out.update(_readings(z, r, False, target, z_target, offset, positive, plan.storage,
                             plan.frameworks or in_unit))
        out["label_counts"] = LabelCounts(np.bincount(target, minlength=c))
    loss, lse = softmax_loss(z, r, target, dense)
    if labels is not None:
        out["correct"] = int(np.count_nonzero((top == target) & np.isfinite(loss)))
    out["lse_dev"] = _largest_finite(np.abs(lse), offset)
    if dense is None:
        naive = {d: naive_softmax_derived(z, r, lse, loss, target, d, plan.storage)
                 for d in plan.dtypes}
    else:  # dense targets weigh every class: simulated
        naive = {d: naive_softmax(z, d, target, dense) for d in plan.dtypes}
    out["naive"] = {d: naive_stats(naive[d], loss, offset) for d in plan.dtypes}
    out["_loss"] = loss
    # for _report_part: p_y = exp(-loss) only for a single hard target
    hard = labels is None or (plan.targets == "ids" and not plan.smoothing)

    # the tables' naive losses are simulated once, for the rows that make the final
    # tables (fill_table_cells): not for every chunk's candidates
    out.update(_naive=naive, _exact=None, _target=target, _hard=hard, _zmax=zmax,
               _span=span)
    if positive:  # the same ratio as _value_evidence's log_ratio
        out["_log_ratio"] = np.log(zmax) - np.log(r.min)
    return out


def _sigmoid_part(z, values, labels, offset, plan: Plan, binary: bool, positive: bool) -> dict:
    """Sigmoid binary cross-entropy (a binary output, or independent multi-label columns)."""
    out: dict = {}
    if labels is None:
        # the worse label of each output: where the naive paths break first
        targets = (values < 0).astype(np.float64)
    else:
        targets = np.asarray(labels, dtype=np.float64).reshape(values.shape)
    loss = sigmoid_loss(values, targets)
    if labels is not None:
        hit = ((values > 0) == (targets > 0.5)) & np.isfinite(loss)[:, None]
        out["correct"] = int(np.count_nonzero(hit))  # outputs, not rows, for multi-label
        counts = targets.sum(axis=0) if not binary else np.bincount(
            targets[:, 0].astype(np.intp), minlength=2)
        out["label_counts"] = LabelCounts(counts.astype(np.int64))
        if binary:
            target = targets[:, 0].astype(np.intp)
            out.update(_readings(values, None, True, target, None, offset, positive,
                                 plan.storage))
        elif positive:
            out.update(_multilabel_as_probabilities(values, targets, offset))
    naive = {d: naive_sigmoid(z, d, targets) for d in plan.dtypes}
    out["naive"] = {d: naive_stats(naive[d], loss, offset) for d in plan.dtypes}
    out["_loss"] = loss
    target = targets[:, 0].astype(np.intp) if binary else None  # multi-label: no single one

    def exact(idx: np.ndarray) -> dict[str, Naive]:
        return {d: Naive({p: v[idx] for p, v in nv.losses.items()}, {}, nv.subnormal[idx])
                for d, nv in naive.items()}

    out.update(_naive=naive, _exact=exact, _target=target, _hard=binary)
    if positive and not binary:
        out["_log_ratio"] = np.log(values.max(axis=1)) - np.log(values.min(axis=1))
    return out


def _multilabel_as_probabilities(values, targets, offset: RowIds) -> dict:
    """Each row's binary cross-entropy with its values read as sigmoid probabilities
    (torch's BCELoss without its clamp), where every value of the row lies in [0, 1]."""
    p = np.asarray(values, dtype=np.float64)
    inside = ((p >= 0) & (p <= 1)).all(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        bce = -np.where(targets > 0.5, np.log(p), np.log1p(-p)).mean(axis=1)
    ok = inside & np.isfinite(bce)
    return {"loss_as_probabilities": ExactSum.of(bce[ok]),
            "zero_label_value": RowSet.from_mask(inside & ~ok, offset)}


def _report_part(loss, extra: dict, offset: RowIds, plan: Plan, labelled: bool) -> dict:
    """What the report draws and tabulates: histograms over fixed bins, the worst rows by
    stable loss, and the first rows whose naive path fails in the storage dtype."""
    finite = np.isfinite(loss)
    out: dict = {"loss_hist": Histogram.of(loss[finite], LOSS_EDGES)}
    if "_zmax" in extra:
        out["max_logit_hist"] = Histogram.of(extra["_zmax"], LOGIT_EDGES)
        out["range_hist"] = Histogram.of(extra["_span"], LOGIT_EDGES)
    if "_log_ratio" in extra:  # every value > 0
        out["log_ratio_hist"] = Histogram.of(extra["_log_ratio"], LOG_RATIO_EDGES)
    naive, target, hard = extra["_naive"], extra["_target"], extra["_hard"]
    worst = _top_k(loss, finite) if labelled and finite.any() else []
    storage = naive.get(plan.storage)
    first: list[int] | None = None
    if storage is not None:
        failed = finite & ~np.logical_and.reduce([np.isfinite(storage.losses[p]) for p in PATHS])
        first = np.flatnonzero(failed)[:KEEP_TABLE_ROWS].tolist()
    out.update(_tables(worst, first, loss, target, hard, extra["_exact"], offset))
    return out


def _top_k(loss: np.ndarray, finite: np.ndarray) -> list[int]:
    """Indices of the KEEP_TABLE_ROWS largest finite losses, ties to the lower index."""
    masked = np.where(finite, loss, -np.inf)
    k = min(KEEP_TABLE_ROWS, int(finite.sum()))
    cut = np.partition(masked, masked.size - k)[masked.size - k]  # the k-th largest
    above = np.flatnonzero(masked > cut)
    ties = np.flatnonzero(masked == cut)[: k - above.size]
    picked = np.concatenate([above, ties])
    return sorted(picked.tolist(), key=lambda i: (-masked[i], i))


def _worst(loss: np.ndarray, finite: np.ndarray, offset: RowIds) -> Extreme:
    masked = np.where(finite, loss, -np.inf)
    row = int(np.argmax(masked))
    return Extreme(float(loss[row]), row_id(offset, row))


def stable_loss(z: np.ndarray, target: np.ndarray) -> np.ndarray:
    """-log_softmax(z)[row, target[row]] for each row, in float64."""
    z = np.asarray(z)
    return softmax_loss(z, row_stats(z), np.asarray(target, dtype=np.intp))[0]


def naive_stats(
    naive: Naive, stable: np.ndarray, offset: RowIds, floor: float = _EPS64
) -> dict[str, PathStats]:
    """Failure accounting of each naive path against the stable loss. The gap is relative
    to |stable|, and absolute where |stable| is below `floor` (eps for cross-entropy, which
    is >= 0; 1 for a Gaussian NLL, which crosses 0)."""
    stable_ok = np.isfinite(stable)
    out = {}
    for path, loss in naive.losses.items():
        naive_ok = np.isfinite(loss)
        failed = stable_ok & ~naive_ok
        both = np.flatnonzero(stable_ok & naive_ok)
        gap = np.abs(loss[both] - stable[both]) / np.maximum(np.abs(stable[both]), floor)
        worst = None
        if gap.size:
            i = int(np.argmax(gap))
            worst = Extreme(float(gap[i]), row_id(offset, both[i]))
        overflowed = naive.overflowed[path]
        out[path] = PathStats(
            failed=RowSet.from_mask(failed, offset),
            overflow=RowSet.from_mask(failed & overflowed, offset),
            underflow=RowSet.from_mask(failed & ~overflowed, offset),
            # only the probabilities of "softmax then log" can be subnormal
            subnormal=RowSet.from_mask(naive_ok & naive.subnormal, offset)
            if path == "softmax_then_log" else RowSet(),
            max_rel_gap=worst,
        )
    return out
