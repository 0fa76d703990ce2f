"""Engine and sessions. SQLite: WAL and one writer at a time; PostgreSQL: as it comes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


class DatabaseUnavailable(Exception):
    """The database URL is wrong or the server cannot be reached."""


def async_url(url: str) -> str:
    """Map plain URLs to the async drivers Vigil ships (aiosqlite, psycopg 3)."""
    parsed = make_url(url)
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}.get(
        parsed.drivername
    )
    if parsed.drivername == "postgres":
        driver = "postgresql+psycopg"
    return parsed.set(drivername=driver).render_as_string(False) if driver else url


def sync_url(url: str) -> str:
    """The same database through a synchronous driver (for Alembic)."""
    parsed = make_url(async_url(url))
    driver = {"sqlite+aiosqlite": "sqlite", "postgresql+psycopg": "postgresql+psycopg"}.get(
        parsed.drivername, parsed.drivername
    )
    return parsed.set(drivername=driver).render_as_string(False)


def _unreachable(exc: DBAPIError) -> bool:
    """Whether the driver lost the server (or never reached it), not a fault of the query."""
    if exc.connection_invalidated or isinstance(exc, InterfaceError):
        return True
    return isinstance(exc, OperationalError) and isinstance(
        exc.orig, psycopg.OperationalError | OSError
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Database:
    """The application server's database. Reads run concurrently; on SQLite, writes take
    turns through one lock, so no request ever meets "database is locked"."""

    def __init__(self, url: str) -> None:
        self.url = async_url(url)
        self.is_sqlite = make_url(self.url).get_backend_name() == "sqlite"
        if self.is_sqlite:
            database = make_url(self.url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: statements may be logged (at debug level), the values bound to
        # them never are: they include password hashes, token hashes and secrets.
        self.engine: AsyncEngine = create_async_engine(
            self.url, pool_pre_ping=not self.is_sqlite, hide_parameters=True
        )
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock()
        # The session that reads share inside one_read() (per task: contextvars).
        self._shared: ContextVar[AsyncSession | None] = ContextVar("shared_read", default=None)

    async def check(self) -> None:
        """Connect once; raise DatabaseUnavailable with the driver's reason if it fails."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (DBAPIError, OSError) as exc:
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            safe = make_url(self.url).render_as_string(hide_password=True)
            raise DatabaseUnavailable(f"cannot connect to {safe}: {reason}") from exc

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for queries. DatabaseUnavailable if the server cannot be reached."""
        shared = self._shared.get()
        if shared is not None:
            yield shared
            return
        with self._reachable():
            async with self._sessions() as session:
                yield session

    @asynccontextmanager
    async def one_read(self) -> AsyncIterator[None]:
        """Every :meth:`read` inside shares one session: one connection checked out (and on
        PostgreSQL one liveness ping, one rollback) for a request that makes several reads,
        e.g. a timeline's spans, previews, events and motion. For reads one after the other
        in one task only (tasks started inside would share the session concurrently)."""
        with self._reachable():
            async with self._sessions() as session:
                token = self._shared.set(session)
                try:
                    yield
                finally:
                    self._shared.reset(token)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits on success and rolls back on error.
        DatabaseUnavailable if the server cannot be reached."""
        with self._reachable():
            if self.is_sqlite:
                async with self._write_lock, self._sessions() as session, session.begin():
                    yield session
            else:
                async with self._sessions() as session, session.begin():
                    yield session

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        """A lost or refused connection (the server stopped, restarting, unreachable) is
        DatabaseUnavailable, which callers can answer as "try again" rather than a crash;
        a wrong query stays what it is."""
        try:
            yield
        except DBAPIError as exc:
            if not _unreachable(exc):
                raise
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise DatabaseUnavailable(f"the database is unavailable: {reason}") from exc

    async def close(self) -> None:
        await self.engine.dispose()
