"""The recordings index: which segment files exist, for which camera and time, and the
continuous spans they make (kept with the rows, so a timeline reads spans, not segments)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol, cast

from sqlalchemy import Table, and_, bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import TextClause

from vigil.link.messages import SegmentRecord, StoredSegment
from vigil.store.database import Database
from vigil.store.models import Camera, Event, RecordingSpan, Segment
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
class Added:
    """What :meth:`SegmentIndex.add` did: rows added, and the paths of segments whose
    camera is not on the node (deleted while they were in flight)."""

    count: int
    orphans: list[str]


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

    async def add(self, node: str, records: Sequence[SegmentRecord]) -> Added:
        """Index finished segments recorded on ``node``; ones already indexed (same path)
        are left alone, and those of a camera that no longer exists are returned as
        orphans, not indexed. A camera that has moved to another node keeps what this node
        recorded of it (before the move, or while the node did not know of it yet): it is
        footage, and plays from this node.

        This runs for every segment every camera records, so it is a handful of statements
        per batch whatever its size: the cameras (checked and, on PostgreSQL, locked), one
        insert that skips known paths and flags motion already reported, and per camera one
        read and one write of its spans."""
        if not records:
            return Added(0, [])
        async with self._db.write() as session:
            known = await self._take_cameras(session, {r.camera_id for r in records})
            orphans = [r.path for r in records if r.camera_id not in known]
            # One path once, even if a batch repeats it (a recovered segment can be
            # reported by both recovery and reconciliation before delivery).
            rows = {r.path: _row(r) for r in records if r.camera_id in known}
            if not rows:
                return Added(0, orphans)
            insert_new = self._insert().values(
                node=node,
                protected=False,
                # Motion reported before its segment arrived (a span can end after the
                # segment does, or come first through the outbox).
                motion=select(MotionRow.id)
                .where(
                    MotionRow.camera_id == bindparam("of_camera"),
                    MotionRow.start_ms < bindparam("until_ms"),
                    MotionRow.end_ms > bindparam("since_ms"),
                )
                .exists(),
            )
            result = await session.execute(
                insert_new.on_conflict_do_nothing(index_elements=[Segment.path]).returning(
                    Segment.camera_id, Segment.start_ms, Segment.end_ms
                ),
                list(rows.values()),
            )
            added = [(camera, begin, end) for camera, begin, end in result]
            await _extend_spans(session, added)
        return Added(len(added), orphans)

    def _insert(self) -> Any:
        """INSERT for this database's dialect (for its ON CONFLICT clause), of the table, not
        the ORM class: a batch then goes straight to the driver, without the ORM's bulk
        machinery (which cost more CPU than the statement itself)."""
        table = cast(Table, Segment.__table__)
        return sqlite_insert(table) if self._db.is_sqlite else postgresql_insert(table)

    async def remove(self, paths: Sequence[str]) -> int:
        """Drop the rows of deleted files (retention, reconciliation); the spans they were
        part of shrink or split."""
        if not paths:
            return 0
        async with self._db.write() as session:
            if not self._db.is_sqlite:
                cameras: set[int] = set()
                for chunk in _chunks(paths):
                    found = select(Segment.camera_id).where(Segment.path.in_(chunk)).distinct()
                    cameras.update(await session.scalars(found))
                await self._take_cameras(session, cameras)
            gone: list[tuple[int, int, int]] = []
            for chunk in _chunks(paths):
                result = await session.execute(
                    delete(Segment)
                    .where(Segment.path.in_(chunk))
                    .returning(Segment.camera_id, Segment.start_ms, Segment.end_ms)
                )
                gone.extend((camera, begin, end) for camera, begin, end in result)
            for camera_id, removed in _by_camera(gone):
                await _shrink_spans(session, camera_id, removed)
        return len(gone)

    async def _take_cameras(self, session: AsyncSession, camera_ids: set[int]) -> set[int]:
        """Which of these cameras exist; and make writers of their
        segments take turns until this transaction ends.

        Spans are derived from what a transaction sees: two writers of one camera on
        PostgreSQL (read committed) would each miss the other's rows. Locking the cameras'
        rows (in id order, so two writers never wait on each other) serialises them; the
        lock still lets segments refer to the camera. SQLite's writes take turns already.
        """
        if not camera_ids:
            return set()
        query = select(Camera.id).where(Camera.id.in_(sorted(camera_ids))).order_by(Camera.id)
        if not self._db.is_sqlite:
            query = query.with_for_update(key_share=True)
        return set(await session.scalars(query))

    async def spans_in_range(self, camera_id: int, start_ms: int, end_ms: int) -> list[Interval]:
        """The camera's recorded spans overlapping [start, end), oldest first, whole (not
        clipped): a few rows where the segments are thousands."""
        async with self._db.read() as session:
            near = await _spans_near(session, camera_id, start_ms, end_ms)
        return [Interval(a, b) for _, a, b in near if b > start_ms and a < end_ms]

    async def preview_times(
        self, camera_id: int, start_ms: int, end_ms: int, count: int
    ) -> list[int]:
        """The start of the first segment starting in each of ``count`` equal slices of
        [start, end), oldest first: evenly spread images for scrubbing.

        The database skips from slice to slice, one seek of the (camera, start) index each,
        which holds all it reads: a camera-day's 8,640 segments are never all visited."""
        slot_ms = -(-(end_ms - start_ms) // count)
        params = {"camera": camera_id, "start": start_ms, "end": end_ms, "slot": slot_ms}
        # PostgreSQL pays for each of the skip-scan's seeks; one pass over the range's index
        # entries, grouped by slice, is 2-3x faster there (a camera-day: 1.4-2.7 ms against
        # 4.1-5.2, vacuumed or not). SQLite's seeks are cheap: 1.7 ms.
        query = PREVIEW_TIMES_SQL if self._db.is_sqlite else PREVIEW_TIMES_GROUPED_SQL
        async with self._db.read() as session:
            found = await session.scalars(text(query), params)
            return [int(begin) for begin in found]

    async def rebuild_spans(self) -> int:
        """Derive every camera's spans from its segment rows again (after rows were written
        in bulk, around this class); returns how many there are."""
        async with self._db.write() as session:
            await session.execute(delete(RecordingSpan))
            await session.execute(text(REBUILD_SPANS_SQL), {"tolerance": SPAN_TOLERANCE_MS})
            return int(await session.scalar(select(func.count()).select_from(RecordingSpan)) or 0)

    async def paths(self, node: str, camera_id: int) -> set[str]:
        async with self._db.read() as session:
            rows = await session.scalars(
                select(Segment.path).where(Segment.node == node, Segment.camera_id == camera_id)
            )
            return set(rows)

    async def newest_end(self, node: str, camera_id: int) -> int | None:
        """When the newest segment of the camera recorded on ``node`` ends (the node's
        clock); None if it has none indexed."""
        async with self._db.read() as session:
            found = await session.scalar(
                select(func.max(Segment.end_ms)).where(
                    Segment.node == node, Segment.camera_id == camera_id
                )
            )
            return None if found is None else int(found)

    async def node_footage(self, node: str) -> tuple[int, int, int]:
        """How many segments recorded on ``node`` are indexed, their bytes, and how many of
        them are protected."""
        async with self._db.read() as session:
            row = (
                await session.execute(
                    select(
                        func.count(),
                        func.coalesce(func.sum(Segment.size), 0),
                        func.count().filter(Segment.protected),
                    ).where(Segment.node == node)
                )
            ).one()
            return int(row[0]), int(row[1]), int(row[2])

    async def forget_node(self, node: str, batch: int = 5_000) -> int:
        """Drop every index entry of footage recorded on ``node``, protected or not (the
        node is gone for good); the cameras' spans shrink with them. How many went."""
        forgotten = 0
        while True:
            async with self._db.read() as session:
                paths = list(
                    await session.scalars(
                        select(Segment.path).where(Segment.node == node).limit(batch)
                    )
                )
            if not paths:
                return forgotten
            forgotten += await self.remove(paths)

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


# Spans from rows, in one statement (gaps and islands): a segment opens a span when it starts
# more than the tolerance after every earlier segment of its camera has ended.
REBUILD_SPANS_SQL = """
INSERT INTO recording_spans (camera_id, start_ms, end_ms)
SELECT camera_id, min(start_ms), max(end_ms) FROM (
    SELECT camera_id, start_ms, end_ms,
           sum(CASE WHEN before_end IS NULL OR start_ms - before_end > :tolerance
                    THEN 1 ELSE 0 END)
               OVER (PARTITION BY camera_id ORDER BY start_ms, id ROWS UNBOUNDED PRECEDING)
               AS island
    FROM (
        SELECT id, camera_id, start_ms, end_ms,
               max(end_ms) OVER (PARTITION BY camera_id ORDER BY start_ms, id
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                   AS before_end
        FROM segments
    ) AS ordered
) AS islands
GROUP BY camera_id, island
"""

# The first start in each slice: a recursive skip over the (camera, start) index.
PREVIEW_TIMES_SQL = """
WITH RECURSIVE picked(t) AS (
    SELECT min(start_ms) FROM segments
    WHERE camera_id = :camera AND start_ms >= :start AND start_ms < :end
    UNION ALL
    SELECT (SELECT min(start_ms) FROM segments
            WHERE camera_id = :camera AND start_ms < :end
              AND start_ms >= :start + ((picked.t - :start) / :slot + 1) * :slot)
    FROM picked WHERE picked.t IS NOT NULL
)
SELECT t FROM picked WHERE t IS NOT NULL
"""

# The same times in one pass over the range's (camera, start) index entries.
PREVIEW_TIMES_GROUPED_SQL = """
SELECT min(start_ms) FROM segments
WHERE camera_id = :camera AND start_ms >= :start AND start_ms < :end
GROUP BY (start_ms - :start) / :slot
ORDER BY 1
"""


def _row(record: SegmentRecord) -> dict[str, Any]:
    """A segment's values for the insert of :meth:`SegmentIndex.add`, with its camera and
    times again under the names its motion query binds."""
    row = record.model_dump()
    row.update(of_camera=record.camera_id, since_ms=record.start_ms, until_ms=record.end_ms)
    return row


def _by_camera(rows: Iterable[tuple[int, int, int]]) -> list[tuple[int, list[tuple[int, int]]]]:
    """(camera, start, end) rows as (camera, [(start, end), ...]), cameras in id order."""
    grouped: dict[int, list[tuple[int, int]]] = {}
    for camera_id, begin, end in rows:
        grouped.setdefault(camera_id, []).append((begin, end))
    return sorted(grouped.items())


# One camera's part of _near_sql, its binds numbered by "#".
_NEAR_ONE = (
    "SELECT * FROM (SELECT camera_id, id, start_ms, end_ms FROM recording_spans"
    " WHERE camera_id = :c# AND start_ms < :l# ORDER BY start_ms DESC LIMIT 1) AS before_#"
    " UNION ALL SELECT camera_id, id, start_ms, end_ms FROM recording_spans"
    " WHERE camera_id = :c# AND start_ms >= :l# AND start_ms <= :h#"
)


@lru_cache(maxsize=128)
def _near_sql(cameras: int) -> TextClause:
    """The spans of ``cameras`` cameras that reach into each one's [low, high] (binds ``c0``,
    ``l0``, ``h0``, ...): for each, the last begun before ``low`` (it may last till then) and
    those starting within, two seeks of the (camera, start) index however long the spans.
    Plain SQL that both databases read, kept per camera count: indexing runs this for each
    batch of segments, and a statement built anew each time cost more to compile than to
    run."""
    return text(" UNION ALL ".join(_NEAR_ONE.replace("#", str(i)) for i in range(cameras)))


async def _spans_near_many(
    session: AsyncSession, ranges: dict[int, tuple[int, int]]
) -> dict[int, list[tuple[int, int, int]]]:
    """For each camera's [low, high]: (id, start, end) of its spans that reach into it
    (ends included), oldest first. One statement for up to 100 cameras."""
    found: dict[int, list[tuple[int, int, int]]] = {camera_id: [] for camera_id in ranges}
    cameras = sorted(ranges)
    for at in range(0, len(cameras), 100):
        chunk = cameras[at : at + 100]
        binds: dict[str, int] = {}
        for i, camera_id in enumerate(chunk):
            binds[f"c{i}"] = camera_id
            binds[f"l{i}"], binds[f"h{i}"] = ranges[camera_id]
        for camera_id, span_id, begin, end in await session.execute(_near_sql(len(chunk)), binds):
            if end >= ranges[camera_id][0]:  # the one begun before counts if it lasts till low
                found[camera_id].append((span_id, begin, end))
    for spans in found.values():
        spans.sort(key=lambda row: row[1])
    return found


async def _spans_near(
    session: AsyncSession, camera_id: int, low_ms: int, high_ms: int
) -> list[tuple[int, int, int]]:
    """(id, start, end) of the camera's spans that reach into [low, high], oldest first."""
    return (await _spans_near_many(session, {camera_id: (low_ms, high_ms)}))[camera_id]


@dataclass
class _SpanChanges:
    """Writes to the spans table, gathered so that each kind is one statement."""

    ends: list[dict[str, int]] = field(default_factory=list)  # span id -> its new end
    dropped: list[int] = field(default_factory=list)
    added: list[dict[str, int]] = field(default_factory=list)

    def replace(
        self, camera_id: int, old: Sequence[tuple[int, int, int]], new: Sequence[Interval]
    ) -> None:
        """Turn the spans ``old`` (id, start, end) into ``new``: a span that keeps its start
        keeps its row (the common case: the newest span grows by one segment)."""
        by_start = {begin: (span_id, end) for span_id, begin, end in old}
        kept: set[int] = set()
        for span in new:
            known = by_start.get(span.start_ms)
            if known is None:
                self.added.append(
                    {"camera_id": camera_id, "start_ms": span.start_ms, "end_ms": span.end_ms}
                )
                continue
            kept.add(known[0])
            if known[1] != span.end_ms:
                self.ends.append({"span": known[0], "new_end": span.end_ms})
        self.dropped.extend(span_id for span_id, _, _ in old if span_id not in kept)

    async def write(self, session: AsyncSession) -> None:
        # Drops first: a new span may start where a dropped one did.
        if self.dropped:
            await session.execute(delete(RecordingSpan).where(RecordingSpan.id.in_(self.dropped)))
        if self.ends:
            # Core, not ORM: one executemany and no bookkeeping of loaded objects.
            spans = cast(Table, RecordingSpan.__table__)
            set_end = (
                update(spans)
                .where(spans.c.id == bindparam("span"))
                .values(end_ms=bindparam("new_end"))
            )
            await session.execute(set_end, self.ends)
        if self.added:
            await session.execute(insert(RecordingSpan), self.added)


async def _extend_spans(session: AsyncSession, added: Sequence[tuple[int, int, int]]) -> None:
    """Spans after segments (camera, start, end) were indexed: each new segment joins every
    span of its camera it touches (within the tolerance) into one, or starts a span of its
    own. One read and up to three writes, however many cameras."""
    by_camera = _by_camera(added)
    ranges = {
        camera_id: (
            min(begin for begin, _ in times) - SPAN_TOLERANCE_MS,
            max(end for _, end in times) + SPAN_TOLERANCE_MS,
        )
        for camera_id, times in by_camera
    }
    near = await _spans_near_many(session, ranges)
    changes = _SpanChanges()
    for camera_id, times in by_camera:
        pieces = [Interval(a, b) for _, a, b in near[camera_id]] + [
            Interval(a, b) for a, b in times
        ]
        pieces.sort(key=lambda piece: piece.start_ms)
        changes.replace(camera_id, near[camera_id], merge_spans(pieces))
    await changes.write(session)


async def _shrink_spans(
    session: AsyncSession, camera_id: int, removed: Sequence[tuple[int, int]]
) -> None:
    """Spans after segments (start, end) were deleted: each span that held one is derived
    again from the rows left, reading only those near the removed ones."""
    near = await _spans_near(
        session, camera_id, min(b for b, _ in removed), max(b for b, _ in removed)
    )
    starts = [begin for _, begin, _ in near]
    held: dict[int, list[tuple[int, int]]] = {}
    for begin, end in removed:
        at = bisect_right(starts, begin) - 1
        if at >= 0 and begin <= near[at][2]:
            held.setdefault(at, []).append((begin, end))
    changes = _SpanChanges()
    for at, inside in held.items():
        span = near[at]
        changes.replace(camera_id, [span], await _rejoin(session, camera_id, span, inside))
    await changes.write(session)


async def _rejoin(
    session: AsyncSession,
    camera_id: int,
    span: tuple[int, int, int],
    removed: Sequence[tuple[int, int]],
) -> list[Interval]:
    """What is left of ``span`` once the segments ``removed`` (which lay in it) are gone.

    Only the segments starting from the first removed one to the tolerance after the last
    removed one ended can be cut off from what comes before them: those are read; the rows
    before stay one stretch (up to the latest end among them), and the rows after stay
    joined up to the span's end.
    """
    _, first_ms, last_ms = span
    low = min(begin for begin, _ in removed)
    high = max(end for _, end in removed) + SPAN_TOLERANCE_MS
    times: list[tuple[int, int, int]] = []
    if first_ms < low:
        times.append((0, first_ms, await _end_before(session, camera_id, first_ms, low)))
    middle = await session.execute(
        select(Segment.id, Segment.start_ms, Segment.end_ms)
        .where(Segment.camera_id == camera_id, Segment.start_ms >= low, Segment.start_ms <= high)
        .order_by(Segment.start_ms)
    )
    times.extend((i, a, b) for i, a, b in middle)
    after = await session.scalar(
        select(func.min(Segment.start_ms)).where(
            Segment.camera_id == camera_id, Segment.start_ms > high, Segment.start_ms <= last_ms
        )
    )
    if after is not None:
        times.append((0, after, last_ms))
    return spans_of_times(times)


async def _end_before(session: AsyncSession, camera_id: int, first_ms: int, low_ms: int) -> int:
    """The latest end of the camera's segments starting in [first, low). No segment lasts
    over LONGEST_SEGMENT_MS, so if one starts within that of ``low``, none starting more than
    twice that before can end later: two hours of rows are read, not the whole span."""

    def latest(since_ms: int) -> Any:
        return select(func.max(Segment.end_ms), func.max(Segment.start_ms)).where(
            Segment.camera_id == camera_id,
            Segment.start_ms >= since_ms,
            Segment.start_ms < low_ms,
        )

    since = max(first_ms, low_ms - 2 * LONGEST_SEGMENT_MS)
    end, last_start = (await session.execute(latest(since))).one()
    if since > first_ms and (last_start is None or last_start < low_ms - LONGEST_SEGMENT_MS):
        end, _ = (await session.execute(latest(first_ms))).one()
    return int(end) if end is not None else first_ms
