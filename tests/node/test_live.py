"""Live streams on the node: fMP4 parsing, fan-out to viewers, the HLS window, snapshots."""

from __future__ import annotations

import asyncio
import io
import itertools
import os
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import av
import pytest

from tests.backends import SQLITE_ONLY
from tests.conftest import TEST_ORG
from tests.node.helpers import eventually, segments_of, wait_segments, wait_state
from vigil.app import Services
from vigil.link.messages import CameraState
from vigil.media.ffmpeg import find_ffmpeg
from vigil.media.fmp4 import parse_fragment, parse_init
from vigil.media.mp4 import boxes
from vigil.node.live import Fragment, LiveStream, StreamStart, Viewer
from vigil.node.pipes import LIVE_PIPE_BYTES, OutputPipe
from vigil.node.snapshot import keyframe_jpeg
from vigil.settings import Settings
from vigil.sim.framecode import read_frame_code
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields
from vigil.store.segments import SPAN_TOLERANCE_MS

# The recorder and its files, not the store, are under test here: one database is enough.
pytestmark = SQLITE_ONLY

LIVE_MOVFLAGS = ["-movflags", "+frag_keyframe+empty_moov+default_base_moof",
                 "-frag_duration", "200000"]  # fmt: skip


def encode(path: Path, *codec: str, audio: bool = False, seconds: int = 3) -> bytes:
    """Live-style fragmented MP4 of ffmpeg's test pattern, 160x120 at 10 fps, GOP of 10."""
    sources = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10"]
    if audio:
        sources += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    subprocess.run(
        [find_ffmpeg(), "-hide_banner", "-loglevel", "error", *sources, "-t", str(seconds),
         "-pix_fmt", "yuv420p", *codec, "-g", "10", *(["-c:a", "aac"] if audio else []),
         "-f", "mp4", *LIVE_MOVFLAGS, str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


@pytest.fixture(scope="module")
def h264(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return encode(
        tmp_path_factory.mktemp("live") / "h264.mp4",
        "-c:v",
        "libx264",
        "-profile:v",
        "main",
        audio=True,
    )


def split(data: bytes) -> tuple[bytes, list[bytes]]:
    """Init segment and moof+mdat fragments of a whole fMP4 file."""
    found = list(boxes(data))
    init_end = next(end for kind, _, end in found if kind == "moov")
    starts = [payload - 8 for kind, payload, _ in found if kind == "moof"]
    ends = [end for kind, _, end in found if kind == "mdat"]
    return data[:init_end], [data[s:e] for s, e in zip(starts, ends, strict=True)]


class FfmpegRun:
    """One run of a camera's ffmpeg as the stream sees it: a pipe written to, then closed."""

    def __init__(self, stream: LiveStream, streaming: Callable[[], bool] = lambda: True) -> None:
        self._stream = stream
        self._pipe = OutputPipe(LIVE_PIPE_BYTES)
        self._task = asyncio.create_task(stream.consume(self._pipe, streaming))
        self.written = 0

    async def write(self, *chunks: bytes) -> None:
        """Write into the pipe (blocking, like ffmpeg, while it is full), then wait until the
        stream has read everything."""
        await self.push(*chunks)
        await eventually(self._read, bool, 10, "the stream to read what was written")
        for _ in range(5):  # let the viewers run, as between two writes
            await asyncio.sleep(0)

    async def push(self, *chunks: bytes) -> None:
        """Write into the pipe without waiting for the stream to read it."""
        for chunk in chunks:
            await asyncio.to_thread(_write_all, self._pipe.write_fd, chunk)
            self.written += len(chunk)

    async def _read(self) -> bool:
        return self._stream.bytes_read >= self.written

    async def exit(self) -> None:
        self._pipe.close_write_end()
        await asyncio.wait_for(self._task, 5)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


async def run_ffmpeg(stream: LiveStream, *chunks: bytes) -> FfmpegRun:
    run = FfmpegRun(stream)
    await run.write(*chunks)
    return run


def test_codecs_of_h264_with_aac(h264: bytes) -> None:
    init, fragments = split(h264)
    info = parse_init(init)
    assert info.codecs == "avc1.4d400a,mp4a.40.2"
    assert info.mime == 'video/mp4; codecs="avc1.4d400a,mp4a.40.2"'
    assert info.video is not None
    assert (info.video.width, info.video.height) == (160, 120)
    parsed = [parse_fragment(f, info.video) for f in fragments]
    keyframes = [i for i, p in enumerate(parsed) if p.keyframe]
    assert keyframes[:3] == [0, 5, 10], "a keyframe every 10 frames, 2 frames a fragment"
    assert sum(p.duration for p in parsed) / info.video.timescale == pytest.approx(3.0)


def test_codecs_of_hevc_relayed_as_sent(tmp_path: Path) -> None:
    data = encode(tmp_path / "hevc.mp4", "-c:v", "libx265", "-tag:v", "hvc1",
                  "-x265-params", "log-level=error")  # fmt: skip
    init, fragments = split(data)
    info = parse_init(init)
    # Main profile (1), compatible with Main and Main 10 (flags 1 and 2, bit-reversed: 6),
    # Main tier at level 1 (L30: 30 times the level), progressive and frame-only (90).
    assert info.codecs == "hvc1.1.6.L30.90"
    assert info.mime == 'video/mp4; codecs="hvc1.1.6.L30.90"'
    assert info.video is not None
    assert parse_fragment(fragments[0], info.video).keyframe


async def test_viewers_start_on_a_keyframe_and_follow_restarts(h264: bytes) -> None:
    init, fragments = split(h264)
    stream = LiveStream(camera_id=1)
    early = stream.join()  # before anything arrived
    first = await run_ffmpeg(stream, init, *fragments[:7])  # GOPs: fragments 0-4 and 5-6
    late = stream.join()
    assert stream.viewers == 2

    async def drain(viewer_packets: int, viewer: object) -> list[StreamStart | Fragment]:
        assert hasattr(viewer, "get")
        return [await viewer.get() for _ in range(viewer_packets)]

    got_early = await drain(8, early)
    assert isinstance(got_early[0], StreamStart)
    assert [p.data for p in got_early[1:] if isinstance(p, Fragment)] == fragments[:7]
    got_late = await drain(3, late)
    assert isinstance(got_late[0], StreamStart)
    assert [p.data for p in got_late[1:] if isinstance(p, Fragment)] == fragments[5:7]
    assert isinstance(got_late[1], Fragment)
    assert got_late[1].keyframe

    # ffmpeg restarts: every viewer gets the new init segment, then a keyframe.
    await first.exit()
    second = await run_ffmpeg(stream, init, *fragments[8:12])
    after = await drain(2, late)
    assert isinstance(after[0], StreamStart)
    assert after[0].generation == 2
    assert isinstance(after[1], Fragment)
    assert after[1].data == fragments[10]

    early.close()
    late.close()
    assert stream.viewers == 0
    await second.exit()


class Always:
    """A stream's demand that says the camera streams (see on_demand.py)."""

    running = True

    def wanted(self) -> None:
        return None

    def upstream(self) -> bool:
        return True


async def test_a_run_still_stopping_never_mixes_into_the_next(h264: bytes) -> None:
    """On demand, a viewer can come back while the last run's ffmpeg is still stopping: the
    new run is the stream; what the old one still writes, and its end, change nothing."""
    init, fragments = split(h264)
    stream = LiveStream(camera_id=1, demand=Always())

    def generation(number: int) -> Callable[[], Awaitable[bool]]:
        async def probe() -> bool:
            return stream.start is not None and stream.start.generation == number

        return probe

    old = FfmpegRun(stream, streaming=lambda: False)  # being stopped: read to its end
    await old.push(init, *fragments[:5])
    await eventually(generation(1), bool, 10, "the old run's stream")
    viewer = stream.join()  # watching the old run, which is being stopped
    before = [await asyncio.wait_for(viewer.get(), 5) for _ in range(6)]
    assert [p.data for p in before if isinstance(p, Fragment)] == fragments[:5]
    new = FfmpegRun(stream)
    await new.push(init, fragments[10])
    await eventually(generation(2), bool, 10, "the new run's stream")
    await old.push(*fragments[5:7])  # the old ffmpeg writes its last bytes, then exits
    await old.exit()
    assert stream.start is not None
    assert stream.start.generation == 2, "the new run's stream stays"
    await new.push(fragments[11])
    after = [await asyncio.wait_for(viewer.get(), 5) for _ in range(3)]
    assert isinstance(after[0], StreamStart)
    assert after[0].generation == 2
    assert [p.data for p in after[1:] if isinstance(p, Fragment)] == fragments[10:12], (
        "nothing of the old run in between"
    )
    viewer.close()
    await new.exit()
    assert stream.start is None, "an ended run on demand leaves no stream behind"


async def test_a_slow_viewer_skips_to_a_keyframe_then_is_dropped(h264: bytes) -> None:
    init, fragments = split(h264)
    gops = [b"".join(fragments[i : i + 5]) for i in (0, 5, 10)]
    stream = LiveStream(camera_id=1, viewer_bytes=max(map(len, gops)) + 1, viewer_skips=1)
    slow, fast = stream.join(), stream.join()
    received: list[bytes] = []

    async def keep_up() -> None:
        async for packet in fast:
            if isinstance(packet, Fragment):
                received.append(packet.data)

    reader = asyncio.create_task(keep_up())
    first = await run_ffmpeg(stream, init, *fragments[:10])
    assert received == fragments[:10]
    # Two GOPs sent, one too many for it: it skipped to the second keyframe.
    assert slow.skipped == 1
    assert not slow.dropped
    packets = [await slow.get() for _ in range(6)]
    assert isinstance(packets[0], StreamStart)
    assert [p.data for p in packets[1:] if isinstance(p, Fragment)] == fragments[5:10]
    await first.exit()
    await (await run_ffmpeg(stream, init, *fragments[:15])).exit()  # ffmpeg restarted
    fast.close()
    await reader  # it takes what is left in its queue, then ends
    assert received == fragments[:10] + fragments[:15], "a slow viewer never holds the others back"
    # After the restart it fell behind twice more without catching up: dropped, queue freed.
    assert slow.dropped
    assert slow.closed
    assert slow.skipped == 3
    assert await slow.get() is None
    assert stream.viewers == 0


async def test_hls_window_and_snapshot(h264: bytes) -> None:
    init, fragments = split(h264)
    stream = LiveStream(camera_id=1, hls_segments=2)
    assert await stream.hls_playlist() is None  # a player asks: live media is read from now on
    assert await stream.snapshot() is None
    await (await run_ffmpeg(stream, init, *fragments)).exit()  # three GOPs
    assert await stream.snapshot() is None, "no stale picture once ffmpeg has exited"
    restarted = await run_ffmpeg(stream, init, *fragments[:6])
    playlist = await stream.hls_playlist()
    assert playlist is not None
    assert playlist.splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        "#EXT-X-TARGETDURATION:1",
        "#EXT-X-MEDIA-SEQUENCE:2",
        "#EXT-X-DISCONTINUITY-SEQUENCE:0",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        '#EXT-X-MAP:URI="live/init/1.mp4"',
        "#EXTINF:1.000,",
        "live/2.m4s",
        "#EXT-X-DISCONTINUITY",
        '#EXT-X-MAP:URI="live/init/2.mp4"',
        "#EXTINF:1.000,",
        "live/3.m4s",
    ]
    # The restart closed the last GOP; the audio left at the end belongs to it.
    assert stream.hls.segment(2) == b"".join(fragments[10:])
    assert stream.hls.segment(1) is None  # left the window
    assert stream.hls.init(2) == init

    jpeg = await stream.snapshot()
    assert jpeg is not None
    assert jpeg[:2] == b"\xff\xd8"
    assert await stream.snapshot() is jpeg, "decoded once per keyframe"
    with av.open(io.BytesIO(jpeg)) as image:
        frame = next(image.decode(video=0))
        assert (frame.width, frame.height) == (160, 120)
    await restarted.exit()


async def test_garbage_in_the_pipe_pauses_live_without_blocking_ffmpeg() -> None:
    stream = LiveStream(camera_id=1)
    run = await run_ffmpeg(stream, b"\x00\x00\x00\x04junk" + b"x" * 100_000)
    await run.exit()  # drained to the end, not stuck
    assert stream.start is None


async def test_a_camera_not_recording_is_still_live(
    services: Services, sim: SimulatedCameras
) -> None:
    camera = await services.cameras.create(
        CameraFields(name="live only", main_url=sim.urls[2], recording=False), org_id=TEST_ORG
    )
    await wait_state(services, camera.id, {CameraState.STREAMING})
    assert services.node is not None
    live = services.node.live_stream(camera.id)
    assert live is not None

    async def window() -> str:
        return await live.hls_playlist() or ""  # a player polling it

    await eventually(window, lambda text: text.count("#EXTINF") >= 3, 20, "3 s of live media")
    assert await segments_of(services, camera.id) == []
    assert sim.clients("cam3") == 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def long_h264(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """40 s without audio: a GOP a second, five fragments a GOP."""
    path = tmp_path_factory.mktemp("live") / "long.mp4"
    return encode(path, "-c:v", "libx264", "-profile:v", "main", seconds=40)


def paused(stream: LiveStream) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return stream.paused

    return probe


def gop(fragments: list[bytes], second: int) -> list[bytes]:
    return fragments[5 * second : 5 * second + 5]


async def test_unwatched_live_is_not_read_and_a_late_viewer_sees_the_current_picture(
    long_h264: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nobody watches: the node stops reading after the first picture, and what ffmpeg writes
    meanwhile stays in the pipe. A viewer who comes much later starts on the picture ffmpeg
    sends then, never on what waited in the pipe; a snapshot likewise."""
    monkeypatch.setattr("vigil.node.live.IDLE_SECONDS", 2.0)
    init, fragments = split(long_h264)
    clock = FakeClock()
    stream = LiveStream(camera_id=1, clock=clock)
    run = FfmpegRun(stream)
    clock.now = 1.0  # the camera's first second arrives
    await run.push(init, *gop(fragments, 0))
    await eventually(paused(stream), bool, 10, "the reading to pause")
    assert stream.has_picture, "live/info says the camera sends pictures"
    read = stream.bytes_read

    clock.now = 4.0  # ffmpeg writes on until the pipe is full (then its fifo drops packets)
    await run.push(*gop(fragments, 1), *gop(fragments, 2), *gop(fragments, 3))
    await asyncio.sleep(0.2)
    assert stream.bytes_read == read, "nothing read while nobody watches"

    clock.now = 30.0  # much later, someone opens the camera
    viewer = stream.join()
    assert isinstance(await viewer.get(), StreamStart)
    await run.write(*gop(fragments, 29))  # what the camera sends now
    first = await asyncio.wait_for(viewer.get(), 5)
    assert isinstance(first, Fragment)
    assert first.data == gop(fragments, 29)[0], "the current picture, not one from the pipe"
    assert first.keyframe
    viewer.close()

    clock.now = 33.0  # the idle delay has passed: the reading pauses at the next keyframe
    await run.push(*gop(fragments, 32))
    await eventually(paused(stream), bool, 10, "the reading to pause again")
    assert stream.pauses == 2
    clock.now = 35.0
    await run.push(*gop(fragments, 33), *gop(fragments, 34))

    clock.now = 38.0  # a snapshot is asked for: the picture of now, not of the pipe
    snapshot = asyncio.create_task(stream.snapshot())
    await asyncio.sleep(0.2)
    await run.write(*gop(fragments, 37))
    jpeg = await asyncio.wait_for(snapshot, 5)
    assert jpeg == keyframe_jpeg(init, gop(fragments, 37)[0])
    assert jpeg != keyframe_jpeg(init, gop(fragments, 33)[0])
    await run.exit()


async def test_an_ffmpeg_stopping_while_nobody_watches_can_finish(long_h264: bytes) -> None:
    """While paused, ffmpeg's live output blocks on the full pipe; once ffmpeg stops streaming
    (asked to stop, or the camera is gone) the node reads again so that it can exit."""
    init, fragments = split(long_h264)
    streaming = True
    stream = LiveStream(camera_id=1)
    run = FfmpegRun(stream, lambda: streaming)
    await run.push(init, *gop(fragments, 0))
    await eventually(paused(stream), bool, 10, "the reading to pause")
    rest = b"".join(fragments[5:])
    assert len(rest) > 2 * LIVE_PIPE_BYTES
    writing = asyncio.create_task(run.push(rest))
    await asyncio.sleep(1.0)
    assert not writing.done(), "ffmpeg waits on the full pipe while nobody watches"
    streaming = False
    await asyncio.wait_for(writing, 10)
    await run.exit()


async def first_picture(viewer: Viewer) -> av.VideoFrame:
    """The first frame a viewer is sent, decoded."""
    start = await asyncio.wait_for(viewer.get(), 10)
    assert isinstance(start, StreamStart)
    fragment = await asyncio.wait_for(viewer.get(), 10)
    assert isinstance(fragment, Fragment)
    with av.open(io.BytesIO(start.init + fragment.data), mode="r", format="mp4") as container:
        return next(container.decode(video=0))


def camera_now(url: str) -> av.VideoFrame:
    """What the simulated camera sends now: the first frame of a fresh connection to it."""
    with av.open(url, options={"rtsp_transport": "tcp"}, timeout=10) as container:
        return next(container.decode(video=0))


@pytest.mark.parametrize("mode", ["always", "on_demand"])
async def test_a_viewer_after_a_long_unwatched_time_sees_the_camera_as_it_is_now(
    mode: str,
    settings: Settings,
    services: Services,
    sim: SimulatedCameras,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With real ffmpeg: the camera goes unwatched for a while (live view paused, ffmpeg's
    fifo dropping packets; or, on demand, no live ffmpeg at all), then a viewer comes; its
    first picture is what the camera sends at that moment (the simulator's frame code), not
    one from before."""
    monkeypatch.setattr("vigil.node.live.IDLE_SECONDS", 0.5)
    settings.node.live = mode  # type: ignore[assignment]
    camera = await services.cameras.create(
        CameraFields(name="unwatched", main_url=sim.urls[1]), org_id=TEST_ORG
    )
    await wait_state(services, camera.id, {CameraState.STREAMING})
    assert services.node is not None
    live = services.node.live_stream(camera.id)
    assert live is not None
    if mode == "always":
        await eventually(paused(live), bool, 20, "live view to pause, nobody watching")
    assert sim.clients(sim.names[1]) == 1, "unwatched: the recording's connection only"
    await asyncio.sleep(4.0)  # unwatched: what waits in the pipe grows old
    viewer = live.join()
    seen = read_frame_code(await first_picture(viewer))
    now = read_frame_code(await asyncio.to_thread(camera_now, sim.urls[1]))
    viewer.close()
    loop = 20 * 10  # SMALL_CLIP: a 20 s loop at 10 fps
    behind = (now - seen) % loop
    # The fresh connection starts at the camera's latest keyframe (a GOP is 1 s); a picture
    # from before the pause would be at least 4 s (40 frames) behind.
    assert behind <= 20 or behind >= loop - 15, f"first picture {behind} frames behind"


@pytest.mark.parametrize("mode", ["always", "on_demand"])
async def test_recording_loses_nothing_while_live_view_pauses_and_resumes(
    mode: str,
    settings: Settings,
    services: Services,
    sim: SimulatedCameras,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Viewers come and go, live view pauses and resumes (or, on demand, its own ffmpeg
    starts and stops) again and again: the camera's segments follow each other without a
    hole and the recording's ffmpeg never restarts."""
    monkeypatch.setattr("vigil.node.live.IDLE_SECONDS", 0.3)
    settings.node.live = mode  # type: ignore[assignment]
    camera = await services.cameras.create(
        CameraFields(name="busy", main_url=sim.urls[2], segment_seconds=2), org_id=TEST_ORG
    )
    await wait_state(services, camera.id, {CameraState.STREAMING})
    assert services.node is not None
    live = services.node.live_stream(camera.id)
    assert live is not None
    camera_name = sim.names[2]

    async def idle() -> bool:
        if mode == "always":
            return live.paused
        return sim.clients(camera_name) == 1  # the live view's ffmpeg has stopped

    for _ in range(5):
        await eventually(idle, bool, 20, "live view to go idle")
        viewer = live.join()
        await first_picture(viewer)
        assert sim.clients(camera_name) == (1 if mode == "always" else 2)
        viewer.close()
    assert await live.snapshot() is not None
    await eventually(idle, bool, 20, "live view to go idle")
    if mode == "always":
        assert live.pauses >= 6
    segments = await wait_segments(services, camera.id, 4)
    await services.cameras.update(camera.id, {"enabled": False})
    segments = await segments_of(services, camera.id)
    holes = [b.start_ms - a.end_ms for a, b in itertools.pairwise(segments)]
    assert len(holes) >= 3
    assert max(holes) <= SPAN_TOLERANCE_MS, holes
    assert services.nodes.status(camera.id).restarts == 0
