"""The losses frameworks report on probabilities, emulated per row, clipping and all.

Each function takes the values as stored (float64 holding them exactly) and the labels,
computes in the dtype the framework computes in, and returns (loss per row, capped rows):
the rows where the framework's clip or clamp capped the loss it reports (the label's
probability below the clip; clipping near 1 moves a loss by 1e-7 and is not counted). Checked
against the frameworks themselves in tests/test_frameworks.py.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

KERAS_EPSILON = 1e-7  # keras.backend.epsilon()

Emulation = Callable[[np.ndarray, np.ndarray, str], tuple[np.ndarray, np.ndarray]]


def _f32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float32)


def keras_sparse_categorical(p: np.ndarray, y: np.ndarray, storage: str):
    """keras.losses.SparseCategoricalCrossentropy(from_logits=False), Keras 2 and 3: every
    p clipped to [1e-7, 1 - 1e-7], then log, then softmax cross-entropy, in float32 — so
    the row is renormalised by its *clipped* sum (cap 16.118)."""
    v = _f32(p)
    eps = np.float32(KERAS_EPSILON)
    rows = np.arange(v.shape[0])
    with np.errstate(all="ignore"):
        logs = np.log(np.clip(v, eps, np.float32(1) - eps))
        top = logs.max(axis=1)
        lse = top + np.log(np.exp(logs - top[:, None]).sum(axis=1))
        return (lse - logs[rows, y]).astype(np.float64), ~(v[rows, y] >= eps)


def keras_categorical(p: np.ndarray, y: np.ndarray, storage: str):
    """keras.losses.CategoricalCrossentropy(from_logits=False) on one-hot targets, Keras 2
    and 3: rows renormalised, then clipped to [1e-7, 1 - 1e-7], in float32 (cap 16.118)."""
    v = _f32(p)
    eps = np.float32(KERAS_EPSILON)
    with np.errstate(all="ignore"):
        p_y = v[np.arange(v.shape[0]), y] / v.sum(axis=1)
        clipped = np.clip(p_y, eps, np.float32(1) - eps)
        return -np.log(clipped).astype(np.float64), ~(p_y >= eps)


def sklearn_log_loss(p: np.ndarray, y: np.ndarray, storage: str):
    """sklearn.metrics.log_loss: p clipped to [eps, 1 - eps] with eps of the input dtype
    (36.04 in float64, 15.94 in float32), no renormalisation (sklearn >= 1.5)."""
    dtype = np.float64 if storage == "float64" else np.float32
    v = np.asarray(p, dtype=dtype)
    eps = np.finfo(dtype).eps
    if v.shape[1] == 1:  # binary: the column is P(y = 1)
        col = v[:, 0]
        p_y = np.where(y == 1, col, dtype(1) - col)
        clip_col = np.clip(col, eps, dtype(1) - eps)
        clipped = np.where(y == 1, clip_col, dtype(1) - clip_col)
    else:
        p_y = v[np.arange(v.shape[0]), y]
        clipped = np.clip(p_y, eps, dtype(1) - eps)
    with np.errstate(divide="ignore"):
        return -np.log(clipped).astype(np.float64), ~(clipped <= p_y)


def torch_nll_on_probabilities(p: np.ndarray, y: np.ndarray, storage: str):
    """nn.NLLLoss fed probabilities instead of log-probabilities: -p_y, in [-1, 0]."""
    return -np.asarray(p, dtype=np.float64)[np.arange(p.shape[0]), y], np.zeros(y.size, bool)


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
    "sklearn.metrics.log_loss": sklearn_log_loss,
    "torch.nn.NLLLoss on probabilities": torch_nll_on_probabilities,
}
BINARY = {
    "keras.BinaryCrossentropy(from_logits=False)": keras_binary,
    "tf_keras.BinaryCrossentropy(from_logits=False)": tf_keras_binary,
    "torch.nn.BCELoss": torch_bce,
    "sklearn.metrics.log_loss": sklearn_log_loss,
}
