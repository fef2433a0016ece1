"""Other readings of the labels, measured on a bounded sample of the first rows.

The merged statistics say how well the logits fit the labels as given. Two mistakes give
a poor fit to labels that are otherwise valid: class ids off by one (1-based ids whose
class C never occurs, so no id is out of range) and a causal LM's labels not shifted
(HF's `labels = input_ids`: position t predicts token t + 1). Each is one other reading
of the same labels; the probe reads the file's first rows once more (a few MiB at most)
and computes the stable loss and the accuracy under each reading, so the checks can
compare them without seeing an array.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..io import Labels, Source
from .dtypes import facts

#: the sample: at most this many rows, and this many bytes of logits (but 64 rows at least)
MAX_ROWS = 4096
MAX_BYTES = 8 << 20
MIN_ROWS = 64


@dataclass(frozen=True)
class Reading:
    rows: int  # labelled rows of the sample this reading scores
    loss: float  # mean stable loss (float64)
    accuracy: float  # share of those rows whose argmax is the label


@dataclass(frozen=True)
class Probe:
    sample_rows: int  # rows read
    confidence: float  # mean largest softmax probability of the sample's rows
    given: Reading | None  # the labels as they are
    readings: dict[str, Reading] = field(default_factory=dict)  # "labels - 1", "shifted", ...

    def to_dict(self) -> dict:
        def one(r: Reading | None) -> dict | None:
            return None if r is None else {"rows": r.rows, "loss": r.loss,
                                           "accuracy": r.accuracy}

        return {"sample_rows": self.sample_rows, "confidence": self.confidence,
                "given": one(self.given),
                "readings": {k: one(v) for k, v in self.readings.items()}}


def _score(lse: np.ndarray, z: np.ndarray, top: np.ndarray, rows: np.ndarray,
           ids: np.ndarray) -> Reading | None:
    if rows.size == 0:
        return None
    loss = lse[rows] - z[rows, ids]
    return Reading(int(rows.size), float(loss.mean()), float((top[rows] == ids).mean()))


def probe_labels(source: Source, labels: Labels | None, ignore_index: int,
                 shifted: bool) -> Probe | None:
    """The readings of the first rows' class-id labels; None where there is nothing to
    compare (no class ids, a binary output, no rows)."""
    rows, classes = source.shape
    if labels is None or labels.targets != "ids" or classes < 2 or rows == 0:
        return None
    itemsize = facts(source.dtype).bits // 8
    n = min(rows, MAX_ROWS, max(MIN_ROWS, MAX_BYTES // max(1, classes * itemsize)))
    z = np.asarray(source.read(0, n), dtype=np.float64)
    y = np.asarray(labels.read(0, n)).astype(np.int64)
    finite = np.isfinite(z).all(axis=1)
    top = z.argmax(axis=1)
    with np.errstate(all="ignore"):
        m = z.max(axis=1)
        lse = m + np.log(np.exp(z - m[:, None]).sum(axis=1))
        confidence = float(np.exp(m - lse)[finite].mean()) if finite.any() else 0.0
    valid = finite & (y != ignore_index) & (y >= 0) & (y < classes)
    given = _score(lse, z, top, np.flatnonzero(valid), y[valid])
    readings: dict[str, Reading] = {}
    for name, delta in (("labels - 1", -1), ("labels + 1", 1)):
        ok = valid & (y + delta >= 0) & (y + delta < classes)
        r = _score(lse, z, top, np.flatnonzero(ok), y[ok] + delta)
        if r is not None:
            readings[name] = r
    lead = source.lead_shape
    if not shifted and len(lead) >= 2 and lead[-1] > 1:
        # row r = (..., t) predicts the label of row r + 1 = (..., t + 1) in the same sequence
        t = np.arange(n) % lead[-1]
        nxt = np.append(y[1:], ignore_index)
        ok = finite & (t < lead[-1] - 1) & (nxt != ignore_index) & (nxt >= 0) & (nxt < classes)
        ok[-1] = False
        r = _score(lse, z, top, np.flatnonzero(ok), nxt[ok])
        if r is not None:
            readings["shifted"] = r
    return Probe(n, confidence, given, readings)
