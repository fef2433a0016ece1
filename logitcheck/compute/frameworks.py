"""The losses frameworks report on probabilities, emulated per row, clipping and all.

Each function takes the values as stored (float64 holding them exactly; for the softmax
heads, the few per-row numbers of `Rows` the losses depend on) and the labels,
computes in the dtype the framework computes in, and returns (loss per row, capped rows):
the rows where the framework's clip or clamp capped the loss it reports (the label's
probability below the clip; clipping near 1 moves a loss by 1e-7 and is not counted). Checked
against the frameworks themselves in tests/test_frameworks.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

KERAS_EPSILON = 1e-7  # keras.backend.epsilon()

Emulation = Callable[..., tuple[np.ndarray, np.ndarray]]


def _f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


@dataclass(frozen=True)
class Rows:
    """What the softmax emulations read of each row (kernel.RowStats has the sums): the
    losses they report depend on the row only through these."""

    p_y: np.ndarray  # the label's value, float64 holding it as stored
    total: np.ndarray  # the row's sum
    clipped_total: np.ndarray  # the sum of float32(row) clipped to [1e-7, 1 - 1e-7]

    @classmethod
    def of(cls, p: np.ndarray, y: np.ndarray) -> Rows:
        v = np.asarray(p, dtype=np.float64)
        clipped = np.clip(_f32(v), np.float32(KERAS_EPSILON), np.float32(1) - np.float32(
            KERAS_EPSILON)).astype(np.float64)
        return cls(v[np.arange(v.shape[0]), y], v.sum(axis=1), clipped.sum(axis=1))


def keras_sparse_categorical(r: Rows, y: np.ndarray, storage: str):
    """keras.losses.SparseCategoricalCrossentropy(from_logits=False), Keras 2 and 3: every
    p clipped to [1e-7, 1 - 1e-7], then log, then softmax cross-entropy — so the row is
    renormalised by its *clipped* sum (cap 16.118). Keras computes in float32; this is the
    same expression, log(sum of clipped) - log(clipped p_y), in float64."""
    eps = np.float32(KERAS_EPSILON)
    v_y = _f32(r.p_y)
    clipped_y = np.clip(v_y, eps, np.float32(1) - eps).astype(np.float64)
    with np.errstate(all="ignore"):
        return np.log(r.clipped_total) - np.log(clipped_y), ~(v_y >= eps)


def keras_categorical(r: Rows, y: np.ndarray, storage: str):
    """keras.losses.CategoricalCrossentropy(from_logits=False) on one-hot targets, Keras 2
    and 3: rows renormalised, then clipped to [1e-7, 1 - 1e-7], in float32 (cap 16.118)."""
    eps = np.float32(KERAS_EPSILON)
    with np.errstate(all="ignore"):
        p_y = _f32(r.p_y) / _f32(r.total)
        clipped = np.clip(p_y, eps, np.float32(1) - eps)
        return -np.log(clipped).astype(np.float64), ~(p_y >= eps)


def _sklearn_eps(storage: str):
    dtype = np.float64 if storage == "float64" else np.float32
    return dtype, np.finfo(dtype).eps


def sklearn_log_loss(p: np.ndarray, y: np.ndarray, storage: str):
    """sklearn.metrics.log_loss on a binary output (the column is P(y = 1)): p clipped to
    [eps, 1 - eps] with eps of the input dtype (36.04 in float64, 15.94 in float32)."""
    dtype, eps = _sklearn_eps(storage)
    col = np.asarray(p, dtype=dtype)[:, 0]
    p_y = np.where(y == 1, col, dtype(1) - col)
    clip_col = np.clip(col, eps, dtype(1) - eps)
    clipped = np.where(y == 1, clip_col, dtype(1) - clip_col)
    with np.errstate(divide="ignore"):
        return -np.log(clipped).astype(np.float64), ~(clipped <= p_y)


def sklearn_log_loss_softmax(r: Rows, y: np.ndarray, storage: str):
    """sklearn.metrics.log_loss on (rows, classes): p_y clipped as above, no
    renormalisation (sklearn >= 1.5)."""
    dtype, eps = _sklearn_eps(storage)
    p_y = r.p_y.astype(dtype)
    clipped = np.clip(p_y, eps, dtype(1) - eps)
    with np.errstate(divide="ignore"):
        return -np.log(clipped).astype(np.float64), ~(clipped <= p_y)


def torch_nll_on_probabilities(r: Rows, y: np.ndarray, storage: str):
    """nn.NLLLoss fed probabilities instead of log-probabilities: -p_y, in [-1, 0]."""
    return -r.p_y, np.zeros(y.size, bool)


def keras_binary(p: np.ndarray, y: np.ndarray, storage: str):
    """Keras 3 BinaryCrossentropy(from_logits=False): p clipped to [1e-7, 1 - 1e-7] in
    float32, then -(y log p + (1-y) log(1-p)) (cap 15.942 for p = 1, 16.118 for p = 0)."""
    col = _f32(p)[:, 0]
    eps = np.float32(KERAS_EPSILON)
    clipped = np.clip(col, eps, np.float32(1) - eps)
    yes = y == 1
    loss = -np.where(yes, np.log(clipped), np.log(np.float32(1) - clipped))
    return loss.astype(np.float64), _capped(col, yes, eps)


def tf_keras_binary(p: np.ndarray, y: np.ndarray, storage: str):
    """tf_keras (Keras 2) BinaryCrossentropy(from_logits=False): clipped like Keras 3, and
    eps added inside the log as well (cap 15.333 for p = 1, 15.425 for p = 0)."""
    col = _f32(p)[:, 0]
    eps = np.float32(KERAS_EPSILON)
    clipped = np.clip(col, eps, np.float32(1) - eps)
    yes = y == 1
    loss = -np.where(yes, np.log(clipped + eps), np.log(np.float32(1) - clipped + eps))
    return loss.astype(np.float64), _capped(col, yes, eps)


def _capped(col: np.ndarray, yes: np.ndarray, eps) -> np.ndarray:
    """The label's side of a binary output fell below the clip."""
    return np.where(yes, ~(col >= eps), ~(col <= np.float32(1) - eps))


def torch_bce(p: np.ndarray, y: np.ndarray, storage: str):
    """nn.BCELoss: each log clamped at -100 (cap 100), in float32."""
    col = _f32(p)[:, 0]
    yes = y == 1
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p = np.where(yes, np.log(col), np.log1p(-col))  # torch uses log1p(-p)
    clamped = np.maximum(log_p, np.float32(-100))
    return -clamped.astype(np.float64), clamped != log_p


#: name -> (emulation, the cap it reports at most, for messages); softmax and binary heads
SOFTMAX = {
    "keras.SparseCategoricalCrossentropy(from_logits=False)": keras_sparse_categorical,
    "keras.CategoricalCrossentropy(from_logits=False)": keras_categorical,
    "sklearn.metrics.log_loss": sklearn_log_loss_softmax,
    "torch.nn.NLLLoss on probabilities": torch_nll_on_probabilities,
}
BINARY = {
    "keras.BinaryCrossentropy(from_logits=False)": keras_binary,
    "tf_keras.BinaryCrossentropy(from_logits=False)": tf_keras_binary,
    "torch.nn.BCELoss": torch_bce,
    "sklearn.metrics.log_loss": sklearn_log_loss,
}
