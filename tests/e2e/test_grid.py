"""The live grid in a real browser, beyond playing: arranging tiles (drag, keys, menu),
remembered on the server for the next browser; saved views and the organisation's camera
groups as views; enlarging a tile to its main stream; the phone layout; axe-core."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page

from tests.conftest import TEST_ORG, SecretWatch
from tests.e2e.axe import serious_violations, with_axe
from tests.e2e.conftest import sign_in
from tests.e2e.test_home import (
    PHONE,
    SCREENSHOTS,
    add_cameras,
    assert_all_playing,
    set_theme,
    wait_playing,
)
from tests.people import grant, make_user
from tests.serve import serving
from vigil.api.app import create_app
from vigil.app import Services
from vigil.auth.permissions import Permission
from vigil.settings import Settings
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields
from vigil.store.models import CameraGroup, User

# The main stream of the enlarge test: larger than the shared simulator's 320x240 pictures,
# which serve as its sub stream.
MAIN_WIDTH = 640
SUB_WIDTH = 320

ORDER = "() => Array.from(document.querySelectorAll('.tile'), (t) => Number(t.dataset.camera))"
PREFERENCES = "() => fetch('/api/me/preferences').then((r) => r.json())"


@pytest.fixture(scope="module")
def main_sim() -> Iterator[SimulatedCameras]:
    with SimulatedCameras(
        cameras=1,
        width=MAIN_WIDTH,
        height=360,
        fps=10,
        bitrate_kbps=600,
        loop_seconds=20,
        audio=False,
    ) as cameras:
        yield cameras


async def order_on_screen(page: Page) -> list[int]:
    return list(await page.evaluate(ORDER))


async def wait_order(page: Page, expected: list[int]) -> None:
    await page.wait_for_function(
        f"(expected) => ({ORDER})().join() === expected.join()", arg=expected, timeout=20_000
    )


async def wait_saved(page: Page, key: str, expected: Any) -> None:
    """Wait until the server holds ``expected`` as the preference ``key``."""
    await page.wait_for_function(
        f"async ([key, expected]) => JSON.stringify((await ({PREFERENCES})())[key]) === JSON.stringify(expected)",
        arg=[key, expected],
        timeout=20_000,
        polling=200,
    )


async def test_tiles_are_arranged_by_drag_keys_and_menu_and_follow_the_user(
    browser: Browser,
    admin_context: BrowserContext,
    admin: User,
    settings: Settings,
    services: Services,
    sim: SimulatedCameras,
    secret_watch: SecretWatch,
) -> None:
    front, playground, hall, car_park = [c.id for c in await add_cameras(services, sim)]
    async with serving(create_app(settings, services)) as base:
        page = await with_axe(await admin_context.new_page())
        await page.goto(base + "/")
        await wait_order(page, [front, playground, hall, car_park])

        # Drag "Playground" by its handle onto "Front gate": it takes its place.
        await page.drag_and_drop(
            f'.tile[data-camera="{playground}"] .handle', f'.tile[data-camera="{front}"] video'
        )
        await wait_order(page, [playground, front, hall, car_park])
        await wait_saved(page, "camera_order", [playground, front, hall, car_park])
        await page.reload()
        await wait_order(page, [playground, front, hall, car_park])

        # The keyboard: an arrow key on the focused handle moves the tile; the focus stays.
        handle = page.get_by_role("button", name="Arrange Hall")
        await handle.focus()
        await page.keyboard.press("ArrowLeft")
        await wait_order(page, [playground, hall, front, car_park])
        await page.wait_for_function(
            "() => document.activeElement.getAttribute('aria-label') === 'Arrange Hall'"
        )
        # Touch: the handle's menu.
        await page.get_by_role("button", name="Arrange Car park").click()
        assert await page.get_by_role("button", name="Move Car park later").is_disabled()
        if SCREENSHOTS:
            await page.screenshot(path=Path(SCREENSHOTS) / "grid-arrange-menu.png")
        await page.get_by_role("button", name="Move Car park earlier").click()
        expected = [playground, hall, car_park, front]
        await wait_order(page, expected)
        await wait_saved(page, "camera_order", expected)

        # Nine a page: a tile's buttons sit over its picture, shown on hover or focus.
        await page.get_by_role("button", name="9 cameras a page").click()
        tile = page.locator(f'.tile[data-camera="{hall}"]')
        snapshot = tile.get_by_role("link", name="Snapshot of Hall")
        await snapshot.focus()
        await page.wait_for_function(
            "() => getComputedStyle(document.activeElement.parentElement).opacity === '1'"
        )
        await tile.hover()
        if SCREENSHOTS:
            await page.screenshot(path=Path(SCREENSHOTS) / "grid-nine-hover.png")
        assert await serious_violations(page) == []

        # Another browser, signed in as the same person, shows the same order.
        other = await browser.new_context()
        try:
            await sign_in(other, services, admin, secret_watch)
            elsewhere = await other.new_page()
            await elsewhere.goto(base + "/")
            await wait_order(elsewhere, expected)
        finally:
            await other.close()
        await page.close()


async def test_a_saved_view_shows_its_cameras_on_a_phone(
    admin_context: BrowserContext, settings: Settings, services: Services, sim: SimulatedCameras
) -> None:
    cameras = await add_cameras(services, sim)
    front, playground, hall, car_park = [c.id for c in cameras]
    async with serving(create_app(settings, services)) as base:
        page = await with_axe(await admin_context.new_page())
        await page.set_viewport_size({"width": PHONE["width"], "height": PHONE["height"]})
        await page.goto(base + "/")
        await wait_order(page, [front, playground, hall, car_park])
        picker = page.get_by_label("View", exact=True)
        assert await picker.input_value() == ""

        await page.get_by_role("button", name="Save view").click()
        form = page.get_by_role("form", name="Save a view")
        await form.get_by_label("Name").fill("Gates")
        await form.get_by_role("checkbox", name="Playground").uncheck()
        await form.get_by_role("checkbox", name="Hall").uncheck()
        width = await page.evaluate("() => document.scrollingElement.scrollWidth")
        assert width <= PHONE["width"]
        for theme in ("dark", "light"):
            await set_theme(page, theme)
            assert await serious_violations(page) == []
            if SCREENSHOTS:
                await page.screenshot(path=Path(SCREENSHOTS) / f"grid-save-view-{theme}.png")
        await form.get_by_role("button", name="Save").click()

        # The new view is shown: its two cameras only, and it is remembered.
        await wait_order(page, [front, car_park])
        assert await picker.locator("option:checked").inner_text() == "Gates"
        await wait_playing(page, cameras[3], 0.1, timeout=30)
        await page.reload()
        await wait_order(page, [front, car_park])
        width = await page.evaluate("() => document.scrollingElement.scrollWidth")
        assert width <= PHONE["width"]
        for theme in ("dark", "light"):
            await set_theme(page, theme)
            assert await serious_violations(page) == []
            if SCREENSHOTS:
                await page.screenshot(path=Path(SCREENSHOTS) / f"grid-view-phone-{theme}.png")
        await set_theme(page, "system")

        await picker.select_option(label="All cameras")
        await wait_order(page, [front, playground, hall, car_park])
        await picker.select_option(label="Gates")
        await wait_order(page, [front, car_park])
        # Arranged within the view: the view keeps its own order.
        await page.get_by_role("button", name="Arrange Front gate").focus()
        await page.keyboard.press("ArrowRight")
        await wait_order(page, [car_park, front])
        await page.wait_for_function(
            "async () => (await (await fetch('/api/me/views')).json())[0].camera_ids.join()"
            f" === '{car_park},{front}'",
            polling=200,
        )
        await page.reload()
        await wait_order(page, [car_park, front])
        await page.get_by_role("button", name="Delete view Gates").click()
        await wait_order(page, [front, playground, hall, car_park])
        await picker.locator("option", has_text="Gates").wait_for(state="detached")
        await page.close()


async def test_a_camera_group_is_a_view_of_only_the_cameras_a_viewer_may_see(
    browser: Browser,
    settings: Settings,
    services: Services,
    sim: SimulatedCameras,
    secret_watch: SecretWatch,
) -> None:
    front, playground, hall, car_park = [c.id for c in await add_cameras(services, sim)]
    await services.auth.access.add(
        CameraGroup(org_id=TEST_ORG, name="Main building", camera_ids=[hall, front, playground])
    )
    viewer = await make_user(services, "parent", "viewer")
    await grant(services, TEST_ORG, [front, hall, car_park], {Permission.VIEW_LIVE}, viewer.id)
    context = await browser.new_context()
    try:
        await sign_in(context, services, viewer, secret_watch)
        async with serving(create_app(settings, services)) as base:
            page = await with_axe(await context.new_page())
            await page.goto(base + "/")
            await wait_order(page, [front, hall, car_park])
            picker = page.get_by_label("View", exact=True)
            await picker.select_option(label="Main building")
            await wait_order(page, [hall, front])
            assert "Playground" not in await page.inner_text("main")
            # A group is the organisation's: it cannot be deleted or rearranged here.
            assert await page.get_by_role("button", name="Delete view Main building").count() == 0
            assert await page.locator(".tile .handle").count() == 0
            assert await serious_violations(page) == []
            await page.close()
    finally:
        await context.close()


async def test_an_enlarged_tile_plays_the_main_stream_until_esc(
    admin_context: BrowserContext,
    settings: Settings,
    services: Services,
    sim: SimulatedCameras,
    main_sim: SimulatedCameras,
) -> None:
    porch = await services.cameras.create(
        CameraFields(name="Porch", main_url=main_sim.urls[0], sub_url=sim.urls[0]), org_id=TEST_ORG
    )
    width = f'() => document.querySelector(".tile[data-camera=\\"{porch.id}\\"] video").videoWidth'
    async with serving(create_app(settings, services)) as base:
        page = await with_axe(await admin_context.new_page())
        await page.goto(base + "/")
        await wait_playing(page, porch, 0.1, timeout=30)
        assert await page.evaluate(width) == SUB_WIDTH

        await page.get_by_role("button", name="Enlarge Porch").click()
        await page.locator(".tile.enlarged").wait_for()
        await page.wait_for_function(f"() => ({width})() === {MAIN_WIDTH}", timeout=30_000)
        await assert_all_playing(page, [porch])
        assert await serious_violations(page) == []
        if SCREENSHOTS:
            await page.screenshot(path=Path(SCREENSHOTS) / "grid-enlarged.png")

        await page.keyboard.press("Escape")
        await page.locator(".tile.enlarged").wait_for(state="detached")
        await page.wait_for_function(f"() => ({width})() === {SUB_WIDTH}", timeout=30_000)
        focused = await page.evaluate("() => document.activeElement.getAttribute('aria-label')")
        assert focused == "Enlarge Porch"

        # The Back button does the same.
        await page.get_by_role("button", name="Enlarge Porch").click()
        await page.get_by_role("button", name="Back to the grid").click()
        await page.get_by_role("button", name="Enlarge Porch").wait_for()

        # Full screen: the tile on the whole screen, on the main stream until it leaves.
        await page.get_by_role("button", name="Full screen Porch").click()
        await page.wait_for_function(
            f"() => document.fullscreenElement?.dataset.camera === '{porch.id}'"
            f" && ({width})() === {MAIN_WIDTH}",
            timeout=30_000,
        )
        await page.get_by_role("button", name="Exit full screen Porch").click()
        await page.wait_for_function(
            f"() => !document.fullscreenElement && ({width})() === {SUB_WIDTH}", timeout=30_000
        )
        await page.close()
