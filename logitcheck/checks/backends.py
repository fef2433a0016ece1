"""LC11x: the backends (--backend, --cross-check) against the float64 reference."""

from __future__ import annotations

from ..report.model import Severity
from .fmt import num
from .registry import Context, rule


@rule(
    "LC110",
    "backends-disagree",
    Severity.ERROR,
    summary="--cross-check: a backend's stable loss disagrees with the float64 reference.",
    why="Every framework's log-softmax is the same function; in the storage dtype its mean "
    "loss may differ from the float64 reference by at most 4·eps(dtype)·(1 + log2 C) "
    "(relative to 1 + |loss| + max|z|), and no row may be inf or NaN where the reference is "
    "finite. Beyond that, one of them is computing something else: a different dtype, a "
    "device kernel, a framework bug, or values the framework reads differently.",
    fix={
        "numpy": "Compare scipy.special.log_softmax(z.astype(np.float64), axis=1) with the "
        "framework's log_softmax on the rows listed; look for a silent dtype change.",
        "pytorch": "Check the dtype and device the loss runs on (z.dtype, z.device, autocast); "
        "compare F.log_softmax(z.double(), 1) with F.log_softmax(z, 1) on the rows listed.",
        "keras": "Check the layer's dtype policy (mixed_float16?) and compare "
        "tf.nn.log_softmax(tf.cast(z, tf.float64)) with the loss's input on the rows listed.",
        "jax": "Enable float64 (jax.config.update('jax_enable_x64', True)) and compare "
        "jax.nn.log_softmax on the rows listed; check the default matmul precision upstream.",
    },
    example="logitcheck analyze logits.npy --labels y.npy --cross-check  # torch differs from "
    "numpy by 3e-3 in float32",
)
def backends_disagree(ctx: Context):
    result = ctx.backend
    if result is None or not result.run.cross_check:
        return
    for name, m in result.disagreements().items():
        parts = []
        if m["failed_rows"]:
            parts.append(f"inf/NaN on {m['failed_rows']:,} rows where the reference is finite "
                         f"(first: {', '.join(map(str, m['first_rows']))})")
        if m["mean_rel_gap"] is not None and m["mean_rel_gap"] > m["tolerance"]:
            parts.append(f"mean loss {num(m['loss'])}, relative gap {m['mean_rel_gap']:.2e}")
        if m["max_row_gap"] is not None and m["max_row_gap"] > m["tolerance"]:
            parts.append(f"row {m['max_row_gap_row']} off by {m['max_row_gap']:.2e}")
        yield (
            f"--cross-check: {name}'s stable loss in {result.run.storage} disagrees with the "
            f"float64 reference (tolerance {m['tolerance']:.2e}): " + "; ".join(parts),
            {"backend": name, "dtype": result.run.storage, **m},
        )
