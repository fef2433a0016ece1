"""LC3xx: labels."""

from __future__ import annotations

import numpy as np

from ..report.model import Severity
from . import Context, rule
from .fmt import rows_phrase


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
