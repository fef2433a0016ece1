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


@dataclass(frozen=True)
class Naive:
    losses: dict[str, np.ndarray]  # path -> per-row loss (float64)
    overflowed: dict[str, np.ndarray]  # path -> per row
    subnormal: np.ndarray  # per row


# --- softmax cross-entropy -------------------------------------------------------------


def softmax_loss(zf, z, rows, top, zmax, target, dense) -> tuple[np.ndarray, np.ndarray]:
    """(-log_softmax(z) . t per row, logsumexp per row), in float64, to a few ulp.

    With class ids: (max - z_y) + log1p(sum over j != argmax of exp(z_j - max)); both terms
    are non-negative, and log1p keeps the digits of a confident row's tiny loss that
    log(sum) would round away. Dense targets weigh (max - z_j) the same way. Rows whose max
    is not finite follow scipy's log_softmax. Destroys zf.
    """
    good = np.isfinite(zmax)
    shift = np.where(good, zmax, 0.0)
    with np.errstate(invalid="ignore", over="ignore"):
        if dense is None:
            head = zmax - zf[rows, target]
        else:  # terms with t_j = 0 are skipped, so a -inf logit there costs nothing
            head = np.where(dense > 0, dense * (zmax[:, None] - zf), 0.0).sum(axis=1)
        # z_j - max rounds, and exp turns that absolute error into a relative one of up to
        # |z_j - max| * eps/2 (hundreds of ulp at a range of 700): keep the rounding error
        # (TwoSum) and use exp(d + err) = exp(d) * (1 + err)
        d = zf - shift[:, None]
        back = d - zf
        err = (zf - (d - back)) - (shift[:, None] + back)
        err[~np.isfinite(err)] = 0.0  # -inf logits: exp is 0 whatever err is
        np.exp(d, out=zf)
        zf += zf * err
        zf[rows, top] = 0.0
        rest = np.log1p(zf.sum(axis=1))
        weight = 1.0 if dense is None else dense.sum(axis=1)
        loss = head + weight * rest
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
        zt = cast(z, dtype)
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
