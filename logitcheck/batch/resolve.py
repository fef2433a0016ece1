"""Resolve a read batch config into Jobs: defaults, interpolation, globs, each job's options
checked by the option table the command line uses (options.py), and its Settings built as
`analyze` builds them. Precedence, lowest first: built-in < defaults < job < command line.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import gate
from ..errors import LogitcheckError
from ..inference import KINDS
from ..io import is_array_dir
from ..options import BY_PARAM, DEFAULTS, OPTIONS
from .config import (
    _GLOB_CHARS,
    INPUTS,
    JOB_EXPECT_KEYS,
    JOB_KEYS,
    MAIN_INPUT,
    OPTIONAL_INPUTS,
    VERSION,
    Config,
    ConfigError,
    Expect,
    Item,
    Job,
    _canonical,
    _join,
    _kind,
    bounded_glob,
    plain,
    read,
)


class _Resolver:
    def __init__(self, file: str, overrides: Mapping[str, Any]) -> None:
        self.file = file
        self.base = Path(file).parent
        self.overrides = dict(overrides)  # click parameter name -> value (command line)

    def error(self, item: Item, key: str, problem: str, at_key: bool = False) -> ConfigError:
        line = item.key_line if at_key and item.key_line else item.line
        return ConfigError(self.file, line, key, problem)

    def mapping(self, item: Item, key: str, allowed: tuple[str, ...],
                where: str = "") -> dict[str, tuple[str, Item]]:
        """canonical key -> (the key as written, Item); unknown keys refused with a hint."""
        if not isinstance(item.value, dict):
            raise self.error(item, key, f"expected a mapping, got {_kind(item.value)}")
        out: dict[str, tuple[str, Item]] = {}
        for raw, value in item.value.items():
            name = _canonical(raw)
            if name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.error(value, _join(key, raw), f"unknown key{where}{hint}", True)
            if name in out:
                raise self.error(value, _join(key, raw),
                                 f"duplicate key (also given as {out[name][0]!r})", True)
            out[name] = (raw, value)
        return out

    def string(self, item: Item, key: str) -> str:
        if not isinstance(item.value, str) or not item.value:
            raise self.error(item, key, f"expected a non-empty string, got {_kind(item.value)}")
        return item.value

    def option(self, name: str, raw: str, item: Item, key: str) -> Any:
        option = OPTIONS[name]
        try:
            value = option.from_yaml(plain(item))
        except ValueError as exc:
            raise self.error(item, _join(key, raw), str(exc)) from None
        if option.is_path and value is not None:
            value = self.existing(self.path(value), item, _join(key, raw))
        return value

    def path(self, text: str) -> str:
        return os.path.normpath(self.base / os.path.expanduser(text))

    def existing(self, path: str, item: Item, key: str, note: str = "",
                 arrays: bool = False) -> str:
        """path, which must exist: a file, or with `arrays` an array directory too."""
        if not os.path.exists(path):
            raise self.error(item, key, f"no such file {path!r}{note}")
        if os.path.isdir(path) and not (arrays and is_array_dir(Path(path))):
            what = "holds no .npy shards and is not a zarr store" if arrays else "not a file"
            raise self.error(item, key, f"{path!r} is a directory, {what}{note}")
        return path

    def settings(self, entries: dict[str, tuple[str, Item]], key: str) -> dict[str, Any]:
        """Options among entries, in kw form (click parameter name -> value)."""
        return {OPTIONS[n].param: self.option(n, raw, it, key)
                for n, (raw, it) in entries.items() if n in OPTIONS}

    def resolve(self, top: Item) -> list[Job]:
        entries = self.mapping(top, "", ("version", "defaults", "jobs"))
        if "version" not in entries:
            raise self.error(top, "", "missing key 'version' (expected version: 1)")
        raw, version = entries["version"]
        if version.value != VERSION or isinstance(version.value, bool):
            raise self.error(version, raw, f"unsupported version {version.value!r} "
                             f"(expected {VERSION})")
        defaults: dict[str, Any] = {}
        default_labels: tuple[str, Item] | None = None
        if "defaults" in entries:
            raw, item = entries["defaults"]
            d = self.mapping(item, raw, (*OPTIONS, "labels"))
            defaults = self.settings(d, raw)
            if "labels" in d:
                default_labels = (_join(raw, d["labels"][0]), d["labels"][1])
        if "jobs" not in entries:
            raise self.error(top, "", "missing key 'jobs' (a list of jobs)")
        raw, jobs = entries["jobs"]
        if not isinstance(jobs.value, list) or not jobs.value:
            raise self.error(jobs, raw, f"expected a non-empty list of jobs, got "
                             f"{_kind(jobs.value) if jobs.value != [] else 'an empty list'}")
        out: list[Job] = []
        seen: dict[str, int] = {}
        for i, item in enumerate(jobs.value):
            for job in self.job(item, f"{raw}[{i}]", defaults, default_labels):
                if job.name in seen:
                    raise self.error(item, f"{raw}[{i}].name", f"duplicate job name "
                                     f"{job.name!r} (also jobs[{seen[job.name]}])")
                seen[job.name] = i
                out.append(job)
        return out

    def job(self, item: Item, key: str, defaults: dict[str, Any],
            default_labels: tuple[str, Item] | None) -> list[Job]:
        entries = self.mapping(item, key, (*JOB_KEYS, *OPTIONS))
        kind = "analyze"
        if "type" in entries:
            raw, t = entries["type"]
            if t.value not in INPUTS:
                raise self.error(t, _join(key, raw),
                                 f"{t.value!r} is not one of {', '.join(INPUTS)}")
            kind = t.value
        if "name" not in entries:
            raise self.error(item, key, "missing key 'name'")
        name = self.string(entries["name"][1], _join(key, entries["name"][0]))
        roles = INPUTS[kind]
        for n, (raw, it) in entries.items():
            owners = [t for t, r in INPUTS.items() if n in r]
            if owners and n not in roles:
                other = owners[0]
                raise self.error(it, _join(key, raw), f"not a key of {kind} jobs "
                                 f"(it belongs to {other} jobs; set type: {other})")
            if n in OPTIONS and kind not in OPTIONS[n].commands:
                kinds = " and ".join(sorted(OPTIONS[n].commands))
                raise self.error(it, _join(key, raw), f"applies to {kinds} jobs only")
        mine = self.settings(entries, key)
        expect = self.expect(entries.get("expect"), key, kind)
        options, origin = {}, {}
        for o in OPTIONS.values():
            for where, values in (("built-in", DEFAULTS), ("defaults", defaults), ("job", mine),
                                  ("command line", self.overrides)):
                if o.param in values:
                    options[o.param], origin[o.name] = values[o.param], where
        self.check_labels(entries, key, expect, default_labels if kind != "gaussian" else None,
                          "targets" if kind == "gaussian" else "labels")
        return [
            Job(job_name, kind, inputs, options, origin, expect)
            for job_name, inputs in self.inputs(entries, key, name, roles, default_labels)
        ]

    def check_labels(self, entries: dict[str, tuple[str, Item]], key: str, expect: Expect,
                     default_labels: tuple[str, Item] | None, role: str = "labels") -> None:
        """expect.max-loss needs labels (targets): say so now rather than fail the job later."""
        labelled = (role in entries and entries[role][1].value is not None) or (
            role not in entries and default_labels is not None)
        if expect.max_loss is not None and not labelled:
            raw, item = entries["expect"]
            k = next(k for k in item.value if _canonical(k) == "max-loss")
            raise self.error(item.value[k], _join(_join(key, raw), k),
                             f"needs {role} (there is no loss without them)")

    def inputs(self, entries: dict[str, tuple[str, Item]], key: str, name: str,
               roles: tuple[str, ...], default_labels: tuple[str, Item] | None
               ) -> list[tuple[str, dict[str, str | None]]]:
        """(job name, role -> path) per job: a glob in logits/candidate gives one per file."""
        main = MAIN_INPUT[next(t for t, r in INPUTS.items() if r == roles)]
        for role in roles:
            if role not in OPTIONAL_INPUTS and role not in entries:
                raise self.error(entries["name"][1], key, f"missing key {role!r}")
        raw, item = entries[main]
        pattern = self.path(self.string(item, _join(key, raw)))
        if _GLOB_CHARS.search(pattern):
            try:
                matched = bounded_glob(pattern)
            except ValueError as exc:
                raise self.error(item, _join(key, raw), f"the glob {pattern!r}: {exc}") from None
            files = [p for p in matched if os.path.isfile(p) or is_array_dir(Path(p))]
            if not files:
                raise self.error(item, _join(key, raw), f"the glob {pattern!r} matches no file")
            named = [(f"{name}-{Path(f).stem}", f) for f in files]
        else:
            named = [(name, self.existing(pattern, item, _join(key, raw), arrays=True))]
        out = []
        for job_name, main_path in named:
            stem = Path(main_path).stem
            note = f" (for {main}: {main_path!r})" if len(named) > 1 else ""
            paths: dict[str, str | None] = {}
            for role in roles:
                if role == main:
                    paths[role] = main_path
                    continue
                if role in entries:
                    raw, it = entries[role]
                    where = _join(key, raw)
                elif role == "labels" and default_labels is not None:
                    where, it = default_labels
                else:
                    paths[role] = None
                    continue
                if role in OPTIONAL_INPUTS and it.value is None:
                    paths[role] = None
                    continue
                text = self.string(it, where).replace("{stem}", stem)
                paths[role] = self.existing(self.path(text), it, where, note, arrays=True)
            out.append((job_name, paths))
        return out

    def expect(self, entry: tuple[str, Item] | None, key: str, kind: str) -> Expect:
        if entry is None:
            return Expect()
        raw, item = entry
        key = _join(key, raw)
        keys = JOB_EXPECT_KEYS[kind]
        where = "" if kind == "analyze" else f" for {kind} jobs"
        e = self.mapping(item, key, keys, where)
        out: dict[str, Any] = {}
        if "kind" in e:
            raw, it = e["kind"]
            name = it.value.replace("-", "_") if isinstance(it.value, str) else it.value
            if name not in KINDS:
                close = difflib.get_close_matches(str(name), KINDS, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.error(it, _join(key, raw), f"{it.value!r} is not a kind{hint}; "
                                 f"kinds: {', '.join(KINDS)}")
            out["kind"] = name
        for n, field_name, numeric in (("max-loss", "max_loss", float),
                                       ("max-naive-failures", "max_naive_failures", int)):
            if n in e:
                raw, it = e[n]
                v = it.value
                ok = isinstance(v, int) or (numeric is float and isinstance(v, float))
                if isinstance(v, bool) or not ok or v < 0:
                    want = "a number >= 0" if numeric is float else "an integer >= 0"
                    raise self.error(it, _join(key, raw), f"expected {want}, got {v!r}")
                out[field_name] = numeric(v)
        if "forbid" in e:
            raw, it = e["forbid"]
            codes = plain(it)
            codes = [codes] if isinstance(codes, str) else codes
            if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
                raise self.error(it, _join(key, raw), "expected a list of rule codes, got "
                                 f"{_kind(plain(it))}")
            try:
                out["forbid"] = gate.split_codes("forbid", codes)
            except LogitcheckError as exc:
                raise self.error(it, _join(key, raw),
                                 str(exc).removeprefix("forbid: ")) from None
        return Expect(**out)


def load(path: str | Path, overrides: Mapping[str, Any] | None = None,
         env: Mapping[str, str] | None = None) -> Config:
    """Read, validate and resolve a config. overrides: command-line option values, keyed by
    click parameter name (only the options actually given)."""
    overrides = {k: v for k, v in (overrides or {}).items() if k in BY_PARAM}
    top = read(path, env)
    jobs = _Resolver(str(path), overrides).resolve(top)
    for job in jobs:  # the command line's values too: a bad --select fails before any job
        job.settings  # noqa: B018
    return Config(str(path), jobs)
