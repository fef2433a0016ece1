"""`[tool.logitcheck]` in pyproject.toml: a project's defaults for `logitcheck analyze`.

    [tool.logitcheck]
    fail-on = "warning"
    select = ["LC1", "LC2"]
    severity = {LC207 = "error"}
    baseline = ".logitcheck-baseline.json"

The nearest pyproject.toml with a `[tool.logitcheck]` table, from the working directory up,
is read (as ruff does: a pyproject.toml without the table is passed over). Its keys are
the options of `analyze` without their dashes, the same names and checks as a YAML batch's
settings (options.py); paths are relative to the pyproject.toml. An option given on the
command line wins; `logitcheck config show` prints what the file sets.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LogitcheckError
from ..options import OPTIONS

TABLE = "[tool.logitcheck]"


class ProjectConfigError(LogitcheckError):
    """A [tool.logitcheck] table that cannot be used: one line naming the file and key."""

    def __init__(self, path: Path, key: str, problem: str) -> None:
        where = f"{TABLE} {key}" if key else TABLE
        super().__init__(f"{path}: {where}: {problem}")


@dataclass(frozen=True)
class ProjectDefaults:
    path: Path | None = None  # the pyproject.toml read, None when there is none
    values: dict[str, Any] = field(default_factory=dict)  # click param name -> kw form

    def to_dict(self) -> dict[str, Any]:
        """What `config show` prints: the file and each setting as YAML would write it."""
        by_param = {o.param: o for o in OPTIONS.values()}
        return {"pyproject": str(self.path) if self.path else None,
                "analyze": {by_param[p].name: by_param[p].to_yaml(v)
                            for p, v in self.values.items()}}


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml holding a [tool.logitcheck] table, from start upward."""
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        try:
            text = candidate.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
            continue
        except (OSError, UnicodeDecodeError):
            continue  # unreadable: not this project's settings
        # a cheap look first: most pyproject.toml files are not ours, and tomllib is
        # imported only for one that may be
        if "tool.logitcheck" in text or "[tool]" in text:
            if _table(candidate, text) is not None:
                return candidate
    return None


def _loads(path: Path, text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10: the tomli backport (a dependency there)
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProjectConfigError(path, "", f"not valid TOML ({exc})") from None


def _table(path: Path, text: str) -> Any:
    tool = _loads(path, text).get("tool")
    return tool.get("logitcheck") if isinstance(tool, dict) else None


def load(start: Path | None = None) -> ProjectDefaults:
    """The defaults for `analyze` from the nearest [tool.logitcheck]; ProjectConfigError
    (exit 2) for an unknown key, an option `analyze` does not take, or a bad value."""
    path = find_pyproject(Path.cwd() if start is None else start)
    if path is None:
        return ProjectDefaults()
    table = _table(path, path.read_text(encoding="utf-8"))
    if not isinstance(table, dict):
        raise ProjectConfigError(path, "", "expected a table of settings")
    values: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("_", "-")
        option = OPTIONS.get(name)
        if option is None:
            from difflib import get_close_matches

            close = get_close_matches(name, list(OPTIONS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ProjectConfigError(path, key, f"unknown setting{hint}")
        if "analyze" not in option.commands:
            raise ProjectConfigError(path, key, "not an option of analyze")
        if option.param in values:
            raise ProjectConfigError(path, key, "given twice (with - and _)")
        try:
            checked = option.from_yaml(value)
        except ValueError as exc:
            raise ProjectConfigError(path, key, str(exc)) from None
        if option.is_path and checked is not None:
            checked = str(path.parent / checked)
        values[option.param] = checked
    return ProjectDefaults(path, values)
