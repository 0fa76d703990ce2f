"""Alembic environment: the URL comes from :func:`vigil.store.migrate.alembic_config`."""

from alembic import context
from sqlalchemy import create_engine, event
from sqlalchemy.pool import NullPool

from vigil.store.models import Base

config = context.config
url: str = config.attributes["url"]
engine = create_engine(url, poolclass=NullPool)
if url.startswith("sqlite"):
    # SQLite alters a table by copying it and dropping the old one (batch mode). With
    # foreign keys enforced, that drop would cascade to every row referring to the table
    # (cameras to segments, organisations to everything): migrations run without them.
    @event.listens_for(engine, "connect")
    def _no_fk(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.execute("PRAGMA foreign_keys=OFF")


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
