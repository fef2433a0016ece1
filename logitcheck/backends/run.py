"""Which backends a run computes on (--backend, --cross-check), and what the report shows.

numpy is the reference: with `--backend numpy` (the default) and no --cross-check nothing
more is computed. Another backend computes its stable and naive paths in every dtype the
naive paths are reproduced in, and its loss APIs. --cross-check adds the stable path in
the storage dtype on every installed backend, numpy included.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..compute.stats import PATHS, Plan
from ..settings import Settings
from . import Backend, installed, load
from .compute import BackendStats, Job, StableStats, tolerance


@dataclass(frozen=True)
class BackendRun:
    backend: Backend | None  # None: numpy, the reference itself
    name: str
    device: str
    version: str
    storage: str
    jobs: tuple[Job, ...] = ()
    cross_check: tuple[str, ...] = ()  # backends whose stable path is cross-checked
    unavailable: dict[str, str] = field(default_factory=dict)  # not installed: why

    @classmethod
    def open(cls, settings: Settings, storage: str, plan: Plan) -> BackendRun:
        """Load the backends (BackendUnavailable when --backend's is missing)."""
        main = load(settings.backend, settings.device)
        jobs: list[Job] = []
        if settings.backend != "numpy":
            jobs.append(Job(main, plan.dtypes, full=True))
        checked: list[str] = []
        unavailable: dict[str, str] = {}
        if settings.cross_check:
            for name, loaded in installed():
                if isinstance(loaded, str):
                    unavailable[name] = loaded
                    continue
                checked.append(name)
                if name != settings.backend or name == "numpy":
                    jobs.append(Job(loaded, (storage,), full=False))
        return cls(None if settings.backend == "numpy" else main, settings.backend,
                   main.device, main.version, storage, tuple(jobs), tuple(checked), unavailable)


def agrees(stable: StableStats, tol: float) -> bool:
    """The backend's stable path is within `tol` of the reference, over the mean and on
    every row, and fails on no row where the reference is finite."""
    return not stable.failed and all(
        gap is None or gap <= tol for gap in (stable.mean_gap, stable.row_gap))


def _stable_metrics(s: StableStats, tol: float) -> dict[str, Any]:
    return {
        "loss": s.loss.mean,
        "failed_rows": s.failed.count,
        "first_rows": list(s.failed.first),
        "mean_rel_gap": s.mean_gap,
        "max_row_gap": s.row_gap,
        "max_row_gap_row": s.max_gap.row if s.max_gap else None,
        "tolerance": tol,
        "agrees": agrees(s, tol),
    }


@dataclass(frozen=True)
class BackendResult:
    run: BackendRun
    stats: dict[str, BackendStats]
    classes: int
    sigmoid: bool = False  # a binary or multi-label output: log_sigmoid, not log_softmax

    def disagreements(self) -> dict[str, dict[str, Any]]:
        """--cross-check: backend -> its stable-path metrics, where it disagrees."""
        tol = tolerance(self.run.storage, self.classes)
        out = {}
        for name in self.run.cross_check:
            d = self.stats.get(name, BackendStats()).dtypes.get(self.run.storage)
            if d is not None and d.status == "ok" and not agrees(d.stable, tol):
                out[name] = _stable_metrics(d.stable, tol)
        return out

    def metrics(self, path_metrics: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        run = self.run
        main = self.stats.get(run.name) if run.backend is not None else None
        dtypes = {}
        for dtype, d in (main.dtypes.items() if main else ()):
            entry: dict[str, Any] = {"status": d.status}
            if d.status == "ok":
                entry["stable"] = _stable_metrics(d.stable, tolerance(dtype, self.classes))
                entry.update({p: path_metrics(d.naive[p]) for p in PATHS if p in d.naive})
            dtypes[dtype] = entry
        api = {
            name: {
                "loss": a.loss.mean,
                "dtype": run.storage,
                "nonfinite_rows": a.nonfinite.count,
                "first_nonfinite_rows": list(a.nonfinite.first),
                "capped_rows": a.capped.count,
                "first_capped_rows": list(a.capped.first),
            }
            for name, a in (main.api.items() if main else ())
        }
        return {
            "name": run.name,
            "version": run.version,
            "device": run.device,
            "stable_primitive": "reference" if run.backend is None else (
                run.backend.stable_sigmoid if self.sigmoid else run.backend.stable_primitive),
            "notes": list(run.backend.notes) if run.backend else [],
            "dtypes": dtypes,
            "api_losses": api,
            "cross_check": self._cross_check() if run.cross_check or run.unavailable else None,
        }

    def _cross_check(self) -> dict[str, Any]:
        storage = self.run.storage
        tol = tolerance(storage, self.classes)
        backends: dict[str, Any] = {}
        for name in (*self.run.cross_check, *self.run.unavailable):
            if name in self.run.unavailable:
                backends[name] = {"status": f"not installed: {self.run.unavailable[name]}"}
                continue
            d = self.stats.get(name, BackendStats()).dtypes.get(storage)
            if d is None:  # no row was analysed
                backends[name] = {"status": "no rows"}
            elif d.status != "ok":
                backends[name] = {"status": d.status}
            else:
                backends[name] = {"status": "ok", **_stable_metrics(d.stable, tol)}
        return {"dtype": storage, "tolerance": tol, "backends": backends}
