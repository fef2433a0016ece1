"""LC3xx: labels."""

from __future__ import annotations

import numpy as np

from ..report.model import Severity
from .fmt import rows_phrase
from .registry import Context, rule


@rule(
    "LC301",
    "all-labels-ignored",
    Severity.ERROR,
    summary="Every label equals ignore_index: there is no loss to compute.",
    why="F.cross_entropy averages over the rows it does not ignore; with none left it "
    "returns NaN (0/0), and a training step on it does nothing or poisons the weights.",
    fix={
        "numpy": "Check (labels != ignore_index).any() before computing the loss.",
        "pytorch": "Check that the collator masks only padding (-100), not every token.",
        "keras": "Check the sample weights / mask: at least one must be non-zero.",
        "jax": "Guard the mean with jnp.maximum(mask.sum(), 1) and check mask.any().",
    },
    example="labels[:] = -100  # a collator that masks prompt and answer alike",
)
def all_labels_ignored(ctx: Context):
    s = ctx.stats
    if s.labelled and s.rows == 0 and s.ignored:
        yield (
            f"all {s.ignored:,} labels equal the ignore index {ctx.settings.ignore_index}: "
            "no row is left to compute a loss on (torch returns NaN)",
            {"ignored_rows": s.ignored, "ignore_index": ctx.settings.ignore_index},
        )


@rule(
    "LC302",
    "classes-never-occur",
    Severity.INFO,
    summary="Some classes never occur among the labels.",
    why="A class with no example gets no positive gradient: its logit only ever goes down. "
    "With many rows per class this often means a label mapping that is off by one or "
    "truncated.",
    fix={
        "numpy": "Compare np.bincount(labels, minlength=C) with the expected class counts.",
        "pytorch": "Check the dataset's class_to_idx and the model's output size agree.",
        "keras": "Check the label encoder's classes_ against the output layer's units.",
        "jax": "Compare jnp.bincount(labels, length=C) with the expected counts.",
    },
    example="labels = raw_labels - 1  # ids 1..C shifted to 0..C-1 twice",
)
def classes_never_occur(ctx: Context):
    s = ctx.stats
    if s.label_counts is None or s.binary:
        return
    missing = np.flatnonzero(s.label_counts.counts == 0)
    # only meaningful when every class could have been seen several times
    if missing.size == 0 or s.rows < 5 * s.classes:
        return
    shown = ", ".join(str(int(c)) for c in missing[:10]) + (", ..." if missing.size > 10 else "")
    yield (
        f"{missing.size:,} of {s.classes:,} classes never occur among {s.rows:,} labels "
        f"(classes {shown})",
        {"missing_classes": missing.size, "first_missing": [int(c) for c in missing[:10]],
         "rows": s.rows, "classes": s.classes},
    )


@rule(
    "LC303",
    "soft-targets-do-not-sum-to-one",
    Severity.ERROR,
    summary="Rows of soft (probability) targets that do not sum to 1.",
    why="torch's F.cross_entropy with probability targets computes -sum(t * log p) without "
    "normalising t: rows that sum to 2 count twice, rows that sum to 0 not at all. 0/1 rows "
    "with several 1s are usually multi-label targets meant for a sigmoid loss.",
    fix={
        "numpy": "Normalise: t / t.sum(axis=1, keepdims=True); for multi-label 0/1 rows use "
        "a per-column binary cross-entropy.",
        "pytorch": "Normalise the targets, or use nn.BCEWithLogitsLoss for multi-label "
        "targets (logitcheck: --multi-label).",
        "keras": "Normalise the targets, or use BinaryCrossentropy(from_logits=True) with "
        "sigmoid outputs for multi-label targets.",
        "jax": "Normalise the targets, or use optax.sigmoid_binary_cross_entropy for "
        "multi-label targets.",
    },
    example="F.cross_entropy(logits, multi_hot.float())  # rows with two 1s",
)
def soft_targets_do_not_sum_to_one(ctx: Context):
    rows = ctx.stats.soft_rows_off
    if not rows:
        return
    yield (
        f"{rows_phrase(rows, ctx.stats.rows)} of targets do not sum to 1; pass --multi-label "
        "if they are independent 0/1 targets",
        {"rows": rows.count, "first_rows": list(rows.first)},
    )


#: how much better another reading of the labels must fit before the labels as given are
#: called misaligned: 3x the accuracy (or 3x chance), 20 points more, a lower loss, and
#: enough sampled rows that a handful of lucky rows cannot do it
_BETTER = 3.0
_MARGIN = 0.2
_MIN_ROWS = 30

_HINTS = {
    "labels - 1": "labels 1-based? subtract 1 (labels - 1)",
    "labels + 1": "labels shifted down by one? add 1 (labels + 1)",
    "shifted": "a causal LM's labels not shifted (labels = input_ids)? pass --shift-labels",
}


def _candidates(ctx: Context):
    """The readings that fit the evidence of the whole file: off by one only where the
    class it would leave empty never occurs among the labels."""
    s, probe = ctx.stats, ctx.probe
    counts = s.label_counts.counts if s.label_counts is not None else None
    for name, reading in probe.readings.items():
        if name == "labels - 1" and (counts is None or counts[0] != 0):
            continue
        if name == "labels + 1" and (counts is None or counts[-1] != 0):
            continue
        yield name, reading


@rule(
    "LC304",
    "labels-misaligned",
    Severity.ERROR,
    summary="The labels fit the logits far better read another way: off by one, or unshifted.",
    why="Class ids that are 1-based (and never reach C, so none is out of range) or a causal "
    "LM's labels that were not shifted (position t must predict token t + 1) are valid ids "
    "that belong to other rows or classes: the loss and the accuracy are those of a model "
    "guessing, although the logits are confident and right for the true labels.",
    fix={
        "numpy": "Subtract 1 from 1-based ids (labels - 1); for a causal LM compare "
        "logits[:, :-1] with labels[:, 1:].",
        "pytorch": "For a causal LM: F.cross_entropy(logits[:, :-1].flatten(0, 1), "
        "labels[:, 1:].flatten(), ignore_index=-100), as HF's models shift internally; "
        "1-based ids: labels - 1.",
        "keras": "Shift the targets by one step for next-token prediction; subtract 1 from "
        "1-based class ids (or fit the LabelEncoder on the raw ids).",
        "jax": "optax.softmax_cross_entropy_with_integer_labels(logits[:, :-1], "
        "labels[:, 1:]); 1-based ids: labels - 1.",
    },
    example="labels = input_ids  # HF style, scored without the shift: loss 10.2, accuracy 0",
)
def labels_misaligned(ctx: Context):
    s, probe = ctx.stats, ctx.probe
    if probe is None or probe.given is None or s.binary or not s.labelled:
        return
    given = probe.given
    floor = max(given.accuracy, 1.0 / max(s.classes, 2))
    best = None
    for name, r in _candidates(ctx):
        if (r.rows >= _MIN_ROWS and r.accuracy >= _BETTER * floor
                and r.accuracy - given.accuracy >= _MARGIN and r.loss < given.loss
                and (best is None or r.accuracy > best[1].accuracy)):
            best = (name, r)
    if best is None:
        return
    name, r = best
    overall = s.accuracy
    reading = "logits[:, :-1] against labels[:, 1:]" if name == "shifted" else name
    confident = "confident logits" if probe.confidence >= 0.5 else "logits"
    yield (
        f"the labels look misaligned: accuracy {overall:.1%} (chance {1 / s.classes:.1%}) "
        f"and loss {s.loss.mean:.4f} with {confident} (mean top probability "
        f"{probe.confidence:.2f}); read as {reading}, the first {r.rows:,} rows reach "
        f"accuracy {r.accuracy:.1%} and loss {r.loss:.4f} (as given: {given.accuracy:.1%}, "
        f"{given.loss:.4f}): {_HINTS[name]}",
        {"reading": name, "accuracy": overall, "loss": s.loss.mean,
         "confidence": probe.confidence, "sample_rows": probe.sample_rows,
         "given": {"rows": given.rows, "accuracy": given.accuracy, "loss": given.loss},
         "other": {"rows": r.rows, "accuracy": r.accuracy, "loss": r.loss}},
    )
