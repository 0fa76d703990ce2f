"""API fixtures: an in-process client over the real services, real fMP4 footage on disk."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import SecretWatch, Seed
from tests.people import ADMIN, make_user, signed_in
from vigil.api.app import create_app
from vigil.app import Services
from vigil.link.messages import SegmentRecord
from vigil.settings import Settings
from vigil.store.models import User
from vigil.timeutil import now_ms

Json = dict[str, Any]
_LINK = re.compile(r"\?token=[\w.\-]+")


def unsigned(value: Any) -> Any:
    """``value`` with the signed links' tokens taken out of every string in it: two answers a
    second apart carry links that expire a second apart."""
    if isinstance(value, str):
        return _LINK.sub("", value)
    if isinstance(value, dict):
        return {key: unsigned(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unsigned(item) for item in value]
    return value


HOUR = 3_600_000


@pytest.fixture
def app(settings: Settings, services: Services) -> FastAPI:
    return create_app(settings, services)


@pytest.fixture
async def admin(services: Services) -> User:
    return await make_user(services, ADMIN, "admin")


@pytest.fixture
async def client(
    app: FastAPI, admin: User, secret_watch: SecretWatch
) -> AsyncIterator[httpx.AsyncClient]:
    """Signed in as the test organisation's admin; every response is checked for secrets."""
    async with signed_in(app, admin.username, watch=secret_watch) as http:
        yield http


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
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


@dataclass
class Footage:
    camera_id: int
    base_ms: int
    records: list[SegmentRecord]


@pytest.fixture
async def footage(add_camera: AddCamera, seed: Seed) -> Footage:
    """2 s segments across an hour boundary: two back to back, a 6 s hole, then one more."""
    camera_id = (await add_camera(enabled=False))["id"]
    base = (now_ms() - 2 * HOUR) // HOUR * HOUR - 3000  # 3 s before an hour starts
    times = [(base, base + 2000), (base + 2000, base + 4000), (base + 10_000, base + 12_000)]
    return Footage(camera_id, base, await seed(camera_id, times))


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
