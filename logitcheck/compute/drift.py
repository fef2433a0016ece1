"""compare: how far a candidate export (fp16, ONNX, quantized, retrained) drifts from the
reference, from per-chunk statistics that merge exactly (the result does not depend on
the chunk size or the thread count).

Per row, in float64: |candidate - reference| of the logits, KL(reference || candidate) of
their softmaxes computed from stable log-softmaxes, whether the argmax agrees, and (with
labels) each one's cross-entropy. Rows where either export holds NaN or inf are counted
and left out. A binary output z is read as the two logits (0, z), as analyze does.
"""


from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .mergeable import ExactSum, Extreme, RowSet, merge_largest
from .numerics import chunk_stats
from .stats import Stats


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
