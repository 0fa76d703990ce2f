"""Playback fixtures: the API's in-process client and camera factory, a server on a real port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn

from tests.api.conftest import add_camera, admin, anonymous, app, client, dead_url, footage
from vigil.api.app import create_app
from vigil.app import Services
from vigil.settings import Settings

__all__ = [
    "add_camera",
    "admin",
    "anonymous",
    "app",
    "client",
    "dead_url",
    "footage",
    "served",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def served(settings: Settings, services: Services) -> AsyncIterator[str]:
    """The app over ``services`` on a real port; yields its base URL."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, services),
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
        )
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "the server failed to start"
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
