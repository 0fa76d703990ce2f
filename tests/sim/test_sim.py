"""Simulated RTSP cameras, pulled by real clients (PyAV and the ffmpeg CLI)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import av
import av.container
import pytest

from vigil.sim.clips import ClipParams, ensure_clip, find_ffmpeg
from vigil.sim.runner import SimulatedCameras, SimulatorUnavailable

VIEWER = "viewer"
PASSWORD = "hunter2-camera"  # one of tests/conftest.py SECRETS: it must never be logged


def open_stream(
    url: str, transport: str = "tcp", read_timeout: float = 5.0
) -> av.container.InputContainer:
    # A short analyzeduration: else ffmpeg probes ~20 frames (2 s at 10 fps) for the rate.
    options = {"rtsp_transport": transport, "timeout": "5000000", "analyzeduration": "500000"}
    return av.open(url, options=options, timeout=(10.0, read_timeout))


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def first_packets(container: av.container.InputContainer, count: int) -> int:
    """Read ``count`` video packets; return how many carried a timestamp."""
    stamped = 0
    for n, packet in enumerate(container.demux(video=0), start=1):
        stamped += packet.pts is not None
        if n >= count:
            break
    return stamped


@pytest.mark.parametrize(("index", "transport"), [(0, "tcp"), (1, "udp")])
def test_stream_is_live_h264_and_aac(sim: SimulatedCameras, index: int, transport: str) -> None:
    with open_stream(sim.urls[index], transport) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.name == "h264"
        assert (video.codec_context.width, video.codec_context.height) == (320, 240)
        assert video.average_rate == 10
        assert audio.codec_context.name == "aac"
        assert audio.rate == 48000
        time_base, audio_time_base = video.time_base, audio.time_base  # read while open
        assert time_base is not None
        assert audio_time_base is not None
        video_pts: list[int] = []
        audio_pts: list[int] = []
        pictures: list[bytes] = []
        started = time.monotonic()
        for packet in container.demux(video, audio):
            if packet.stream is video:
                frames = [f for f in packet.decode() if isinstance(f, av.VideoFrame)]
                pictures += [bytes(frame.planes[0]) for frame in frames]
            if packet.pts is None:  # ffmpeg's RTSP demuxer leaves the very first one unset
                continue
            (video_pts if packet.stream is video else audio_pts).append(packet.pts)
            if video_pts and (video_pts[-1] - video_pts[0]) * time_base >= 3:
                break
        elapsed = time.monotonic() - started
    assert len(pictures) >= 30
    assert len(set(pictures)) == len(pictures), "every frame shows a new clock value"
    steps = [(b - a) * time_base for a, b in itertools.pairwise(video_pts)]
    # One frame at a time, give or take rounding to the 90 kHz RTP clock and ffmpeg's switch
    # to RTCP-based timing once the first sender report arrives (a few ticks).
    odd = [step for step in steps if abs(step - Fraction(1, 10)) > Fraction(1, 1000)]
    assert not odd, f"{len(odd)} of {len(steps)} steps are not 1/10 s: {odd}"
    assert all(b > a for a, b in itertools.pairwise(audio_pts))
    assert (audio_pts[-1] - audio_pts[0]) * audio_time_base >= 2.5
    # Served live, not dumped: 3 s of media took real time (less the probe's backlog).
    assert elapsed >= 1.5


def test_camera_without_audio_has_video_only(silent_sim: SimulatedCameras) -> None:
    with open_stream(silent_sim.urls[0]) as container:
        assert [s.type for s in container.streams] == ["video"]
        assert first_packets(container, 5) >= 4


def test_many_clients_share_one_camera_and_are_counted(sim: SimulatedCameras) -> None:
    name, url = sim.names[0], sim.urls[0]
    before = sim.clients(name)
    transports = ["tcp", "udp", "tcp", "udp"]
    with ThreadPoolExecutor(len(transports)) as pool:
        viewers = list(pool.map(lambda t: open_stream(url, t), transports))
        try:
            wait_for(lambda: sim.clients(name) == before + len(viewers))
            assert sim.status(name).state == "streaming"
            stamped = list(pool.map(lambda c: first_packets(c, 10), viewers))
            assert all(n >= 9 for n in stamped), stamped
            assert sim.clients(name) == before + len(viewers)
        finally:
            for viewer in viewers:
                viewer.close()
    wait_for(lambda: sim.clients(name) == before)


def test_drop_disconnects_refuses_then_serves_again(sim: SimulatedCameras) -> None:
    name, url = sim.names[2], sim.urls[2]
    with open_stream(url) as viewer:
        packets = viewer.demux(video=0)
        next(packets)
        sim.drop(name, seconds=3)
        try:
            assert sim.status(name).state == "dropped"
            # The connection is closed: what was buffered drains, then the stream ends.
            assert sum(1 for _ in packets) < 30
            with pytest.raises(av.error.HTTPServerError, match="5XX"):
                open_stream(url)
            wait_for(lambda: sim.status(name).state != "dropped", seconds=5)
            with open_stream(url) as again:
                assert first_packets(again, 5) >= 4
        finally:
            sim.resume(name)


def test_stall_keeps_connections_but_sends_nothing(sim: SimulatedCameras) -> None:
    name, url = sim.names[3], sim.urls[3]
    before = sim.clients(name)
    cmd = [find_ffmpeg(), "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp"]
    cmd += ["-timeout", "2000000", "-i", url, "-c", "copy", "-f", "null", "-"]
    ffmpeg = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with open_stream(url, read_timeout=2.0) as viewer:
            packets = viewer.demux(video=0)
            next(packets)
            wait_for(lambda: sim.clients(name) == before + 2)
            sim.stall(name, seconds=30)
            stalled = time.monotonic()
            with pytest.raises(av.error.ExitError):  # PyAV's read timeout
                for _ in packets:
                    pass
            status = sim.status(name)
            assert status.state == "stalled"
            assert status.clients >= before + 1, "a stall keeps connections open"
        # RTCP still flows during a stall (as from a real frozen camera) and resets
        # ffmpeg's socket timeout: it gives up after 5-11 s, not 2 s. It exits with 0.
        assert ffmpeg.wait(timeout=max(0.0, stalled + 25 - time.monotonic())) == 0
        sim.resume(name)
        assert sim.status(name).state != "stalled"
        with open_stream(url) as again:
            assert first_packets(again, 5) >= 4
    finally:
        sim.resume(name)
        if ffmpeg.poll() is None:
            ffmpeg.kill()
            ffmpeg.wait()


@pytest.fixture(scope="module", params=["digest", "basic"])
def guarded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimulatedCameras]:
    cameras = SimulatedCameras(
        1,
        width=320,
        height=240,
        fps=10,
        bitrate_kbps=300,
        loop_seconds=4,
        audio=False,
        auth=f"{VIEWER}:{PASSWORD}",
        auth_method=request.param,
        cache_dir=tmp_path_factory.mktemp("clips"),
    )
    with cameras:
        yield cameras


def test_wrong_credentials_are_refused(guarded: SimulatedCameras) -> None:
    plain = guarded.urls[0]
    wrong = plain.replace("rtsp://", f"rtsp://{VIEWER}:not-the-password@")
    for url in (plain, wrong):
        with pytest.raises(av.error.HTTPUnauthorizedError):
            open_stream(url)
    with open_stream(guarded.url("cam1", credentials=True)) as container:
        assert first_packets(container, 5) >= 4


def test_clip_is_split_into_access_units_and_cached(tmp_path: Path) -> None:
    params = ClipParams(width=160, height=120, fps=10, bitrate_kbps=100, loop_seconds=2)
    folder = ensure_clip(params, tmp_path)
    index = json.loads((folder / "index.json").read_text())
    video = (folder / "video.h264").read_bytes()
    offsets = index["video"]["offsets"]
    assert len(offsets) == 20 + 1
    assert offsets[-1] == len(video)
    assert all(video[o : o + 5] == b"\x00\x00\x00\x01\x09" for o in offsets[:-1])
    assert index["video"]["keyframes"] == [0, 10]
    assert len(index["audio"]["offsets"]) == 2 * 48000 // 1024 + 1
    written = (folder / "index.json").stat().st_mtime_ns
    assert ensure_clip(params, tmp_path) == folder
    assert (folder / "index.json").stat().st_mtime_ns == written, "encoded once"
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == [folder.name]


def test_an_h265_clip_is_split_the_same_way_and_served_as_h265(
    tmp_path: Path, hevc_sim: SimulatedCameras
) -> None:
    params = ClipParams(width=160, height=120, fps=10, bitrate_kbps=100, loop_seconds=2)
    h265 = dataclasses.replace(params, codec="h265")
    assert "h265" in h265.key()
    assert "h265" not in params.key()  # H.264 clips keep the folders they had
    folder = ensure_clip(h265, tmp_path)
    index = json.loads((folder / "index.json").read_text())
    video = (folder / "video.h265").read_bytes()
    offsets = index["video"]["offsets"]
    assert index["video"]["codec"] == "h265"
    assert len(offsets) == 20 + 1
    # Every access unit starts with an H.265 access unit delimiter (NAL type 35).
    assert all(video[o : o + 6] == b"\x00\x00\x00\x01\x46\x01" for o in offsets[:-1])
    assert index["video"]["keyframes"] == [0, 10]
    with open_stream(hevc_sim.url("cam1")) as container:
        assert container.streams.video[0].codec_context.name == "hevc"
        assert first_packets(container, 5) >= 4


def test_gop_must_divide_the_loop() -> None:
    with pytest.raises(ValueError, match="GOP"):
        ClipParams(fps=10, loop_seconds=1, gop_frames=3)


def test_missing_system_python_is_reported(tmp_path: Path) -> None:
    cameras = SimulatedCameras(1, python=str(tmp_path / "python3"), cache_dir=tmp_path)
    with pytest.raises(SimulatorUnavailable, match="apt-get install"):
        cameras.start()


def test_run_sim_prints_one_url_per_line(tmp_path: Path) -> None:
    code = "from vigil.sim import run_sim; run_sim(2, 0, 160, 120, 10, 100, False, None, None)"
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "VIGIL_SIM_CACHE": str(tmp_path)},
    )
    try:
        assert process.stdout is not None
        urls = [process.stdout.readline().strip() for _ in range(2)]
        assert all(re.fullmatch(r"rtsp://127\.0\.0\.1:\d+/cam[12]", u) for u in urls), urls
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert out == ""
    assert "control: http://127.0.0.1:" in err


def test_labelled_cameras_get_a_clip_each(tmp_path: Path) -> None:
    cameras = SimulatedCameras(
        2,
        width=160,
        height=120,
        fps=10,
        bitrate_kbps=100,
        loop_seconds=2,
        labels=True,
        cache_dir=tmp_path,
    )
    with cameras, open_stream(cameras.urls[1]) as container:
        assert first_packets(container, 3) >= 2
    clips = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert [name.split("-")[-2] for name in clips] == ["cam1", "cam2"]
