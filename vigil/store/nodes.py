"""What administrators say of media nodes: which are draining (``vigil nodes drain``)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from vigil.store.database import Database
from vigil.store.models import Node
from vigil.timeutil import now_ms


class NodeStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def draining(self) -> set[str]:
        """The nodes whose cameras are to move off, and which take no new ones."""
        async with self._db.read() as session:
            return set(await session.scalars(select(Node.name).where(Node.draining)))

    async def set_draining(self, name: str, draining: bool) -> None:
        """One statement, so two administrators at once cannot collide on a new row."""
        insert = sqlite_insert if self._db.is_sqlite else postgresql_insert
        values = {"draining": draining, "updated_at": now_ms()}
        statement = insert(Node).values(name=name, **values)
        async with self._db.write() as session:
            await session.execute(
                statement.on_conflict_do_update(index_elements=[Node.name], set_=values)
            )

    async def forget(self, name: str) -> None:
        async with self._db.write() as session:
            await session.execute(delete(Node).where(Node.name == name))
