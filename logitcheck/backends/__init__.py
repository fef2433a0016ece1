"""Where the losses are computed: numpy (always there), PyTorch, TensorFlow/Keras or JAX.

A Backend is a handful of the framework's own primitives (log_softmax, softmax, exp, log,
...) and its own loss APIs. The algorithms that use them are written once, against this
interface, in backends/compute.py; a backend module holds only what truly differs.

Frameworks are imported lazily, by load(): `import logitcheck` never imports one, and a
missing one is a BackendUnavailable error naming the pip command that installs it.
"""

from __future__ import annotations

import contextlib
import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import UsageError


class BackendUnavailable(UsageError):
    """The framework is not installed, or the device is not available to it."""


@dataclass(frozen=True)
class Entry:
    module: str  # logitcheck.backends.<module>
    label: str  # the framework's name, for messages
    extra: str | None  # pip install 'logitcheck[<extra>]'
    imports: tuple[str, ...]  # top-level modules whose absence means "not installed"


REGISTRY: dict[str, Entry] = {
    "numpy": Entry("numpy_backend", "numpy", None, ("numpy",)),
    "torch": Entry("torch_backend", "PyTorch", "torch", ("torch",)),
    "tensorflow": Entry("tensorflow_backend", "TensorFlow", "tensorflow", ("tensorflow",)),
    "jax": Entry("jax_backend", "JAX", "jax", ("jax", "jaxlib")),
}
NAMES = tuple(REGISTRY)


@dataclass(frozen=True)
class ApiRows:
    """A framework loss API's per-row result on one chunk."""

    loss: np.ndarray  # float64, one per row
    capped: np.ndarray | None = None  # rows the API clipped (from_logits=False), if it does


class Backend(ABC):
    """The framework primitives the shared algorithms need. Tensors are the framework's."""

    name: str = ""
    label: str = ""
    stable_primitive: str = ""  # what the stable path calls, for the report
    stable_sigmoid: str = ""  # ... for a binary or multi-label (sigmoid) output

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self.notes: list[str] = []  # what the report should say about this backend
        self._support: dict[str, str | None] = {}

    @property
    @abstractmethod
    def version(self) -> str: ...

    # --- conversion: one chunk at a time ------------------------------------------------
    @abstractmethod
    def tensor(self, x: np.ndarray, dtype: str) -> Any:
        """x (numpy) as a tensor of `dtype` on the device."""

    @abstractmethod
    def numpy(self, t: Any) -> np.ndarray:
        """t back in numpy, as float64 (exact for every float dtype) or bool."""

    def session(self) -> contextlib.AbstractContextManager:
        """Entered around each chunk's computation (JAX: float64 enabled)."""
        return contextlib.nullcontext()

    # --- primitives -------------------------------------------------------------------
    @abstractmethod
    def log_softmax(self, t: Any) -> Any: ...

    @abstractmethod
    def softmax(self, t: Any) -> Any: ...

    @abstractmethod
    def log_sigmoid(self, t: Any) -> Any: ...

    @abstractmethod
    def sigmoid(self, t: Any) -> Any: ...

    @abstractmethod
    def exp(self, t: Any) -> Any: ...

    @abstractmethod
    def log(self, t: Any) -> Any: ...

    @abstractmethod
    def row_sum(self, t: Any, keepdims: bool = False) -> Any: ...

    @abstractmethod
    def pick(self, t: Any, index: np.ndarray) -> Any:
        """t[i, index[i]] for each row i."""

    @abstractmethod
    def select(self, mask: np.ndarray, a: Any, other: float) -> Any:
        """a where mask, else the constant `other`."""

    # --- the framework's loss APIs, called as a user calls them -------------------------
    def api_losses(self, z: np.ndarray, task: Any) -> dict[str, ApiRows]:
        """name -> per-row losses of the framework's loss APIs (compute.Task describes the
        targets). Empty when the framework has none."""
        return {}

    # --- dtypes -----------------------------------------------------------------------
    def unsupported(self, dtype: str) -> str | None:
        """None when the backend computes in `dtype` on its device, else why not (probed once
        with a tiny log_softmax, so that the report says so instead of skipping it)."""
        if dtype not in self._support:
            self._support[dtype] = self._probe(dtype)
        return self._support[dtype]

    def _probe(self, dtype: str) -> str | None:
        try:
            with self.session():
                self.numpy(self.log_softmax(self.tensor(np.zeros((1, 2)), dtype)))
        except Exception as exc:  # noqa: BLE001 - any failure means "cannot do it here"
            return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return None


def pip_hint(name: str) -> str:
    entry = REGISTRY[name]
    return f"pip install 'logitcheck[{entry.extra}]'" if entry.extra else "pip install numpy"


def load(name: str, device: str = "cpu") -> Backend:
    """Import backend `name` and open it on `device`; BackendUnavailable otherwise."""
    if name not in REGISTRY:
        raise UsageError(f"--backend: unknown backend {name!r} (choose from {', '.join(NAMES)})")
    entry = REGISTRY[name]
    try:
        module = importlib.import_module(f"{__name__}.{entry.module}")
    except ImportError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing not in entry.imports and missing != "":
            raise
        raise BackendUnavailable(
            f"--backend {name}: {entry.label} is not installed; {pip_hint(name)}"
        ) from exc
    return module.make(device)


def installed() -> Iterator[tuple[str, Backend | str]]:
    """Every backend, loaded on the CPU, or why it could not be (for --cross-check)."""
    for name in NAMES:
        try:
            yield name, load(name, "cpu")
        except BackendUnavailable as exc:
            yield name, str(exc).split(": ", 1)[1]


def cpu_only(name: str, device: str) -> None:
    """Backends without a --device choice run on the CPU."""
    if device != "cpu":
        raise BackendUnavailable(
            f"--device {device}: --backend {name} runs on the CPU here; --device is for "
            "--backend torch or jax"
        )
