"""Recorded spans kept with the segment rows: whatever order segments are indexed and
removed in, concurrently or not, the spans table says what the rows say."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from vigil.link.messages import SegmentRecord
from vigil.store.database import Database
from vigil.store.migrate import upgrade
from vigil.store.models import Camera, Org, RecordingSpan, Segment
from vigil.store.segments import SPAN_TOLERANCE_MS, SegmentIndex, merge_spans

BASE = 1_700_000_000_000


@dataclass
class Index:
    db: Database
    segments: SegmentIndex
    cameras: list[int]


@pytest.fixture
async def index(database_url: str) -> AsyncIterator[Index]:
    await asyncio.to_thread(upgrade, database_url)
    db = Database(database_url)
    async with db.write() as session:
        org = Org(name="Spans", created_at=0)
        session.add(org)
        await session.flush()
        cameras = [
            Camera(org_id=org.id, name=f"cam {n}", main_url="rtsp://127.0.0.1:9/x",
                   created_at=0, updated_at=0)
            for n in range(2)
        ]  # fmt: skip
        session.add_all(cameras)
        await session.flush()
        ids = [camera.id for camera in cameras]
    try:
        yield Index(db, SegmentIndex(db), ids)
    finally:
        await db.close()


def record(camera_id: int, start_ms: int, end_ms: int) -> SegmentRecord:
    return SegmentRecord(
        camera_id=camera_id, path=f"{camera_id}/{start_ms}-{end_ms}.mp4", start_ms=start_ms,
        end_ms=end_ms, size=1,
    )  # fmt: skip


async def stored(db: Database, camera_id: int) -> list[tuple[int, int]]:
    async with db.read() as session:
        rows = await session.execute(
            select(RecordingSpan.start_ms, RecordingSpan.end_ms)
            .where(RecordingSpan.camera_id == camera_id)
            .order_by(RecordingSpan.start_ms)
        )
        return [(a, b) for a, b in rows]


async def derived(db: Database, camera_id: int) -> list[tuple[int, int]]:
    """The spans recomputed from the rows, as the timeline once did on every request."""
    async with db.read() as session:
        rows = (
            await session.scalars(
                select(Segment).where(Segment.camera_id == camera_id).order_by(Segment.start_ms)
            )
        ).all()
    return [(s.start_ms, s.end_ms) for s in merge_spans(rows)]


async def assert_agree(index: Index) -> None:
    for camera_id in index.cameras:
        assert await stored(index.db, camera_id) == await derived(index.db, camera_id)


def footage(rng: random.Random, camera_id: int, count: int) -> list[SegmentRecord]:
    """Segments as cameras make them: mostly back to back, with small jitter either side of
    the tolerance, holes, overlaps, and now and then a long one over several others."""
    records = []
    at = BASE
    for _ in range(count):
        length = rng.choice([2000, 2000, 2000, 1500, 10_000, 45_000])
        records.append(record(camera_id, at, at + length))
        step = rng.choice([2000, 2000, 2000, 1000, 3000, 3500, 3501, 9000, 60_000])
        at += step
    return records


async def test_spans_follow_random_adds_and_removes(index: Index) -> None:
    rng = random.Random(13)
    pending = [r for camera_id in index.cameras for r in footage(rng, camera_id, 150)]
    rng.shuffle(pending)
    indexed: list[SegmentRecord] = []
    for _ in range(60):
        if pending and (not indexed or rng.random() < 0.6):
            size = rng.randint(1, 12)
            batch, pending = pending[:size], pending[size:]
            # A batch may repeat a segment already indexed (the outbox delivers at least once).
            again = rng.sample(indexed, min(len(indexed), rng.randint(0, 2)))
            await index.segments.add("local", [*batch, *again])
            indexed += batch
        else:
            indexed.sort(key=lambda r: r.start_ms)
            how = rng.choice(["oldest", "any", "stretch"])
            if how == "oldest":  # retention
                gone = indexed[: rng.randint(1, 6)]
            elif how == "any":  # reconciliation: rows whose files are missing
                gone = rng.sample(indexed, min(len(indexed), rng.randint(1, 5)))
            else:  # a run from the middle of a span
                first = rng.randrange(len(indexed))
                gone = indexed[first : first + rng.randint(1, 8)]
            removed = await index.segments.remove([r.path for r in gone])
            assert removed == len(gone)
            indexed = [r for r in indexed if r not in gone]
        await assert_agree(index)
    assert [await stored(index.db, camera_id) for camera_id in index.cameras] != [[], []]


async def test_spans_join_split_and_vanish(index: Index) -> None:
    camera_id = index.cameras[0]
    a, b, c = (
        record(camera_id, BASE, BASE + 2000),
        record(camera_id, BASE + 2000, BASE + 4000),
        (record(camera_id, BASE + 4000 + SPAN_TOLERANCE_MS, BASE + 8000)),
    )
    await index.segments.add("local", [a, c])
    assert await stored(index.db, camera_id) == [(BASE, BASE + 2000), (c.start_ms, BASE + 8000)]
    await index.segments.add("local", [b])  # fills the hole: one span
    assert await stored(index.db, camera_id) == [(BASE, BASE + 8000)]
    await index.segments.remove([b.path])  # a hole again: two
    assert await stored(index.db, camera_id) == [(BASE, BASE + 2000), (c.start_ms, BASE + 8000)]
    await index.segments.remove([a.path, c.path, "not/indexed.mp4"])
    assert await stored(index.db, camera_id) == []


async def test_concurrent_writers_of_one_camera_leave_spans_as_the_rows_say(
    index: Index,
) -> None:
    """Each add and remove below is its own transaction on its own connection; on
    PostgreSQL they run at once."""
    rng = random.Random(7)
    records = footage(rng, index.cameras[0], 120) + footage(rng, index.cameras[1], 40)
    first, later = records[::2], records[1::2]
    # As many at once as the connection pool holds, so none waits out the pool's timeout.
    turns = asyncio.Semaphore(10)

    async def add(batch: list[SegmentRecord]) -> None:
        async with turns:
            await index.segments.add("local", batch)

    async def remove(batch: list[SegmentRecord]) -> None:
        async with turns:
            await index.segments.remove([r.path for r in batch])

    await asyncio.gather(*(add([r]) for r in first))
    await assert_agree(index)
    removals = rng.sample(first, 30)
    await asyncio.gather(
        *(add([r]) for r in later),
        *(remove([r]) for r in removals),
        # Two batches naming the same segments, as a retried delivery would.
        add(later[:10]),
        remove(removals[:5]),
    )
    await assert_agree(index)
    await asyncio.gather(*(remove([r]) for r in records))
    await assert_agree(index)
    assert [await stored(index.db, c) for c in index.cameras] == [[], []]


async def test_rebuilding_gives_the_spans_kept(index: Index) -> None:
    rng = random.Random(3)
    for camera_id in index.cameras:
        await index.segments.add("local", footage(rng, camera_id, 80))
    kept = [await stored(index.db, c) for c in index.cameras]
    assert await index.segments.rebuild_spans() == sum(len(spans) for spans in kept)
    assert [await stored(index.db, c) for c in index.cameras] == kept


async def test_a_deleted_camera_takes_its_spans(index: Index) -> None:
    gone, kept = index.cameras
    await index.segments.add(
        "local", [record(gone, BASE, BASE + 2000), record(kept, BASE, BASE + 2000)]
    )
    async with index.db.write() as session:
        await session.delete(await session.get_one(Camera, gone))
    assert await stored(index.db, gone) == []
    assert await stored(index.db, kept) == [(BASE, BASE + 2000)]


async def test_previews_are_the_first_segment_of_each_slice(index: Index) -> None:
    # What a scrubbing bar shows: in each equal slice of the range, the first segment that
    # starts in it (none for a slice in a hole), whichever query the database runs.
    rng = random.Random(5)
    camera_id = index.cameras[0]
    records = footage(rng, camera_id, 400)
    await index.segments.add("local", records)
    starts = sorted({r.start_ms for r in records})
    for _ in range(20):
        begin = rng.randrange(BASE - 60_000, starts[-1])
        end = begin + rng.randrange(10_000, 900_000)
        count = rng.randrange(1, 200)
        slot = -(-(end - begin) // count)
        firsts: dict[int, int] = {}
        for start in starts:
            if begin <= start < end:
                firsts.setdefault((start - begin) // slot, start)
        expected = sorted(firsts.values())
        assert await index.segments.preview_times(camera_id, begin, end, count) == expected
