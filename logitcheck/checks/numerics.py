"""LC1xx: numerics of the naive loss paths in the dtype the array is stored in."""

from __future__ import annotations

import math

import numpy as np

from ..compute.dtypes import facts
from ..compute.stats import PATHS, exp_overflow_threshold
from ..report.model import Severity
from .fmt import num, rows_phrase
from .registry import Context, rule

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


_BCE_FIX = {
    "numpy": "Use np.logaddexp(0, z) - z * t (a shifted softplus), or "
    "scipy.special.log_expit(z), instead of np.log(1 / (1 + np.exp(-z))).",
    "pytorch": "Pass raw logits to nn.BCEWithLogitsLoss / F.binary_cross_entropy_with_logits; "
    "never torch.sigmoid followed by nn.BCELoss or torch.log.",
    "keras": "Use keras.losses.BinaryCrossentropy(from_logits=True) on raw logits, not a "
    "sigmoid layer plus a log.",
    "jax": "Use optax.sigmoid_binary_cross_entropy(logits, labels) or jax.nn.log_sigmoid(z).",
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


def _framework(ctx: Context):
    """With --backend: the framework's own statistics (its naive paths in the storage dtype,
    its loss APIs), or None when numpy's reference is all there is."""
    b = ctx.backend
    if b is None or b.run.backend is None:
        return None
    return b.stats.get(b.run.name)


def _naive_paths(ctx: Context) -> tuple[str, dict, str | None]:
    """The storage dtype, the naive paths' statistics in it, and the framework that
    computed them: --backend's own (torch's softmax shifts by the max, so its softmax then
    log underflows but never overflows), else the textbook formulas emulated in numpy."""
    dtype, paths = _storage_paths(ctx)
    main = _framework(ctx)
    d = main.dtypes.get(dtype) if main is not None else None
    if d is not None and d.status == "ok" and d.naive:
        return dtype, d.naive, ctx.backend.run.backend.label
    return dtype, paths, None


def _severity(ctx: Context) -> tuple[Severity, str]:
    """The severity model of LC101/LC102 (see `logitcheck explain LC101`): a naive path's
    failure is the user's error when their loss takes that path (--loss-path naive), when
    the stored values already hold inf/NaN, or when their framework's own loss API
    (--backend) returns inf/NaN; otherwise it is a hazard, a warning."""
    s = ctx.stats
    if ctx.settings.loss_path == "naive":
        return Severity.ERROR, "your loss path is naive (--loss-path naive)"
    if s.nan_values or s.posinf_values:
        return Severity.ERROR, "the stored values already hold inf/NaN"
    main = _framework(ctx)
    broken = [f"{name} returns inf/NaN on {a.nonfinite.count:,} rows"
              for name, a in (main.api.items() if main is not None else ()) if a.nonfinite]
    if broken:
        return Severity.ERROR, "; ".join(broken)
    return Severity.WARNING, (
        "a hazard only: your loss path is stable (--loss-path stable, the default), and "
        "the stable loss is finite there")


def _worst_path(paths: dict, kind: str):
    """The path that fails most often by `kind` (overflow or underflow), and its rows."""
    worst = max(PATHS, key=lambda p: getattr(paths[p], kind).count)
    return worst, getattr(paths[worst], kind)


def _extras(ctx: Context) -> tuple[Severity, str, dict]:
    level, why = _severity(ctx)
    more: dict = {"severity": level}
    if ctx.stats.binary or ctx.stats.targets == "multilabel":
        more["fix"] = _BCE_FIX
    return level, why, more


@rule(
    "LC101",
    "naive-overflow",
    Severity.ERROR,
    summary="The naive softmax overflows (exp(z) = inf) in the storage dtype.",
    why="exp(z) is inf above 11.09 in float16, 88.72 in float32 and 709.78 in float64; "
    "softmax then log, or log(sum(exp(z))) without subtracting the row max, then "
    "returns inf or NaN for a row whose true loss is finite. Severity: an error when your "
    "loss takes the naive path (--loss-path naive), when the stored values already hold "
    "inf/NaN, or when your framework's own loss (--backend) returns inf/NaN; a warning "
    "(a hazard: the rows and the headroom) when your loss path is stable, the default. "
    "With --backend, the counts are the framework's own: torch's and TensorFlow's softmax "
    "subtract the row max themselves, so only log(sum(exp(z))) written by hand overflows.",
    fix=_STABLE_FIX,
    example="torch.log(torch.softmax(z.half(), 1))  # z = 12.0 gives exp(z) = inf in float16",
)
def naive_overflow(ctx: Context):
    dtype, paths, framework = _naive_paths(ctx)
    if not paths:
        return
    path, rows = _worst_path(paths, "overflow")
    if not rows:
        return
    s = ctx.stats
    threshold = exp_overflow_threshold(dtype)
    level, why, more = _extras(ctx)
    would = "overflows" if level is Severity.ERROR else "would overflow"
    top = s.finite_max
    past = f", {num(top - threshold)} past it" if top is not None and top > threshold else ""
    if s.binary or s.targets == "multilabel":
        what = (f"the naive sigmoid / BCE path {would} in {dtype}: exp(z) is inf above "
                f"z = {threshold:.2f} (the largest logit is {num(top)}{past}), so "
                "log(1 + exp(z)) or 1 / (1 + exp(-z)) by hand returns inf or NaN")
    else:
        what = (f"the naive softmax {would} in {dtype}: sum(exp(z)) passes {dtype}'s largest "
                f"value {facts(dtype).max:.6g} (exp(z) alone is inf above z = {threshold:.2f}; "
                f"the largest logit is {num(top)}{past}), so the naive loss is inf or NaN")
    if framework is not None and not paths["softmax_then_log"].overflow:
        what += (f"; {framework}'s own softmax subtracts the row max and does not overflow: "
                 "only log(sum(exp(z))) written without the max shift does")
    yield (
        f"{what} on {rows_phrase(rows, s.rows)}; {why}",
        {
            "dtype": dtype,
            "overflow_threshold": threshold,
            "max_logit": top,
            "headroom": None if top is None else threshold - top,
            "rows": rows.count,
            "first_rows": list(rows.first),
            "path": path,
            "computed_by": framework or "numpy (emulated)",
            "loss_path": ctx.settings.loss_path,
            "paths": _per_path(paths, "overflow"),
        },
        more,
    )


@rule(
    "LC102",
    "naive-underflow",
    Severity.ERROR,
    summary="The naive softmax underflows (p_y = 0, infinite loss) in the storage dtype.",
    why="Once a row's range (max - z_y) passes 17.33 in float16, 103.97 in float32 or "
    "745.13 in float64, exp(z_y)/sum(exp(z)) rounds to exactly 0 and -log(0) = inf, "
    "though the true loss is simply large and finite. Severity as LC101: an error on the "
    "naive loss path, on stored inf/NaN or when your framework's loss fails; a warning (a "
    "hazard) on the stable path, the default.",
    fix=_STABLE_FIX,
    example="np.log(softmax(z))[y]  # z = [60, -50] in float32: p_y = 0, loss inf, true 110",
)
def naive_underflow(ctx: Context):
    dtype, paths, framework = _naive_paths(ctx)
    if not paths:
        return
    path, rows = _worst_path(paths, "underflow")
    if not rows:
        return
    s = ctx.stats
    threshold = underflow_threshold(dtype)
    level, why, more = _extras(ctx)
    would = "underflows" if level is Severity.ERROR else "would underflow"
    span = s.max_range.value if s.max_range else None
    if s.binary or s.targets == "multilabel":
        what = (f"the naive sigmoid / BCE path {would} in {dtype}: sigmoid(z) rounds to "
                "exactly 1 (or 0), so log(1 - p) (or log p) is -inf and BCELoss on "
                "sigmoid outputs is inf (clamped to 100 by torch)")
    else:
        where = "p_y" if s.labelled else "the least likely class's probability"
        largest = (f"; the largest row range is {num(span)}, {num(span - threshold)} past it"
                   if span is not None and span > threshold else "")
        what = (f"the naive softmax {would} in {dtype}: {where} rounds to 0 once a row's "
                f"range passes {threshold:.2f}{largest}, so the naive loss is inf while the "
                "stable loss is finite")
    yield (
        f"{what} on {rows_phrase(rows, s.rows)}; {why}",
        {
            "dtype": dtype,
            "underflow_range": threshold,
            "max_range": span,
            "headroom": None if span is None else threshold - span,
            "rows": rows.count,
            "first_rows": list(rows.first),
            "path": path,
            "computed_by": framework or "numpy (emulated)",
            "loss_path": ctx.settings.loss_path,
            "paths": _per_path(paths, "underflow"),
        },
        more,
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


@rule(
    "LC103",
    "naive-failure-mixed-precision",
    Severity.WARNING,
    summary="The naive softmax breaks in a dtype asked for with --dtypes (mixed precision).",
    why="Under autocast the softmax may run in float16 or bfloat16 although the export is "
    "float32: exp overflows above 11.09 in float16, and p_y rounds to 0 past a range of "
    "17.33 (float16) or 92.9 (bfloat16), turning the loss and every gradient into inf or NaN.",
    fix=_STABLE_FIX,
    example="with torch.autocast('cuda', torch.float16): loss = -torch.log(softmax(z))[y]",
)
def naive_failure_mixed_precision(ctx: Context):
    for dtype in ctx.settings.dtypes:
        if dtype == ctx.logits.dtype or dtype not in ctx.stats.naive:
            continue
        paths = ctx.stats.naive[dtype]
        worst = max(PATHS, key=lambda p: paths[p].failed.count)
        rows = paths[worst].failed
        if not rows:
            continue
        yield (
            f"in {dtype} (asked with --dtypes) the naive softmax fails on "
            f"{rows_phrase(rows, ctx.stats.rows)} ({paths[worst].overflow.count:,} overflow, "
            f"{paths[worst].underflow.count:,} underflow)",
            {"dtype": dtype, "rows": rows.count, "first_rows": list(rows.first),
             "paths": _per_path(paths, "failed")},
        )


@rule(
    "LC104",
    "low-precision-headroom",
    Severity.INFO,
    summary="The naive softmax would break in float16 or bfloat16 (not computed: info).",
    why="A file that is safe in its storage dtype can still break when a model runs in "
    "mixed precision; the thresholds show how much headroom is left.",
    fix=_STABLE_FIX,
    example="max logit 30.8: fine in float32, inf in float16 (overflow above 11.09)",
)
def low_precision_headroom(ctx: Context):
    s, storage = ctx.stats, ctx.logits.dtype
    if s.binary or s.finite_max is None:
        return
    for dtype in ("float16", "bfloat16"):
        if dtype in s.naive or facts(dtype).bits >= facts(storage).bits:
            continue  # computed exactly already, or not narrower than the storage
        f = facts(dtype)
        reasons = []
        if s.finite_max > f.overflow_at:
            reasons.append(f"max logit {num(s.finite_max)} > {f.overflow_at:.2f} (overflow)")
        if s.max_range and s.max_range.value > f.zero_range:
            reasons.append(
                f"a row range of {num(s.max_range.value)} (row {s.max_range.row}) > "
                f"{f.zero_range:.2f} (p rounds to 0)"
            )
        if reasons:
            yield (
                f"in {dtype} the naive softmax would break: {'; '.join(reasons)}; pass "
                f"--dtypes {dtype} to count the rows",
                {"dtype": dtype, "overflow_at": f.overflow_at, "zero_range": f.zero_range,
                 "max_logit": s.finite_max,
                 "max_range": s.max_range.value if s.max_range else None},
            )


@rule(
    "LC105",
    "naive-subnormal",
    Severity.WARNING,
    summary="The naive softmax leaves p_y subnormal: the loss is finite but imprecise.",
    why="Below the smallest normal number (1.2e-38 in float32, 6.1e-5 in float16) a "
    "probability keeps fewer significant bits the smaller it gets: -log(p_y) is finite but "
    "wrong in its last digits, before it becomes inf.",
    fix=_STABLE_FIX,
    example="float32: a row range of 95 gives p_y = 5e-42, a subnormal with 12 bits left",
)
def naive_subnormal(ctx: Context):
    dtype, paths = _storage_paths(ctx)
    if not paths:
        return
    rows = paths["softmax_then_log"].subnormal
    if not rows:
        return
    f = facts(dtype)
    yield (
        f"the naive softmax leaves p_y subnormal in {dtype} (below {f.tiny:.3g}, a row range "
        f"past {f.subnormal_range:.2f}) on {rows_phrase(rows, ctx.stats.rows)}: the loss "
        "is finite but has lost precision",
        {"dtype": dtype, "subnormal_range": f.subnormal_range, "rows": rows.count,
         "first_rows": list(rows.first)},
    )


@rule(
    "LC106",
    "storage-quantization",
    Severity.WARNING,
    summary="The stored logits are coarse: the dtype's spacing at max |z| is 1/16 or more.",
    why="float16 keeps 11 significant bits and bfloat16 8: at |z| = 1000 float16 values are "
    "0.5 apart, and at |z| = 8 bfloat16 values are 0.0625 apart. Logit differences, and the "
    "loss, are then only known to that step, whatever is computed after.",
    fix={
        "numpy": "Save logits as float32: z.astype(np.float32).",
        "pytorch": "Export logits.float() rather than the half-precision tensor.",
        "keras": "Cast the model output to float32 before export (dtype policy 'float32' "
        "for the last layer).",
        "jax": "Export logits.astype(jnp.float32).",
    },
    example="np.save('logits.npy', logits.half())  # |z| up to 1200: steps of 1.0",
)
def storage_quantization(ctx: Context):
    top = ctx.stats.max_abs
    if top is None:
        return
    f = facts(ctx.logits.dtype)
    step = f.spacing(top)
    if step < 2.0**-4:
        return
    yield (
        f"in {ctx.logits.dtype}, values near the largest |z| = {num(top)} are {step:g} apart: "
        f"the stored logits, and so each row's loss, are only known to about {step / 2:g}",
        {"dtype": ctx.logits.dtype, "max_abs": top, "spacing": step},
    )


@rule(
    "LC107",
    "constant-rows",
    Severity.WARNING,
    summary="Rows whose logits are all equal: a dead output.",
    why="A row with max == min predicts the uniform distribution: its loss is exactly ln(C) "
    "and its gradient carries no preference. Many such rows usually mean a dead layer, a "
    "zeroed export, or padding rows that should have been masked.",
    fix={
        "numpy": "Find them with np.flatnonzero(z.max(axis=1) == z.min(axis=1)).",
        "pytorch": "Check the export for padding positions (mask them with ignore_index) and "
        "the last layer for dead units (zero weights, a ReLU before the logits).",
        "keras": "Check for a ReLU/activation before the logits layer and for masked steps.",
        "jax": "Check for padding positions and for zeroed parameters of the last layer.",
    },
    example="logits[pad_positions] = 0  # exported without a mask",
)
def constant_rows(ctx: Context):
    rows = ctx.stats.constant_rows
    if not rows or ctx.stats.classes < 2:
        return
    yield (
        f"{rows_phrase(rows, ctx.stats.rows)} hold one value in every class: their loss is "
        f"exactly ln(C) = {math.log(ctx.stats.classes):.4f}",
        {"rows": rows.count, "first_rows": list(rows.first)},
    )


def _inf_from(dtype: str) -> float:
    """The smallest value that rounds to inf in `dtype` (its largest plus half a step)."""
    f = facts(dtype)
    return f.max + f.spacing(f.max) / 2


@rule(
    "LC109",
    "reduction-in-storage-dtype",
    Severity.WARNING,
    summary="The mean or sum of the row losses overflows in the storage dtype (float16).",
    why="A loss reduced over the whole export in the dtype it is stored in keeps its sum and "
    "its row count in that dtype: torch's F.cross_entropy on a float16 CPU tensor accumulates "
    "in float32 but rounds both to float16, so the sum is inf once it passes 65504 (mean "
    "inf), and the row count is inf from 65,520 rows on (mean NaN, or 0 when the sum is "
    "finite). bfloat16 reaches 3.4e38 (rounded once each, its sum and count leave the mean "
    "within 0.6 %). Per-batch losses are "
    "not affected; a loss over the exported file in its own dtype is.",
    fix={
        "numpy": "Reduce in float64: loss.astype(np.float64).mean(), or np.mean(loss, "
        "dtype=np.float64).",
        "pytorch": "Cast first: F.cross_entropy(logits.float(), labels), or reduction='none' "
        "followed by .double().mean().",
        "keras": "Cast the logits with tf.cast(logits, tf.float32) before the loss.",
        "jax": "Cast the logits with logits.astype(jnp.float32) before the loss.",
    },
    example="F.cross_entropy(torch.from_numpy(z16), y)  # 200,000 x 1,000 float16: nan",
)
def reduction_in_storage_dtype(ctx: Context):
    s, dtype = ctx.stats, ctx.logits.dtype
    mean, count = s.loss.mean, s.loss.count
    if not s.labelled or not mean or count == 0 or facts(dtype).bits > 16:
        return  # float32 keeps counts exact to 16.7M rows and sums to 3.4e38
    total = mean * count
    limit = _inf_from(dtype)
    if total < limit and count < limit:
        return  # rounded once each, sum and count leave the mean within 0.6 % (bfloat16)
    # one of them is inf: the mean is inf / count = inf, sum / inf = 0, or inf / inf = NaN
    fl_sum = math.inf if total >= limit else total
    fl_count = math.inf if count >= limit else float(count)
    with np.errstate(all="ignore"):
        fl_mean = float(np.float64(fl_sum) / np.float64(fl_count))

    def plain(x: float) -> float | str:  # JSON has no inf or NaN
        return x if math.isfinite(x) else str(x)

    evidence = {"dtype": dtype, "rows": count, "loss": mean, "sum": total,
                "sum_in_dtype": plain(fl_sum), "count_in_dtype": plain(fl_count),
                "mean_in_dtype": plain(fl_mean)}
    breaks = math.ceil(limit / max(mean, 1.0))  # the sum's row, or the count's
    got = "NaN" if math.isnan(fl_mean) else "inf" if math.isinf(fl_mean) else f"{fl_mean:g}"
    what = []
    if math.isinf(fl_sum):
        what.append(f"the sum of the row losses ({num(total)}) is inf")
    if math.isinf(fl_count):
        what.append(f"the row count ({count:,}) is inf")
    yield (
        f"a mean loss over this export in {dtype} is {got}, not {mean:.4f}: "
        f"{' and '.join(what)} in {dtype} (from about row {breaks:,} on); reduce in "
        "float32 or float64",
        {**evidence, "breaks_at_row": breaks},
    )
