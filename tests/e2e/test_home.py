"""The start page in a real browser."""

from __future__ import annotations

import asyncio
import socket

import uvicorn
from playwright.async_api import BrowserContext

from tests.conftest import TEST_ORG
from vigil.api.app import create_app
from vigil.app import Services
from vigil.settings import Settings
from vigil.store.cameras import CameraFields


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_home_page_shows_cameras_in_a_browser(
    admin_context: BrowserContext, settings: Settings, services: Services
) -> None:
    await services.cameras.create(
        CameraFields(name="Front door", main_url="rtsp://127.0.0.1:9/x"), org_id=TEST_ORG
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, services), port=port, log_config=None)
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        page = await admin_context.new_page()
        await page.goto(f"http://127.0.0.1:{port}/")
        assert await page.title() == "Vigil"
        assert "Front door" in await page.inner_text("table")
        assert await page.inner_text("[data-username]") == "admin"
        assert "Test school" in await page.inner_text("h1")
        await page.goto(f"http://127.0.0.1:{port}/docs")
        await page.wait_for_selector(".swagger-ui .opblock", timeout=15_000)
        assert "/api/cameras" in await page.inner_text(".swagger-ui")
    finally:
        server.should_exit = True
        await task
