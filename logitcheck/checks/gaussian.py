"""Gaussian NLL heads (scope "gaussian"): the naive variance path, the scale column, torch."""

from __future__ import annotations

from ..compute.gaussian import TORCH_EPS, scale_zones
from ..report.model import Severity
from .fmt import num, rows_phrase
from .registry import rule

# These rules run only on a `gaussian` report; the numbers they quote (the dtype zones of the
# scale, torch's eps) come from compute/gaussian.py, which imports neither checks nor analyses.

_FIX_STABLE = {
    "numpy": "Compute log_std + 0.5*np.log(2*np.pi) + 0.5*((y - mu)*np.exp(-log_std))**2; "
    "never build the variance first.",
    "pytorch": "Write the NLL in log space (log_std + 0.5*((y-mu)*torch.exp(-log_std))**2), "
    "or predict a softplus-positive variance for nn.GaussianNLLLoss instead of exp(log_var).",
    "keras": "Write the loss in log space with tf.exp(-log_std), not 1/tf.exp(2*log_std).",
    "jax": "Write the loss in log space: log_std + 0.5*((y - mu)*jnp.exp(-log_std))**2.",
}
_FIX_SCALE = {
    "numpy": "Pass the column as what it is: --scale log-std, log-var, std or var.",
    "pytorch": "Check the head: exp() of a log-std, softplus() of a raw std, and what "
    "nn.GaussianNLLLoss receives (a variance).",
    "keras": "Check the activation of the scale output and the loss's expectation.",
    "jax": "Check the activation of the scale output and the loss's expectation.",
}


def _naive(ctx):
    return ctx.stats.naive.get(ctx.storage)


@rule(
    "LC002",
    "gaussian-non-finite-inputs",
    Severity.ERROR,
    summary="The mean, scale or targets of a Gaussian head hold NaN or infinite values.",
    why="One NaN or inf in the mean, scale or target makes that row's NLL NaN or inf, and "
    "the mean loss with it.",
    fix={
        "numpy": "Find the rows with ~np.isfinite(a).all(axis=-1) for each array.",
        "pytorch": "Check torch.isfinite on mean, log_std and targets before the loss.",
        "keras": "Add tf.debugging.check_numerics on each output.",
        "jax": "Run with jax_debug_nans to find the first NaN.",
    },
    example="log_std = torch.log(std)  # std == 0 on a row: log_std = -inf",
    scope="gaussian",
)
def gaussian_non_finite(ctx):
    rows = ctx.stats.nonfinite_inputs
    if rows:
        yield (f"NaN or inf in the inputs on {rows_phrase(rows, ctx.stats.rows)}",
               {"rows": rows.count, "first_rows": list(rows.first)})


@rule(
    "LC121",
    "naive-variance-overflow",
    Severity.ERROR,
    summary="The naive Gaussian NLL overflows: exp(2 log_std) is inf in the storage dtype.",
    why="Building the variance first overflows once log_std passes 44.36 in float32 "
    "(5.545 in float16): 0.5 log(var) is inf and the NLL with it, although the stable form "
    "is finite.",
    fix=_FIX_STABLE,
    example="var = torch.exp(2 * log_std).half()  # log_std = 6: inf in float16",
    scope="gaussian",
)
def naive_variance_overflow(ctx):
    p = _naive(ctx)
    if p is None or not p.overflow:
        return
    z = scale_zones(ctx.scale_kind, ctx.storage)
    yield (
        f"the variance overflows in {ctx.storage} on {rows_phrase(p.overflow, ctx.stats.rows)}: "
        f"the {ctx.scale_kind} column reaches {num(ctx.stats.scale_max)}, and the naive "
        f"variance is inf above {num(z['overflow_above'])}",
        {"dtype": ctx.storage, "rows": p.overflow.count, "first_rows": list(p.overflow.first),
         "overflow_above": z["overflow_above"], "scale_max": ctx.stats.scale_max},
    )


@rule(
    "LC122",
    "naive-variance-underflow",
    Severity.ERROR,
    summary="The naive Gaussian NLL divides by a variance that rounded to 0.",
    why="exp(2 log_std) underflows to 0 below log_std = -51.98 in float32 (-8.66 in "
    "float16): (y - mu)^2 / var is inf (or NaN when the residual is 0 too).",
    fix=_FIX_STABLE,
    example="var = torch.exp(2 * log_std).half()  # log_std = -9: var = 0 in float16",
    scope="gaussian",
)
def naive_variance_underflow(ctx):
    p = _naive(ctx)
    if p is None or not p.underflow:
        return
    z = scale_zones(ctx.scale_kind, ctx.storage)
    yield (
        f"the variance rounds to 0 in {ctx.storage} on "
        f"{rows_phrase(p.underflow, ctx.stats.rows)}: the {ctx.scale_kind} column goes down "
        f"to {num(ctx.stats.scale_min)}, below {num(z['zero_below'])}",
        {"dtype": ctx.storage, "rows": p.underflow.count, "first_rows": list(p.underflow.first),
         "zero_below": z["zero_below"], "scale_min": ctx.stats.scale_min},
    )


@rule(
    "LC123",
    "torch-variance-clamped",
    Severity.WARNING,
    summary="torch's nn.GaussianNLLLoss clamps the variance at 1e-6 on some rows.",
    why="nn.GaussianNLLLoss(eps=1e-6) replaces any variance below 1e-6 (a std below 1e-3) "
    "by 1e-6: on those rows the loss it reports is not the model's NLL.",
    fix={
        "numpy": "Compare with the stable NLL computed from log_std.",
        "pytorch": "Lower eps (nn.GaussianNLLLoss(eps=1e-12)) or compute the NLL from log_std.",
        "keras": "Not applicable: Keras has no built-in Gaussian NLL.",
        "jax": "Not applicable: compute the NLL from log_std.",
    },
    example="nn.GaussianNLLLoss()(mu, y, torch.exp(2 * log_std))  # std = 1e-4",
    scope="gaussian",
)
def torch_variance_clamped(ctx):
    s = ctx.stats
    if not s.torch_clamped or s.torch_loss.mean is None or s.loss.mean is None:
        return
    gap = s.torch_loss.mean - s.loss.mean
    yield (
        f"torch's nn.GaussianNLLLoss clamps the variance at {TORCH_EPS:g} on "
        f"{rows_phrase(s.torch_clamped, s.rows)}: it reports {s.torch_loss.mean:.4f} "
        f"(full=True) where the NLL is {s.loss.mean:.4f} ({gap:+.4g})",
        {"clamped_rows": s.torch_clamped.count, "first_rows": list(s.torch_clamped.first),
         "loss_reported": s.torch_loss.mean, "loss_correct": s.loss.mean},
    )


@rule(
    "LC221",
    "negative-std",
    Severity.ERROR,
    summary="A column passed as a std or variance holds negative values: it is a log-scale.",
    why="A standard deviation or variance is positive; negative values mean the column is a "
    "log-std or log-variance (log() of them is NaN).",
    fix=_FIX_SCALE,
    example="logitcheck gaussian mu.npy log_std.npy --scale std",
    scope="gaussian",
)
def negative_std(ctx):
    s = ctx.stats
    if ctx.scale_kind not in ("std", "var") or not s.scale_negative:
        return
    yield (
        f"the scale is declared {ctx.scale_kind} but is negative on "
        f"{rows_phrase(s.scale_negative, s.rows)} (min {num(s.scale_min)}): it must be a "
        "log-std or log-var; pass --scale log-std or --scale log-var",
        {"rows": s.scale_negative.count, "first_rows": list(s.scale_negative.first),
         "scale_min": s.scale_min},
    )


@rule(
    "LC222",
    "log-scale-looks-linear",
    Severity.WARNING,
    summary="A column passed as a log-std or log-var is all positive and large: a std or var?",
    why="A log-std is negative wherever the std is below 1, so a trained head's log-std "
    "column is rarely positive everywhere; positive and large values (a log-std of 5 is a "
    "std of 148) usually mean the std or variance itself was exported.",
    fix=_FIX_SCALE,
    example="np.save('log_std.npy', torch.exp(log_std))  # the std, under a log-std name",
    scope="gaussian",
)
def log_scale_looks_linear(ctx):
    s = ctx.stats
    if ctx.scale_kind not in ("log-std", "log-var") or s.scale_min is None:
        return
    if s.scale_min <= 0 or s.scale_max is None or s.scale_max < 3:
        return
    evidence = {"scale_min": s.scale_min, "scale_max": s.scale_max}
    text = (f"the {ctx.scale_kind} column is positive everywhere, in [{num(s.scale_min)}, "
            f"{num(s.scale_max)}]: it is probably a std or a variance")
    if s.z2_declared.mean is not None:
        evidence["z2_mean"] = s.z2_declared.mean
        text += (f"; the standardised residuals' mean square is {s.z2_declared.mean:.3g} "
                 "(about 1 when the scale is right)")
    yield text, evidence


@rule(
    "LC223",
    "log-var-and-log-std-swapped",
    Severity.WARNING,
    summary="The targets fit the other log reading: log-var read as log-std, or the reverse.",
    why="A log-variance is twice the log-std: read one as the other and every std is squared "
    "(or square-rooted). With targets, the standardised residuals tell: their mean square is "
    "about 1 under the right reading.",
    fix=_FIX_SCALE,
    example="logitcheck gaussian mu.npy log_var.npy --targets y.npy  # --scale log-std",
    scope="gaussian",
)
def log_var_and_log_std_swapped(ctx):
    s = ctx.stats
    declared, other = s.z2_declared.mean, s.z2_alternative.mean
    if ctx.scale_kind not in ("log-std", "log-var") or declared is None or other is None:
        return
    fits = 0.5 <= other <= 2.0
    off = not 0.25 <= declared <= 4.0
    if not (fits and off):
        return
    alt = "log-var" if ctx.scale_kind == "log-std" else "log-std"
    yield (
        f"read as {ctx.scale_kind}, the standardised residuals' mean square is "
        f"{declared:.3g}; read as {alt}, it is {other:.3g} (about 1 when the scale is "
        f"right): pass --scale {alt}",
        {"z2_mean": declared, "z2_mean_other_reading": other, "other_reading": alt},
    )
