"""The loss of each row: the stable reference in float64, and the naive paths per dtype.

Two heads, as in the frameworks:

- softmax cross-entropy, with class ids or dense targets (one-hot, soft, label-smoothed):
  loss = sum_j t_j (-log_softmax(z)_j), torch's F.cross_entropy;
- sigmoid binary cross-entropy, for a binary output or independent (multi-label) 0/1
  targets: mean_j of max(z,0) - z t + log1p(exp(-|z|)), torch's BCEWithLogitsLoss.

The naive paths ("softmax then log" / "no max shift"; for sigmoids "sigmoid then log" /
"softplus without the shift") are reproduced in a given dtype. A path *fails* on a row
when it gives inf or NaN; it *overflows* when an exp (or their sum) passes the dtype's
max, and *underflows* otherwise (a probability rounds to 0). `subnormal` marks rows whose
probability survived only as a subnormal: finite, but wrong in its last digits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dtypes import cast, facts, finish
from .kernel import RowStats, exp_nonpositive, log1p_nonnegative, log_positive


@dataclass(frozen=True)
class Naive:
    losses: dict[str, np.ndarray]  # path -> per-row loss (float64)
    overflowed: dict[str, np.ndarray]  # path -> per row
    subnormal: np.ndarray  # per row


# --- softmax cross-entropy -------------------------------------------------------------


def softmax_loss(z: np.ndarray, r: RowStats, target: np.ndarray, dense=None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(-log_softmax(z) . t per row, logsumexp per row), in float64, to a few ulp, from
    the block's row statistics (kernel.py).

    With class ids: (max - z_y) + log1p(rest), rest = sum over j != argmax of
    exp(z_j - max); both terms are non-negative, and log1p keeps the digits of a confident
    row's tiny loss that log(sum) would round away. Dense targets weigh (max - z_j) the
    same way. Rows whose max is not finite follow scipy's log_softmax.
    """
    n = z.shape[0]
    rows = np.arange(n)
    zmax = r.max
    good = np.isfinite(zmax)
    with np.errstate(invalid="ignore", over="ignore"):
        rest = log1p_nonnegative(r.rest)
        if dense is None:
            head = zmax - np.asarray(z[rows, target], dtype=np.float64)
            loss = head + rest
        else:  # terms with t_j = 0 are skipped, so a -inf logit there costs nothing
            zf = np.asarray(z, dtype=np.float64)
            head = np.where(dense > 0, dense * (zmax[:, None] - zf), 0.0).sum(axis=1)
            loss = head + dense.sum(axis=1) * rest
        lse = zmax + rest
    if not good.all():
        # scipy: a non-finite max is replaced by 0, then t . (log(sum(exp(z))) - z)
        bad = np.flatnonzero(~good)
        zb = np.asarray(z[bad], dtype=np.float64)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            lse[bad] = np.log(np.exp(zb).sum(axis=1))
            if dense is None:
                loss[bad] = lse[bad] - zb[np.arange(bad.size), target[bad]]
            else:
                loss[bad] = (dense[bad] * (lse[bad][:, None] - zb)).sum(axis=1)
    return loss, lse


def naive_softmax(z: np.ndarray, dtype: str, target: np.ndarray, dense=None) -> Naive:
    """Both naive softmax paths in `dtype`, per row."""
    rows = np.arange(z.shape[0])
    tiny = facts(dtype).tiny
    with np.errstate(all="ignore"):  # overflow and underflow are what we measure
        zt = np.ascontiguousarray(cast(z, dtype))  # a contiguous row sums in float32
        e = finish(np.exp(zt), dtype)
        s = finish(e.sum(axis=1), dtype)
        log_s = finish(np.log(s), dtype)
        if dense is None:
            p = finish(e[rows, target] / s, dtype)
            a = finish(-np.log(p), dtype)
            b = finish(log_s - zt[rows, target], dtype)
            subnormal = (p > 0) & (p < tiny)
        else:
            p = finish(e / s[:, None], dtype)
            used = dense > 0
            a = -np.where(used, dense * finish(np.log(p), dtype), 0).sum(axis=1)
            b = np.where(used, dense * (log_s[:, None] - zt), 0).sum(axis=1)
            subnormal = (used & (p > 0) & (p < tiny)).any(axis=1)
    losses = {"softmax_then_log": a.astype(np.float64), "no_max_shift": b.astype(np.float64)}
    overflowed = np.isinf(s)  # one exp, or their sum, passed the dtype's max
    return Naive(losses, dict.fromkeys(losses, overflowed), subnormal)


#: The dtypes whose values hold every value of the storage dtype exactly (casting is the
#: identity), so that a row's logsumexp in float64 says where the naive sum lands.
_HOLDS = {"float64": {"float64", "float32", "float16", "bfloat16"},
          "float32": {"float32", "float16", "bfloat16"},
          "float16": {"float16"}, "bfloat16": {"bfloat16"}}
# numpy's exp in float16/bfloat16/float32 is within a few ulp; 8 is a wide margin
_EXP_ULPS = 8


def holds(storage: str, dtype: str) -> bool:
    """Whether `dtype` holds every value of `storage` (the naive paths can be derived)."""
    return storage in _HOLDS[dtype]


def derived_thresholds(dtype: str, c: int) -> tuple[float, float, float, float, float]:
    """(log(max), exp's zero threshold, log(tiny), tiny, margin) of `dtype` for rows of
    c classes: what naive_softmax_derived compares each row against (and _kernel.c)."""
    f = facts(dtype)
    acc_eps = facts("float64" if dtype == "float64" else "float32").eps
    # the relative error bound of the naive sum, and its margin in log space (plus room for
    # the float64 rounding of lse itself, |lse| eps: |lse| < 1e6 wherever it matters)
    rho = (_EXP_ULPS + 1) * f.eps + c * acc_eps
    return (float(np.log(f.max)), -f.zero_range, float(np.log(f.tiny)), f.tiny,
            2.0 * rho + 1e-9)


def naive_softmax_derived(z: np.ndarray, r: RowStats, lse: np.ndarray, loss: np.ndarray,
                          target: np.ndarray, dtype: str, storage: str) -> Naive:
    """Both naive softmax paths in `dtype`, derived per row rather than simulated, and
    equal to naive_softmax on every row in whether and how the path fails.

    The naive sum s = sum(exp(z)) in `dtype` is exp(lse) up to a relative error rho that
    is bounded (each exp within _EXP_ULPS ulp, numpy's sum within C ulp of its float32 or
    float64 accumulator, values in the subnormal range within one subnormal each). So a
    row's fate is settled by its max, its label's value and its logsumexp against the
    dtype's thresholds: s overflows once lse passes log(max); s is 0 once the max's exp
    rounds to 0; p_y = exp(z_y) / s is 0 once exp(z_y) is, or once z_y - lse passes the
    log of the smallest subnormal / 2 (subnormal: of the smallest normal). The rows within
    rho of a threshold are simulated exactly with naive_softmax. For the others the losses
    are modelled with the roundings that matter: p_y = exp(-loss) rounded to `dtype`, then
    -log(p_y); log(s) as lse rounded to `dtype`, then minus z_y. They are within a few ulp
    of `dtype` of a simulation, and "no max shift" within an ulp of lse (the sum's own
    rounding is not in them; its size is).
    """
    if storage not in _HOLDS[dtype]:
        return naive_softmax(z, dtype, target)  # the cast itself moves values: simulate
    f = facts(dtype)
    n, c = z.shape
    log_max, zero_at, log_tiny, _, margin = derived_thresholds(dtype, c)
    holder = np.float32 if dtype == "bfloat16" else np.dtype(dtype).type
    with np.errstate(all="ignore"):
        m = r.max
        zt_y = cast(np.asarray(z[np.arange(n), target]), dtype)
        q = -loss  # log of p_y = exp(z_y) / s, to a few ulp (z_y - lse would lose |lse| eps)
        overflowed = lse > log_max
        s_zero = m < zero_at
        near = ~np.isfinite(lse)  # NaN and inf rows: simulated
        near |= np.abs(lse - log_max) <= margin
        near |= np.abs(m - zero_at) <= 0.01 + 1e-3 * abs(zero_at)
        for edge in (zero_at, log_tiny):  # log(smallest subnormal / 2), log(tiny)
            near |= np.abs(q - edge) <= margin
        # where exp(z_y) or exp(max) is subnormal, rounding to a subnormal each is no longer
        # relative: those rows are simulated (max logits below -86 in float32, -8.7 in
        # float16, -707 in float64; labels that far below are as rare)
        near |= (zt_y < log_tiny + 1.0) | (m < log_tiny + np.log(c) + 1.0)
        p = exp_nonpositive(np.minimum(q, 0.0)).astype(holder)
        p = finish(np.where(overflowed, 0, p).astype(holder), dtype)
        # -log(p) in float64, rounded once to `dtype`: as _kernel.c's softmax_rows
        a = cast(-log_positive(p.astype(np.float64)), dtype).astype(np.float64)
        a[p == 0] = np.inf
        b = finish(finish(lse.astype(holder), dtype) - zt_y, dtype).astype(np.float64)
        a[s_zero] = np.nan  # 0 / 0
        b[s_zero | overflowed] = np.inf
        subnormal = (p > 0) & (p < f.tiny)
    if near.any():
        idx = np.flatnonzero(near)
        exact = naive_softmax(z[idx], dtype, target[idx])
        a[idx] = exact.losses["softmax_then_log"]
        b[idx] = exact.losses["no_max_shift"]
        subnormal[idx] = exact.subnormal
        overflowed[idx] = exact.overflowed["softmax_then_log"]
    losses = {"softmax_then_log": a, "no_max_shift": b}
    return Naive(losses, dict.fromkeys(losses, overflowed), subnormal)


# --- sigmoid binary cross-entropy ------------------------------------------------------


def sigmoid_loss(zf: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """mean_j of max(z,0) - z t + log1p(exp(-|z|)) per row: BCE with logits, float64."""
    with np.errstate(invalid="ignore", over="ignore"):
        el = np.maximum(zf, 0.0) - zf * targets + np.log1p(np.exp(-np.abs(zf)))
    return el.mean(axis=1)


def naive_sigmoid(z: np.ndarray, dtype: str, targets: np.ndarray) -> Naive:
    """sigmoid then log, and softplus without the shift, in `dtype`, per row.

    sigmoid(z) = 1/(1 + exp(-z)) rounds to 1 once z passes 16.6 in float32 (log(1 - p) is
    then -inf), and exp(-z) overflows below -88.72.
    """
    tiny = facts(dtype).tiny
    with np.errstate(all="ignore"):
        zt = cast(z, dtype)
        one = np.ones((), dtype=zt.dtype)
        e_neg = finish(np.exp(-zt), dtype)
        p = finish(one / finish(one + e_neg, dtype), dtype)
        positive = targets > 0.5
        p_t = np.where(positive, p, finish(one - p, dtype))
        a = finish(-np.log(p_t), dtype)
        e_pos = finish(np.exp(zt), dtype)
        softplus = finish(np.log(finish(one + e_pos, dtype)), dtype)
        b = finish(softplus - finish(zt * targets.astype(zt.dtype), dtype), dtype)
        subnormal = ((p_t > 0) & (p_t < tiny)).any(axis=1)
    losses = {
        "softmax_then_log": a.astype(np.float64).mean(axis=1),
        "no_max_shift": b.astype(np.float64).mean(axis=1),
    }
    overflowed = {
        "softmax_then_log": np.isinf(e_neg).any(axis=1),  # sigmoid uses exp(-z) only
        "no_max_shift": np.isinf(e_pos).any(axis=1),
    }
    return Naive(losses, overflowed, subnormal)
