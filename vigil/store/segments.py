"""The recordings index: which segment files exist, for which camera and time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.orm import aliased

from vigil.link.messages import SegmentRecord, StoredSegment
from vigil.store.database import Database
from vigil.store.models import Event, Segment
from vigil.store.models import MotionSpan as MotionRow

# Two segments closer than this are one continuous span; farther apart, a gap.
SPAN_TOLERANCE_MS = 1500
# No segment lasts longer than this (cameras cut at most every 600 s): a range query can then
# bound the start on both sides and read one stretch of the (camera, start) index.
LONGEST_SEGMENT_MS = 3_600_000
_CHUNK = 500
# An open event is taken to last until now; this stands for its (null) end in queries.
FAR_FUTURE_MS = 2**62


@dataclass(frozen=True, slots=True)
class Interval:
    start_ms: int
    end_ms: int


@dataclass(frozen=True, slots=True)
class CameraUsage:
    camera_id: int
    segments: int
    bytes: int
    oldest_ms: int | None
    newest_ms: int | None


@dataclass(frozen=True, slots=True)
class SegmentRow:
    """A segment as playback reads it: plain columns, no ORM object (a camera-day is
    thousands of rows, read on every timeline and playlist request)."""

    id: int
    node: str
    path: str
    start_ms: int
    end_ms: int
    size: int
    video_codec: str | None
    width: int | None
    height: int | None


def spans_of_times(
    times: Sequence[tuple[int, int, int]], tolerance_ms: int = SPAN_TOLERANCE_MS
) -> list[Interval]:
    """:func:`merge_spans` over (id, start, end) rows sorted by start, without an object per
    row (a camera-day is thousands of rows)."""
    spans: list[Interval] = []
    opened = closed = -1
    for _, begin, end in times:
        if closed >= 0 and begin - closed <= tolerance_ms:
            if end > closed:
                closed = end
            continue
        if closed >= 0:
            spans.append(Interval(opened, closed))
        opened, closed = begin, end
    if closed >= 0:
        spans.append(Interval(opened, closed))
    return spans


def first_per_slot(
    times: Sequence[tuple[int, int, int]], start_ms: int, slot_ms: int
) -> list[tuple[int, int]]:
    """(id, start) of the first of ``times`` (sorted by start) in each ``slot_ms`` from
    ``start_ms``: evenly spread samples of a range, e.g. for preview images."""
    chosen: list[tuple[int, int]] = []
    last_slot: int | None = None
    for segment_id, begin, _ in times:
        slot = (begin - start_ms) // max(1, slot_ms)
        if slot != last_slot:
            chosen.append((segment_id, begin))
            last_slot = slot
    return chosen


class Timed(Protocol):
    @property
    def start_ms(self) -> int: ...

    @property
    def end_ms(self) -> int: ...


def merge_spans(segments: Sequence[Timed], tolerance_ms: int = SPAN_TOLERANCE_MS) -> list[Interval]:
    """Join segments (sorted by start) into continuous spans."""
    spans: list[Interval] = []
    for seg in segments:
        if spans and seg.start_ms - spans[-1].end_ms <= tolerance_ms:
            last = spans[-1]
            spans[-1] = Interval(last.start_ms, max(last.end_ms, seg.end_ms))
        else:
            spans.append(Interval(seg.start_ms, seg.end_ms))
    return spans


def find_gaps(spans: Sequence[Interval], start_ms: int, end_ms: int) -> list[Interval]:
    """The parts of [start, end) that no span covers."""
    gaps: list[Interval] = []
    cursor = start_ms
    for span in spans:
        if span.start_ms > cursor:
            gaps.append(Interval(cursor, min(span.start_ms, end_ms)))
        cursor = max(cursor, span.end_ms)
        if cursor >= end_ms:
            break
    if cursor < end_ms:
        gaps.append(Interval(cursor, end_ms))
    return [gap for gap in gaps if gap.end_ms > gap.start_ms]


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


class SegmentIndex:
    """Reads and writes of the segments table; every write is idempotent."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, node: str, records: Sequence[SegmentRecord]) -> int:
        """Index finished segments; ones already indexed (same path) are left alone."""
        if not records:
            return 0
        paths = [r.path for r in records]
        async with self._db.write() as session:
            known: set[str] = set()
            for chunk in _chunks(paths):
                rows = await session.scalars(select(Segment.path).where(Segment.path.in_(chunk)))
                known.update(rows)
            # One path once, even if a batch repeats it (a recovered segment can be
            # reported by both recovery and reconciliation before delivery).
            new = list({r.path: r for r in records if r.path not in known}.values())
            session.add_all(
                Segment(node=node, protected=False, motion=False, **r.model_dump()) for r in new
            )
            await session.flush()
            # Motion reported before its segment arrived (a span can end after the
            # segment does, or come first through the outbox).
            for chunk in _chunks([r.path for r in new]):
                overlapping = (
                    select(MotionRow.id)
                    .where(
                        MotionRow.camera_id == Segment.camera_id,
                        MotionRow.start_ms < Segment.end_ms,
                        MotionRow.end_ms > Segment.start_ms,
                    )
                    .exists()
                )
                await session.execute(
                    update(Segment).where(Segment.path.in_(chunk), overlapping).values(motion=True)
                )
        return len(new)

    async def remove(self, paths: Sequence[str]) -> int:
        removed = 0
        async with self._db.write() as session:
            for chunk in _chunks(paths):
                result = await session.execute(delete(Segment).where(Segment.path.in_(chunk)))
                removed += result.rowcount  # type: ignore[attr-defined]
        return removed

    async def paths(self, node: str, camera_id: int) -> set[str]:
        async with self._db.read() as session:
            rows = await session.scalars(
                select(Segment.path).where(Segment.node == node, Segment.camera_id == camera_id)
            )
            return set(rows)

    async def in_range(self, camera_id: int, start_ms: int, end_ms: int) -> list[Segment]:
        """Segments of a camera overlapping [start, end), oldest first."""
        async with self._db.read() as session:
            rows = await session.scalars(
                select(Segment)
                .where(
                    Segment.camera_id == camera_id,
                    Segment.start_ms < end_ms,
                    Segment.end_ms > start_ms,
                )
                .order_by(Segment.start_ms)
            )
            return list(rows)

    async def rows_in_range(self, camera_id: int, start_ms: int, end_ms: int) -> list[SegmentRow]:
        """Like :meth:`in_range`, as plain rows of the columns playback needs."""
        query = (
            select(
                Segment.id,
                Segment.node,
                Segment.path,
                Segment.start_ms,
                Segment.end_ms,
                Segment.size,
                Segment.video_codec,
                Segment.width,
                Segment.height,
            )
            .where(*self._overlapping(camera_id, start_ms, end_ms))
            .order_by(Segment.start_ms)
        )
        async with self._db.read() as session:
            result = await session.execute(query)
            return [SegmentRow(*row) for row in result]

    def _overlapping(self, camera_id: int, start_ms: int, end_ms: int) -> tuple[Any, ...]:
        return (
            Segment.camera_id == camera_id,
            Segment.start_ms >= start_ms - LONGEST_SEGMENT_MS,
            Segment.start_ms < end_ms,
            Segment.end_ms > start_ms,
        )

    async def times_in_range(
        self, camera_id: int, start_ms: int, end_ms: int
    ) -> list[tuple[int, int, int]]:
        """(id, start, end) of a camera's segments overlapping [start, end), oldest first: the
        least a timeline needs (a camera-day is thousands of rows)."""
        query = (
            select(Segment.id, Segment.start_ms, Segment.end_ms)
            .where(*self._overlapping(camera_id, start_ms, end_ms))
            .order_by(Segment.start_ms)
        )
        async with self._db.read() as session:
            return list((await session.execute(query)).all())

    async def get(self, camera_id: int, segment_id: int) -> Segment | None:
        async with self._db.read() as session:
            seg = await session.get(Segment, segment_id)
            return seg if seg is not None and seg.camera_id == camera_id else None

    async def by_path(self, camera_id: int, path: str) -> Segment | None:
        async with self._db.read() as session:
            return await session.scalar(
                select(Segment).where(Segment.camera_id == camera_id, Segment.path == path)
            )

    async def oldest(
        self,
        node: str,
        camera_id: int | None,
        before_ms: int | None,
        limit: int,
        keep_events_after_ms: int | None = None,
    ) -> list[StoredSegment]:
        """Unprotected segments, oldest first, never the newest segment of a camera.

        With ``keep_events_after_ms``, segments within the footage window of an event
        (its time widened by its buffers) that was still going on at or after that time
        are not candidates: event footage outlives continuous footage.
        """
        newer = aliased(Segment)
        has_newer = (
            select(newer.id)
            .where(newer.camera_id == Segment.camera_id, newer.start_ms > Segment.start_ms)
            .exists()
        )
        query = select(Segment).where(Segment.node == node, ~Segment.protected, has_newer)
        if keep_events_after_ms is not None:
            event_end = func.coalesce(Event.end_ms, FAR_FUTURE_MS)
            in_event = (
                select(Event.id)
                .where(
                    Event.camera_id == Segment.camera_id,
                    event_end >= keep_events_after_ms,
                    Event.start_ms - Event.pre_ms < Segment.end_ms,
                    event_end + Event.post_ms > Segment.start_ms,
                )
                .exists()
            )
            query = query.where(~in_event)
        if camera_id is not None:
            query = query.where(Segment.camera_id == camera_id)
        if before_ms is not None:
            query = query.where(Segment.end_ms <= before_ms)
        query = query.order_by(Segment.start_ms).limit(limit)
        async with self._db.read() as session:
            return [
                StoredSegment(
                    id=s.id,
                    camera_id=s.camera_id,
                    path=s.path,
                    start_ms=s.start_ms,
                    end_ms=s.end_ms,
                    size=s.size,
                )
                for s in await session.scalars(query)
            ]

    async def usage(self, camera_id: int | None = None) -> list[CameraUsage]:
        """Per camera: segment count, bytes, oldest start, newest end."""
        query = select(
            Segment.camera_id,
            func.count(),
            func.coalesce(func.sum(Segment.size), 0),
            func.min(Segment.start_ms),
            func.max(Segment.end_ms),
        ).group_by(Segment.camera_id)
        if camera_id is not None:
            query = query.where(Segment.camera_id == camera_id)
        async with self._db.read() as session:
            rows = (await session.execute(query)).all()
        return [CameraUsage(cid, n, int(size), lo, hi) for cid, n, size, lo, hi in rows]

    async def bytes_since(self, since_ms: int) -> int:
        async with self._db.read() as session:
            total = await session.scalar(
                select(func.coalesce(func.sum(Segment.size), 0)).where(Segment.start_ms >= since_ms)
            )
            return int(total or 0)

    async def set_protected(
        self, camera_id: int, start_ms: int, end_ms: int, protected: bool
    ) -> int:
        """Protect (evidence-lock) or release every segment overlapping [start, end)."""
        async with self._db.write() as session:
            result = await session.execute(
                update(Segment)
                .where(
                    and_(
                        Segment.camera_id == camera_id,
                        Segment.start_ms < end_ms,
                        Segment.end_ms > start_ms,
                    )
                )
                .values(protected=protected)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    async def set_segment_protected(self, camera_id: int, segment_id: int, protected: bool) -> bool:
        async with self._db.write() as session:
            result = await session.execute(
                update(Segment)
                .where(Segment.camera_id == camera_id, Segment.id == segment_id)
                .values(protected=protected)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]
