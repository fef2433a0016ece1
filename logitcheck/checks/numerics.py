"""LC1xx: numerics of the naive loss paths in the dtype the array is stored in."""

from __future__ import annotations

from ..dtypes import facts
from ..numerics import PATHS, exp_overflow_threshold
from ..report.model import Severity
from . import Context, rule
from .fmt import num, rows_phrase

_STABLE_FIX = {
    "numpy": "Use scipy.special.log_softmax(z, axis=1) (or z - scipy.special.logsumexp(z, "
    "axis=1, keepdims=True)) instead of np.log(softmax(z)).",
    "pytorch": "Pass raw logits to F.cross_entropy / nn.CrossEntropyLoss, or use "
    "F.log_softmax(z, dim=1) with F.nll_loss; never torch.log(torch.softmax(z, dim=1)).",
    "keras": "Use keras.losses.CategoricalCrossentropy(from_logits=True) (or "
    "tf.nn.softmax_cross_entropy_with_logits) on raw logits, not a softmax layer plus log.",
    "jax": "Use jax.nn.log_softmax(z) or optax.softmax_cross_entropy_with_integer_labels"
    "(logits, labels); never jnp.log(jax.nn.softmax(z)).",
}


def underflow_threshold(dtype: str) -> float:
    """The row range beyond which the smallest probability rounds to exactly 0."""
    return facts(dtype).zero_range


def _storage_paths(ctx: Context):
    dtype = ctx.logits.dtype
    return dtype, ctx.stats.naive.get(dtype, {})  # empty when no row was analysed


def _per_path(paths, attr: str) -> dict:
    sets = {p: getattr(paths[p], attr) for p in PATHS}
    return {p: {"failed_rows": r.count, "first_rows": list(r.first)} for p, r in sets.items()}


@rule(
    "LC101",
    "naive-overflow",
    Severity.ERROR,
    summary="The naive softmax overflows (exp(z) = inf) in the storage dtype.",
    why="exp(z) is inf above 11.09 in float16, 88.72 in float32 and 709.78 in float64; "
    "softmax then log, or log(sum(exp(z))) without subtracting the row max, then "
    "returns inf or NaN for a row whose true loss is finite.",
    fix=_STABLE_FIX,
    example="torch.log(torch.softmax(z.half(), 1))  # z = 12.0 gives exp(z) = inf in float16",
)
def naive_overflow(ctx: Context):
    dtype, paths = _storage_paths(ctx)
    if not paths:
        return
    worst = max(PATHS, key=lambda p: paths[p].overflow.count)
    rows = paths[worst].overflow
    if not rows:
        return
    threshold = exp_overflow_threshold(dtype)
    yield (
        f"the naive softmax overflows in {dtype} on {rows_phrase(rows, ctx.stats.rows)}: "
        f"sum(exp(z)) passes {dtype}'s largest value {facts(dtype).max:.6g} "
        f"(exp(z) alone is inf above z = {threshold:.2f}; the largest logit is "
        f"{num(ctx.stats.finite_max)}), so the naive loss is inf or NaN there",
        {
            "dtype": dtype,
            "overflow_threshold": threshold,
            "max_logit": ctx.stats.finite_max,
            "rows": rows.count,
            "first_rows": list(rows.first),
            "paths": _per_path(paths, "overflow"),
        },
    )


@rule(
    "LC102",
    "naive-underflow",
    Severity.ERROR,
    summary="The naive softmax underflows (p_y = 0, infinite loss) in the storage dtype.",
    why="Once a row's range (max - z_y) passes 17.33 in float16, 103.97 in float32 or "
    "745.13 in float64, exp(z_y)/sum(exp(z)) rounds to exactly 0 and -log(0) = inf, "
    "though the true loss is simply large and finite.",
    fix=_STABLE_FIX,
    example="np.log(softmax(z))[y]  # z = [60, -50] in float32: p_y = 0, loss inf, true 110",
)
def naive_underflow(ctx: Context):
    dtype, paths = _storage_paths(ctx)
    if not paths:
        return
    worst = max(PATHS, key=lambda p: paths[p].underflow.count)
    rows = paths[worst].underflow
    if not rows:
        return
    threshold = underflow_threshold(dtype)
    where = "p_y" if ctx.stats.labelled else "the least likely class's probability"
    cause = f"{where} rounds to 0 once a row's range passes {threshold:.2f}"
    if ctx.stats.binary:
        cause = "sigmoid(z) rounds to exactly 1 (or 0), so log(1 - p) (or log p) is -inf"
    yield (
        f"the naive softmax underflows in {dtype} on {rows_phrase(rows, ctx.stats.rows)}: "
        f"{cause}, so the naive loss is inf while the stable loss is finite",
        {
            "dtype": dtype,
            "underflow_range": threshold,
            "rows": rows.count,
            "first_rows": list(rows.first),
            "paths": _per_path(paths, "underflow"),
        },
    )


@rule(
    "LC108",
    "framework-loss-clipped",
    Severity.WARNING,
    summary="A framework's loss on these probabilities is clipped or clamped on some rows.",
    why="Losses that take probabilities clip them before the log (Keras at 1e-7: 16.118; "
    "sklearn at the dtype's eps: 36.04 or 15.94; torch's BCELoss clamps the log at -100). "
    "On rows where the model put (almost) no probability on the label, the reported loss is "
    "capped, and its mean is off from the true loss by however much the caps hide.",
    fix={
        "numpy": "Compute -log(p_y) yourself and look at the rows with p_y below 1e-7.",
        "pytorch": "Export the logits and use F.cross_entropy / BCEWithLogitsLoss: no clipping.",
        "keras": "Export the logits and use from_logits=True: no clipping.",
        "jax": "Use optax.softmax_cross_entropy_with_integer_labels on logits.",
    },
    example="keras.losses.SparseCategoricalCrossentropy()(y, probs)  # p_y = 0 reports 16.118",
)
def framework_loss_clipped(ctx: Context):
    s = ctx.stats
    if ctx.kind.name not in ("probabilities", "binary_probabilities") or not s.labelled:
        return
    true = s.loss_as_probabilities.mean
    parts, evidence = [], {}
    for name, f in s.frameworks.items():
        if not f.capped or f.loss.mean is None:
            continue
        gap = "" if true is None or s.zero_label_value else f", {f.loss.mean - true:+.4g}"
        parts.append(f"{name} on {f.capped.count:,} rows (mean {f.loss.mean:.4f}{gap})")
        evidence[name] = {"capped_rows": f.capped.count, "first_rows": list(f.capped.first),
                          "loss": f.loss.mean}
    if not parts:
        return
    if s.zero_label_value:
        truth = f"the true loss -log(p_y) is inf on {s.zero_label_value.count:,} rows (p_y = 0)"
    else:
        truth = f"the true loss -log(p_y) is {true:.4f}"
    yield (
        "clipped or clamped: " + "; ".join(parts) + f"; {truth}",
        {"frameworks": evidence, "loss_true": None if s.zero_label_value else true,
         "rows_with_zero_probability": s.zero_label_value.count},
    )
