"""The live page in a real browser: Chromium plays a simulated camera through MSE."""

from __future__ import annotations

import time

from playwright.async_api import BrowserContext, Page

from tests.conftest import TEST_ORG
from tests.serve import serving
from vigil.api.app import create_app
from vigil.app import Services
from vigil.settings import Settings
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields

# Draws the playing video into a small canvas and returns its pixels.
GRAB = """() => {
  const video = document.querySelector("video");
  const canvas = document.createElement("canvas");
  canvas.width = 64; canvas.height = 48;
  const context = canvas.getContext("2d");
  context.drawImage(video, 0, 0, 64, 48);
  return Array.from(context.getImageData(0, 0, 64, 48).data);
}"""


async def playing_time(page: Page, above: float, timeout: float = 20) -> float:
    """Wait until the video's currentTime passes ``above`` while playing; return it."""
    deadline = time.monotonic() + timeout
    while True:
        now = float(await page.evaluate("document.querySelector('video').currentTime"))
        if now > above:
            return now
        assert time.monotonic() < deadline, f"the video is stuck at {now} s"
        await page.wait_for_timeout(100)


async def test_live_page_plays_a_camera_through_mse(
    admin_context: BrowserContext, settings: Settings, services: Services, sim: SimulatedCameras
) -> None:
    camera = await services.cameras.create(
        CameraFields(name="Yard <live>", main_url=sim.urls[0]), org_id=TEST_ORG
    )
    async with serving(create_app(settings, services)) as base_url:
        page = await admin_context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        sockets: list[str] = []
        page.on("websocket", lambda socket: sockets.append(socket.url))
        await page.goto(base_url + "/")
        # The grid's tile links the live page ("Enlarge" enlarges it in the grid).
        await page.get_by_role("link", name=f"Open {camera.name}").click()
        await page.wait_for_url(f"{base_url}/cameras/{camera.id}")
        assert page.url == f"{base_url}/cameras/{camera.id}"
        # A function, not a bare expression: Playwright runs an expression through eval(), which
        # the page's Content-Security-Policy refuses.
        await page.wait_for_function("() => document.body.dataset.mode === 'mse'", timeout=20_000)

        started = await playing_time(page, 0.2)
        first = await page.evaluate(GRAB)
        later = await playing_time(page, started + 1.0)
        second = await page.evaluate(GRAB)
        assert later > started
        assert first != second, "the picture must change (the simulator's clock moves)"
        # Sub-second: the playhead stays close to the newest buffered frame.
        lag = await page.evaluate(
            "(() => { const v = document.querySelector('video');"
            " return v.buffered.end(v.buffered.length - 1) - v.currentTime; })()"
        )
        assert lag < 1.5
        assert errors == []
        # The page plays the signed addresses live/info gave it.
        assert sockets
        assert all("?token=" in url for url in sockets)
        assert "?token=" in str(await page.get_attribute("a[data-snapshot]", "href"))
        await page.close()


async def test_live_page_falls_back_to_hls(
    admin_context: BrowserContext, settings: Settings, services: Services, sim: SimulatedCameras
) -> None:
    camera = await services.cameras.create(
        CameraFields(name="Gate", main_url=sim.urls[1]), org_id=TEST_ORG
    )
    async with serving(create_app(settings, services)) as base_url:
        page = await admin_context.new_page()
        await page.goto(f"{base_url}/cameras/{camera.id}?hls")
        await page.wait_for_function("() => document.body.dataset.mode === 'hls'", timeout=20_000)
        started = await playing_time(page, 0.2, timeout=30)
        await playing_time(page, started + 1.0)
        await page.close()
