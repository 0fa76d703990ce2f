"""Serving the app on a real port, for clients that need one (browsers, ffmpeg, WebSockets)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from vigil.server import HttpServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` on 127.0.0.1 in this event loop; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, port=port, log_config=None, ws_per_message_deflate=False, proxy_headers=False
    )
    server = HttpServer(config)  # what vigil serve runs
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        await task
