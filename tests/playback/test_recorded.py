"""Playback of footage recorded from a simulated camera: real ffmpeg, files, HTTP and PyAV."""

from __future__ import annotations

import asyncio
import io
import itertools
from pathlib import Path

import av
import httpx
import pytest

from tests.conftest import TEST_ORG
from tests.node.helpers import eventually, segments_of, wait_segments
from tests.people import make_user
from vigil.app import Services
from vigil.auth.tokens import MediaKind
from vigil.media.ffmpeg import find_ffmpeg
from vigil.settings import Settings
from vigil.sim.framecode import read_frame_code
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields
from vigil.store.models import Segment
from vigil.store.segments import SPAN_TOLERANCE_MS
from vigil.timeutil import iso

SIM_CAMERA = "cam4"
FPS = 10  # tests/conftest.py SMALL_CLIP: 10 fps, a keyframe a second, a 20 s loop
LOOP_FRAMES = 200


# Recording and playing does not depend on which database indexed the footage (the API tests
# cover both): SQLite only, to keep the suite fast.
@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'vigil.db'}"


def has_gap(segments: list[Segment]) -> bool:
    return any(b.start_ms - a.end_ms > SPAN_TOLERANCE_MS for a, b in itertools.pairwise(segments))


def frames_between(code_from: int, code_to: int) -> int:
    """Frames from one frame code to a later one, across the loop's wrap."""
    return (code_to - code_from) % LOOP_FRAMES


def all_frame_codes(source: str) -> list[int]:
    with av.open(source) as container:
        return [read_frame_code(frame) for frame in container.decode(video=0)]


def first_frame_code(source: str) -> int:
    with av.open(source) as container:
        return read_frame_code(next(container.decode(video=0)))


async def test_recorded_range_with_a_gap_plays_and_seeks_to_the_instant(
    services: Services, settings: Settings, sim: SimulatedCameras, served: str
) -> None:
    camera = await services.cameras.create(
        CameraFields(name="playback", main_url=sim.url(SIM_CAMERA), segment_seconds=2),
        org_id=TEST_ORG,
    )
    await wait_segments(services, camera.id, 3)
    sim.drop(SIM_CAMERA, seconds=4)
    segments = await eventually(
        lambda: segments_of(services, camera.id),
        lambda segs: has_gap(segs) and not has_gap(segs[-2:]) and len(segs) >= 5,
        40,
        "footage on both sides of a gap",
    )
    await services.cameras.update(camera.id, {"enabled": False})
    segments = await segments_of(services, camera.id)
    start, end = segments[0].start_ms, segments[-1].end_ms
    # ffmpeg plays it as any player would: through a signed link, without cookies.
    viewer = await make_user(services, "viewer", "admin")
    token = services.auth.signer.sign(viewer.id, MediaKind.RECORDINGS, camera.id)
    playlist_url = (
        f"{served}/api/cameras/{camera.id}/vod.m3u8"
        f"?start={start / 1000}&end={end / 1000}&token={token}"
    )

    # The whole range, gap included, reads without a single error in ffmpeg.
    # (The server runs on this event loop: every blocking read goes to a thread.) Frames keep
    # their 90 kHz times: ffmpeg would otherwise round them to its 1/fps grid, where the first
    # two frames of a connection (its keyframe stamped a few ms early, for want of a timestamp
    # of its own) can land on one tick, a complaint about that rounding, not the footage.
    command = [find_ffmpeg(), "-nostdin", "-v", "error", "-i", playlist_url]
    command += ["-enc_time_base:v", "1:90000", "-f", "null", "-"]
    ffmpeg = await asyncio.create_subprocess_exec(*command, stderr=asyncio.subprocess.PIPE)
    _, errors = await asyncio.wait_for(ffmpeg.communicate(), 60)
    assert ffmpeg.returncode == 0, errors
    assert errors.decode() == ""
    async with httpx.AsyncClient() as http:
        playlist = (await http.get(playlist_url)).text
    dates = [line.split(":", 1)[1] for line in playlist.splitlines() if "DATE-TIME" in line]
    assert dates[0] == iso(start)
    assert len(dates) == len(segments)  # every file is in it, on its wall-clock time

    # PyAV plays it from the first recorded frame on, through the gap. (Every frame across
    # files is counted in test_readers.py.)
    codes = await asyncio.to_thread(all_frame_codes, playlist_url)
    first_file = str(settings.recordings_dir / segments[0].path)
    assert codes[0] == (await asyncio.to_thread(all_frame_codes, first_file))[0]
    gap = next(b.start_ms - a.end_ms for a, b in itertools.pairwise(segments) if has_gap([a, b]))
    jumps = [frames_between(a, b) for a, b in itertools.pairwise(codes)]
    assert any(abs(jump - gap * FPS / 1000) <= 2 * FPS for jump in jumps), jumps

    # Seeking: a playlist starting at instant t shows the simulator's clock within one
    # keyframe interval (at or before t); the frame at t shows it to the frame. Both are
    # measured from the frame code at a segment's start (the first frame of its file).
    after_gap = next(
        i
        for i, (a, b) in enumerate(itertools.pairwise(segments), 1)
        if b.start_ms - a.end_ms > 1500
    )
    for reference in (segments[0], segments[after_gap]):
        ref_code = first_frame_code(str(settings.recordings_dir / reference.path))
        instant = reference.start_ms + 2700  # inside the next file, between keyframes
        expected = round((instant - reference.start_ms) * FPS / 1000)
        seek_url = (
            f"{served}/api/cameras/{camera.id}/vod.m3u8"
            f"?start={instant / 1000}&end={(instant + 3000) / 1000}&token={token}"
        )
        shown = frames_between(ref_code, await asyncio.to_thread(first_frame_code, seek_url))
        assert expected - FPS <= shown <= expected, (shown, expected)
        async with httpx.AsyncClient() as http:
            jpeg = await http.get(
                f"{served}/api/cameras/{camera.id}/frame.jpg",
                params={"at": instant / 1000, "token": token},
            )
        assert jpeg.status_code == 200
        with av.open(io.BytesIO(jpeg.content)) as image:
            frame = next(image.decode(video=0))
        assert (frame.width, frame.height) == (320, 240)
        assert abs(frames_between(ref_code, read_frame_code(frame)) - expected) <= 1
