"""numpy: the stable path with the max shift, in the dtype asked for (no bfloat16: numpy has
none; metrics.naive emulates it exactly). Used by --cross-check; the default numpy run is
the float64 reference itself (numerics.py) and computes nothing more."""

from __future__ import annotations

import numpy as np

from . import Backend, cpu_only


class NumpyBackend(Backend):
    name = "numpy"
    label = "numpy"
    stable_primitive = "z - max - log(sum(exp(z - max)))"
    stable_sigmoid = "-logaddexp(0, -z)"

    @property
    def version(self) -> str:
        return np.__version__

    def session(self):
        return np.errstate(all="ignore")  # overflow and underflow are what is measured

    def tensor(self, x, dtype):
        if dtype == "bfloat16":
            raise TypeError("numpy has no bfloat16 (metrics.naive emulates it exactly)")
        return np.asarray(x).astype(dtype)

    def numpy(self, t):
        t = np.asarray(t)
        return t if t.dtype == bool else t.astype(np.float64)

    def log_softmax(self, t):
        shifted = t - t.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def softmax(self, t):
        e = np.exp(t - t.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def log_sigmoid(self, t):
        return -np.logaddexp(np.zeros((), t.dtype), -t)

    def sigmoid(self, t):
        one = np.ones((), t.dtype)
        return one / (one + np.exp(-t))

    def exp(self, t):
        return np.exp(t)

    def log(self, t):
        return np.log(t)

    def row_sum(self, t, keepdims=False):
        return t.sum(axis=1, keepdims=keepdims)

    def pick(self, t, index):
        return t[np.arange(t.shape[0]), index]

    def select(self, mask, a, other):
        return np.where(mask, a, np.asarray(other, dtype=a.dtype))


def make(device: str) -> NumpyBackend:
    cpu_only("numpy", device)
    return NumpyBackend(device)
