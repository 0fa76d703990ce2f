"""The export job's guarantees: sources pinned against retention, work resumed after a restart."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy import update

from tests.conftest import TEST_ORG
from tests.exports.conftest import AddFootage
from vigil.app import Services
from vigil.exports.job import CameraJob, export_camera, pin_sources
from vigil.exports.manifest import verify
from vigil.exports.service import ExportRequest, ExportService
from vigil.media.ffmpeg import find_ffmpeg
from vigil.settings import Settings
from vigil.store.models import Export, Segment
from vigil.timeutil import now_ms


async def test_pinned_sources_outlive_their_recordings(
    services: Services, settings: Settings, add_footage: AddFootage, tmp_path: Path
) -> None:
    camera = await add_footage(0)
    start, end = camera.start_ms + 500, camera.start_ms + 8_500
    segments = await services.segments.in_range(camera.id, start, end)
    work = tmp_path / "work"
    pinned = await pin_sources(segments, lambda s: services.nodes.node(s.node), work)
    for segment in segments:  # retention strikes while the export is under way
        original = settings.recordings_dir / segment.path
        assert original.stat().st_nlink == 2  # a link, not a copy, on the same machine
        original.unlink()

    job = CameraJob(camera.id, camera.name, start, end, pinned, burn_in=False)
    out = await export_camera(job, work, tmp_path, find_ffmpeg(), lambda _: None)

    assert (tmp_path / out.name).stat().st_size == out.size
    assert [s.storage_key for s in out.sources] == [s.path for s in segments]


async def test_an_export_cut_short_by_a_stop_is_redone_at_the_next_start(
    services: Services, settings: Settings, add_footage: AddFootage
) -> None:
    camera = await add_footage(0)
    await services.exports.stop()
    # What a crash mid-export leaves: a row still "running" and a half-written folder.
    export = await services.exports.store.create(
        Export(
            title=None,
            org_id=TEST_ORG,
            camera_ids=[camera.id],
            start_ms=camera.start_ms,
            end_ms=camera.start_ms + 4_000,
            burn_in=False,
            status="running",
            progress=0.4,
            requested_by="local",
            created_at=now_ms(),
            files=[],
        )
    )
    leftover = services.exports.folder(export.id) / ".work" / "partial.mp4"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half")

    await services.exports.start()
    deadline = time.monotonic() + 20
    while (current := await services.exports.store.get(export.id)).status != "done":
        assert current.status != "failed", current.error
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)

    assert current.progress == 1
    assert not leftover.parent.exists()
    manifest, problems = verify(services.exports.folder(export.id))
    assert problems == []
    assert manifest is not None
    assert len(manifest.files) == 1


def _export(camera_id: int, start_ms: int, status: str, **values: object) -> Export:
    return Export(
        title=None, org_id=TEST_ORG, camera_ids=[camera_id], start_ms=start_ms,
        end_ms=start_ms + 4_000, burn_in=False, status=status, progress=0.0,
        requested_by="local", created_at=now_ms(), files=[], **values,
    )  # fmt: skip


async def test_of_several_instances_one_runs_an_export_and_a_dead_ones_are_taken_over(
    services: Services, add_footage: AddFootage
) -> None:
    camera = await add_footage(0)
    store = services.exports.store
    # Five instances claim one queued export at once: exactly one gets it.
    raced = await store.create(_export(camera.id, camera.start_ms, "queued"))
    claims = await asyncio.gather(*(store.claim(raced.id, f"instance-{n}") for n in range(5)))
    assert sorted(claims) == [False] * 4 + [True]
    # One export runs on a live instance (it said so just now), one on an instance that
    # fell silent two minutes ago; one is queued (asked of an instance that died).
    live = await store.create(
        _export(camera.id, camera.start_ms, "running", runner="live", beat_at=now_ms())
    )
    dead = await store.create(
        _export(camera.id, camera.start_ms, "running", runner="dead", beat_at=now_ms() - 120_000)
    )
    queued = await store.create(_export(camera.id, camera.start_ms, "queued"))
    other = ExportService(
        store, services.cameras.store, services.segments, services.nodes,
        services.exports.root, find_ffmpeg(), runner="another-instance",
    )  # fmt: skip
    await other.start()
    try:
        deadline = time.monotonic() + 30
        for export in (dead, queued):
            while (current := await store.get(export.id)).status != "done":
                assert current.status != "failed", current.error
                assert time.monotonic() < deadline, f"export {export.id} is {current.status}"
                await asyncio.sleep(0.1)
        assert (await store.get(live.id)).status == "running"  # left to its instance
        assert (await store.get(raced.id)).status == "running"
    finally:
        await other.stop()


async def test_a_camera_that_moved_between_nodes_within_the_range_is_exported_whole(
    services: Services, add_footage: AddFootage
) -> None:
    """Its segments are on two nodes: no node has them all, so the application side cuts
    it from copies of both nodes' (the node "elsewhere" serves the same folder here)."""
    camera = await add_footage(0)
    moved_at = camera.segments[3].start_ms
    async with services.db.write() as session:
        await session.execute(
            update(Segment)
            .where(Segment.camera_id == camera.id, Segment.start_ms >= moved_at)
            .values(node="elsewhere")
        )
    assert services.node is not None
    services.nodes.attach("elsewhere", services.node)
    start, end = camera.start_ms + 500, camera.segments[5].end_ms
    export = await services.exports.create(
        ExportRequest([camera.id], start, end, False, None, TEST_ORG, "local")
    )
    deadline = time.monotonic() + 30
    while (current := await services.exports.store.get(export.id)).status != "done":
        assert current.status != "failed", current.error
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    manifest, problems = verify(services.exports.folder(export.id))
    assert problems == []
    assert manifest is not None
    [made] = manifest.files
    assert [s.storage_key for s in made.sources] == [r.path for r in camera.segments[:6]]
