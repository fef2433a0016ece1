"""compare: how far a candidate export (fp16, ONNX, quantized, retrained) drifts from the
reference, from per-chunk statistics that merge exactly (the result does not depend on
the chunk size or the thread count).

Per row, in float64: |candidate - reference| of the logits, KL(reference || candidate) of
their softmaxes computed from stable log-softmaxes, whether the argmax agrees, and (with
labels) each one's cross-entropy. Rows where either export holds NaN or inf are counted
and left out. A binary output z is read as the two logits (0, z), as analyze does.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import gate
from ..checks import rules_in, run_checks
from ..checks.drift import DriftContext
from ..compute.engine import map_chunks, plan_for
from ..compute.mergeable import ExactSum, Extreme, RowSet, merge_largest
from ..compute.numerics import Stats, chunk_stats
from ..errors import UsageError
from ..inference import infer_kind
from ..io import Source, open_labels, open_logits
from ..report.model import Report
from ..settings import Settings


@dataclass(frozen=True)
class DriftStats:
    rows: int = 0
    classes: int = 0
    labelled: bool = False
    nonfinite: RowSet = RowSet()  # rows where either export holds NaN or inf
    max_abs_diff: Extreme | None = None  # largest |candidate - reference| value, its row
    kl: ExactSum = ExactSum()  # KL(reference || candidate) per row, nats
    max_kl: Extreme | None = None
    agree: int = 0  # rows whose argmax is the same
    disagree: RowSet = RowSet()
    loss_reference: ExactSum = ExactSum()  # cross-entropy at the label (labelled only)
    loss_candidate: ExactSum = ExactSum()
    reference: Stats = Stats()  # analyze's statistics of each, for its kind
    candidate: Stats = Stats()

    def merge(self, other: DriftStats) -> DriftStats:
        return DriftStats(
            rows=self.rows + other.rows,
            classes=max(self.classes, other.classes),
            labelled=self.labelled or other.labelled,
            nonfinite=self.nonfinite.merge(other.nonfinite),
            max_abs_diff=merge_largest(self.max_abs_diff, other.max_abs_diff),
            kl=self.kl.merge(other.kl),
            max_kl=merge_largest(self.max_kl, other.max_kl),
            agree=self.agree + other.agree,
            disagree=self.disagree.merge(other.disagree),
            loss_reference=self.loss_reference.merge(other.loss_reference),
            loss_candidate=self.loss_candidate.merge(other.loss_candidate),
            reference=self.reference.merge(other.reference),
            candidate=self.candidate.merge(other.candidate),
        )

    @property
    def compared(self) -> int:
        return self.rows - self.nonfinite.count

    @property
    def top1_agreement(self) -> float | None:
        return self.agree / self.compared if self.compared else None

    @property
    def loss_delta(self) -> float | None:
        a, b = self.loss_reference.mean, self.loss_candidate.mean
        return b - a if a is not None and b is not None else None


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax of finite float64 rows, with the max shift."""
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _as_two_class(values: np.ndarray) -> np.ndarray:
    return np.stack([np.zeros(values.shape[0]), values[:, 0]], axis=1)


def chunk_drift(
    ref: np.ndarray,
    cand: np.ndarray,
    labels: np.ndarray | None,
    offset: int,
    dtypes: tuple[tuple[str, ...], tuple[str, ...]],
    keep: np.ndarray | None = None,
) -> DriftStats:
    """Statistics of one block of rows of both exports, whose first row is `offset`.

    `keep` marks the rows whose label counts (class id != ignore_index): the drift is
    measured on every row, the losses and each file's own statistics on the kept ones."""
    n = ref.shape[0]
    a = np.array(ref, dtype=np.float64).reshape(n, -1)
    b = np.array(cand, dtype=np.float64).reshape(n, -1)
    finite = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    a[~finite] = 0.0  # keeps the arithmetic below quiet; those rows are masked out
    b[~finite] = 0.0
    row_diff = np.where(finite, np.abs(b - a).max(axis=1), -np.inf)
    if a.shape[1] == 1:
        a, b = _as_two_class(a), _as_two_class(b)
    la, lb = log_softmax(a), log_softmax(b)
    # KL >= 0; rounding can leave -1e-17 for identical rows, which is 0
    kl = np.maximum((np.exp(la) * (la - lb)).sum(axis=1), 0.0)
    agree = a.argmax(axis=1) == b.argmax(axis=1)
    extra: dict[str, Any] = {}
    kept = np.ones(n, dtype=bool) if keep is None else keep
    if labels is not None and np.ndim(labels) == 1:
        y = np.where(kept, np.asarray(labels, dtype=np.intp), 0)  # ignored rows: any column
        rows = np.arange(n)
        extra["loss_reference"] = ExactSum.of(-la[rows, y][finite & kept])
        extra["loss_candidate"] = ExactSum.of(-lb[rows, y][finite & kept])
    elif labels is not None and dtypes[0].targets == "dense":  # one-hot or soft rows
        t = np.asarray(labels, dtype=np.float64)
        extra["loss_reference"] = ExactSum.of(-(t * la).sum(axis=1)[finite])
        extra["loss_candidate"] = ExactSum.of(-(t * lb).sum(axis=1)[finite])
    ids: Any = offset
    if not kept.all():
        ids = offset + np.flatnonzero(kept)
        ref, cand, labels = ref[kept], cand[kept], labels[kept]
    any_finite = bool(finite.any())
    return DriftStats(
        rows=n,
        classes=ref.shape[1] if ref.ndim == 2 else 1,
        labelled=labels is not None,
        nonfinite=RowSet.from_mask(~finite, offset),
        max_abs_diff=Extreme.largest(row_diff, offset) if any_finite else None,
        kl=ExactSum.of(kl[finite]),
        max_kl=Extreme.largest(np.where(finite, kl, -np.inf), offset) if any_finite else None,
        agree=int(np.count_nonzero(agree & finite)),
        disagree=RowSet.from_mask(~agree & finite, offset),
        reference=chunk_stats(ref, labels, ids, dtypes[0]) if kept.any() else Stats(),
        candidate=chunk_stats(cand, labels, ids, dtypes[1]) if kept.any() else Stats(),
        **extra,
    )


def _same_shape(ref: Source, cand: Source) -> None:
    for axis, (x, y) in enumerate(zip(ref.shape, cand.shape, strict=True)):
        if x != y:
            what = "rows" if axis == 0 else "classes"
            raise UsageError(
                f"{ref.path} and {cand.path} differ along axis {axis} ({what}): "
                f"{x:,} vs {y:,} (shapes {ref.array.shape} and {cand.array.shape})"
            )


def compute_drift(
    ref: Source, cand: Source, labels: Any, settings: Settings
) -> DriftStats:
    dtypes = (plan_for(ref, labels, settings), plan_for(cand, labels, settings))

    def one(bounds: tuple[int, int]) -> DriftStats:
        start, stop = bounds
        y = labels.read(start, stop) if labels is not None else None
        keep = y != settings.ignore_index if y is not None and labels.targets == "ids" else None
        return chunk_drift(ref.read(start, stop), cand.read(start, stop), y, start, dtypes,
                           keep)

    total = DriftStats()
    for part in map_chunks(ref, settings, one):
        total = total.merge(part)
    return total


def compare(
    reference: str | Path,
    candidate: str | Path,
    labels: str | Path | None = None,
    settings: Settings | None = None,
) -> Report:
    """Compare a candidate export with the reference: raises LogitcheckError on bad input."""
    settings = settings or Settings()
    started = time.perf_counter()
    ref, cand = open_logits(reference), open_logits(candidate)
    _same_shape(ref, cand)
    label_source = None
    if labels is not None:
        label_source = open_labels(labels, *ref.shape, settings.ignore_index, settings.multilabel)
    opened = time.perf_counter()
    stats = compute_drift(ref, cand, label_source, settings)
    computed = time.perf_counter()
    kinds = (infer_kind(stats.reference, ref.dtype), infer_kind(stats.candidate, cand.dtype))
    inputs = [replace(ref.info(), role="reference"), replace(cand.info(), role="candidate")]
    inputs += [label_source.info()] if label_source else []
    ctx = DriftContext(stats, kinds[0], kinds[1], settings)
    paths = [i.path for i in inputs]
    findings, gate_info = gate.apply(run_checks(ctx, "drift"), rules_in("drift"), settings, paths)
    done = time.perf_counter()
    return Report(
        inputs=inputs,
        kind=None,
        metrics=drift_metrics(stats, kinds, settings),
        findings=findings,
        fail_on=settings.fail_on,
        timings={
            "open_s": opened - started,
            "compute_s": computed - opened,
            "check_s": done - computed,
            "total_s": done - started,
        },
        gate=gate_info,
        command="compare",
    )


def drift_metrics(stats: DriftStats, kinds: tuple, settings: Settings) -> dict[str, Any]:
    t = settings.drift
    return {
        "rows": stats.rows,
        "classes": stats.classes,
        "rows_compared": stats.compared,
        "rows_with_nonfinite_values": stats.nonfinite.count,
        "first_rows_with_nonfinite_values": list(stats.nonfinite.first),
        "max_abs_diff": stats.max_abs_diff.value if stats.max_abs_diff else None,
        "max_abs_diff_row": stats.max_abs_diff.row if stats.max_abs_diff else None,
        "kl_mean": stats.kl.mean,
        "kl_max": stats.max_kl.value if stats.max_kl else None,
        "kl_max_row": stats.max_kl.row if stats.max_kl else None,
        "top1_agreement": stats.top1_agreement,
        "top1_disagreeing_rows": stats.disagree.count,
        "first_top1_disagreeing_rows": list(stats.disagree.first),
        "loss_reference": stats.loss_reference.mean,
        "loss_candidate": stats.loss_candidate.mean,
        "loss_delta": stats.loss_delta,
        "kind_reference": kinds[0].to_dict(),
        "kind_candidate": kinds[1].to_dict(),
        "thresholds": {
            "max_abs_diff": t.max_abs_diff,
            "max_kl": t.max_kl,
            "min_top1_agreement": t.min_top1_agreement,
            "max_loss_delta": t.max_loss_delta,
        },
    }
