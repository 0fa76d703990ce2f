"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import asyncio
import sqlite3
import warnings
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from vigil.store.database import sync_url
from vigil.store.migrate import upgrade
from vigil.store.models import Base


async def test_migrations_match_the_models(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url)
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn, warnings.catch_warnings():
            # SQLite's reflection skips expression indexes (lower(name)); it says so.
            warnings.filterwarnings("ignore", message="Skipped unsupported reflection")
            warnings.filterwarnings("ignore", message="autogenerate skipping")
            context = MigrationContext.configure(conn, opts={"include_name": _not_search})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def _not_search(name: str | None, type_: str, _parents: object) -> bool:
    """The search tables are not models (FTS5 and its shadow tables on SQLite, a tsvector
    table on PostgreSQL: see migration 0006)."""
    return not (type_ == "table" and (name or "").startswith("media_search"))


def test_upgrades_keep_every_row_on_sqlite(tmp_path: Path) -> None:
    """SQLite alters a table by copying and dropping it: the drop must not cascade to the
    rows that refer to it (a camera's segments, an organisation's cameras)."""
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, "0002")
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO cameras (id, name, main_url, enabled, recording, segment_seconds, node,"
            " created_at, updated_at) VALUES (1, 'Gate', 'rtsp://cam/1', 1, 1, 10, 'local', 0, 0)"
        )
        db.execute(
            "INSERT INTO segments (camera_id, node, path, start_ms, end_ms, size, protected)"
            " VALUES (1, 'local', '1/a.mp4', 0, 1000, 10, 0)"
        )
    upgrade(url)  # 0003 rebuilds cameras, 0005 rebuilds orgs
    with sqlite3.connect(path) as db:
        counts = [db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES]
    assert counts == [1, 1, 1]


TABLES = ("orgs", "cameras", "segments")
