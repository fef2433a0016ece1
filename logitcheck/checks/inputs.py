"""LC0xx: input integrity."""

from __future__ import annotations

from ..report.model import Severity
from .fmt import rows_phrase
from .registry import Context, rule


@rule(
    "LC001",
    "non-finite-values",
    Severity.ERROR,
    summary="The input holds NaN or infinite values.",
    why="A NaN or inf logit makes that row's loss NaN or inf in every framework, and a "
    "single one turns a mean loss, and every gradient after it, into NaN.",
    fix={
        "numpy": "Find the rows with np.flatnonzero(~np.isfinite(z).all(axis=1)) and fix "
        "what produced them; do not mask them silently.",
        "pytorch": "Run the model under torch.autograd.detect_anomaly() or check "
        "torch.isfinite(logits).all() after each layer to find the first NaN/inf.",
        "keras": "Add tf.debugging.check_numerics(logits, 'logits') or "
        "tf.debugging.enable_check_numerics() to find the op that produces it.",
        "jax": "Run with jax.config.update('jax_debug_nans', True) to stop at the first NaN.",
    },
    example="np.save('logits.npy', model(x))  # one row holds nan after a bad batch norm",
)
def non_finite_values(ctx: Context):
    s = ctx.stats
    parts = []
    for label, rows, values in (
        ("NaN", s.nan, s.nan_values),
        ("+inf", s.posinf, s.posinf_values),
        ("-inf", s.neginf, s.neginf_values),
    ):
        if rows:
            parts.append(f"{values:,} {label} in {rows_phrase(rows, s.rows)}")
    if not parts:
        return
    yield (
        "; ".join(parts) + "; the loss of those rows is NaN or inf",
        {
            "nan": {"values": s.nan_values, "rows": s.nan.count, "first_rows": list(s.nan.first)},
            "posinf": {
                "values": s.posinf_values,
                "rows": s.posinf.count,
                "first_rows": list(s.posinf.first),
            },
            "neginf": {
                "values": s.neginf_values,
                "rows": s.neginf.count,
                "first_rows": list(s.neginf.first),
            },
        },
    )


@rule(
    "LC003",
    "fewer-rows-than-classes",
    Severity.WARNING,
    summary="A 2-D array with fewer rows than classes and no labels: transposed?",
    why="Logits saved as (classes, samples) read as a few rows over very many classes: every "
    "statistic is then taken across samples instead of across classes. With labels, their "
    "count settles it (an error names the axis); without, this warning asks.",
    fix={
        "numpy": "Save logits with shape (samples, classes): np.save(path, z.T) if it was "
        "(classes, samples); or pass --class-axis 0.",
        "pytorch": "Export model(x) as (batch, classes); for (N, C, ...) outputs pass "
        "--class-axis 1.",
        "keras": "Export model.predict(x) as it is: (batch, classes).",
        "jax": "Export the logits as (batch, classes): logits.T if they were transposed.",
    },
    example="np.save('logits.npy', logits.T)  # (10, 5000): 10 rows of 5,000 'classes'",
)
def fewer_rows_than_classes(ctx: Context):
    s = ctx.stats
    if (ctx.labels is not None or len(ctx.logits.shape) != 2 or s.binary
            or not 1 < s.rows < s.classes or ctx.kind.name == "softmax_wrong_axis"):
        return  # columns that sum to 1 are LC209's, which says the same
    yield (
        f"the array has {s.rows:,} rows and {s.classes:,} columns, so it is read as "
        f"{s.rows:,} samples of {s.classes:,} classes: transposed? if each column is a "
        "sample, pass --class-axis 0",
        {"rows": s.rows, "classes": s.classes},
    )


@rule(
    "LC004",
    "stable-loss-not-finite",
    Severity.ERROR,
    summary="Even the stable loss is inf or NaN on rows whose values are all finite.",
    why="A row whose range (max - min) passes the dtype's largest value has a loss no float "
    "can hold: -log p_y overflows for its least likely classes however it is computed, so "
    "the mean loss and its gradients are inf in every framework.",
    fix={
        "numpy": "Find the rows with np.ptp(z, axis=1) and fix what produced values near "
        "the largest float (an unscaled or uninitialised output).",
        "pytorch": "Check logits.abs().max() after the last layer; values near 1e308 (or "
        "3e38 in float32) are not logits a trained model produces.",
        "keras": "Add tf.debugging.check_numerics on the logits and look for the layer "
        "whose output explodes.",
        "jax": "Run with jax.config.update('jax_debug_infs', True) to stop where it "
        "overflows.",
    },
    example="np.array([[1.7e308, -1.7e308, 0.0]]) with label 1",
)
def stable_loss_not_finite(ctx: Context):
    s = ctx.stats
    if not s.labelled or not s.nonfinite_loss or s.nan_values + s.posinf_values + s.neginf_values:
        return  # non-finite values: LC001 says so already
    yield (
        f"the stable loss is inf or NaN on {rows_phrase(s.nonfinite_loss, s.rows)} although "
        "every value is finite: those rows' range overflows, and the mean loss is not finite",
        {"rows": s.nonfinite_loss.count, "first_rows": list(s.nonfinite_loss.first)},
    )
