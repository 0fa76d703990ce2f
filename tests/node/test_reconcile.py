"""Start-up reconciliation and the outbox: nothing on disk goes unindexed, nothing is lost."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from tests.conftest import TEST_ORG
from tests.node.helpers import UnreliableApp, eventually, segments_of, wait_segments
from vigil.app import Services, start_services, stop_services
from vigil.link.local import LocalLink
from vigil.link.messages import CameraStatus, SegmentRecord
from vigil.media.mp4 import file_boxes
from vigil.node.layout import segment_key
from vigil.node.node import MediaNode
from vigil.settings import Settings
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields
from vigil.timeutil import now_ms

DEAD_URL = "rtsp://127.0.0.1:9/none"


async def test_restart_indexes_stray_files_drops_missing_ones_and_repairs_torn_ones(
    services: Services, settings: Settings, seed, sample_mp4: bytes
) -> None:
    camera = await services.cameras.create(
        CameraFields(name="reconciled", main_url=DEAD_URL), org_id=TEST_ORG
    )
    # An hour ago, just after the hour turned: the seeded segments sit in the hour before,
    # the stray files in the new hour's directory.
    hour = 3_600_000
    now = (now_ms() // hour - 1) * hour + 57_000
    kept, lost = await seed(camera.id, [(now - 60_000, now - 58_000), (now - 58_000, now - 56_000)])
    (settings.recordings_dir / lost.path).unlink()
    stray_key = segment_key(camera.id, now - 56_000)
    junk_key = segment_key(camera.id, now - 54_000)
    for key, data in ((stray_key, sample_mp4), (junk_key, b"not a video at all")):
        (settings.recordings_dir / key).parent.mkdir(parents=True, exist_ok=True)
        (settings.recordings_dir / key).write_bytes(data)
    incoming = settings.recordings_dir / str(camera.id) / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    torn = incoming / "000000003.mp4"
    boxes, size = top_level_boxes_of(sample_mp4, torn)
    torn_size = boxes[-2].offset + 10  # cut inside the last fragment, as a power cut would
    torn.write_bytes(sample_mp4[:torn_size])
    (incoming / "000000004.mp4").write_bytes(sample_mp4[:40])  # only a header: unplayable
    await stop_services(services)

    restarted = await start_services(settings)
    try:
        segments = await segments_of(restarted, camera.id)
        paths = {s.path for s in segments}
        assert kept.path in paths
        assert lost.path not in paths, "rows without files are dropped"
        assert stray_key in paths, "files without rows are indexed"
        assert junk_key not in paths
        assert not (settings.recordings_dir / junk_key).exists()
        assert not any(incoming.iterdir()), "nothing is left unaccounted in .incoming"
        on_disk = {
            p.relative_to(settings.recordings_dir).as_posix()
            for p in (settings.recordings_dir / str(camera.id)).glob("*/*/*.mp4")
        }
        assert paths == on_disk
        repaired = [s for s in segments if s.path not in (kept.path, stray_key)]
        assert len(repaired) == 1, "the torn segment is repaired and indexed"
        assert repaired[0].size < size
        assert 0 < repaired[0].end_ms - repaired[0].start_ms < 2000
    finally:
        await stop_services(restarted)


def top_level_boxes_of(data: bytes, scratch: Path) -> tuple[list, int]:
    scratch.write_bytes(data)
    listing = file_boxes(scratch)
    boxes, size = listing.boxes, listing.size
    os.unlink(scratch)
    assert [b.type for b in boxes][:2] == ["ftyp", "moov"]
    return boxes, size


async def test_outbox_keeps_index_entries_while_the_app_is_away(
    services: Services, settings: Settings, sim: SimulatedCameras
) -> None:
    link = UnreliableApp(LocalLink(services.nodes))
    node = MediaNode(
        settings.node.model_copy(update={"name": "edge"}),
        settings.retention,
        link,  # type: ignore[arg-type]
        settings.data_dir / "edge-recordings",
        settings.data_dir / "edge-state",
    )
    services.nodes.attach("edge", node)
    camera = await services.cameras.store.create(
        CameraFields(name="far away", main_url=sim.urls[0], segment_seconds=1),
        node="edge",
        org_id=TEST_ORG,
    )
    await node.start()
    try:
        await wait_segments(services, camera.id, 1)
        link.reachable = False
        await eventually(
            lambda: _pending(node), lambda n: n >= 3, 20, "index entries waiting in the outbox"
        )
        before = len(await segments_of(services, camera.id))
        link.reachable = True
        segments = await eventually(
            lambda: segments_of(services, camera.id),
            lambda segs: len(segs) >= before + 3,
            10,
            "the outbox delivered",
        )
        starts = [s.start_ms for s in segments]
        assert starts == sorted(starts)
        for before_seg, after_seg in itertools.pairwise(segments):
            assert abs(after_seg.start_ms - before_seg.end_ms) <= 500, "nothing was lost"
    finally:
        await node.stop()
        services.nodes.detach("edge")
    assert node.outbox.pending() == 0


async def _pending(node: MediaNode) -> int:
    return node.outbox.pending()


async def test_status_reports_are_not_fatal_when_the_app_is_away(
    services: Services, settings: Settings
) -> None:
    link = UnreliableApp(LocalLink(services.nodes))
    link.reachable = False
    node = MediaNode(
        settings.node.model_copy(update={"name": "edge2"}),
        settings.retention,
        link,  # type: ignore[arg-type]
        settings.data_dir / "edge2-recordings",
        settings.data_dir / "edge2-state",
    )
    await node.status_changed(CameraStatus(camera_id=1, state="error"))
    node.outbox.recorded([SegmentRecord(camera_id=1, path="1/x.mp4", start_ms=0, end_ms=1, size=1)])
    assert not await node.outbox.flush()
    assert node.outbox.pending() == 1
