"""Recording simulated RTSP cameras end to end: real ffmpeg, real files, real database."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import av
import pytest

from tests.backends import SQLITE_ONLY
from tests.conftest import AUTH_SIM_CREDENTIALS, TEST_ORG
from tests.node.helpers import eventually, segments_of, wait_segments, wait_state
from tests.node.test_crash import FRAME_MS, Collected, assert_follows
from vigil.app import Services, stop_services
from vigil.link.messages import CameraConfig, CameraState
from vigil.node.layout import INCOMING, RecordingsLayout
from vigil.node.recorder import CameraRecorder
from vigil.settings import NodeSettings, Settings
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields
from vigil.store.models import Segment

# What these check is the camera's connection and its reports, not the index: SQLite is
# enough, and it keeps the suite short. Index behaviour runs on both databases above.

SEGMENT_SECONDS = 2.0


def files_on_disk(settings: Settings, camera_id: int) -> set[str]:
    root = settings.recordings_dir
    return {
        p.relative_to(root).as_posix() for p in (root / str(camera_id)).glob("????-??-??/??/*.mp4")
    }


def streams_of(path: Path) -> tuple[str | None, str | None, float]:
    """(video codec, audio codec, seconds of video) of a recorded file, read with PyAV."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        pts = [p.pts for p in container.demux(video) if p.pts is not None]
        assert video.time_base is not None
        frame = 1 / float(video.average_rate or 10)
        seconds = float((max(pts) - min(pts)) * video.time_base) + frame
        return video.codec_context.name, audio, seconds


async def test_three_cameras_record_contiguous_indexed_segments(
    services: Services, settings: Settings, sim: SimulatedCameras, silent_sim: SimulatedCameras
) -> None:
    sources = [(sim.urls[0], "aac"), (sim.urls[1], "aac"), (silent_sim.urls[0], None)]
    cameras = [
        await services.cameras.create(
            CameraFields(name=f"cam {i}", main_url=url, segment_seconds=SEGMENT_SECONDS),
            org_id=TEST_ORG,
        )
        for i, (url, _) in enumerate(sources)
    ]
    for camera in cameras:
        await wait_segments(services, camera.id, 5)
    for camera in cameras:
        assert services.nodes.status(camera.id).state == CameraState.STREAMING
    await stop_services(services)  # a graceful stop finishes the segment being written

    for camera, (_, audio_codec) in zip(cameras, sources, strict=True):
        segments = await segments_of(services, camera.id)
        assert {s.path for s in segments} == files_on_disk(settings, camera.id)
        assert not any((settings.recordings_dir / str(camera.id) / INCOMING).iterdir())
        for before, after in itertools.pairwise(segments):
            assert abs(after.start_ms - before.end_ms) <= 500, "segments must be contiguous"
        for segment in segments:
            video, audio, seconds = streams_of(settings.recordings_dir / segment.path)
            assert (video, audio) == ("h264", audio_codec)
            assert (segment.video_codec, segment.audio_codec) == (video, audio)
            assert (segment.width, segment.height) == (320, 240)
            assert segment.size == (settings.recordings_dir / segment.path).stat().st_size
            if segment is not segments[-1]:  # the last one ends where the stop cut it
                assert abs(seconds - SEGMENT_SECONDS) <= 0.5
                assert abs((segment.end_ms - segment.start_ms) / 1000 - SEGMENT_SECONDS) <= 0.5


@pytest.fixture
def default_backoff(settings: Settings) -> Settings:
    """The shipped delays between attempts to reconnect (1 s doubling up to 30 s), not the
    suite's short ones. Ask for it before ``services``."""
    settings.node.reconnect_min_seconds = 1.0
    settings.node.reconnect_max_seconds = 30.0
    return settings


@SQLITE_ONLY  # the recorder's reconnection; the index on both is the test above's
async def test_a_dropped_camera_comes_back_and_leaves_a_gap(
    default_backoff: Settings, services: Services, sim: SimulatedCameras
) -> None:
    dropped = await services.cameras.create(
        CameraFields(name="drops", main_url=sim.urls[2], segment_seconds=SEGMENT_SECONDS),
        org_id=TEST_ORG,
    )
    steady = await services.cameras.create(
        CameraFields(name="steady", main_url=sim.urls[3], segment_seconds=SEGMENT_SECONDS),
        org_id=TEST_ORG,
    )
    await wait_segments(services, dropped.id, 2)
    await wait_state(services, dropped.id, {CameraState.STREAMING})
    # Retries after a drop come every second while the camera is expected back: doubling
    # delays would have put the next one 5 s after its return (at 1+2+4+8 = 15 s).
    sim.drop(sim.names[2], seconds=10)
    await wait_state(services, dropped.id, {CameraState.OFFLINE, CameraState.ERROR}, 10)
    before = len(await segments_of(services, dropped.id))
    back_at = await _wait_back(sim, sim.names[2])
    await wait_state(services, dropped.id, {CameraState.STREAMING}, 10)
    resumed = await wait_segments(services, dropped.id, before + 2, 15)
    status = services.nodes.status(dropped.id)
    assert status.restarts >= 1
    first_after = next(s for s in resumed if s.start_ms > back_at - 1000)
    assert first_after.start_ms - back_at <= 3000, "recording resumes within 3 s of the return"
    gaps = [b.start_ms - a.end_ms for a, b in itertools.pairwise(resumed)]
    assert max(gaps) >= 3000, "the drop shows as a gap in the index"

    steady_segments = await segments_of(services, steady.id)
    steady_gaps = [b.start_ms - a.end_ms for a, b in itertools.pairwise(steady_segments)]
    assert max(steady_gaps, default=0) <= 500, "the other camera is unaffected"
    assert services.nodes.status(steady.id).restarts == 0


async def _wait_back(sim: SimulatedCameras, name: str) -> int:
    import asyncio

    from vigil.timeutil import now_ms

    while sim.status(name).state == "dropped":
        await asyncio.sleep(0.1)
    return now_ms()


async def test_a_connection_that_never_brings_a_picture_is_ended_with_a_reason(
    tmp_path: Path,
) -> None:
    """ffmpeg connected and then got nothing (a camera that hangs mid-handshake): the
    watchdog ends it, and the camera's error says what happened, not "status -9"."""
    hangs = tmp_path / "ffmpeg"
    hangs.write_text("#!/bin/sh\nexec sleep 60\n")
    hangs.chmod(0o755)
    camera = CameraConfig(id=1, name="hangs", main_url="rtsp://127.0.0.1:9/x")
    settings = NodeSettings(stall_timeout_seconds=1, connect_timeout_seconds=1)
    sink = Collected()
    recorder = CameraRecorder(
        camera, RecordingsLayout(tmp_path / "rec"), str(hangs), settings, sink
    )
    recorder.start()
    try:
        for _ in range(100):
            if any(s.state is CameraState.ERROR for s in sink.statuses):
                break
            await asyncio.sleep(0.1)
    finally:
        await recorder.stop()
    errors = [s.last_error for s in sink.statuses if s.state is CameraState.ERROR]
    assert errors, [s.state for s in sink.statuses]
    assert errors[0] == "the camera answered but sent no pictures in 2 s"


@SQLITE_ONLY
async def test_an_event_loop_held_up_for_seconds_restarts_no_camera(
    services: Services, settings: Settings, sim: SimulatedCameras
) -> None:
    """While the node's event loop is held up (a long start-up, a starved box), ffmpeg's
    reports wait unread in its pipe: that is no stall of the camera's."""
    camera = await services.cameras.create(
        CameraFields(name="busy node", main_url=sim.urls[0], segment_seconds=SEGMENT_SECONDS),
        org_id=TEST_ORG,
    )
    await wait_state(services, camera.id, {CameraState.STREAMING})
    held = settings.node.stall_timeout_seconds + settings.node.connect_timeout_seconds + 1
    time.sleep(held)  # the loop itself, not this test, is what waits here
    before = len(await segments_of(services, camera.id))
    await wait_segments(services, camera.id, before + 2)
    status = services.nodes.status(camera.id)
    assert (status.state, status.restarts) == (CameraState.STREAMING, 0), status.last_error


@SQLITE_ONLY
async def test_a_stalled_stream_is_detected_and_restarted(
    services: Services, settings: Settings, sim: SimulatedCameras
) -> None:
    camera = await services.cameras.create(
        CameraFields(name="stalls", main_url=sim.urls[1], segment_seconds=SEGMENT_SECONDS),
        org_id=TEST_ORG,
    )
    # Past the burst a new connection starts with (what ffmpeg buffered while probing).
    await wait_segments(services, camera.id, 4)
    await wait_state(services, camera.id, {CameraState.STREAMING})
    sim.stall(sim.names[1])  # until resumed below, however long detection takes
    try:
        await wait_state(services, camera.id, {CameraState.STALLED}, 20)
        reported_at = time.monotonic()
        assert "no data" in (services.nodes.status(camera.id).last_error or "")

        # The watchdog ends ffmpeg when it says "stalled", not after asking ffmpeg to quit and
        # waiting for it (blocked in a network read, it takes 4-7 s to give up).
        async def restarts() -> int:
            return services.nodes.status(camera.id).restarts

        await eventually(restarts, lambda n: n >= 1, 20, "the stalled ffmpeg to be restarted")
        restarted_after = time.monotonic() - reported_at
        assert restarted_after < 3, f"restarted {restarted_after:.1f} s after 'stalled'"
        # Through the restarts that follow (each one connects and gets nothing), the camera
        # reads "stalled" with its reason, not "connecting" or "error".
        seen = set()
        for _ in range(40):  # 8 s: a restart, a connection, its timeout and the next restart
            status = services.nodes.status(camera.id)
            seen.add((status.state, "no data" in (status.last_error or "")))
            await asyncio.sleep(0.2)
        assert seen == {(CameraState.STALLED, True)}
    finally:
        sim.resume(sim.names[1])
    await wait_state(services, camera.id, {CameraState.STREAMING}, 15)

    # What was recorded up to the stall, the segment cut short by it included, lies back to
    # back on the timeline as its frames do; the stall itself is the gap.
    def gaps_of(segments: list[Segment]) -> list[int]:
        return [b.start_ms - a.end_ms for a, b in itertools.pairwise(segments)]

    segments = await eventually(
        lambda: segments_of(services, camera.id),
        lambda found: max(gaps_of(found)) > 5000,
        15,
        "a segment recorded after the stall",
    )
    gaps = gaps_of(segments)
    stall = max(range(len(gaps)), key=gaps.__getitem__)
    assert all(abs(gap) <= FRAME_MS for gap in gaps[:stall])
    assert_follows(settings.recordings_dir, segments[stall - 1], segments[stall])


@SQLITE_ONLY
async def test_bad_cameras_report_errors_and_others_keep_recording(
    services: Services, sim: SimulatedCameras
) -> None:
    good = await services.cameras.create(
        CameraFields(name="good", main_url=sim.urls[0], segment_seconds=SEGMENT_SECONDS),
        org_id=TEST_ORG,
    )
    refused = await services.cameras.create(
        CameraFields(name="nobody home", main_url="rtsp://127.0.0.1:9/cam", segment_seconds=2),
        org_id=TEST_ORG,
    )
    missing = await services.cameras.create(
        CameraFields(name="wrong path", main_url=sim.urls[0] + "-nope", segment_seconds=2),
        org_id=TEST_ORG,
    )
    await wait_state(services, refused.id, {CameraState.ERROR})
    await wait_state(services, missing.id, {CameraState.ERROR})
    assert "connection refused" in (services.nodes.status(refused.id).last_error or "")
    assert "404" in (services.nodes.status(missing.id).last_error or "")
    await wait_segments(services, good.id, 3)
    assert services.nodes.status(good.id).state == CameraState.STREAMING


@SQLITE_ONLY
async def test_credentials_are_used_and_wrong_ones_reported(
    services: Services, auth_sim: SimulatedCameras
) -> None:
    user, _, password = AUTH_SIM_CREDENTIALS.partition(":")
    right = await services.cameras.create(
        CameraFields(name="locked", main_url=auth_sim.urls[0], username=user, password=password),
        org_id=TEST_ORG,
    )
    wrong = await services.cameras.create(
        CameraFields(
            name="wrong key", main_url=auth_sim.urls[0], username=user, password="hunter2-camera"
        ),
        org_id=TEST_ORG,
    )
    await wait_state(services, wrong.id, {CameraState.ERROR})
    assert services.nodes.status(wrong.id).last_error == (
        "the camera refused the credentials (401 Unauthorized)"
    )
    await wait_state(services, right.id, {CameraState.STREAMING})
    await wait_segments(services, right.id, 2)


@SQLITE_ONLY
async def test_changes_take_effect_without_a_restart(
    services: Services, sim: SimulatedCameras
) -> None:
    camera = await services.cameras.create(
        CameraFields(name="moved", main_url="rtsp://127.0.0.1:9/none", segment_seconds=1),
        org_id=TEST_ORG,
    )
    await wait_state(services, camera.id, {CameraState.ERROR})
    await services.cameras.update(camera.id, {"main_url": sim.urls[3]})
    await wait_state(services, camera.id, {CameraState.STREAMING})
    await wait_segments(services, camera.id, 2)

    assert services.node is not None
    watched = services.node.live_stream(camera.id)  # live view on demand, while recording
    await services.cameras.update(camera.id, {"recording": False})
    stopped_at = len(await segments_of(services, camera.id))
    # Not recording, the camera stays connected for live view (the recorder's ffmpeg writes
    # it now): seconds of live media pass and no segment is added.
    live = services.node.live_stream(camera.id)
    assert live is not None
    assert live is not watched
    await wait_state(services, camera.id, {CameraState.STREAMING}, 15)

    async def window() -> str:  # asked as a viewer's player asks (that keeps it read)
        return await live.hls_playlist() or ""

    await eventually(
        window, lambda text: text.count("#EXTINF") >= 3, 15, "3 s of live media while not recording"
    )
    await services.cameras.update(camera.id, {"retention_days": 3})  # no restart needed
    assert services.nodes.status(camera.id).state == CameraState.STREAMING
    assert len(await segments_of(services, camera.id)) == stopped_at

    await services.cameras.update(camera.id, {"recording": True, "segment_seconds": 2})
    await wait_state(services, camera.id, {CameraState.STREAMING})
    await wait_segments(services, camera.id, stopped_at + 2)
