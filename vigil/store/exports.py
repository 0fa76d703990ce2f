"""Exports as the application server stores them: the job's state and its files."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from vigil.store.database import Database
from vigil.store.models import Export


class ExportNotFound(Exception):
    def __init__(self, export_id: int) -> None:
        super().__init__(f"no export with id {export_id}")
        self.export_id = export_id


class ExportStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, export: Export) -> Export:
        async with self._db.write() as session:
            session.add(export)
        return export

    async def get(self, export_id: int) -> Export:
        async with self._db.read() as session:
            export = await session.get(Export, export_id)
        if export is None:
            raise ExportNotFound(export_id)
        return export

    async def newest(
        self, limit: int, org_id: int, requested_by_id: int | None = None
    ) -> list[Export]:
        """The organisation's exports (or one user's), newest first."""
        query = select(Export).where(Export.org_id == org_id)
        if requested_by_id is not None:
            query = query.where(Export.requested_by_id == requested_by_id)
        query = query.order_by(Export.created_at.desc(), Export.id.desc()).limit(limit)
        async with self._db.read() as session:
            return list(await session.scalars(query))

    async def with_status(self, *statuses: str) -> list[Export]:
        """Oldest first: the order they were asked for."""
        query = select(Export).where(Export.status.in_(statuses)).order_by(Export.id)
        async with self._db.read() as session:
            return list(await session.scalars(query))

    async def update(self, export_id: int, **values: Any) -> None:
        async with self._db.write() as session:
            await session.execute(update(Export).where(Export.id == export_id).values(**values))

    async def delete(self, export_id: int) -> None:
        async with self._db.write() as session:
            export = await session.get(Export, export_id)
            if export is None:
                raise ExportNotFound(export_id)
            await session.delete(export)
