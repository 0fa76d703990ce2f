"""Frames for detection from the recording ffmpeg: rate, size, picture, restarts, sub stream."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from pydantic import ValidationError

from tests.backends import SQLITE_ONLY
from tests.conftest import SMALL_CLIP, TEST_ORG
from tests.node.helpers import eventually, segments_of, wait_segments, wait_state
from vigil.app import Services
from vigil.detect.types import Gray
from vigil.link.messages import CameraConfig, CameraState, DetectConfig
from vigil.node.detect_stream import DetectFrame, DetectStream, FrameQueue
from vigil.node.ffmpeg import RecordArgs
from vigil.sim.framecode import read_frame_code
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields
from vigil.store.models import Camera

# The recorder and its files, not the store, are under test here: one database is enough.
pytestmark = SQLITE_ONLY

DETECT = DetectConfig()  # 5 fps at 320x180, from the sub stream when there is one
MAIN_FRAMES = SMALL_CLIP["fps"] * SMALL_CLIP["loop_seconds"]  # frame codes loop after these
SUB_FPS = 20


@pytest.fixture(scope="module")
def sub_sim() -> Iterator[SimulatedCameras]:
    """A camera's sub stream: smaller, and twice the main stream's frame rate."""
    with SimulatedCameras(
        cameras=1, width=320, height=180, fps=SUB_FPS, bitrate_kbps=200, loop_seconds=20,
        audio=False,
    ) as cameras:  # fmt: skip
        yield cameras


# -- the command line
CAMERA = CameraConfig(
    id=7, name="door", main_url="rtsp://10.0.0.5:554/main", sub_url="rtsp://10.0.0.5:554/sub",
    username="admin", password="pw", segment_seconds=2,
)  # fmt: skip
# What RecordArgs.build gave before detection existed: detection off must not change a byte.
WITHOUT_DETECTION = [
    "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostats", "-progress", "pipe:2",
    "-stats_period", "1", "-rtsp_transport", "tcp", "-timeout", "3000000",
    "-fflags", "+genpts", "-i", "rtsp://admin:pw@10.0.0.5:554/main",
    "-map", "0:v:0", "-map", "0:a:0?", "-c:v", "copy", "-c:a", "copy",
    # One tee output: segments, and live view behind a fifo that drops packets when unread.
    "-f", "tee",
    "[f=segment:segment_time=2:segment_time_delta=0.5:segment_format=mp4:"
    "segment_format_options=movflags\\\\=+frag_keyframe+empty_moov+default_base_moof"
    "\\\\:flush_packets\\\\=1:reset_timestamps=1:segment_list=pipe\\\\:1:segment_list_type=csv]/rec/.incoming/%09d.mp4"
    "|[f=mp4:movflags=+frag_keyframe+empty_moov+default_base_moof:frag_duration=200000:"
    "flush_packets=1:use_fifo=1:onfail=ignore:fifo_options=queue_size\\\\=120"
    "\\\\:drop_pkts_on_overflow\\\\=1\\\\:restart_with_keyframe\\\\=1]pipe:5",
]  # fmt: skip


def build(camera: CameraConfig, detect_fd: int | None = None) -> list[str]:
    args = RecordArgs("ffmpeg", "tcp", 3.0)
    return args.build(camera, Path("/rec/.incoming"), live_fd=5, detect_fd=detect_fd)


def test_without_detection_the_ffmpeg_command_is_unchanged() -> None:
    assert build(CAMERA) == WITHOUT_DETECTION
    # Detection configured, but no pipe for it (a live-only sub stream run): still unchanged.
    assert build(CAMERA.model_copy(update={"detect": DETECT})) == WITHOUT_DETECTION


def test_detection_adds_one_decoded_output_and_keeps_recording_a_copy() -> None:
    from_sub = build(CAMERA.model_copy(update={"detect": DETECT}), detect_fd=6)
    # The unchanged command with the sub input added after the main one, then the detect output.
    main_input = WITHOUT_DETECTION.index("-i") + 2
    assert from_sub[:main_input] == WITHOUT_DETECTION[:main_input]
    sub_input = main_input + 8
    assert from_sub[main_input:sub_input] == [
        "-rtsp_transport", "tcp", "-timeout", "3000000", "-fflags", "+genpts",
        "-i", "rtsp://admin:pw@10.0.0.5:554/sub",
    ]  # fmt: skip
    outputs = WITHOUT_DETECTION[main_input:]
    assert from_sub[sub_input : sub_input + len(outputs)] == outputs
    assert from_sub[sub_input + len(outputs) :] == [
        "-map", "1:v:0", "-vf", "fps=5,scale=320:180", "-pix_fmt", "yuv420p",
        "-f", "rawvideo", "pipe:6",
    ]  # fmt: skip

    main_only = DetectConfig(fps=2, width=160, height=90, prefer_sub=False)
    from_main = build(CAMERA.model_copy(update={"detect": main_only}), detect_fd=6)
    assert from_main[: len(WITHOUT_DETECTION)] == WITHOUT_DETECTION
    assert from_main[len(WITHOUT_DETECTION) :] == [
        "-map", "0:v:0", "-vf", "fps=2,scale=160:90", "-pix_fmt", "yuv420p",
        "-f", "rawvideo", "pipe:6",
    ]  # fmt: skip
    no_sub = CAMERA.model_copy(update={"sub_url": None, "detect": DETECT})
    assert build(no_sub, detect_fd=6).count("-i") == 1


def test_a_live_only_run_probes_briefly_and_a_recording_run_as_ffmpeg_does() -> None:
    """Live view on demand (its viewer waits for the first picture) probes the stream for
    half a second, not ffmpeg's 5 s; a run that failed with that goes back to the default."""
    args = RecordArgs("ffmpeg", "tcp", 3.0)
    live_only = args.build(CAMERA, Path("/rec/.incoming"), record=False, live_fd=5)
    at = live_only.index("-i")
    assert live_only[at - 4 : at] == ["-analyzeduration", "500000", "-fflags", "+genpts"]
    assert "-analyzeduration" not in build(CAMERA), "recording: ffmpeg's own probe"
    detecting = CAMERA.model_copy(update={"detect": DETECT})
    not_recorded = args.build(detecting, Path("/rec/.incoming"), record=False, detect_fd=6)
    assert "-analyzeduration" not in not_recorded, "detection decodes: ffmpeg's own probe"
    fallback = dataclasses.replace(args, quick_probe=False)
    assert "-analyzeduration" not in fallback.build(CAMERA, Path("/x"), record=False, live_fd=5)


def test_detect_sizes_are_even_and_rates_bounded() -> None:
    for bad in ({"width": 321}, {"height": 181}, {"fps": 0}, {"fps": 31}):
        with pytest.raises(ValidationError):
            DetectConfig.model_validate(bad)


# -- the stream, fed by hand
def yuv420p(luma: int, width: int = 16, height: int = 16) -> bytes:
    return bytes([luma]) * (width * height) + bytes([128]) * (width * height // 2)


async def take(queue: FrameQueue, count: int) -> list[DetectFrame]:
    frames = [await queue.get() for _ in range(count)]
    return [f for f in frames if f is not None]


async def test_a_slow_subscriber_loses_its_oldest_frames_and_stamps_stay_even() -> None:
    clock = [1_000_000]
    stream = DetectStream(camera_id=1, clock_ms=lambda: clock[0])
    slow, keen = stream.subscribe(queue_frames=3), stream.subscribe(queue_frames=100)
    config = DetectConfig(fps=5, width=16, height=16)
    pipe = asyncio.StreamReader()
    run = asyncio.create_task(stream.consume(pipe, config))
    late_by = [300, 120, 250, 100, 180, 2500]  # arrival delays; never early
    for n, delay in enumerate(late_by):
        clock[0] = 1_000_000 + n * 200 + delay
        pipe.feed_data(yuv420p(n))
        for _ in range(5):  # let the stream read it at this instant
            await asyncio.sleep(0)
    pipe.feed_data(yuv420p(99)[:10])  # ffmpeg killed mid-frame
    pipe.feed_eof()
    await run

    got = await take(keen, len(late_by))
    assert [int(f.image[0, 0]) for f in got] == list(range(6))
    assert got[0].image.shape == (16, 16)
    assert [f.time_ms for f in got] == [1_000_300, 1_000_320, 1_000_520, 1_000_700, 1_000_900,
                                        1_001_100]  # fmt: skip
    assert slow.waiting == 3
    assert slow.dropped == 3
    assert [int(f.image[0, 0]) for f in await take(slow, 3)] == [3, 4, 5]
    assert stream.frames_read == 6

    # ffmpeg restarts: the same subscribers go on with the new run's frames.
    again = asyncio.StreamReader()
    again.feed_data(yuv420p(7))
    again.feed_eof()
    await stream.consume(again, config)
    frame = await keen.get()
    assert frame is not None
    assert (frame.run, frame.index) == (2, 0)
    stream.close()
    assert await keen.get() is None
    assert stream.subscribers == 0


# -- real cameras
def config_of(camera: Camera, detect: DetectConfig, sub_url: str | None = None) -> CameraConfig:
    return CameraConfig(
        id=camera.id, name=camera.name, main_url=camera.main_url, sub_url=sub_url,
        segment_seconds=camera.segment_seconds, detect=detect,
    )  # fmt: skip


def code_of(image: Gray) -> int:
    return read_frame_code(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="gray"))


def steps(frames: list[DetectFrame], loop: int) -> list[int]:
    codes = [code_of(f.image) for f in frames]
    return [(b - a) % loop for a, b in itertools.pairwise(codes)]


async def start_detecting(
    services: Services, url: str, name: str, sub_url: str | None = None
) -> tuple[Camera, DetectStream]:
    camera = await services.cameras.create(
        CameraFields(name=name, main_url=url, segment_seconds=2), org_id=TEST_ORG
    )
    node = services.node
    assert node is not None
    await node.apply_camera(config_of(camera, DETECT, sub_url))
    stream = node.detect_frames(camera.id)
    assert stream is not None
    return camera, stream


async def collect(queue: FrameQueue, seconds: float) -> list[DetectFrame]:
    """The frames that arrive within ``seconds`` from now."""
    frames: list[DetectFrame] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            frame = await asyncio.wait_for(queue.get(), left)
        except TimeoutError:
            break
        assert frame is not None
        frames.append(frame)
    return frames


def recorded_code(services: Services, path: str, seconds: float) -> int:
    """The frame code of the recorded frame at ``seconds`` into a segment file."""
    with av.open(str(services.settings.recordings_dir / path)) as container:
        decoded = [(abs((f.time or 0) - seconds), f) for f in container.decode(video=0)]
    return read_frame_code(min(decoded, key=lambda pair: pair[0])[1])


async def test_frames_come_at_the_set_rate_and_size_with_the_cameras_picture(
    services: Services, sim: SimulatedCameras
) -> None:
    camera, stream = await start_detecting(services, sim.urls[0], "detected")
    keen, stalled = stream.subscribe(queue_frames=100), stream.subscribe(queue_frames=3)
    first = await asyncio.wait_for(keen.get(), 20)
    assert first is not None
    await collect(keen, 2)  # ffmpeg hands over what it read while probing the camera at once
    frames = await collect(keen, 5)
    assert 17 <= len(frames) <= 33, f"{len(frames)} frames in 5 s at 5 fps"
    assert {f.image.shape for f in frames} == {(180, 320)}
    # The camera's picture: its frame code advances 2 a frame (10 fps shown at 5 fps).
    assert statistics.median(steps(frames, MAIN_FRAMES)) == 2
    times = [f.time_ms for f in frames]
    assert times == sorted(times)

    # Nobody reads ``stalled``: it holds its 3 newest frames, and recording goes on.
    assert stalled.waiting == 3
    assert stalled.dropped >= len(frames) - 3
    recorded = await wait_segments(services, camera.id, 3, 20)
    assert all(s.video_codec == "h264" and s.width == 320 for s in recorded)
    assert sim.clients(sim.names[0]) == 1, "one connection to the camera"

    # Stamped on the recording's clock: a detect frame shows what the recording shows then.
    frame = frames[len(frames) // 2]
    segment = next(s for s in recorded if s.start_ms <= frame.time_ms < s.end_ms)
    in_recording = await asyncio.to_thread(
        recorded_code, services, segment.path, (frame.time_ms - segment.start_ms) / 1000
    )
    apart = (code_of(frame.image) - in_recording) % MAIN_FRAMES
    # Frames reach the node a decode and a frame or two after the packets (0.7 s here).
    assert min(apart, MAIN_FRAMES - apart) <= 15, "within 1.5 s of the recording"


async def test_frames_go_on_after_the_camera_drops(
    services: Services, sim: SimulatedCameras
) -> None:
    camera, stream = await start_detecting(services, sim.urls[2], "drops")
    frames = stream.subscribe(queue_frames=1000)
    first = await asyncio.wait_for(frames.get(), 20)
    assert first is not None
    assert first.run == 1
    sim.drop(sim.names[2], seconds=3)

    async def latest() -> DetectFrame | None:
        return stream.latest

    await eventually(latest, lambda f: f is not None and f.run >= 2, 30, "frames of a new run")
    after = await collect(frames, 1.5)
    assert after, "the same subscriber gets the restarted ffmpeg's frames"
    assert after[-1].run >= 2
    assert after[-1].image.shape == (180, 320)
    assert len(await segments_of(services, camera.id)) >= 1


async def test_with_a_sub_stream_frames_come_from_it(
    services: Services, sim: SimulatedCameras, sub_sim: SimulatedCameras
) -> None:
    camera, stream = await start_detecting(
        services, sim.urls[1], "with sub", sub_url=sub_sim.urls[0]
    )
    queue = stream.subscribe(queue_frames=100)
    assert await asyncio.wait_for(queue.get(), 20) is not None
    frames = await collect(queue, 3)
    assert len(frames) >= 10
    assert {f.image.shape for f in frames} == {(180, 320)}
    # The sub stream runs at 20 fps: its code advances 4 a frame (the main one's would by 2).
    assert statistics.median(steps(frames, SUB_FPS * 20)) == 4
    recorded = await wait_segments(services, camera.id, 2, 20)
    assert all(s.width == 320 and s.height == 240 for s in recorded), "the main is recorded"
    assert sim.clients(sim.names[1]) == 1
    assert sub_sim.clients(sub_sim.names[0]) == 1

    # The sub stream stalls: it held up recording in the same ffmpeg, so once the stall is
    # caught, detection decodes the main stream and recording goes on.
    sub_sim.stall(sub_sim.names[0])
    try:
        await wait_state(services, camera.id, {CameraState.STALLED}, 20)
        await wait_state(services, camera.id, {CameraState.STREAMING}, 20)
        before = len(await segments_of(services, camera.id))
        await collect(queue, 2)  # what ffmpeg read while probing
        frames = await collect(queue, 2)
        assert frames[-1].run >= 2
        assert statistics.median(steps(frames, MAIN_FRAMES)) == 2, "from the main stream"
        await wait_segments(services, camera.id, before + 2, 20)
    finally:
        sub_sim.resume(sub_sim.names[0])


async def test_a_sub_stream_that_cannot_be_read_does_not_stop_recording(
    services: Services, sim: SimulatedCameras
) -> None:
    nowhere = "rtsp://127.0.0.1:9/sub"  # nothing listens: connection refused
    camera, stream = await start_detecting(services, sim.urls[3], "bad sub", sub_url=nowhere)
    await wait_segments(services, camera.id, 2, 30)
    frame = await asyncio.wait_for(stream.subscribe().get(), 10)
    assert frame is not None
    assert frame.image.shape == (180, 320), "detection decodes the main stream instead"
