"""LC4xx: drift between two exports of the same model (logitcheck compare).

These rules read a DriftContext (merged DriftStats of both files and each one's kind)
instead of one input's Context; they live in the same registry with scope "drift".
"""

from __future__ import annotations

from dataclasses import dataclass

from ..compute.drift import DriftStats
from ..report.model import Kind, Severity
from ..settings import Settings
from .fmt import num, rows_phrase
from .registry import rule


@dataclass(frozen=True)
class DriftContext:
    stats: DriftStats
    reference_kind: Kind
    candidate_kind: Kind
    settings: Settings


_EXPORT_FIX = {
    "numpy": "Diff the two arrays: d = np.abs(cand - ref).max(axis=1); inspect the rows "
    "with the largest d, and keep the reference's dtype (e.g. float32) when saving.",
    "pytorch": "Export in the reference's precision (model.float() before torch.onnx.export, "
    "no .half()), and compare with torch.testing.assert_close(cand, ref, atol=..., rtol=...).",
    "keras": "Keep the float32 policy (keras.mixed_precision.set_global_policy('float32')) "
    "when exporting, and compare with np.testing.assert_allclose(cand, ref, atol=...).",
    "jax": "Export with jax.numpy float32 (no jnp.bfloat16/float16 casts in the apply fn) "
    "and compare with np.testing.assert_allclose(cand, ref, atol=...).",
}


@rule(
    "LC401",
    "logits-drift",
    Severity.WARNING,
    summary="The candidate's logits differ from the reference's by more than --max-abs-diff.",
    why="A float16, quantized or re-exported model may move the logits; small moves are "
    "expected, large ones mean a different computation. Logits are only defined up to a "
    "per-row constant, so this is a warning: LC402 says whether the softmax moved.",
    fix=_EXPORT_FIX,
    example="torch.onnx.export(model.half(), x, 'model.onnx')  # reference ran in float32",
    scope="drift",
)
def logits_drift(ctx: DriftContext):
    s, t = ctx.stats, ctx.settings.drift.max_abs_diff
    worst = s.max_abs_diff
    if worst is None or not worst.value > t:
        return
    yield (
        f"the largest |candidate - reference| is {num(worst.value)} at row {worst.row} "
        f"(threshold {num(t)})",
        {"max_abs_diff": worst.value, "row": worst.row, "threshold": t},
    )


@rule(
    "LC402",
    "distribution-drift",
    Severity.ERROR,
    summary="The candidate's softmax drifts from the reference's: mean KL above --max-kl.",
    why="KL(reference || candidate) measures, in nats, how much the predicted distribution "
    "changed; it ignores per-row logit shifts that do not matter, and catches precision "
    "loss, bad quantization and a wrong preprocessing step in the new export.",
    fix=_EXPORT_FIX,
    example="quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)  # then export",
    scope="drift",
)
def distribution_drift(ctx: DriftContext):
    s, t = ctx.stats, ctx.settings.drift.max_kl
    mean = s.kl.mean
    if mean is None or not mean > t or s.max_kl is None:
        return
    yield (
        f"mean KL(reference || candidate) is {num(mean)} nats over {s.compared:,} rows "
        f"(threshold {num(t)}); the largest is {num(s.max_kl.value)} at row {s.max_kl.row}",
        {"kl_mean": mean, "kl_max": s.max_kl.value, "kl_max_row": s.max_kl.row, "threshold": t},
    )


@rule(
    "LC403",
    "top1-disagreement",
    Severity.ERROR,
    summary="The candidate's argmax differs from the reference's on too many rows.",
    why="The predicted class is what users see: if the new export changes it on more "
    "than 1 - --min-top1-agreement of the rows, it is not the same model.",
    fix=_EXPORT_FIX,
    example="onnxruntime session on uint8 inputs where the reference took float32 in [0, 1]",
    scope="drift",
)
def top1_disagreement(ctx: DriftContext):
    s, t = ctx.stats, ctx.settings.drift.min_top1_agreement
    agreement = s.top1_agreement
    if agreement is None or not agreement < t:
        return
    yield (
        f"top-1 agreement is {agreement:.4%} (minimum {t:.4%}): the argmax changes on "
        f"{rows_phrase(s.disagree, s.compared)}",
        {
            "top1_agreement": agreement,
            "rows": s.disagree.count,
            "first_rows": list(s.disagree.first),
            "threshold": t,
        },
    )


@rule(
    "LC404",
    "loss-drift",
    Severity.ERROR,
    summary="The candidate's mean loss differs from the reference's by more than "
    "--max-loss-delta.",
    why="With labels, the mean cross-entropy of each export is the quantity training and "
    "evaluation report; a shift beyond the tolerance changes the metrics people compare.",
    fix=_EXPORT_FIX,
    example="model.eval() forgotten before the export: dropout is active in the candidate",
    scope="drift",
)
def loss_drift(ctx: DriftContext):
    s, t = ctx.stats, ctx.settings.drift.max_loss_delta
    delta = s.loss_delta
    if delta is None or not abs(delta) > t:
        return
    ref, cand = s.loss_reference.mean, s.loss_candidate.mean
    yield (
        f"the mean loss moves from {ref:.6f} to {cand:.6f} ({delta:+.6f}; "
        f"threshold {num(t)})",
        {"loss_reference": ref, "loss_candidate": cand, "loss_delta": delta, "threshold": t},
    )


@rule(
    "LC405",
    "kind-changed",
    Severity.ERROR,
    summary="The candidate holds a different kind of values than the reference "
    "(e.g. probabilities where the reference holds logits).",
    why="An export that gained a softmax (or lost one) feeds every downstream loss the "
    "wrong thing even when its argmax agrees: see LC201, LC202 and LC205.",
    fix={
        "numpy": "Save the same tensor in both exports: the values before softmax "
        "(np.save('logits.npy', z)), not scipy.special.softmax(z, axis=1).",
        "pytorch": "Export the model without its final nn.Softmax (or apply it in both), so "
        "both files hold logits.",
        "keras": "Export with activation=None on the last Dense layer in both, or save "
        "model.layers[-1].input instead of the softmax output.",
        "jax": "Return the logits from the apply function in both exports; apply "
        "jax.nn.softmax only where probabilities are needed.",
    },
    example="torch.onnx.export(nn.Sequential(model, nn.Softmax(1)), x, 'model.onnx')",
    scope="drift",
)
def kind_changed(ctx: DriftContext):
    ref, cand = ctx.reference_kind, ctx.candidate_kind
    if ref.name == cand.name:
        return
    yield (
        f"the reference holds {ref.name.replace('_', '-')} but the candidate holds "
        f"{cand.name.replace('_', '-')} ({cand.evidence.get('reason', '')})",
        {
            "reference_kind": ref.name,
            "candidate_kind": cand.name,
            "reference_confidence": ref.confidence,
            "candidate_confidence": cand.confidence,
        },
    )
