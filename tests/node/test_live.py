"""Live streams on the node: fMP4 parsing, fan-out to viewers, the HLS window, snapshots."""

from __future__ import annotations

import asyncio
import io
import subprocess
from pathlib import Path

import av
import pytest

from tests.conftest import TEST_ORG
from tests.node.helpers import eventually, segments_of, wait_state
from vigil.app import Services
from vigil.link.messages import CameraState
from vigil.node.ffmpeg import find_ffmpeg
from vigil.node.fmp4 import boxes, parse_fragment, parse_init
from vigil.node.live import Fragment, LiveStream, StreamStart
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields

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

    def __init__(self, stream: LiveStream) -> None:
        self._pipe = asyncio.StreamReader()
        self._task = asyncio.create_task(stream.consume(self._pipe))

    async def write(self, *chunks: bytes) -> None:
        for chunk in chunks:
            self._pipe.feed_data(chunk)
            for _ in range(5):  # let the stream and its viewers run, as between two writes
                await asyncio.sleep(0)

    async def exit(self) -> None:
        self._pipe.feed_eof()
        await asyncio.wait_for(self._task, 5)


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
    assert stream.hls.playlist() is None
    assert await stream.snapshot() is None
    await (await run_ffmpeg(stream, init, *fragments)).exit()  # three GOPs
    assert await stream.snapshot() is None, "no stale picture once ffmpeg has exited"
    restarted = await run_ffmpeg(stream, init, *fragments[:6])
    playlist = stream.hls.playlist()
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


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
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
        return live.hls.playlist() or ""

    await eventually(window, lambda text: text.count("#EXTINF") >= 3, 20, "3 s of live media")
    assert await segments_of(services, camera.id) == []
    assert sim.clients("cam3") == 1
