"""The one mapping from option names to Settings: the command line and YAML batches share it.

An option's values travel in the form click gives them (the "kw" form: `select` is a tuple
of comma-separated strings, `severities` a tuple of CODE=LEVEL, `extra_dtypes` one
comma-separated string); `build_settings` turns them into Settings. YAML values are checked
and brought into that form by each option's `from_yaml`, and shown back by `to_yaml`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import gate
from .backends import NAMES as BACKEND_NAMES
from .compute.dtypes import FLOATS
from .errors import UsageError
from .report.model import Severity
from .settings import DriftThresholds, Settings

FAIL_ON = ("error", "warning", "info", "never")
EXPECTS = ("logits", "probabilities", "log-probabilities")
LOSS_PATHS = ("stable", "naive")
ANALYZE, COMPARE = frozenset({"analyze"}), frozenset({"compare"})
GAUSSIAN = frozenset({"gaussian"})
BOTH = ANALYZE | COMPARE
ALL = BOTH | GAUSSIAN
SCALES = ("log-std", "log-var", "std", "var")
ENGINES = ("local", "dask")


def dtypes(text: str) -> tuple[str, ...]:
    names = tuple(d.strip() for d in text.split(",") if d.strip())
    unknown = [d for d in names if d not in FLOATS]
    if unknown:
        choices = ", ".join(FLOATS)
        raise UsageError(f"--dtypes: unknown dtype {unknown[0]!r} (choose from {choices})")
    return names


def build_settings(kw: Mapping[str, Any], **more: Any) -> Settings:
    """Settings from option values keyed by click parameter name; missing ones are built-in."""
    kw = {**DEFAULTS, **kw}
    fail_on = kw["fail_on"]
    _check_engine(kw)
    if "drift" not in more:
        more["drift"] = DriftThresholds(
            kw["max_abs_diff"], kw["max_kl"], kw["min_top1_agreement"], kw["max_loss_delta"]
        )
    return Settings(
        dtypes=dtypes(kw["extra_dtypes"]),
        ignore_index=kw["ignore_index"],
        label_smoothing=kw["label_smoothing"],
        multilabel=kw["multi_label"],
        fail_on=None if fail_on == "never" else Severity.parse(fail_on),
        expects=kw["expects"].replace("-", "_"),
        loss_path=kw["loss_path"],
        chunk_rows=kw["chunk_rows"],
        threads=kw["threads"],
        engine=kw["engine"],
        scheduler=kw["scheduler"],
        select=gate.split_codes("--select", kw["select"]),
        ignore=gate.split_codes("--ignore", kw["ignore"]),
        severity=gate.parse_severity(kw["severities"]),
        baseline=kw["baseline_file"],
        exit_zero=kw["exit_zero"],
        logits_key=kw["logits_key"],
        labels_key=kw["labels_key"],
        label_column=kw["label_column"],
        class_columns=kw["class_columns"],
        class_axis=kw["class_axis"],
        shift_labels=kw["shift_labels"],
        max_bytes=kw["max_bytes"],
        backend=kw["backend"],
        device=kw["device"],
        cross_check=kw["cross_check"],
        scale=kw["scale_kind"],
        mean_key=kw["mean_key"],
        scale_key=kw["scale_key"],
        targets_key=kw["targets_key"],
        **more,
    )


def _check_engine(kw: Mapping[str, Any]) -> None:
    """Options that --engine dask cannot honour are refused before anything is opened."""
    if kw["scheduler"] is not None and kw["engine"] != "dask":
        raise UsageError(f"--scheduler {kw['scheduler']}: applies to --engine dask only")
    if kw["engine"] != "dask":
        return
    # the framework backends hold per-process state (devices, compiled kernels): they run
    # with --engine local only
    if kw["backend"] != "numpy":
        raise UsageError(f"--backend {kw['backend']}: runs with --engine local only, not with "
                         "--engine dask")
    if kw["cross_check"]:
        raise UsageError("--cross-check: runs with --engine local only, not with --engine dask")


# --- YAML values -> kw form. Each raises ValueError with the problem (no location). ---


def _type(value: Any) -> str:
    return {dict: "a mapping", list: "a list", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _choice(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        text = value.replace("_", "-") if isinstance(value, str) else value
        if text not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return text

    return check


def _number(kind: type, low: float | None = None, high: float | None = None,
            high_open: bool = False, nullable: bool = False) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value is None and nullable:
            return None
        ok = isinstance(value, int) and not isinstance(value, bool)
        if kind is float:
            ok = ok or isinstance(value, float)
        if not ok:
            want = "an integer" if kind is int else "a number"
            raise ValueError(f"expected {want}, got {_type(value)} {value!r}")
        if (low is not None and value < low) or (
            high is not None and (value >= high if high_open else value > high)
        ):
            bound = f"<= {high}" if not high_open else f"< {high}"
            where = " and ".join(p for p in (f">= {low}" if low is not None else "",
                                              bound if high is not None else "") if p)
            raise ValueError(f"{value!r} is out of range (must be {where})")
        return kind(value)

    return check


def _text(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"expected a string, got {_type(value)} {value!r}")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {_type(value)} {value!r}")
    return value


def _path(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"expected a path, got {_type(value)} {value!r}")
    return value


def _strings(value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise ValueError(f"expected a string or a list of strings, got {_type(value)}")
    return items


def _codes(option: str) -> Callable[[Any], tuple[str, ...]]:
    def check(value: Any) -> tuple[str, ...]:
        items = tuple(_strings(value))
        try:
            return gate.split_codes(option, items)
        except UsageError as exc:
            raise ValueError(str(exc).removeprefix(f"{option}: ")) from None

    return check


def _severities(value: Any) -> tuple[str, ...]:
    if isinstance(value, dict):
        items = []
        for code, level in value.items():
            if not isinstance(level, str):
                raise ValueError(f"{code}: expected error, warning or info, got {level!r}")
            items.append(f"{code}={level}")
    else:
        items = _strings(value)
    try:
        parsed = gate.parse_severity(items)
    except UsageError as exc:
        raise ValueError(str(exc).removeprefix("--severity: ")) from None
    return tuple(f"{code}={s.label}" for code, s in parsed.items())


def _dtypes(value: Any) -> str:
    text = ",".join(_strings(value))
    try:
        dtypes(text)
    except UsageError as exc:
        raise ValueError(str(exc).removeprefix("--dtypes: ")) from None
    return text


def _show_severities(value: tuple[str, ...]) -> dict[str, str]:
    return {code: s.label for code, s in gate.parse_severity(value).items()}


@dataclass(frozen=True)
class Option:
    """One knob: its CLI and YAML name, click's parameter name, its built-in default."""

    name: str  # "fail-on": the option without its dashes, and the YAML key
    param: str  # click's parameter name: "fail_on"
    default: Any  # built-in, in kw form
    from_yaml: Callable[[Any], Any]  # YAML value -> kw form; ValueError on a bad one
    to_yaml: Callable[[Any], Any] = lambda v: v  # kw form -> what `config show` prints
    commands: frozenset[str] = ALL  # the commands it means something for
    is_path: bool = False  # relative to the config file in YAML


_OPTIONS = [
    Option("fail-on", "fail_on", "error", _choice(FAIL_ON)),
    Option("exit-zero", "exit_zero", False, _bool),
    Option("baseline", "baseline_file", None, _path, is_path=True),
    Option("select", "select", (), _codes("--select"), lambda v: list(gate.split_codes("", v))),
    Option("ignore", "ignore", (), _codes("--ignore"), lambda v: list(gate.split_codes("", v))),
    Option("severity", "severities", (), _severities, _show_severities),
    Option("expects", "expects", "logits", _choice(EXPECTS), commands=ANALYZE),
    Option("loss-path", "loss_path", "stable", _choice(LOSS_PATHS), commands=ANALYZE),
    Option("ignore-index", "ignore_index", -100, _number(int), commands=BOTH),
    Option("label-smoothing", "label_smoothing", 0.0,
           _number(float, 0.0, 1.0, high_open=True), commands=BOTH),
    Option("multi-label", "multi_label", False, _bool, commands=BOTH),
    # the input options of analyze (io/): keys, CSV columns, layouts, caps
    Option("logits-key", "logits_key", None, _text, commands=ANALYZE),
    Option("labels-key", "labels_key", None, _text, commands=ANALYZE),
    Option("label-column", "label_column", None, _text, commands=ANALYZE),
    Option("class-columns", "class_columns", None, _text, commands=ANALYZE),
    Option("class-axis", "class_axis", None, _number(int, nullable=True), commands=ANALYZE),
    Option("shift-labels", "shift_labels", False, _bool, commands=ANALYZE),
    Option("max-bytes", "max_bytes", None, _number(int, 1, nullable=True)),
    # framework backends (backends/): imported only when asked for
    Option("backend", "backend", "numpy", _choice(BACKEND_NAMES), commands=ANALYZE),
    Option("device", "device", "cpu", _text, commands=ANALYZE),
    Option("cross-check", "cross_check", False, _bool, commands=ANALYZE),
    # Gaussian NLL heads (gaussian.py)
    Option("scale-kind", "scale_kind", "log-std", _choice(SCALES), commands=GAUSSIAN),
    Option("mean-key", "mean_key", None, _text, commands=GAUSSIAN),
    Option("scale-key", "scale_key", None, _text, commands=GAUSSIAN),
    Option("targets-key", "targets_key", None, _text, commands=GAUSSIAN),
    Option("dtypes", "extra_dtypes", "", _dtypes, lambda v: list(dtypes(v))),
    Option("chunk-rows", "chunk_rows", None, _number(int, 1, nullable=True)),
    Option("threads", "threads", 0, _number(int, 0)),  # 0: one per core
    # where the chunks run (compute/engine.py, dask_engine.py): dask is imported when asked for
    Option("engine", "engine", "local", _choice(ENGINES), commands=ANALYZE),
    Option("scheduler", "scheduler", None, _text, commands=ANALYZE),
    Option("max-abs-diff", "max_abs_diff", DriftThresholds.max_abs_diff, _number(float, 0),
           commands=COMPARE),
    Option("max-kl", "max_kl", DriftThresholds.max_kl, _number(float, 0), commands=COMPARE),
    Option("min-top1-agreement", "min_top1_agreement", DriftThresholds.min_top1_agreement,
           _number(float, 0, 1), commands=COMPARE),
    Option("max-loss-delta", "max_loss_delta", DriftThresholds.max_loss_delta,
           _number(float, 0), commands=COMPARE),
]

#: option name ("fail-on") -> Option, in the order `config show` prints them
OPTIONS: dict[str, Option] = {o.name: o for o in _OPTIONS}
#: click parameter name -> built-in value
DEFAULTS: dict[str, Any] = {o.param: o.default for o in _OPTIONS}
BY_PARAM: dict[str, Option] = {o.param: o for o in _OPTIONS}
