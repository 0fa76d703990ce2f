"""`vigil serve` killed with SIGKILL mid-recording, then started again: nothing is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import av
import httpx
import psutil

from tests.backends import SQLITE_ONLY
from tests.conftest import SMALL_CLIP, TEST_ORG
from tests.node.helpers import segments_of
from tests.people import PASSWORD
from vigil.app import start_services, stop_services
from vigil.link.messages import (
    CameraConfig,
    CameraStatus,
    EventKind,
    EventRecord,
    EventStage,
    SegmentRecord,
)
from vigil.node.layout import INCOMING, INCOMING_MARK, RecordingsLayout
from vigil.node.recorder import CameraRecorder
from vigil.settings import NodeSettings, Settings
from vigil.sim.framecode import read_frame_code
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields
from vigil.store.events import EventFilter
from vigil.store.models import Segment
from vigil.timeutil import now_ms

# The recorder and its files, not the store, are under test here: one database is enough.
pytestmark = SQLITE_ONLY

# The simulator's cameras (tests.conftest.SMALL_CLIP): a frame every 100 ms, its number drawn in.
FRAME_MS = 100
FRAME_CODES = 4096
# The clip loops: after its last frame comes frame 0 again.
CLIP_FRAMES = SMALL_CLIP["loop_seconds"] * SMALL_CLIP["fps"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_environment(settings: Settings, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "VIGIL_DATA_DIR": str(settings.data_dir),
        "VIGIL_SECRET_KEY": settings.secret_key,
        "VIGIL_DATABASE__URL": settings.database.url,
        "VIGIL_SERVER__PORT": str(port),
        "VIGIL_NODE__STALL_TIMEOUT_SECONDS": "3",
        "VIGIL_RETENTION__MIN_FREE_BYTES": "0",
    }


async def wait_until_up(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base) as http:
        while time.monotonic() < deadline:
            assert server.poll() is None, f"vigil serve exited:\n{log.read_text()}"
            try:
                if (await http.get("/api/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"vigil serve did not come up:\n{log.read_text()}")


def frame_codes(path: Path) -> list[int]:
    """The simulator's frame numbers in a recorded file, in order."""
    with av.open(str(path)) as container:
        return [read_frame_code(frame) for frame in container.decode(video=0)]


def assert_follows(recordings: Path, before: Segment, after: Segment) -> None:
    """``after`` takes up where ``before`` ends, in its frames and in the index alike."""
    last, first = frame_codes(recordings / before.path)[-1], frame_codes(recordings / after.path)[0]
    looped = first == 0 and last == CLIP_FRAMES - 1
    assert looped or (first - last) % FRAME_CODES == 1, (
        f"frames {last} then {first}: footage is missing"
    )
    gap = after.start_ms - before.end_ms
    assert abs(gap) <= FRAME_MS, f"a {gap} ms gap between {before.path} and {after.path}"


def ffmpegs_writing_to(folder: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "ffmpeg" in cmdline and str(folder) in cmdline:
            found.append(proc)
    return found


async def test_sigkill_mid_recording_loses_nothing(
    settings: Settings, sim: SimulatedCameras, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "vigil", "serve"],
            env=server_environment(settings, port),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        await wait_until_up(base, server, log)
        async with httpx.AsyncClient(base_url=base) as http:
            setup = await http.post(
                "/api/auth/setup",
                json={"organisation": "Crash", "username": "owner", "password": PASSWORD},
            )
            assert setup.status_code == 201, setup.text
            http.headers["X-CSRF-Token"] = setup.json()["csrf_token"]
            ids = []
            for index in range(2):
                response = await http.post(
                    "/api/cameras",
                    json={
                        "name": f"crash {index}",
                        "main_url": sim.urls[index],
                        "segment_seconds": 1,
                    },
                )
                assert response.status_code == 201, response.text
                ids.append(response.json()["id"])
            indexed: set[str] = set()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                indexed = set()
                for camera_id in ids:
                    body = (await http.get(f"/api/cameras/{camera_id}/recordings")).json()
                    indexed |= {s["path"] for s in body["segments"]}
                if len(indexed) >= 8:
                    break
                await asyncio.sleep(0.3)
            assert len(indexed) >= 8, log.read_text()
        await asyncio.sleep(0.5)  # mid-segment
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        killed_at = now_ms()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()

    recordings = settings.recordings_dir
    deadline = time.monotonic() + 15
    while ffmpegs_writing_to(recordings) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert not ffmpegs_writing_to(recordings), "ffmpeg outlived the killed server"

    restarted = await start_services(settings)
    try:
        # What the killed server wrote, as the restarted one found it: its start-up placed and
        # indexed what was left in .incoming before its recorders began again, and their first
        # segments take two segment lengths to come (the first waits for the second). Segment
        # times are the recorders' anchored clock, not the test's: no instant separates them.
        after: dict[int, list[Segment]] = {}
        for camera_id in ids:
            after[camera_id] = await segments_of(restarted, camera_id)
        on_disk = {p.relative_to(recordings).as_posix() for p in recordings.glob("*/*/*/*.mp4")}
        for camera_id in ids:
            incoming = recordings / str(camera_id) / INCOMING
            assert not [p for p in incoming.iterdir() if p.stat().st_mtime * 1000 < killed_at]
        paths = {s.path for segments in after.values() for s in segments}
        assert indexed <= paths, "nothing indexed before the crash is lost"
        assert on_disk == paths, "disk and index agree"
        # ffmpeg finished the segment it was writing when the server died (kill -9), and the
        # restarted node placed it where its frames belong: right after the one before.
        for camera_id in ids:
            written = after[camera_id]
            assert written[-1].path not in indexed, "the segment cut short is recovered"
            assert_follows(recordings, written[-2], written[-1])
    finally:
        await stop_services(restarted)


async def test_events_left_open_by_a_killed_node_end_when_it_starts_again(
    settings: Settings,
) -> None:
    """A node killed mid-event never sends its end; started again, it says so and the
    application ends the event where it was last seen (later events are left alone)."""
    services = await start_services(settings)
    try:
        await services.auth.users.create_org("Test school")
        camera = await services.cameras.create(
            CameraFields(name="porch", main_url="rtsp://127.0.0.1:9/x", enabled=False),
            org_id=TEST_ORG,
        )
        start = now_ms() - 60_000

        def opened(uid: str, at: int) -> EventRecord:
            return EventRecord(
                uid=uid,
                camera_id=camera.id,
                stage=EventStage.NEW,
                kind=EventKind.OBJECT,
                label="person",
                score=0.9,
                start_ms=at,
                last_ms=at + 4_000,
            )

        # What the killed run reported: an event opened and updated, never ended.
        await services.nodes.events_reported(services.node.name, [opened("killed-run", start)])
    finally:
        await stop_services(services)  # nothing on this node owns the event: as after a kill
    services = await start_services(settings)
    try:
        [ended] = await services.events.store.find(
            EventFilter(org_id=TEST_ORG, camera_ids=[camera.id])
        )
        assert (ended.start_ms, ended.end_ms) == (start, start + 4_000)
        # An event the new run opens stays open.
        await services.nodes.events_reported(services.node.name, [opened("new-run", now_ms())])
        await services.node.outbox.flush()
        events = await services.events.store.find(
            EventFilter(org_id=TEST_ORG, camera_ids=[camera.id])
        )
        assert {e.uid: e.end_ms is None for e in events} == {"killed-run": False, "new-run": True}
    finally:
        await stop_services(services)


class Collected:
    """A recorder's sink that keeps what it is told."""

    def __init__(self) -> None:
        self.segments: list[SegmentRecord] = []
        self.statuses: list[CameraStatus] = []

    async def segment_finished(self, record: SegmentRecord) -> None:
        self.segments.append(record)

    async def status_changed(self, status: CameraStatus) -> None:
        self.statuses.append(status)


async def test_segments_left_in_incoming_are_placed_by_their_run_timeline(
    tmp_path: Path, sample_mp4: bytes
) -> None:
    """A run killed mid-segment leaves two files: one finished but not yet moved and one cut
    short. Their file times say when they were last written, not when their frames were
    seen; the run's mark places them back to back with the segment before them."""
    layout = RecordingsLayout(tmp_path)
    incoming = layout.incoming_dir(1)
    incoming.mkdir(parents=True)
    finished, cut_short = incoming / "000000007.mp4", incoming / "000000008.mp4"
    finished.write_bytes(sample_mp4)  # 2 s
    cut_short.write_bytes(sample_mp4[: len(sample_mp4) * 3 // 4])  # its first 1 s is whole
    seen_ms = 1_780_000_000_000  # the finished one ended here, on the run's timeline
    (incoming / INCOMING_MARK).write_text(f"{finished.name} {seen_ms}\n")
    for path in (finished, cut_short):
        os.utime(path, ((seen_ms + 9_000) / 1000,) * 2)  # flushed long after
    sink = Collected()
    camera = CameraConfig(id=1, name="porch", main_url="rtsp://127.0.0.1:9/x")
    recorder = CameraRecorder(camera, layout, "ffmpeg", NodeSettings(), sink)

    await recorder.recover_incoming()

    spans = [(s.start_ms, s.end_ms) for s in sink.segments]
    assert spans == [(seen_ms - 2_000, seen_ms), (seen_ms, seen_ms + 1_000)]
    assert not any(incoming.iterdir()), "placed, and the mark used up"
