"""LC2xx: activation and from_logits mistakes.

Each rule compares what the values are (the inferred kind) with what the user's loss
expects (--expects; by default logits, since the argument is LOGITS), and puts the loss
the user gets beside the correct one.
"""

from __future__ import annotations

from ..compute.mergeable import ExactSum
from ..inference import double_softmax_floor
from ..report.model import Severity
from .fmt import num
from .registry import Context, rule


def _kind_phrase(ctx: Context) -> str:
    reason = ctx.kind.evidence.get("reason", "")
    return f"the values are {ctx.kind.name.replace('_', '-')} ({reason})"


def _losses(ctx: Context, wrong: ExactSum, right: ExactSum, wrong_name: str) -> tuple[str, dict]:
    """'; <wrong_name> reports X where the correct loss is Y' and the same as evidence."""
    if not ctx.stats.labelled or wrong.mean is None or right.mean is None:
        return "", {}
    text = f"; {wrong_name} reports {wrong.mean:.4f} where the correct loss is {right.mean:.4f}"
    return text, {"loss_reported": wrong.mean, "loss_correct": right.mean}


def _keras(stats) -> ExactSum:
    """The loss Keras reports on these values with from_logits=False (frameworks.py)."""
    name = next((k for k in stats.frameworks if k.startswith("keras.Sparse")), None)
    name = name or next((k for k in stats.frameworks if k.startswith("keras.")), None)
    return stats.frameworks[name].loss if name else ExactSum()


def _yield(ctx: Context, message: str, wrong: ExactSum, right: ExactSum, wrong_name: str):
    text, losses = _losses(ctx, wrong, right, wrong_name)
    evidence = {"kind": ctx.kind.name, "expects": ctx.settings.expects, **ctx.kind.evidence}
    yield message + text, {**evidence, **losses}


@rule(
    "LC201",
    "probabilities-as-logits",
    Severity.ERROR,
    summary="The array holds probabilities (softmax output), not logits.",
    why="A loss that expects logits applies softmax again: the argmax and accuracy stay "
    "right, but the loss is wrong and squeezed towards ln(C), and its gradients vanish.",
    fix={
        "numpy": "Compute the loss as -np.log(p[np.arange(n), y]).mean(), or export the "
        "logits (the values before softmax) instead.",
        "pytorch": "Remove nn.Softmax / F.softmax before nn.CrossEntropyLoss, or use "
        "F.nll_loss(torch.log(p), y) on probabilities.",
        "keras": "Use from_logits=False on softmax output (the default), or remove the "
        "softmax activation and keep from_logits=True.",
        "jax": "Feed logits to optax.softmax_cross_entropy_with_integer_labels, or use "
        "-jnp.log(p[jnp.arange(n), y]) on probabilities.",
    },
    example="nn.CrossEntropyLoss()(torch.softmax(model(x), 1), y)",
)
def probabilities_as_logits(ctx: Context):
    if ctx.kind.name != "probabilities" or ctx.settings.expects != "logits":
        return
    s, ev = ctx.stats, ctx.kind.evidence
    message = (
        f"every value lies in [{num(ev['min'])}, {num(ev['max'])}] and every row sums to 1 "
        f"(largest deviation {ev['max_row_sum_deviation']:.2g}, tolerance "
        f"{ev['row_sum_tolerance']:.2g}): these are probabilities, not logits"
    )
    evidence = dict(ev)
    if s.labelled and s.loss.mean is not None:
        wrong, right = s.loss.mean, s.loss_as_probabilities.mean
        evidence["loss_as_logits"] = wrong
        evidence["loss_as_probabilities"] = right
        evidence["rows_with_zero_probability"] = s.zero_label_value.count
        message += f"; a loss that expects logits reports {wrong:.4f}"
        if s.zero_label_value:
            message += f", while -log(p_y) is inf on {s.zero_label_value.count:,} rows"
        elif right is not None:
            message += f" where the correct loss -log(p_y) is {right:.4f}"
    yield message, evidence


@rule(
    "LC202",
    "double-softmax",
    Severity.ERROR,
    summary="Softmax was applied twice upstream: every row lies within a factor e.",
    why="Softmax of probabilities maps [0, 1] into a range of width 1 in log space: every "
    "row's max/min <= e and max <= e/(e+C-1), so the loss can never go below "
    "ln(1+(C-1)/e) however good the model is, while the argmax, and the accuracy, survive.",
    fix={
        "numpy": "Apply softmax once: export the logits, or the probabilities before the "
        "second softmax.",
        "pytorch": "Remove the extra nn.Softmax / F.softmax (often one in the model and one in "
        "the evaluation code).",
        "keras": "Remove the second activation='softmax' (or the tf.nn.softmax after a "
        "softmax output layer).",
        "jax": "Call jax.nn.softmax once; keep the logits for optax losses.",
    },
    example="probs = torch.softmax(torch.softmax(logits, 1), 1)",
)
def double_softmax(ctx: Context):
    if ctx.kind.name != "double_softmax":
        return
    s = ctx.stats
    floor = double_softmax_floor(s.classes)
    message = (
        f"{_kind_phrase(ctx)}: softmax was applied twice; the loss cannot go below "
        f"ln(1+(C-1)/e) = {floor:.4f} for C = {s.classes:,}"
    )
    if s.accuracy is not None:
        message += f" (accuracy {s.accuracy:.1%}: the argmax survived)"
    yield from _yield(ctx, message, s.loss_as_probabilities, s.loss_undone or ExactSum(),
                      "-log(p_y) on these values")


@rule(
    "LC203",
    "logits-as-probabilities",
    Severity.ERROR,
    summary="Logits fed to a loss that expects probabilities (Keras and sklearn clip them).",
    why="Keras' from_logits=False renormalises each row and clips it to [1e-7, 1-1e-7]; "
    "sklearn's log_loss clips too. Logits then give a capped, meaningless loss (16.118 = "
    "-ln 1e-7) with no error and no warning.",
    fix={
        "numpy": "Apply scipy.special.log_softmax(z, axis=1) and take -logp[range(n), y].",
        "pytorch": "Use F.cross_entropy(logits, y), which applies log_softmax itself.",
        "keras": "Pass from_logits=True to CategoricalCrossentropy / "
        "SparseCategoricalCrossentropy.",
        "jax": "Use optax.softmax_cross_entropy_with_integer_labels(logits, labels).",
    },
    example="keras.losses.SparseCategoricalCrossentropy()(y, logits)  # from_logits=False",
)
def logits_as_probabilities(ctx: Context):
    if ctx.settings.expects != "probabilities":
        return
    if ctx.kind.name not in ("logits", "binary_logits"):
        return
    s = ctx.stats
    yield from _yield(
        ctx, f"{_kind_phrase(ctx)}, but the loss expects probabilities", _keras(s), s.loss,
        "Keras from_logits=False (renormalised, clipped to [1e-7, 1-1e-7])",
    )


@rule(
    "LC204",
    "log-probabilities-as-probabilities",
    Severity.ERROR,
    summary="Log-probabilities fed to a loss that expects probabilities.",
    why="Log-probabilities are <= 0; a loss that expects probabilities clips them to "
    "1e-7 (Keras, sklearn) or takes log of a negative number (NaN).",
    fix={
        "numpy": "Take -logp[np.arange(n), y].mean() directly: no log needed.",
        "pytorch": "Use F.nll_loss(log_probs, y).",
        "keras": "Pass np.exp(log_probs), or keep the logits with from_logits=True.",
        "jax": "Use -jnp.take_along_axis(log_probs, y[:, None], 1).mean().",
    },
    example="sklearn.metrics.log_loss(y, F.log_softmax(z, 1))",
)
def log_probabilities_as_probabilities(ctx: Context):
    if ctx.settings.expects != "probabilities" or ctx.kind.name != "log_probabilities":
        return
    s = ctx.stats
    yield from _yield(
        ctx, f"{_kind_phrase(ctx)}, but the loss expects probabilities", _keras(s),
        s.loss_as_log_probabilities, "Keras from_logits=False (clipped to [1e-7, 1-1e-7])",
    )


@rule(
    "LC205",
    "log-probabilities-as-logits",
    Severity.INFO,
    summary="Log-probabilities fed to a loss that expects logits: right loss, wasted op.",
    why="log_softmax is idempotent under softmax (its rows' logsumexp is already 0), so a "
    "loss that applies log_softmax again returns the same value: nothing is wrong but the "
    "extra pass over the data.",
    fix={
        "numpy": "Use -logp[np.arange(n), y] directly.",
        "pytorch": "Use F.nll_loss(log_probs, y) instead of F.cross_entropy(log_probs, y).",
        "keras": "Nothing to fix for the value; export logits to skip the extra op.",
        "jax": "Use -jnp.take_along_axis(log_probs, y[:, None], 1).mean().",
    },
    example="F.cross_entropy(F.log_softmax(z, 1), y)  # equals F.cross_entropy(z, y)",
)
def log_probabilities_as_logits(ctx: Context):
    if ctx.settings.expects != "logits" or ctx.kind.name != "log_probabilities":
        return
    s = ctx.stats
    message = f"{_kind_phrase(ctx)}; a loss that expects logits gives the right value"
    if s.labelled and s.loss.mean is not None:
        message += f" ({s.loss.mean:.4f}), the extra log_softmax is only wasted work"
    yield message, {"kind": ctx.kind.name, "expects": "logits", "loss": s.loss.mean,
                    **ctx.kind.evidence}


_SIGMOID_FIX = {
    "numpy": "Compute -(y*np.log(p) + (1-y)*np.log1p(-p)) on probabilities, or keep the "
    "logits and use np.logaddexp(0, z) - y*z.",
    "pytorch": "Remove torch.sigmoid before nn.BCEWithLogitsLoss, or use nn.BCELoss on "
    "probabilities (BCEWithLogitsLoss on logits is the stable one).",
    "keras": "Use BinaryCrossentropy(from_logits=False) on sigmoid output, or remove the "
    "sigmoid activation and keep from_logits=True.",
    "jax": "Use optax.sigmoid_binary_cross_entropy(logits, labels) on the logits.",
}


@rule(
    "LC206",
    "binary-probabilities-as-logits",
    Severity.ERROR,
    summary="Sigmoid outputs fed to a binary loss that expects logits.",
    why="BCEWithLogitsLoss applies sigmoid again: every p in [0, 1] becomes sigmoid(p) in "
    "[0.5, 0.73], so every row predicts the positive class and the loss is wrong.",
    fix=_SIGMOID_FIX,
    example="nn.BCEWithLogitsLoss()(torch.sigmoid(model(x)), y)",
)
def binary_probabilities_as_logits(ctx: Context):
    if ctx.settings.expects != "logits" or ctx.kind.name != "binary_probabilities":
        return
    s = ctx.stats
    yield from _yield(
        ctx, f"{_kind_phrase(ctx)}: sigmoid outputs, not logits", s.loss,
        s.loss_as_probabilities, "a loss with logits (BCEWithLogits)",
    )


@rule(
    "LC207",
    "sigmoid-probabilities-as-logits",
    Severity.WARNING,
    summary="Independent sigmoid outputs (multi-label) where logits are expected.",
    why="Values in [0, 1] whose rows do not sum to 1, many saturated near 0 or 1, are "
    "independent sigmoids: fed to a loss with logits they are squashed a second time. With "
    "multi-label targets (--multi-label) the loss is then known to be wrong: an error, with "
    "the loss reported and the correct one; without targets, a warning.",
    fix=_SIGMOID_FIX,
    example="nn.BCEWithLogitsLoss()(torch.sigmoid(multi_label_logits), targets)",
)
def sigmoid_probabilities_as_logits(ctx: Context):
    if ctx.settings.expects != "logits" or ctx.kind.name != "sigmoid_probabilities":
        return
    s = ctx.stats
    share = ctx.kind.evidence.get("saturated_share", 0.0)
    message = (f"{_kind_phrase(ctx)}: {share:.1%} of the values lie below 0.02 or above 0.98, "
               "as sigmoid outputs do; a loss that expects logits squashes them again")
    if s.targets != "multilabel" or not s.labelled or s.loss_as_probabilities.mean is None:
        yield from _yield(ctx, message, ExactSum(), ExactSum(), "")
        return
    for text, evidence in _yield(ctx, message, s.loss, s.loss_as_probabilities,
                                 "BCEWithLogitsLoss (from_logits=True)"):
        if s.zero_label_value:
            text += (f" (left out: {s.zero_label_value.count:,} rows where a target's "
                     "probability is 0, whose true loss is inf)")
        yield text, evidence, {"severity": Severity.ERROR}


@rule(
    "LC208",
    "double-sigmoid",
    Severity.ERROR,
    summary="Sigmoid applied twice: every value lies in [0.5, 0.7311].",
    why="sigmoid maps [0, 1] into [0.5, sigmoid(1) = 0.7311]: every prediction is positive "
    "and the loss is stuck far from 0 whatever the model learnt.",
    fix=_SIGMOID_FIX,
    example="torch.sigmoid(torch.sigmoid(logits))",
)
def double_sigmoid(ctx: Context):
    if ctx.kind.name != "double_sigmoid":
        return
    s = ctx.stats
    yield from _yield(
        ctx, f"{_kind_phrase(ctx)}: sigmoid was applied twice", s.loss_as_probabilities,
        (s.loss_undone if s.binary else None) or ExactSum(), "-log(p_y) on these values",
    )


@rule(
    "LC209",
    "softmax-wrong-axis",
    Severity.ERROR,
    summary="Softmax was taken over the wrong axis: columns sum to 1, rows do not.",
    why="softmax(z, axis=0) normalises each class over the batch: the values look like "
    "probabilities, but a row is no distribution and its loss depends on the batch.",
    fix={
        "numpy": "Use axis=1 (or axis=-1): softmax(z, axis=-1).",
        "pytorch": "Use dim=1 (or dim=-1): torch.softmax(z, dim=-1); nn.Softmax() without "
        "dim picks a dimension implicitly and warns.",
        "keras": "Use keras.activations.softmax(z, axis=-1).",
        "jax": "Use jax.nn.softmax(z, axis=-1).",
    },
    example="torch.softmax(logits, dim=0)",
)
def softmax_wrong_axis(ctx: Context):
    if ctx.kind.name != "softmax_wrong_axis":
        return
    s = ctx.stats
    message = f"{_kind_phrase(ctx)}; the rows' losses cannot be recovered from these values"
    if s.rows < s.classes:
        message += (f"; or transposed? the array has {s.rows:,} rows and {s.classes:,} "
                    "columns: if each column is a sample, pass --class-axis 0")
    if s.labelled and s.loss_as_probabilities.mean is not None:
        message += f" (-log(p_y) on them gives {s.loss_as_probabilities.mean:.4f})"
    yield message, {"kind": ctx.kind.name, **ctx.kind.evidence,
                    "loss_reported": s.loss_as_probabilities.mean}


@rule(
    "LC210",
    "probabilities-as-log-probabilities",
    Severity.ERROR,
    summary="Probabilities fed to a loss that expects log-probabilities (nll_loss).",
    why="nll_loss takes -x[y] and trusts x to be log-probabilities; on probabilities it "
    "returns -p_y, a number in [-1, 0] that is no loss at all.",
    fix={
        "numpy": "Take np.log(p) first, or keep the logits and use log_softmax.",
        "pytorch": "Use F.log_softmax (not F.softmax) before F.nll_loss, or F.cross_entropy "
        "on logits.",
        "keras": "Use SparseCategoricalCrossentropy() on probabilities.",
        "jax": "Use jax.nn.log_softmax (not softmax) before taking -logp[y].",
    },
    example="F.nll_loss(torch.softmax(z, 1), y)",
)
def probabilities_as_log_probabilities(ctx: Context):
    if ctx.settings.expects != "log_probabilities":
        return
    if ctx.kind.name not in ("probabilities", "double_softmax", "sigmoid_probabilities"):
        return
    s = ctx.stats
    yield from _yield(
        ctx, f"{_kind_phrase(ctx)}, but the loss expects log-probabilities",
        s.loss_as_log_probabilities, s.loss_as_probabilities, "nll_loss",
    )


@rule(
    "LC211",
    "logits-as-log-probabilities",
    Severity.ERROR,
    summary="Logits fed to a loss that expects log-probabilities (nll_loss).",
    why="nll_loss returns -z_y on raw logits: it can be negative and it rewards making "
    "every logit large; the model trains towards nothing.",
    fix={
        "numpy": "Use scipy.special.log_softmax(z, axis=1) before taking -logp[y].",
        "pytorch": "Use F.cross_entropy(logits, y), or F.nll_loss(F.log_softmax(logits, 1), y).",
        "keras": "Use SparseCategoricalCrossentropy(from_logits=True).",
        "jax": "Use optax.softmax_cross_entropy_with_integer_labels(logits, labels).",
    },
    example="F.nll_loss(model(x), y)  # model ends with a Linear layer",
)
def logits_as_log_probabilities(ctx: Context):
    if ctx.settings.expects != "log_probabilities" or ctx.kind.name != "logits":
        return
    s = ctx.stats
    yield from _yield(
        ctx, f"{_kind_phrase(ctx)}, but the loss expects log-probabilities",
        s.loss_as_log_probabilities, s.loss, "nll_loss",
    )
