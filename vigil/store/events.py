"""Events and motion spans as the application server stores them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, delete, func, or_, select, update

from vigil.link.messages import EventRecord, EventStage, MotionSpan
from vigil.store.database import Database
from vigil.store.models import Camera, Event, Segment
from vigil.store.models import MotionSpan as MotionRow
from vigil.store.segments import FAR_FUTURE_MS
from vigil.timeutil import now_ms


class EventNotFound(Exception):
    def __init__(self, event_id: int) -> None:
        super().__init__(f"no event with id {event_id}")
        self.event_id = event_id


class EventProtected(Exception):
    def __init__(self, event_id: int) -> None:
        super().__init__(f"event {event_id} is protected; release it before deleting")
        self.event_id = event_id


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events to list: all conditions given must hold. Times are epoch ms."""

    org_id: int
    camera_ids: Collection[int] | None = None  # None: every camera of the organisation
    labels: Collection[str] = ()
    zone: str | None = None
    kind: str | None = None
    since_ms: int | None = None  # events still going on at or after this time
    until_ms: int | None = None  # events that started before this time
    min_score: float | None = None
    reviewed: bool | None = None
    protected: bool | None = None
    # Cursor: events that started before this, or at it with a smaller id (newest first).
    before: tuple[int, int] | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class Reported:
    """An event as stored after a node's report, and what the report did to it."""

    event: Event
    stage: EventStage


def footage_window(event: Event) -> tuple[int, int]:
    """The footage an event wants: its time widened by its buffers (open: until now)."""
    end = event.end_ms if event.end_ms is not None else max(now_ms(), event.last_ms)
    return event.start_ms - event.pre_ms, end + event.post_ms


def _columns(record: EventRecord) -> dict[str, object]:
    snapshot = record.snapshot
    box = snapshot.box if snapshot is not None else None
    return {
        "kind": record.kind.value,
        "label": record.label,
        "score": record.score,
        "zones": list(record.zones),
        "start_ms": record.start_ms,
        "end_ms": record.end_ms,
        "last_ms": record.last_ms,
        "pre_ms": record.pre_ms,
        "post_ms": record.post_ms,
        "boxes": [[b.time_ms, b.x1, b.y1, b.x2, b.y2] for b in record.boxes],
        "snapshot_path": snapshot.path if snapshot is not None else None,
        "snapshot_ms": snapshot.time_ms if snapshot is not None else None,
        "snapshot_box": [box.x1, box.y1, box.x2, box.y2] if box is not None else None,
        "updated_at": now_ms(),
    }


class EventStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def report(self, node: str, records: Sequence[EventRecord]) -> list[Reported]:
        """Store what a node reports. Every report is idempotent: one that changes nothing
        (a repeat, or an update arriving after the end) is left out of the answer. Events
        of cameras that no longer exist are dropped."""
        if not records:
            return []
        changed: list[Reported] = []
        async with self._db.write() as session:
            camera_ids = {r.camera_id for r in records}
            orgs = dict(
                (
                    await session.execute(
                        select(Camera.id, Camera.org_id).where(
                            Camera.id.in_(camera_ids), Camera.node == node
                        )
                    )
                ).all()
            )
            uids = [r.uid for r in records]
            existing = {
                e.uid: e for e in await session.scalars(select(Event).where(Event.uid.in_(uids)))
            }
            for record in records:
                org_id = orgs.get(record.camera_id)
                if org_id is None:
                    continue
                event = existing.get(record.uid)
                columns = _columns(record)
                if event is None:
                    event = Event(
                        uid=record.uid,
                        org_id=org_id,
                        camera_id=record.camera_id,
                        node=node,
                        reviewed=False,
                        protected=False,
                        **columns,
                    )
                    session.add(event)
                    existing[record.uid] = event
                    stage = EventStage.NEW if record.end_ms is None else EventStage.END
                    changed.append(Reported(event, stage))
                    continue
                if event.end_ms is not None or event.last_ms > record.last_ms:
                    continue  # ended already, or a late report of an earlier state
                for key, value in columns.items():
                    setattr(event, key, value)
                stage = EventStage.END if record.end_ms is not None else EventStage.UPDATE
                changed.append(Reported(event, stage))
        return changed

    async def end_interrupted(self, node: str, before_ms: int) -> list[Reported]:
        """End the node's events that opened before ``before_ms`` and are still open, each
        where it was last seen: the node restarted and will never end them."""
        async with self._db.write() as session:
            events = list(
                await session.scalars(
                    select(Event).where(
                        Event.node == node, Event.end_ms.is_(None), Event.start_ms < before_ms
                    )
                )
            )
            for event in events:
                event.end_ms = max(event.last_ms, event.start_ms)
        return [Reported(event, EventStage.END) for event in events]

    async def get(self, event_id: int) -> Event:
        async with self._db.read() as session:
            event = await session.get(Event, event_id)
        if event is None:
            raise EventNotFound(event_id)
        return event

    async def find(self, where: EventFilter) -> list[Event]:
        """Events matching ``where``, newest first."""
        query = select(Event).where(Event.org_id == where.org_id)
        if where.camera_ids is not None:
            query = query.where(Event.camera_id.in_(list(where.camera_ids)))
        if where.labels:
            query = query.where(Event.label.in_(list(where.labels)))
        if where.kind is not None:
            query = query.where(Event.kind == where.kind)
        if where.since_ms is not None:
            query = query.where(func.coalesce(Event.end_ms, FAR_FUTURE_MS) >= where.since_ms)
        if where.until_ms is not None:
            query = query.where(Event.start_ms < where.until_ms)
        if where.min_score is not None:
            query = query.where(Event.score >= where.min_score)
        if where.reviewed is not None:
            query = query.where(Event.reviewed == where.reviewed)
        if where.protected is not None:
            query = query.where(Event.protected == where.protected)
        if where.before is not None:
            start, event_id = where.before
            query = query.where(
                or_(Event.start_ms < start, and_(Event.start_ms == start, Event.id < event_id))
            )
        query = query.order_by(Event.start_ms.desc(), Event.id.desc())
        if where.zone is None:
            async with self._db.read() as session:
                return list(await session.scalars(query.limit(where.limit)))
        # Zones are a JSON list: filtered here, reading on until the page is full.
        found: list[Event] = []
        async with self._db.read() as session:
            async for event in await session.stream_scalars(query.execution_options(yield_per=200)):
                if where.zone in event.zones:
                    found.append(event)
                    if len(found) >= where.limit:
                        break
        return found

    async def set_flags(
        self, event_id: int, *, reviewed: bool | None = None, protected: bool | None = None
    ) -> Event:
        async with self._db.write() as session:
            event = await session.get(Event, event_id)
            if event is None:
                raise EventNotFound(event_id)
            if reviewed is not None:
                event.reviewed = reviewed
            if protected is not None:
                event.protected = protected
            event.updated_at = now_ms()
        return event

    async def delete(self, event_id: int) -> Event:
        """Delete an event's row (not its footage); refused while it is protected."""
        async with self._db.write() as session:
            event = await session.get(Event, event_id, with_for_update=True)
            if event is None:
                raise EventNotFound(event_id)
            if event.protected:
                raise EventProtected(event_id)
            await session.delete(event)
        return event

    async def ended_before(self, camera_id: int, before_ms: int, limit: int = 500) -> list[Event]:
        """A camera's unprotected events that ended before ``before_ms``, oldest first."""
        query = (
            select(Event)
            .where(
                Event.camera_id == camera_id,
                ~Event.protected,
                Event.end_ms.is_not(None),
                Event.end_ms < before_ms,
            )
            .order_by(Event.start_ms)
            .limit(limit)
        )
        async with self._db.read() as session:
            return list(await session.scalars(query))

    async def delete_many(self, event_ids: Sequence[int]) -> None:
        async with self._db.write() as session:
            await session.execute(
                delete(Event).where(Event.id.in_(list(event_ids)), ~Event.protected)
            )

    # -- motion
    async def add_motion(self, spans: Sequence[MotionSpan]) -> None:
        """Keep motion spans and mark the segments they overlap (segments indexed later are
        marked as they arrive: see ``SegmentIndex.add``). A span kept already is left out:
        a node's report may come twice (sent again after a lost acknowledgement)."""
        if not spans:
            return
        async with self._db.write() as session:
            camera_ids = {s.camera_id for s in spans}
            known = set(await session.scalars(select(Camera.id).where(Camera.id.in_(camera_ids))))
            rows = await session.execute(
                select(MotionRow.camera_id, MotionRow.start_ms, MotionRow.end_ms).where(
                    MotionRow.camera_id.in_(camera_ids),
                    MotionRow.start_ms.in_({s.start_ms for s in spans}),
                )
            )
            kept = {(camera_id, start, end) for camera_id, start, end in rows}
            new: dict[tuple[int, int, int], MotionSpan] = {}
            for span in spans:
                key = (span.camera_id, span.start_ms, span.end_ms)
                if span.camera_id in known and key not in kept:
                    new.setdefault(key, span)
            spans = list(new.values())
            session.add_all(
                MotionRow(camera_id=s.camera_id, start_ms=s.start_ms, end_ms=s.end_ms)
                for s in spans
            )
            for span in spans:
                await session.execute(
                    update(Segment)
                    .where(
                        Segment.camera_id == span.camera_id,
                        Segment.start_ms < span.end_ms,
                        Segment.end_ms > span.start_ms,
                    )
                    .values(motion=True)
                )

    async def motion_in_range(
        self, camera_id: int, start_ms: int, end_ms: int
    ) -> list[tuple[int, int]]:
        """(start, end) of a camera's motion spans overlapping [start, end), oldest first."""
        query = (
            select(MotionRow.start_ms, MotionRow.end_ms)
            .where(
                MotionRow.camera_id == camera_id,
                MotionRow.start_ms < end_ms,
                MotionRow.end_ms > start_ms,
            )
            .order_by(MotionRow.start_ms)
        )
        async with self._db.read() as session:
            return [(a, b) for a, b in (await session.execute(query)).all()]

    async def forget_motion(self, camera_id: int, before_ms: int) -> None:
        """Drop motion spans that ended before ``before_ms`` (their footage is gone)."""
        async with self._db.write() as session:
            await session.execute(
                delete(MotionRow).where(
                    MotionRow.camera_id == camera_id, MotionRow.end_ms < before_ms
                )
            )
