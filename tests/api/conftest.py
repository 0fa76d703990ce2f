"""API fixtures: an in-process client over the real services, real fMP4 footage on disk."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from vigil.api.app import create_app
from vigil.app import Services
from vigil.link.messages import SegmentRecord
from vigil.node.ffmpeg import find_ffmpeg
from vigil.node.layout import segment_key
from vigil.settings import Settings

Json = dict[str, Any]


@pytest.fixture
async def client(settings: Settings, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
def dead_url() -> str:
    """A camera URL where nothing listens: the port was free a moment ago and is closed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"rtsp://127.0.0.1:{port}/stream"


@pytest.fixture(scope="session")
def sample_mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Two seconds of fragmented MP4 (H.264, 160x120, 10 fps), as the recorder writes them."""
    path = tmp_path_factory.mktemp("footage") / "sample.mp4"
    subprocess.run(
        [find_ffmpeg(), "-hide_banner", "-loglevel", "error",
         "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "2",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "10",
         "-movflags", "+frag_keyframe+empty_moov+default_base_moof", str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


AddCamera = Callable[..., Awaitable[Json]]


@pytest.fixture
def add_camera(client: httpx.AsyncClient, dead_url: str) -> AddCamera:
    """Create a camera through the API; fields override a valid default."""

    async def add(**fields: Any) -> Json:
        body = {"name": f"Camera {time.monotonic_ns()}", "main_url": dead_url, **fields}
        response = await client.post("/api/cameras", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    return add


Seed = Callable[[int, list[tuple[int, int]]], Awaitable[list[SegmentRecord]]]


@pytest.fixture
def seed(services: Services, settings: Settings, sample_mp4: bytes) -> Seed:
    """Index segments at (start_ms, end_ms) for a camera, each with a real file on disk."""

    async def add(camera_id: int, times: list[tuple[int, int]]) -> list[SegmentRecord]:
        records = []
        for start_ms, end_ms in times:
            key = segment_key(camera_id, start_ms)
            path = settings.recordings_dir / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(sample_mp4)
            records.append(
                SegmentRecord(
                    camera_id=camera_id,
                    path=key,
                    start_ms=start_ms,
                    end_ms=end_ms,
                    size=len(sample_mp4),
                    video_codec="h264",
                    width=160,
                    height=120,
                    fps=10.0,
                )
            )
        assert services.node is not None
        await services.segments.add(services.node.name, records)
        return records

    return add


async def wait_for_state(
    client: httpx.AsyncClient, camera_id: int, state: str, timeout: float = 15.0
) -> Json:
    """Poll the camera's status until it reaches ``state``; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        status = dict((await client.get(f"/api/cameras/{camera_id}/status")).json())
        if status["state"] == state:
            return status
        assert time.monotonic() < deadline, f"camera {camera_id} stuck in {status}"
        await asyncio.sleep(0.05)
