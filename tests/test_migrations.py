"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import asyncio
import warnings

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
            differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
