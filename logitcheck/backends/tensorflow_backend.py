"""TensorFlow: tf.nn.log_softmax / tf.nn.softmax / ..., tf.nn.*_cross_entropy_with_logits,
and the Keras losses with from_logits=True and from_logits=False, as a user calls them."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import numpy as np

from . import ApiRows, Backend, cpu_only


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """TF's C++ logs go to file descriptor 2 on import and on the first op (oneDNN, CUDA
    probing), before absl reads TF_CPP_MIN_LOG_LEVEL in recent versions: silence them there."""
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before the import, or it is not read
with _quiet_stderr():
    import tensorflow as tf

try:  # absl (TF's logger) warns through Python logging too
    from absl import logging as _absl

    _absl.set_verbosity(_absl.ERROR)
except ImportError:  # pragma: no cover - absl comes with TF
    pass

_KERAS_EPSILON = 1e-7  # keras.backend.epsilon(): from_logits=False clips p to [eps, 1 - eps]


def _keras():
    try:
        import keras
    except ImportError:
        return None
    return keras


class TensorflowBackend(Backend):
    name = "tensorflow"
    label = "TensorFlow"
    stable_primitive = "tf.nn.log_softmax"
    stable_sigmoid = "tf.math.log_sigmoid"

    @property
    def version(self) -> str:
        return tf.__version__

    def tensor(self, x, dtype):
        with tf.device("/CPU:0"):
            return tf.cast(tf.constant(np.asarray(x)), getattr(tf, dtype))

    def numpy(self, t):
        return t.numpy() if t.dtype == tf.bool else tf.cast(t, tf.float64).numpy()

    def log_softmax(self, t):
        return tf.nn.log_softmax(t, axis=1)

    def softmax(self, t):
        return tf.nn.softmax(t, axis=1)

    def log_sigmoid(self, t):
        return tf.math.log_sigmoid(t)

    def sigmoid(self, t):
        return tf.math.sigmoid(t)

    def exp(self, t):
        return tf.math.exp(t)

    def log(self, t):
        return tf.math.log(t)

    def row_sum(self, t, keepdims=False):
        return tf.reduce_sum(t, axis=1, keepdims=keepdims)

    def pick(self, t, index):
        return tf.gather(t, tf.constant(np.asarray(index, dtype=np.int64)), axis=1, batch_dims=1)

    def select(self, mask, a, other):
        return tf.where(tf.constant(np.asarray(mask)), a, tf.fill(tf.shape(a), tf.cast(other,
                                                                                      a.dtype)))

    def api_losses(self, z, task):
        x = self.tensor(z, task.api_dtype)
        keras = _keras()
        out: dict[str, ApiRows] = {}
        if task.sigmoid:
            t = self.tensor(task.multi, task.api_dtype)
            el = tf.nn.sigmoid_cross_entropy_with_logits(labels=t, logits=x)
            out["tf.nn.sigmoid_cross_entropy_with_logits"] = ApiRows(
                self.numpy(tf.reduce_mean(el, axis=1)))
            if keras is not None:
                for logits in (True, False):
                    loss = keras.losses.BinaryCrossentropy(from_logits=logits, reduction=None)
                    out[f"Keras BinaryCrossentropy(from_logits={logits})"] = ApiRows(
                        self.numpy(loss(t, x)), None if logits else self._clipped(z, task))
            return out
        if task.dense is None:
            ids = tf.constant(np.asarray(task.ids, dtype=np.int64))
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=ids, logits=x)
            out["tf.nn.sparse_softmax_cross_entropy_with_logits"] = ApiRows(self.numpy(ce))
        else:
            dense = self.tensor(task.dense, task.api_dtype)
            ce = tf.nn.softmax_cross_entropy_with_logits(labels=dense, logits=x)
            out["tf.nn.softmax_cross_entropy_with_logits"] = ApiRows(self.numpy(ce))
        if keras is None:
            return out
        for logits in (True, False):
            if task.dense is None:
                loss = keras.losses.SparseCategoricalCrossentropy(from_logits=logits,
                                                                  reduction=None)
                name, y = "SparseCategoricalCrossentropy", ids
            else:  # Keras smooths one-hot rows the way torch does
                loss = keras.losses.CategoricalCrossentropy(
                    from_logits=logits, label_smoothing=task.smoothing, reduction=None)
                name = "CategoricalCrossentropy"
                y = self.tensor(task.dense_labels if task.dense_labels is not None
                                else task.one_hot(), task.api_dtype)
            out[f"Keras {name}(from_logits={logits})"] = ApiRows(
                self.numpy(loss(y, x)), None if logits else self._clipped(z, task))
        return out

    @staticmethod
    def _clipped(z: np.ndarray, task) -> np.ndarray:
        """Rows where from_logits=False clipped the label's value up to 1e-7 (Keras's cap
        is then -log(1e-7) = 16.118)."""
        v = np.asarray(z, dtype=np.float32).reshape(z.shape[0], -1)
        if task.sigmoid:
            t = task.multi > 0.5
            side = np.where(t, v, np.float32(1) - v)
            return (~(side >= np.float32(_KERAS_EPSILON))).any(axis=1)
        return ~(v[np.arange(v.shape[0]), task.ids] >= np.float32(_KERAS_EPSILON))


def make(device: str) -> TensorflowBackend:
    cpu_only("tensorflow", device)
    tf.get_logger().setLevel("ERROR")
    with _quiet_stderr():  # the first op initialises the devices, and keras logs on import
        tf.constant(0.0) + 1.0
        _keras()
    backend = TensorflowBackend(device)
    if _keras() is None:
        backend.notes.append("keras is not installed: the Keras losses are not reported")
    return backend
