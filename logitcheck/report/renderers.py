"""RENDERERS: format name -> renderer function, each renderer's module imported on its first
lookup. It imports no renderer and not the model (renderers import the model; the model's
Report.render looks its format up here), so a run loads the one renderer it uses.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, MutableMapping

_PACKAGE = __name__.rpartition(".")[0]  # logitcheck.report

#: format name -> (module in this package, renderer function); order: the --format choices
_WHERE = {
    "rich": ("terminal", "render_rich"),
    "json": ("json_format", "render_json"),
    "junit": ("junit", "render_junit"),
    "github": ("github", "render_github"),
    "markdown": ("markdown", "render_markdown"),
    "html": ("html", "render_html"),
    "sarif": ("sarif", "render_sarif"),
}


class Renderers(MutableMapping[str, Callable[..., str]]):
    """format name -> renderer, importing a renderer's module on its first lookup.

    Iterating, `len` and `in` never import anything; a format set here (a test's stand-in,
    a new format) is used as given.
    """

    def __init__(self, where: dict[str, tuple[str, str]]) -> None:
        self._where: dict[str, tuple[str, str] | None] = dict(where)
        self._loaded: dict[str, Callable[..., str]] = {}

    def __getitem__(self, fmt: str) -> Callable[..., str]:
        try:
            return self._loaded[fmt]
        except KeyError:
            pass
        where = self._where[fmt]  # KeyError for a format that is not there
        assert where is not None  # set formats are in _loaded
        module, name = where
        renderer = getattr(importlib.import_module(f"{_PACKAGE}.{module}"), name)
        self._loaded[fmt] = renderer
        return renderer

    def __setitem__(self, fmt: str, renderer: Callable[..., str]) -> None:
        self._where.setdefault(fmt, None)
        self._loaded[fmt] = renderer

    def __delitem__(self, fmt: str) -> None:
        del self._where[fmt]
        self._loaded.pop(fmt, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, fmt: object) -> bool:
        return fmt in self._where

    def __repr__(self) -> str:
        return f"Renderers({list(self._where)})"


#: format name -> renderer; drives the --format choice.
RENDERERS = Renderers(_WHERE)
