"""The app's import graph that boot.js preloads from: read right from the modules' source."""

from __future__ import annotations

from pathlib import Path

from vigil.web.modules import import_graph, imports_of
from vigil.web.pages import STATIC


def test_static_imports_are_found_in_every_form_the_app_and_its_vendors_write() -> None:
    source = """// import { nothing } from "./in-a-comment.js";
import { api, problemDetail } from "/static/api.js";
import {
  eventItems,
  groupNames,
} from "./library_api.js";
import "./side_effect.js";
export { bytes } from "./lib.js";
const later = () => import("./lazy.js");
const text = "import x from";
"""
    assert imports_of(source) == [
        "/static/api.js",
        "./library_api.js",
        "./side_effect.js",
        "./lib.js",
    ]
    minified = 'import{options as n}from"./preact.module.js";var t;export{t as useState};'
    assert imports_of(minified) == ["./preact.module.js"]


def test_the_graph_reaches_a_page_s_deepest_module_and_leaves_other_pages_out() -> None:
    graph = import_graph(STATIC)

    def closure(start: str) -> set[str]:
        seen: set[str] = set()
        waiting = [start]
        while waiting:
            module = waiting.pop()
            if module not in seen:
                seen.add(module)
                waiting.extend(graph[module])
        return seen

    library = closure("app/library.js")
    # Four levels down: library → library_event → upload_panel → upload_queue → load_tus.
    assert {"app/library_event.js", "app/upload_queue.js", "load_tus.js"} <= library
    assert "vendor/preact/preact.module.js" in library
    # Another page's modules are not the library's; nor is the shell's page loader.
    assert not {"app/grid.js", "app/recordings.js", "app/main.js"} & library
    # The shell imports no page: each is loaded when first shown.
    assert closure("app/main.js").isdisjoint({"app/library.js", "app/grid.js", "app/admin.js"})
    assert all(Path(STATIC, m).is_file() for m in graph)
