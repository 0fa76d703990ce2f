"""The vendored front-end files are the ones their tables name (no network: ``scripts/vendor``
checks the tables against the npm registry)."""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _vendor_script() -> ModuleType:
    """scripts/vendor, whose table reader the check shares."""
    loader = importlib.machinery.SourceFileLoader("vendor_script", str(ROOT / "scripts/vendor"))
    spec = importlib.util.spec_from_loader("vendor_script", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_every_vendored_file_matches_its_table() -> None:
    script = _vendor_script()
    rows = [row for table in script.TABLES for row in script.rows(table)]
    assert len(rows) >= 14
    for row in rows:
        data = (Path(row["dir"]) / row["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"], row["file"]


def test_nothing_is_vendored_without_a_row() -> None:
    script = _vendor_script()
    for table in script.TABLES:
        listed = {row["file"] for row in script.rows(table)}
        on_disk = {
            str(path.relative_to(table.parent))
            for path in table.parent.rglob("*")
            if path.is_file() and path.name != "README.md"
        }
        assert on_disk == listed, table
