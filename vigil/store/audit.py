"""The audit log: appended to, read and filtered; never changed or deleted through the API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from vigil.store.database import Database
from vigil.store.models import AuditEntry
from vigil.timeutil import now_ms


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it and from where; empty for the command line or an anonymous caller."""

    org_id: int | None = None
    user_id: int | None = None
    username: str | None = None
    api_key_id: int | None = None
    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class AuditFilter:
    user_id: int | None = None
    username: str | None = None
    actions: Sequence[str] = ()
    outcome: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    before_id: int | None = None
    limit: int = 100


class AuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        actor: Actor,
        action: str,
        *,
        outcome: str = "success",
        target: str | None = None,
        org_id: int | None = None,
        **detail: Any,
    ) -> AuditEntry:
        entry = AuditEntry(
            at=now_ms(),
            org_id=org_id if org_id is not None else actor.org_id,
            user_id=actor.user_id,
            username=(actor.username or "")[:100] or None,
            api_key_id=actor.api_key_id,
            action=action,
            outcome=outcome,
            target=target,
            detail=detail,
            ip=actor.ip,
            user_agent=(actor.user_agent or "")[:300] or None,
        )
        async with self._db.write() as session:
            session.add(entry)
        return entry

    async def query(self, org_id: int, filters: AuditFilter) -> list[AuditEntry]:
        """Entries of ``org_id``, newest first, matching every filter given."""
        query = select(AuditEntry).where(AuditEntry.org_id == org_id)
        if filters.user_id is not None:
            query = query.where(AuditEntry.user_id == filters.user_id)
        if filters.username:
            query = query.where(AuditEntry.username == filters.username)
        if filters.actions:
            query = query.where(AuditEntry.action.in_(list(filters.actions)))
        if filters.outcome:
            query = query.where(AuditEntry.outcome == filters.outcome)
        if filters.since_ms is not None:
            query = query.where(AuditEntry.at >= filters.since_ms)
        if filters.until_ms is not None:
            query = query.where(AuditEntry.at < filters.until_ms)
        if filters.before_id is not None:
            query = query.where(AuditEntry.id < filters.before_id)
        query = query.order_by(AuditEntry.id.desc()).limit(filters.limit)
        async with self._db.read() as session:
            return list(await session.scalars(query))
