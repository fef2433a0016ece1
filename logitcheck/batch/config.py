"""YAML batch configs: read safely (line numbers kept), the Job and Config types, the keys a
job may have. resolve.py validates and resolves every job (resolve.load).

Nothing runs before the whole file is valid. Each error names the file, the line and the
key path (`jobs[2].fail-on`). Values are interpolated (`${VAR}`, `${VAR:-default}`) and
checked by the same option table the command line uses (options.py), so a job's Settings
are built exactly as `analyze` builds them from its options.

Precedence, lowest first: built-in < defaults < job < command line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import LogitcheckError
from ..options import OPTIONS, build_settings
from ..settings import Settings

VERSION = 1


MAX_BYTES = 1024 * 1024  # a config is a few KiB; anything larger is a mistake


MAX_ALIASES = 100  # anchors are handy for a few shared blocks, not for thousands


MAX_NODES = 10_000  # values reached again through aliases: refuses billion-laughs documents


#: A glob in a config is walked at most this far (directory entries looked at, seconds):
#: `/**/*.npy` would otherwise walk the whole filesystem before the run starts.
MAX_GLOB_ENTRIES = 200_000


MAX_GLOB_SECONDS = 10.0


MAX_GLOB_FILES = 10_000


MAX_DEPTH = 32


_STANDARD_TAGS = {
    f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")
}


_TIMESTAMP = "tag:yaml.org,2002:timestamp"  # a plain 2024-01-01: kept as its text


_GLOB_CHARS = re.compile(r"[*?\[]")


# $$ is a literal $; a "${" that is not a well-formed reference is an error
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")


INPUTS = {
    "analyze": ("logits", "labels"),
    "compare": ("reference", "candidate", "labels"),
    "gaussian": ("mean", "scale", "targets"),
}


OPTIONAL_INPUTS = ("labels", "targets")  # a job may go without them (null: explicitly none)


MAIN_INPUT = {"analyze": "logits", "compare": "candidate", "gaussian": "mean"}  # may be a glob


EXPECT_KEYS = ("kind", "max-loss", "max-naive-failures", "forbid")


JOB_EXPECT_KEYS = {
    "analyze": EXPECT_KEYS,
    "compare": ("kind", "max-loss", "forbid"),
    "gaussian": ("max-loss", "max-naive-failures", "forbid"),
}


JOB_KEYS = ("name", "type", "logits", "labels", "reference", "candidate", "mean", "scale",
            "targets", "expect")


class ConfigError(LogitcheckError):
    """The config file is malformed: the message names the file, line and key path."""

    def __init__(self, file: str, line: int | None, key: str, problem: str) -> None:
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")
        self.file, self.line, self.key, self.problem = file, line, key, problem


@dataclass(frozen=True)
class Item:
    """A YAML value with the line it starts on (1-based)."""

    value: Any  # dict[str, Item] | list[Item] | str | int | float | bool | None
    line: int
    key_line: int = 0  # in a mapping: the line of its key (a block value starts below it)


@dataclass(frozen=True)
class Expect:
    kind: str | None = None
    max_loss: float | None = None
    max_naive_failures: int | None = None
    forbid: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = {"kind": self.kind, "max-loss": self.max_loss,
               "max-naive-failures": self.max_naive_failures, "forbid": list(self.forbid)}
        return {k: v for k, v in out.items() if v not in (None, [])}


@dataclass(frozen=True)
class Job:
    name: str
    type: str  # "analyze", "compare" or "gaussian"
    inputs: dict[str, str | None]  # role -> path (relative to the working directory)
    options: dict[str, Any]  # click parameter name -> value, after precedence
    origin: dict[str, str]  # option name -> built-in | defaults | job | command line
    expect: Expect = field(default_factory=Expect)

    @property
    def settings(self) -> Settings:
        return build_settings(self.options)

    def to_dict(self) -> dict[str, Any]:
        """What `config show` prints: every setting of this job's type, YAML-style."""
        settings = {
            o.name: o.to_yaml(self.options[o.param])
            for o in OPTIONS.values() if self.type in o.commands
        }
        return {"name": self.name, "type": self.type, **self.inputs, "settings": settings,
                "origin": {k: v for k, v in self.origin.items()
                           if k in settings and v != "built-in"},
                "expect": self.expect.to_dict()}


@dataclass(frozen=True)
class Config:
    path: str
    jobs: list[Job]

    def select(self, patterns: tuple[str, ...]) -> list[Job]:
        """Jobs whose name matches any pattern (exact or a glob); every pattern must match."""
        if not patterns:
            return list(self.jobs)
        from fnmatch import fnmatchcase

        for p in patterns:
            if not any(fnmatchcase(j.name, p) for j in self.jobs):
                names = ", ".join(j.name for j in self.jobs)
                raise ConfigError(self.path, None, "",
                                  f"--jobs {p!r} matches no job (jobs: {names})")
        return [j for j in self.jobs if any(fnmatchcase(j.name, p) for p in patterns)]


# --- reading: YAML nodes -> Items, with line numbers, interpolation and limits ---


class _Loader(yaml.SafeLoader):
    """SafeLoader that counts aliases while composing (the graph is cheap, expanding is not)."""

    aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise ConfigError(self.name, mark.line + 1, "",
                                  f"more than {MAX_ALIASES} aliases; refused")
        return super().compose_node(parent, index)


class _Reader:
    def __init__(self, file: str, loader: _Loader, env: Mapping[str, str]) -> None:
        self.file, self.loader, self.env, self.nodes = file, loader, env, 0
        self.seen: set[int] = set()  # the document's own nodes; the file size bounds them

    def error(self, node: yaml.Node, key: str, problem: str) -> ConfigError:
        return ConfigError(self.file, node.start_mark.line + 1, key, problem)

    def item(self, node: yaml.Node, key: str, depth: int = 0) -> Item:
        # only values reached again through an alias count: a long plain config (10,000
        # jobs) is bounded by MAX_BYTES, not mistaken for an alias bomb
        if id(node) in self.seen:
            self.nodes += 1
            if self.nodes > MAX_NODES:
                raise self.error(node, key, f"aliases expand to more than {MAX_NODES:,} "
                                 "repeated values (an alias bomb?); refused")
        else:
            self.seen.add(id(node))
        if depth > MAX_DEPTH:
            raise self.error(node, key, f"nested more than {MAX_DEPTH} levels deep")
        line = node.start_mark.line + 1
        if node.tag not in _STANDARD_TAGS | {_TIMESTAMP}:
            raise self.error(node, key, f"the tag {node.tag!r} is not allowed (plain YAML "
                             "only: strings, numbers, booleans, null, lists, mappings)")
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Item] = {}
            for k, v in node.value:
                if k.tag == "tag:yaml.org,2002:merge":
                    raise self.error(k, key, "merge keys (<<) are not supported; "
                                     "shared settings go in defaults:")
                if not isinstance(k, yaml.ScalarNode) or k.tag != "tag:yaml.org,2002:str":
                    raise self.error(k, key, f"keys must be strings, got {k.value!r}")
                if k.value in out:
                    raise self.error(k, _join(key, k.value), "duplicate key")
                value = self.item(v, _join(key, k.value), depth + 1)
                out[k.value] = Item(value.value, value.line, k.start_mark.line + 1)
            return Item(out, line)
        if isinstance(node, yaml.SequenceNode):
            return Item([self.item(v, f"{key}[{i}]", depth + 1)
                         for i, v in enumerate(node.value)], line)
        return Item(self.scalar(node, key), line)

    def scalar(self, node: yaml.ScalarNode, key: str) -> Any:
        if node.tag == _TIMESTAMP:
            return node.value
        if node.tag == "tag:yaml.org,2002:str" and "$" in node.value:
            text = self.interpolate(node, key)
            if node.style is None:  # plain: `threads: ${N:-2}` is the number 2, as YAML reads it
                tag = self.loader.resolve(yaml.ScalarNode, text, (True, False))
                if tag in _STANDARD_TAGS:
                    return self.loader.construct_object(yaml.ScalarNode(tag, text))
            return text
        try:
            return self.loader.construct_object(node)
        except ValueError as exc:  # an integer past Python's 4,300-digit conversion limit
            raise self.error(node, key, f"the value {_short(node.value)} cannot be read "
                             f"({str(exc).split(';')[0]})") from None

    def interpolate(self, node: yaml.ScalarNode, key: str) -> str:
        def one(m: re.Match) -> str:
            if m.group(0) == "$$":
                return "$"
            if m.group(1) is None:
                bad = node.value[m.start():]
                raise self.error(node, key, f"malformed variable reference {bad!r} "
                                 "(use ${VAR} or ${VAR:-default})")
            name, default = m.group(1), m.group(2)
            if name in self.env:
                return self.env[name]
            if default is not None:
                return default
            raise self.error(node, key, f"environment variable {name} is not set "
                             f"(use ${{{name}:-default}} for a default)")

        return _VAR.sub(one, node.value)


def _short(text: str) -> str:
    return repr(text) if len(text) <= 40 else f"{text[:20]!r}...({len(text):,} characters)"


def bounded_glob(pattern: str) -> list[str]:
    """glob.glob(pattern, recursive=True), sorted, but walking at most MAX_GLOB_ENTRIES
    directory entries for MAX_GLOB_SECONDS and returning at most MAX_GLOB_FILES matches;
    ValueError (with the reason) past a bound. Symlinked directories are not followed
    (no loops)."""
    import fnmatch
    import time

    parts = re.split(r"[\\/]", pattern) if os.altsep else pattern.split(os.sep)
    first = next(i for i, p in enumerate(parts) if _GLOB_CHARS.search(p))
    root = os.sep.join(parts[:first]) or ("" if first else ".")
    if pattern.startswith(os.sep) and not root:
        root = os.sep
    rest = parts[first:]
    deadline = time.monotonic() + MAX_GLOB_SECONDS
    looked = 0
    found: list[str] = []

    def match(names: list[str], pats: list[str]) -> bool:
        if not pats:
            return not names
        if pats[0] == "**":
            return any(match(names[i:], pats[1:]) for i in range(len(names) + 1))
        if not names or (names[0].startswith(".") and not pats[0].startswith(".")):
            return False
        return fnmatch.fnmatchcase(names[0], pats[0]) and match(names[1:], pats[1:])

    def walk(directory: str, names: list[str]) -> None:
        nonlocal looked
        if "**" not in rest and len(names) >= len(rest):
            return  # no deeper name can match
        try:
            entries = list(os.scandir(directory or "."))
        except OSError:
            return
        for e in sorted(entries, key=lambda e: e.name):
            looked += 1
            if looked > MAX_GLOB_ENTRIES or time.monotonic() > deadline:
                raise ValueError(f"stopped after looking at {looked:,} entries in "
                                 f"{time.monotonic() - deadline + MAX_GLOB_SECONDS:.1f} s; "
                                 "narrow the pattern")
            path = os.path.join(directory, e.name) if directory else e.name
            sub = [*names, e.name]
            if match(sub, rest):
                found.append(path)
                if len(found) > MAX_GLOB_FILES:
                    raise ValueError(f"matches more than {MAX_GLOB_FILES:,} files")
            try:
                is_dir = e.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir and not e.name.startswith("."):
                walk(path, sub)

    walk(root if root != "." or pattern.startswith("./") else "", [])
    return sorted(found)


def plain(item: Item) -> Any:
    """The value without line numbers."""
    if isinstance(item.value, dict):
        return {k: plain(v) for k, v in item.value.items()}
    if isinstance(item.value, list):
        return [plain(v) for v in item.value]
    return item.value


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def read(path: str | Path, env: Mapping[str, str] | None = None) -> Item:
    """The config's top-level mapping as Items: safe YAML only, line numbers kept."""
    file = str(path)
    p = Path(path)
    if not p.is_file():
        raise ConfigError(file, None, "", "no such config file" if not p.exists()
                          else "is not a file")
    if p.stat().st_size > MAX_BYTES:
        raise ConfigError(file, None, "", f"larger than {MAX_BYTES // 1024} KiB; refused")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(file, None, "", f"cannot read ({exc})") from None
    try:
        loader = _Loader(text)  # the reader refuses control characters right away
    except yaml.reader.ReaderError as exc:
        raise ConfigError(file, None, "", f"invalid YAML: {_reader_problem(exc)}") from None
    loader.name = file
    try:
        node = loader.get_single_node()
        if node is None:
            raise ConfigError(file, 1, "", "the file is empty; expected version: 1 and jobs:")
        return _Reader(file, loader, os.environ if env is None else env).item(node, "")
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(file, line, "", f"invalid YAML: {exc.problem or exc.context}") from None
    except yaml.reader.ReaderError as exc:
        raise ConfigError(file, None, "", f"invalid YAML: {_reader_problem(exc)}") from None
    except yaml.YAMLError as exc:  # anything else PyYAML refuses: still one line
        raise ConfigError(file, None, "", f"invalid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise ConfigError(file, None, "", f"nested more than {MAX_DEPTH} levels deep") from None
    finally:
        loader.dispose()


def _reader_problem(exc: yaml.reader.ReaderError) -> str:
    char = exc.character if isinstance(exc.character, str) else chr(exc.character)
    return f"{exc.reason} ({char!r} at character {exc.position})"


# --- validation and resolution ---


def _canonical(key: str) -> str:
    return key.replace("_", "-")


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", type(None): "null", bool: "a boolean",
            str: "a string", int: "an integer", float: "a number"}.get(type(value), "?")
