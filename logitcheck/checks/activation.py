"""LC2xx: activation and from_logits mistakes."""

from __future__ import annotations

from ..report.model import Severity
from . import Context, rule
from .fmt import num


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
)
def probabilities_as_logits(ctx: Context):
    if ctx.kind.name != "probabilities":
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
