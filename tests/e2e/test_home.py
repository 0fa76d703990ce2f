"""The app at / in a real browser: the shell (who, where, theme), the live grid playing
simulated cameras on a desk and on a phone, a stalled camera recovering by itself, the
cameras page, and what axe-core finds."""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import BrowserContext, Page

from tests.conftest import TEST_ORG
from tests.e2e.axe import serious_violations, with_axe
from tests.serve import serving
from vigil.api.app import create_app
from vigil.app import Services
from vigil.settings import Settings
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields
from vigil.store.models import Camera

PHONE = {"width": 375, "height": 812}
# Set to a folder to keep screenshots of the grid (they are not part of the repository).
SCREENSHOTS = os.environ.get("VIGIL_SCREENSHOTS")

# The tile's currentTime and a small copy of its picture.
SAMPLE = """(id) => {
  const video = document.querySelector(`.tile[data-camera="${id}"] video`);
  if (!video) return [-1, []];
  const canvas = document.createElement("canvas");
  canvas.width = 32; canvas.height = 18;
  const context = canvas.getContext("2d");
  context.drawImage(video, 0, 0, 32, 18);
  return [video.currentTime, Array.from(context.getImageData(0, 0, 32, 18).data)];
}"""


async def add_cameras(services: Services, sim: SimulatedCameras) -> list[Camera]:
    names = ["Front gate", "Playground", "Hall", "Car park"]
    return [
        await services.cameras.create(CameraFields(name=name, main_url=url), org_id=TEST_ORG)
        for name, url in zip(names, sim.urls, strict=True)
    ]


async def tile_time(page: Page, camera: Camera) -> float:
    return float((await page.evaluate(SAMPLE, camera.id))[0])


async def wait_playing(page: Page, camera: Camera, above: float, timeout: float = 20) -> float:
    """Wait until the tile's video passes ``above`` seconds; return its time."""
    deadline = time.monotonic() + timeout
    while (now := await tile_time(page, camera)) <= above:
        assert time.monotonic() < deadline, f"{camera.name}'s tile is stuck at {now} s"
        await page.wait_for_timeout(100)
    return now


async def assert_all_playing(page: Page, cameras: list[Camera]) -> None:
    """Every tile's time advances and its picture changes."""
    first = {c.id: await page.evaluate(SAMPLE, c.id) for c in cameras}
    for camera in cameras:
        await wait_playing(page, camera, first[camera.id][0] + 1.0)
    for camera in cameras:
        later = await page.evaluate(SAMPLE, camera.id)
        assert later[1] != first[camera.id][1], f"{camera.name}'s picture must change"


async def set_theme(page: Page, theme: str) -> None:
    await page.select_option("select", theme)
    await page.wait_for_function(
        "(theme) => (document.documentElement.dataset.theme || 'system') === theme", arg=theme
    )


async def test_home_page_is_the_app_and_teaches_when_there_are_no_cameras(
    admin_context: BrowserContext, settings: Settings, services: Services
) -> None:
    async with serving(create_app(settings, services)) as base:
        page = await with_axe(await admin_context.new_page())
        await page.goto(base + "/")
        await page.wait_for_selector(".empty")
        assert await page.title() == "Live · Vigil"
        assert "No cameras yet" in await page.inner_text(".empty")
        assert await page.get_attribute(".empty a", "href") == "#cameras?add"
        assert await page.inner_text("[data-username]") == "admin"
        assert "Test school" in await page.inner_text(".account")
        nav = page.get_by_role("navigation", name="Main")
        assert await nav.get_by_role("link", name="Live").get_attribute("aria-current") == "page"
        assert await serious_violations(page) == []

        # The theme switch is remembered in this browser.
        assert await page.evaluate("() => document.documentElement.dataset.theme") is None
        await set_theme(page, "dark")
        await page.reload()
        await page.wait_for_selector(".empty")
        assert await page.evaluate("() => document.documentElement.dataset.theme") == "dark"
        assert await page.input_value("select") == "dark"
        assert await serious_violations(page) == []
        await set_theme(page, "system")

        # Keyboard: Tab reaches the navigation first, with a visible focus ring.
        await page.keyboard.press("Tab")
        focused = await page.evaluate(
            "() => [document.activeElement.textContent,"
            " getComputedStyle(document.activeElement).outlineStyle]"
        )
        assert focused == ["Live", "solid"]

        # "?" lists the keyboard shortcuts in a dialog; "g" then "e" goes to Events.
        await page.keyboard.press("?")
        shortcuts = page.get_by_role("dialog", name="Keyboard shortcuts")
        await shortcuts.wait_for()
        assert "mark reviewed" in await shortcuts.inner_text()
        assert await serious_violations(page) == []
        await page.keyboard.press("Escape")
        await shortcuts.wait_for(state="hidden")
        await page.keyboard.press("g")
        await page.keyboard.press("e")
        await page.wait_for_function("() => document.title === 'Events · Vigil'")
        assert page.url == base + "/#events"

        # The Cameras page, empty too: there the admin adds the first camera.
        await nav.get_by_role("link", name="Cameras").click()
        await page.get_by_role("link", name="Add camera").wait_for()
        assert page.url == base + "/#cameras"
        await page.wait_for_function("() => document.title === 'Cameras · Vigil'")
        await page.goto(base + "/docs")
        await page.wait_for_selector(".swagger-ui .opblock", timeout=15_000)
        await page.close()


async def test_a_page_s_modules_come_when_it_is_first_shown_and_all_at_once(
    admin_context: BrowserContext, settings: Settings, services: Services
) -> None:
    async with serving(create_app(settings, services)) as base:
        page = await admin_context.new_page()
        asked: list[str] = []
        page.on("request", lambda request: asked.append(urlsplit(request.url).path))
        await page.goto(base + "/#library")
        await page.get_by_text("No events in the library yet").wait_for()
        # The library's deepest module was asked for from the start (boot.js), not after
        # four levels of imports; once each; and no other page's modules came.
        preloaded = page.locator('link[rel="modulepreload"][href="/static/app/upload_queue.js"]')
        assert await preloaded.count() == 1
        assert "/static/app/upload_queue.js" in asked
        assert [p for p, n in Counter(asked).items() if n > 1 and p.startswith("/static/")] == []
        assert "/static/app/grid.js" not in asked

        nav = page.get_by_role("navigation", name="Main")
        await nav.get_by_role("link", name="Live").click()
        await page.get_by_text("No cameras yet").wait_for()
        assert "/static/app/grid.js" in asked

        # A page whose module cannot be fetched says so, in place of the page.
        await page.route("**/static/app/events.js", lambda route: route.abort())
        await nav.get_by_role("link", name="Events").click()
        alert = page.get_by_role("alert")
        await alert.wait_for()
        assert (await alert.inner_text()).startswith("Cannot load:")
        await page.close()


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
async def test_grid_plays_four_cameras(
    viewport: str,
    admin_context: BrowserContext,
    settings: Settings,
    services: Services,
    sim: SimulatedCameras,
) -> None:
    cameras = await add_cameras(services, sim)
    async with serving(create_app(settings, services)) as base:
        page = await with_axe(await admin_context.new_page())
        if viewport == "phone":
            await page.set_viewport_size(PHONE)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        opened = time.monotonic()
        await page.goto(base + "/")
        for camera in cameras:
            await wait_playing(page, camera, 0.1, timeout=30)
        print(f"{viewport}: all four tiles playing {time.monotonic() - opened:.1f} s after opening")
        await assert_all_playing(page, cameras)
        for camera in cameras:
            tile = page.locator(f'.tile[data-camera="{camera.id}"]')
            await tile.locator(".badge", has_text="streaming").wait_for(timeout=10_000)
            assert await tile.locator(".name").inner_text() == camera.name
            snapshot = tile.get_by_role("link", name=f"Snapshot of {camera.name}")
            assert await snapshot.get_attribute("href") == f"/api/cameras/{camera.id}/snapshot.jpg"
        # Nothing wider than the window.
        width = await page.evaluate("() => document.scrollingElement.scrollWidth")
        assert width <= (PHONE["width"] if viewport == "phone" else 1280)
        assert await serious_violations(page) == []
        if SCREENSHOTS:
            for theme in ("light", "dark"):
                await set_theme(page, theme)
                await page.wait_for_timeout(500)
                path = Path(SCREENSHOTS) / f"grid-{viewport}-{theme}.png"
                await page.screenshot(path=path, full_page=True)
                assert await serious_violations(page) == []
        assert errors == []

        if viewport == "desktop":
            # One camera a page: a pager; the choice survives a reload.
            await page.get_by_role("button", name="1 camera a page").click()
            assert await page.locator(".tile").count() == 1
            assert await page.inner_text(".pager span") == "Page 1 of 4"
            await page.get_by_role("button", name="Next page").click()
            await page.wait_for_selector(f'.tile[data-camera="{cameras[1].id}"]')
            await page.reload()
            await page.wait_for_selector(".tile")
            assert await page.locator(".tile").count() == 1
            pressed = page.get_by_role("button", name="1 camera a page")
            assert await pressed.get_attribute("aria-pressed") == "true"
            await page.get_by_role("button", name="Fit all cameras").click()
            assert await page.locator(".tile").count() == 4

            # Opened: the single-camera page, which plays the main stream.
            tile = page.locator(f'.tile[data-camera="{cameras[0].id}"]')
            await tile.get_by_role("link", name="Open Front gate").click()
            assert page.url == f"{base}/cameras/{cameras[0].id}"
            await page.wait_for_function("() => document.body.dataset.mode === 'mse'")
        await page.close()


async def test_a_stalled_camera_says_so_and_its_tile_recovers_by_itself(
    admin_context: BrowserContext, settings: Settings, services: Services, sim: SimulatedCameras
) -> None:
    cameras = await add_cameras(services, sim)
    stalled = cameras[2]
    async with serving(create_app(settings, services)) as base:
        page = await admin_context.new_page()
        await page.goto(base + "/")
        for camera in cameras:
            await wait_playing(page, camera, 0.1, timeout=30)
        tile = page.locator(f'.tile[data-camera="{stalled.id}"]')
        # Its recorder streams too (the tile plays the sub stream, which may come first):
        # a camera that stops before its first picture is in error, not stalled.
        await tile.locator(".badge", has_text="streaming").wait_for(timeout=20_000)
        sim.stall(sim.names[2])
        try:
            await tile.locator(".badge", has_text="stalled").wait_for(timeout=20_000)
            assert await tile.get_attribute("data-state") == "stalled"
        finally:
            sim.resume(sim.names[2])
        await tile.locator(".badge", has_text="streaming").wait_for(timeout=30_000)
        # Playing again with no reload: the time moves and the picture changes.
        await assert_all_playing(page, [stalled])
        await page.close()


async def test_the_cameras_page_lists_every_camera_with_its_state(
    admin_context: BrowserContext, settings: Settings, services: Services, sim: SimulatedCameras
) -> None:
    cameras = await add_cameras(services, sim)
    async with serving(create_app(settings, services)) as base:
        page = await with_axe(await admin_context.new_page())
        await page.goto(base + "/#cameras")
        for camera in cameras:
            row = page.locator("tbody tr", has_text=camera.name)
            await row.locator(".badge", has_text="streaming").wait_for(timeout=20_000)
            link = row.get_by_role("link", name=camera.name, exact=True)
            assert await link.get_attribute("href") == f"/cameras/{camera.id}"
        assert await serious_violations(page) == []
        await page.close()
