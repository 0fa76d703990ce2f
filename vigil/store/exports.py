"""Exports as the application server stores them: the job's state and its files."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from vigil.store.database import Database
from vigil.store.models import Export
from vigil.timeutil import now_ms


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

    async def claim(self, export_id: int, runner: str) -> bool:
        """Take a queued export for ``runner``: one statement, so of several application
        instances at once exactly one gets it. Whether this one did."""
        now = now_ms()
        async with self._db.write() as session:
            result = await session.execute(
                update(Export)
                .where(Export.id == export_id, Export.status == "queued")
                .values(status="running", runner=runner, beat_at=now, started_at=now, error=None)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def beat(self, export_id: int, runner: str) -> None:
        """``runner`` is still at it."""
        async with self._db.write() as session:
            await session.execute(
                update(Export)
                .where(Export.id == export_id, Export.runner == runner)
                .values(beat_at=now_ms())
            )

    async def requeue_abandoned(self, runner: str, silent_before_ms: int) -> list[int]:
        """Queue again the running exports nobody runs any more: ``runner``'s own (from
        before it restarted) and those whose runner fell silent before ``silent_before_ms``
        (its instance died). Their ids."""
        abandoned = (
            (Export.runner == runner)
            | (Export.beat_at.is_(None))
            | (Export.beat_at < silent_before_ms)
        )
        async with self._db.write() as session:
            result = await session.execute(
                update(Export)
                .where(Export.status == "running", abandoned)
                .values(status="queued", progress=0.0, runner=None, beat_at=None)
                .returning(Export.id)
            )
            return sorted(result.scalars())

    async def update(self, export_id: int, **values: Any) -> None:
        async with self._db.write() as session:
            await session.execute(update(Export).where(Export.id == export_id).values(**values))

    async def delete(self, export_id: int) -> None:
        async with self._db.write() as session:
            export = await session.get(Export, export_id)
            if export is None:
                raise ExportNotFound(export_id)
            await session.delete(export)
