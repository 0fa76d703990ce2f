"""The app's import graph, read from the source of its ES modules under ``static/``.

The app loads each page's modules when the page is first shown (``static/app/main.js``). So
that the page a link opens on does not wait for its imports one level after another,
``static/app/boot.js`` preloads all of them at once from this graph, which the app's HTML
carries (``<meta name="vigil-modules">``). Only static imports are edges (``import … from``,
``export … from``, ``import "…"``); ``import()`` is what a page does later, on purpose.
"""

from __future__ import annotations

import json
import posixpath
import re
from functools import cache
from pathlib import Path

# A static import or re-export at the start of a statement, minified or not: the specifier.
_STATIC_IMPORT = re.compile(
    r"""(?:^|[;}])\s*(?:import|export)\s*(?:[\w*{][^"'`;()]*?from\s*)?["']([^"']+)["']""",
    re.MULTILINE,
)


def imports_of(source: str) -> list[str]:
    """The specifiers a module's source imports statically, in order, each once."""
    return list(dict.fromkeys(_STATIC_IMPORT.findall(source)))


def _resolve(module: str, specifier: str) -> str | None:
    """``specifier`` imported by ``module`` (both relative to ``static/``), or None for a
    module elsewhere."""
    if specifier.startswith("/static/"):
        return specifier.removeprefix("/static/")
    if specifier.startswith(("./", "../")):
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(module), specifier))
        return None if resolved.startswith("..") else resolved
    return None


def import_graph(static: Path) -> dict[str, list[str]]:
    """Every module reachable from ``static/app/*.js`` and what it imports, as paths
    relative to ``static/``."""
    graph: dict[str, list[str]] = {}
    waiting = sorted(p.relative_to(static).as_posix() for p in (static / "app").glob("*.js"))
    while waiting:
        module = waiting.pop()
        if module in graph or not (static / module).is_file():
            continue
        source = (static / module).read_text(encoding="utf-8")
        found = (_resolve(module, s) for s in imports_of(source))
        graph[module] = [m for m in found if m is not None]
        waiting.extend(graph[module])
    return graph


@cache
def graph_json(static: Path) -> str:
    """The graph as compact JSON, read once per process (the files do not change while it
    runs)."""
    return json.dumps(import_graph(static), separators=(",", ":"), sort_keys=True)
