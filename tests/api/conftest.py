"""API fixtures: an in-process client over the real services, real fMP4 footage on disk."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from vigil.api.app import create_app
from vigil.app import Services
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
