"""Export fixtures: two simulated cameras recorded once per session (2 s segments, ~34 s),
then laid into each test's own recordings folder and database. The first camera is recorded
the way a camera already streaming to someone else is: the recorder joins mid-GOP, so the
first segment of its connection starts with a keyframe whose packet carried no timestamp."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from tests.api.conftest import admin, anonymous, app, client
from tests.conftest import TEST_ORG
from tests.node.helpers import wait_segments
from vigil.app import Services, start_services, stop_services
from vigil.link.messages import SegmentRecord
from vigil.node.layout import segment_key
from vigil.settings import Settings
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields
from vigil.store.models import Camera

__all__ = ["add_footage", "admin", "anonymous", "app", "client", "recordings"]

SEGMENTS = 17  # 2 s each: enough for a 30 s export that starts mid-segment


@dataclass(frozen=True)
class Recording:
    """Segments recorded from one simulated camera: files under ``root``."""

    root: Path
    segments: list[SegmentRecord]

    @property
    def start_ms(self) -> int:
        return self.segments[0].start_ms

    @property
    def end_ms(self) -> int:
        return self.segments[-1].end_ms


class Viewer:
    """Another client of a camera: keeps its stream running, notes when keyframes arrive."""

    def __init__(self, url: str) -> None:
        self._container = av.open(url, options={"rtsp_transport": "tcp"}, timeout=10)
        self.keyframes: list[float] = []  # time.monotonic() of each keyframe's arrival
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="export-viewer", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        try:
            for packet in self._container.demux(video=0):
                if self._stop.is_set():
                    break
                if packet.is_keyframe:
                    self.keyframes.append(time.monotonic())
        finally:
            self._container.close()

    async def mid_gop(self, into: float = 0.1) -> None:
        """Return ``into`` seconds after a keyframe arrived (keyframes come a second apart):
        a recorder started then joins before the next one, however long it takes to
        connect (up to most of a second)."""
        while len(self.keyframes) < 3:  # past what the viewer's probe read in a burst
            assert self._thread.is_alive(), "the viewer lost the camera"
            await asyncio.sleep(0.05)
        last = self.keyframes[-1]
        await asyncio.sleep((last + into - time.monotonic()) % 1.0)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)


def first_packets(path: Path, count: int) -> list[tuple[int, int]]:
    """(pts, duration) of a file's first video packets, in its time base."""
    with av.open(str(path)) as container:
        packets = itertools.islice(container.demux(video=0), count)
        return [(p.pts or 0, p.duration or 0) for p in packets]


def joined_mid_gop(path: Path) -> bool:
    """Whether a connection's first segment starts as a recorder joining mid-GOP leaves it:
    the keyframe, whose packet came without a timestamp, is stamped at zero and lasts until
    the next frame's stamp, longer than a frame."""
    (_, lead), (_, frame) = first_packets(path, 2)
    return lead > 1.5 * frame


async def mid_gop_camera(services: Services, viewer: Viewer, url: str) -> Camera:
    """A camera recording ``url`` whose recorder joined the stream mid-GOP. Joining is timed
    from the viewer's keyframes; on a busy machine the recorder can connect late enough to
    land on the next keyframe, so its first segment is checked, and the camera added again
    until it did join mid-GOP."""
    for attempt in range(1, 6):
        await viewer.mid_gop()
        camera = await services.cameras.create(
            CameraFields(name=f"rec 0 (attempt {attempt})", main_url=url, segment_seconds=2),
            org_id=TEST_ORG,
        )
        [first, *_] = await wait_segments(services, camera.id, 1, timeout=30)
        path = services.settings.recordings_dir / first.path
        if await asyncio.to_thread(joined_mid_gop, path):
            return camera
        await services.cameras.delete(camera.id)
    raise AssertionError("the recorder never joined the camera mid-GOP in 5 attempts")


@pytest.fixture(scope="session")
def recordings(sim: SimulatedCameras, tmp_path_factory: pytest.TempPathFactory) -> list[Recording]:
    """Record two simulated cameras at once with 2 s segments (real ffmpeg, real RTSP); the
    first while someone else watches it, its recorder connecting mid-GOP."""
    data = tmp_path_factory.mktemp("export-footage")

    async def record() -> list[Recording]:
        settings = Settings(
            data_dir=data,
            secret_key="test-secret-key",
            retention={"interval_seconds": 3600, "min_free_bytes": 0},
        )
        services = await start_services(settings)
        viewer = await asyncio.to_thread(Viewer, sim.urls[2])
        try:
            org = await services.auth.users.create_org("Test school")
            assert org.id == TEST_ORG
            cameras = [await mid_gop_camera(services, viewer, sim.urls[2])]
            cameras.append(
                await services.cameras.create(
                    CameraFields(name="rec 1", main_url=sim.urls[3], segment_seconds=2),
                    org_id=TEST_ORG,
                )
            )
            for camera in cameras:
                await wait_segments(services, camera.id, SEGMENTS, timeout=90)
        finally:
            await asyncio.to_thread(viewer.close)
            await stop_services(services)
        result = []
        for camera in cameras:
            rows = await services.segments.in_range(camera.id, 0, 2**62)
            records = [
                SegmentRecord(
                    camera_id=0,
                    path=r.path,
                    start_ms=r.start_ms,
                    end_ms=r.end_ms,
                    size=r.size,
                    video_codec=r.video_codec,
                    audio_codec=r.audio_codec,
                    width=r.width,
                    height=r.height,
                    fps=r.fps,
                )
                for r in rows
            ]
            result.append(Recording(settings.recordings_dir, records))
        await services.db.close()  # the reads above reopened it
        return result

    return asyncio.run(record())


@dataclass(frozen=True)
class FootageCamera:
    id: int
    name: str
    segments: list[SegmentRecord]

    @property
    def start_ms(self) -> int:
        return self.segments[0].start_ms

    @property
    def end_ms(self) -> int:
        return self.segments[-1].end_ms


AddFootage = Callable[..., Awaitable[FootageCamera]]


@pytest.fixture
def add_footage(services: Services, settings: Settings, recordings: list[Recording]) -> AddFootage:
    """A camera (not recording) whose index and folder hold one of the session's recordings."""
    count = 0

    async def add(
        which: int = 0, name: str | None = None, skip: tuple[int, ...] = ()
    ) -> FootageCamera:
        nonlocal count
        count += 1
        camera = await services.cameras.create(
            CameraFields(
                name=name or f"Footage {count}",
                main_url="rtsp://127.0.0.1:9/none",
                enabled=False,
            ),
            org_id=TEST_ORG,
        )
        records = []
        for index, seg in enumerate(recordings[which].segments):
            if index in skip:
                continue
            key = segment_key(camera.id, seg.start_ms)
            target = settings.recordings_dir / key
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(recordings[which].root / seg.path, target)
            records.append(seg.model_copy(update={"camera_id": camera.id, "path": key}))
        assert services.node is not None
        await services.segments.add(services.node.name, records)
        return FootageCamera(camera.id, camera.name, records)

    return add


async def wait_export(
    client: httpx.AsyncClient, export_id: int, timeout: float = 30
) -> dict[str, Any]:
    """Poll an export until it is done or failed; return it."""
    deadline = time.monotonic() + timeout
    while True:
        body = dict((await client.get(f"/api/exports/{export_id}")).json())
        if body["status"] in ("done", "failed"):
            return body
        assert time.monotonic() < deadline, f"export {export_id} still {body}"
        await asyncio.sleep(0.1)
