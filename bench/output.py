"""Where the benchmarks keep their results: one JSON file per run, under ``bench/results``
unless ``--out`` names another."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def write_result(result: Any, out: Path | None, name: str) -> Path:
    """Write ``result`` as indented JSON to ``out``, or to ``RESULTS / name``; the path."""
    path = out or RESULTS / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
