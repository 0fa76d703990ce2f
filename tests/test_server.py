"""The HTTP server around the services: it keeps its Date header current though it wakes
only once a second, and stops when asked."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from email.utils import parsedate_to_datetime

import httpx
import uvicorn
from fastapi import FastAPI

from tests.serve import free_port
from vigil.server import HttpServer


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    return app


async def test_the_date_header_follows_the_clock_and_stop_ends_serving() -> None:
    port = free_port()
    server = HttpServer(uvicorn.Config(_app(), port=port, log_config=None))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), task
        await asyncio.sleep(0.02)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        dates: set[datetime] = set()
        deadline = time.monotonic() + 5
        while len(dates) < 3 and time.monotonic() < deadline:
            response = await client.get("/ping")
            assert response.json() == {"ok": True}
            date = parsedate_to_datetime(response.headers["date"])
            assert abs(date.timestamp() - time.time()) <= 2
            dates.add(date)
            await asyncio.sleep(0.2)
        assert len(dates) == 3, dates  # three distinct seconds within five: it ticks
    server.stop()
    await asyncio.wait_for(task, 10)
    assert server.should_exit
