"""Alembic environment: the URL comes from :func:`vigil.store.migrate.alembic_config`."""

from alembic import context
from sqlalchemy import create_engine, event
from sqlalchemy.pool import NullPool

from vigil.store.models import Base

config = context.config
url: str = config.attributes["url"]
engine = create_engine(url, poolclass=NullPool)
if url.startswith("sqlite"):
    # Each migration runs in a transaction; SQLite needs batch mode to alter tables.
    @event.listens_for(engine, "connect")
    def _fk(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.execute("PRAGMA foreign_keys=ON")


with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=url.startswith("sqlite"),
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
