"""JAX: jax.nn.log_softmax / jax.nn.softmax / ..., and optax's cross-entropy when optax is
installed (it is optional: without it the stable path alone is reported, and said so).
float64 is computed under jax.enable_x64, scoped to each chunk."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import ApiRows, Backend, BackendUnavailable


def _optax():
    try:
        import optax
    except ImportError:
        return None
    return optax


class JaxBackend(Backend):
    name = "jax"
    label = "JAX"
    stable_primitive = "jax.nn.log_softmax"
    stable_sigmoid = "jax.nn.log_sigmoid"

    def __init__(self, device: str, jax_device) -> None:
        super().__init__(device)
        self._device = jax_device

    @property
    def version(self) -> str:
        return jax.__version__

    def session(self):
        return jax.enable_x64(True)  # else float64 silently becomes float32

    def tensor(self, x, dtype):
        return jax.device_put(np.asarray(x), self._device).astype(getattr(jnp, dtype))

    def numpy(self, t):
        a = np.asarray(t)
        return a if a.dtype == bool else a.astype(np.float64)

    def log_softmax(self, t):
        return jax.nn.log_softmax(t, axis=1)

    def softmax(self, t):
        return jax.nn.softmax(t, axis=1)

    def log_sigmoid(self, t):
        return jax.nn.log_sigmoid(t)

    def sigmoid(self, t):
        return jax.nn.sigmoid(t)

    def exp(self, t):
        return jnp.exp(t)

    def log(self, t):
        return jnp.log(t)

    def row_sum(self, t, keepdims=False):
        return jnp.sum(t, axis=1, keepdims=keepdims)

    def pick(self, t, index):
        idx = jnp.asarray(np.asarray(index, dtype=np.int64))[:, None]
        return jnp.take_along_axis(t, idx, axis=1)[:, 0]

    def select(self, mask, a, other):
        return jnp.where(jnp.asarray(mask), a, jnp.asarray(other, dtype=a.dtype))

    def api_losses(self, z, task):
        optax = _optax()
        if optax is None:
            return {}
        x = self.tensor(z, task.api_dtype)
        if task.sigmoid:
            t = self.tensor(task.multi, task.api_dtype)
            el = optax.sigmoid_binary_cross_entropy(x, t)
            return {"optax.sigmoid_binary_cross_entropy": ApiRows(self.numpy(el.mean(axis=1)))}
        if task.dense is None:
            ids = jnp.asarray(np.asarray(task.ids, dtype=np.int64))
            loss = optax.softmax_cross_entropy_with_integer_labels(x, ids)
            return {"optax.softmax_cross_entropy_with_integer_labels": ApiRows(self.numpy(loss))}
        loss = optax.softmax_cross_entropy(x, self.tensor(task.dense, task.api_dtype))
        return {"optax.softmax_cross_entropy": ApiRows(self.numpy(loss))}


def make(device: str) -> JaxBackend:
    platform, _, index = device.partition(":")
    platform = {"cuda": "gpu"}.get(platform, platform)
    try:
        devices = jax.devices(platform)
        chosen = devices[int(index) if index else 0]
    except (RuntimeError, ValueError, IndexError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BackendUnavailable(
            f"--device {device}: not available to JAX {jax.__version__} ({first})"
        ) from None
    backend = JaxBackend(device, chosen)
    if _optax() is None:
        backend.notes.append("optax is not installed: no loss API is reported; the stable "
                             "path is jax.nn.log_softmax (pip install optax)")
    return backend
