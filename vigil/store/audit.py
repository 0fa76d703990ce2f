"""The audit log: appended to, read and filtered; never changed or deleted through the API."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
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


@dataclass(slots=True)
class _Sampled:
    written_at: float
    unwritten: int = 0


class RefusalSampler:
    """Refusals of callers who proved nothing (a tampered media link, a guess at a locked
    account): anyone can send them by the thousand, so they are sampled, not written one
    row each. For each organisation, action and reason, the first refusal in a window is
    written, with ``unwritten_before``: how many like it came since the last row written;
    the rest are only counted. Rows grow with time and kinds, never with the flood."""

    def __init__(
        self,
        log: AuditLog,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self.window_seconds = window_seconds
        self._clock = clock
        self._seen: dict[tuple[int | None, str, str], _Sampled] = {}

    async def refused(
        self,
        actor: Actor,
        action: str,
        *,
        reason: str,
        org_id: int | None,
        outcome: str = "denied",
        **detail: Any,
    ) -> bool:
        """Count the refusal; True if it was written to the log."""
        now = self._clock()
        key = (org_id, action, reason)
        seen = self._seen.get(key)
        if seen is not None and now - seen.written_at < self.window_seconds:
            seen.unwritten += 1
            return False
        if len(self._seen) >= 10_000:
            self._seen = {
                k: v for k, v in self._seen.items() if now - v.written_at < self.window_seconds
            }
        self._seen[key] = _Sampled(now)
        await self._log.record(
            actor,
            action,
            outcome=outcome,
            org_id=org_id,
            reason=reason,
            unwritten_before=seen.unwritten if seen is not None else 0,
            **detail,
        )
        return True
