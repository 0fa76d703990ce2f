"""HLS readers other than hls.js: ffmpeg's HLS reader (ffmpeg, mpv, VLC's use of it) plays
recorded footage across file boundaries without dropping a frame, through the real server."""

from __future__ import annotations

import asyncio
import itertools
import shutil
from pathlib import Path

import av
import httpx
import numpy as np
import pytest

from tests.conftest import TEST_ORG
from tests.node.helpers import segments_of, wait_segments
from tests.people import make_user
from vigil.app import Services
from vigil.auth.tokens import MediaKind
from vigil.media.ffmpeg import find_ffmpeg
from vigil.playback.fragments import FragmentCache
from vigil.playback.retime import RangeNotSatisfiable, read_shifted
from vigil.settings import Settings
from vigil.sim.framecode import read_frame_code
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields

SIM_CAMERA = "cam2"
WIDTH, HEIGHT = 320, 240  # tests/conftest.py SMALL_CLIP: 10 fps, a keyframe a second
LOOP_FRAMES = 200  # its 20 s loop
# Debian 12's ffmpeg 5.1, what `apt install ffmpeg` gives most users, as well as the bundled one.
SYSTEM_FFMPEG = "/usr/bin/ffmpeg"
CHROMIUM = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0"


# What readers see does not depend on which database indexed the footage: SQLite only.
@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'vigil.db'}"


def file_frame_codes(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        return [read_frame_code(frame) for frame in container.decode(video=0)]


async def ffmpeg_frame_codes(ffmpeg: str, url: str) -> list[int]:
    """``ffmpeg -i <playlist URL>``: the frame code of every frame it decodes, in order."""
    # (The server runs on this event loop: ffmpeg runs as an asyncio subprocess.)
    proc = await asyncio.create_subprocess_exec(
        *(ffmpeg, "-nostdin", "-v", "error", "-i", url, "-map", "0:v:0"),
        *("-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "gray", "-"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, errors = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, errors
    pictures = np.frombuffer(out, np.uint8).reshape(-1, HEIGHT, WIDTH)
    return [read_frame_code(av.VideoFrame.from_ndarray(p, format="gray")) for p in pictures]


async def test_ffmpeg_reads_every_frame_across_three_files(
    services: Services, settings: Settings, sim: SimulatedCameras, served: str
) -> None:
    camera = await services.cameras.create(
        CameraFields(name="readers", main_url=sim.url(SIM_CAMERA), segment_seconds=2),
        org_id=TEST_ORG,
    )
    await wait_segments(services, camera.id, 4)
    await services.cameras.update(camera.id, {"enabled": False})
    segments = (await segments_of(services, camera.id))[:3]
    files = [settings.recordings_dir / s.path for s in segments]
    recorded = [code for path in files for code in await asyncio.to_thread(file_frame_codes, path)]
    # One connection: the files hold one run of frames, each file's timestamps from zero.
    assert all((b - a) % LOOP_FRAMES == 1 for a, b in itertools.pairwise(recorded)), recorded

    viewer = await make_user(services, "viewer", "admin")
    token = services.auth.signer.sign(viewer.id, MediaKind.RECORDINGS, camera.id)
    start, end = segments[0].start_ms, segments[-1].end_ms
    url = (
        f"{served}/api/cameras/{camera.id}/vod.m3u8"
        f"?start={start / 1000}&end={end / 1000}&token={token}"
    )
    readers = [find_ffmpeg()] + ([SYSTEM_FFMPEG] if shutil.which(SYSTEM_FFMPEG) else [])
    for ffmpeg in readers:
        # Every frame of the three files, in order: none dropped at a file boundary.
        assert await ffmpeg_frame_codes(ffmpeg, url) == recorded, ffmpeg

    # Browsers (hls.js re-syncs at every discontinuity) get the files as recorded.
    async with httpx.AsyncClient() as http:
        for agent, shifted in (("Lavf/61.7.100", True), (CHROMIUM, False)):
            playlist = (await http.get(url, headers={"User-Agent": agent})).text
            assert ("shift=" in playlist) is shifted, agent
            assert playlist.count("#EXT-X-DISCONTINUITY") == 2


def test_ranges_that_split_a_decode_time_reassemble_shifted(
    tmp_path: Path, sample_mp4: bytes
) -> None:
    path = tmp_path / "segment.mp4"
    path.write_bytes(sample_mp4)
    cache = FragmentCache()
    whole = read_shifted(cache, path, None, 2_000_000)
    field = cache.get(path).fragments[1].decode_times[0]
    cut = field.offset + field.width // 2  # a player's range ends inside the field
    head = read_shifted(cache, path, f"bytes=0-{cut - 1}", 2_000_000)
    tail = read_shifted(cache, path, f"bytes={cut}-", 2_000_000)
    assert (head.first, head.last, tail.first, tail.last) == (0, cut - 1, cut, len(sample_mp4) - 1)
    assert head.body + tail.body == whole.body != sample_mp4
    moved = int.from_bytes(whole.body[field.offset : field.offset + field.width], "big")
    assert moved == cache.get(path).fragments[1].decode_time + 2 * cache.get(path).timescale
    with pytest.raises(RangeNotSatisfiable):
        read_shifted(cache, path, f"bytes={len(sample_mp4)}-", 2_000_000)
