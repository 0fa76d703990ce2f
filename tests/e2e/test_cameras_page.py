"""The Cameras page in a real browser: adding a camera after testing its connection, the
errors a person meets, drawing zones that detection then uses, editing recording, what a
viewer does not see, the phone layout, and what axe-core finds."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, Route

from tests.conftest import AUTH_SIM_CREDENTIALS, TEST_ORG, SecretWatch
from tests.e2e.axe import serious_violations, with_axe
from tests.e2e.conftest import sign_in
from tests.people import grant, make_user
from tests.serve import serving
from vigil.api.app import create_app
from vigil.app import Services
from vigil.auth.permissions import Permission
from vigil.detect.settings import DetectionSettings
from vigil.settings import Settings
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields
from vigil.store.models import Camera

PHONE = {"width": 375, "height": 812}
# Set to a folder to keep screenshots of the page (they are not part of the repository).
SCREENSHOTS = os.environ.get("VIGIL_SCREENSHOTS")
TIMES = "\N{MULTIPLICATION SIGN}"
# Motion only: detection runs (and takes zones) without loading an object detector.
MOTION_ONLY = DetectionSettings(enabled=True, object_detection=False)


async def shot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


async def add_camera(services: Services, name: str, url: str, **fields: Any) -> Camera:
    return await services.cameras.create(
        CameraFields(name=name, main_url=url, **fields), org_id=TEST_ORG
    )


async def test_adding_a_camera_tests_its_connection_then_it_streams(
    admin_context: BrowserContext, settings: Settings, services: Services, sim: SimulatedCameras
) -> None:
    async with serving(create_app(settings, services)) as base:
        page = await admin_context.new_page()
        await page.goto(base + "/#cameras")
        await page.get_by_role("link", name="Add camera").click()
        await page.get_by_label("Name", exact=True).fill("Front gate")
        await page.get_by_label("Main stream URL").fill(sim.url("cam1"))
        await page.get_by_role("button", name="Test connection").click()
        result = page.locator("[data-probe]")
        await result.filter(has_text="H.264").wait_for(timeout=30_000)
        words = await result.inner_text()
        assert f"H.264 Main 320{TIMES}240 at 10 fps" in words, words
        assert "audio AAC 48 kHz mono" in words, words
        await shot(page, "add-desk")
        await page.get_by_role("button", name="Save").click()
        row = page.locator("tbody tr", has_text="Front gate")
        await row.locator(".badge", has_text="streaming").wait_for(timeout=30_000)
        await row.get_by_text(f"320{TIMES}240 10 fps").wait_for(timeout=10_000)
        [camera] = await services.cameras.store.list(org_id=TEST_ORG)
        assert camera.main_url == sim.url("cam1")
        await page.close()


async def test_a_wrong_password_or_url_says_what_is_wrong_and_saves_nothing(
    admin_context: BrowserContext,
    settings: Settings,
    services: Services,
    auth_sim: SimulatedCameras,
    secret_watch: SecretWatch,
) -> None:
    user, password = AUTH_SIM_CREDENTIALS.split(":")
    wrong = "not-the-Pa55word"
    secret_watch.add(wrong, password)
    async with serving(create_app(settings, services)) as base:
        page = await admin_context.new_page()
        await page.goto(base + "/#cameras?add")
        await page.get_by_label("Name", exact=True).fill("Hall")
        await page.get_by_label("Main stream URL").fill(auth_sim.url("cam1"))
        await page.get_by_label("User name").fill(user)
        await page.get_by_label("Password").fill(wrong)
        assert await page.get_by_label("Password").get_attribute("type") == "password"
        await page.get_by_role("button", name="Test connection").click()
        result = page.locator("[data-probe]")
        await result.filter(has_text="refused the user name or password").wait_for(timeout=30_000)
        assert wrong not in await page.content()
        # The right password: the camera answers.
        await page.get_by_label("Password").fill(password)
        await page.get_by_role("button", name="Test connection").click()
        await result.filter(has_text="H.264").wait_for(timeout=30_000)
        # A URL that is not a camera's: said next to the field, nothing stored.
        await page.get_by_label("Main stream URL").fill("ftp://camera.local/stream")
        await page.get_by_role("button", name="Save").click()
        error = page.locator("#cam-main-url-error")
        await error.filter(has_text="scheme must be one of").wait_for(timeout=10_000)
        assert await page.get_by_label("Main stream URL").get_attribute("aria-invalid") == "true"
        await shot(page, "add-error")
        assert await services.cameras.store.list(org_id=TEST_ORG) == []
        await page.close()


def polygon_close(got: list[Any], want: list[tuple[float, float]]) -> bool:
    return len(got) == len(want) and all(
        abs(gx - wx) < 0.01 and abs(gy - wy) < 0.01
        for (gx, gy), (wx, wy) in zip(got, want, strict=True)
    )


async def click_at(page: Page, x: float, y: float) -> None:
    """Click the zone editor's picture at (x, y), fractions of it."""
    box = await page.locator(".zone-picture svg").bounding_box()
    assert box is not None
    await page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])


async def zones_of(services: Services, camera_id: int) -> list[Any]:
    camera = await services.cameras.store.get(camera_id)
    return list((camera.detection or {}).get("zones", []))


async def test_a_zone_drawn_is_the_zone_detection_uses(
    admin_context: BrowserContext, settings: Settings, services: Services, sim: SimulatedCameras
) -> None:
    camera = await add_camera(services, "Playground", sim.url("cam2"), detection=MOTION_ONLY)
    corners = [(0.1, 0.2), (0.6, 0.2), (0.6, 0.7), (0.1, 0.7)]
    async with serving(create_app(settings, services)) as base:
        page = await admin_context.new_page()
        await page.goto(base + f"/#cameras?edit={camera.id}")
        picture = page.locator(".zone-picture img")
        await page.wait_for_function(
            "() => document.querySelector('.zone-picture img')?.naturalWidth > 0", timeout=30_000
        )
        assert await picture.evaluate("img => img.naturalWidth") == 320
        await page.get_by_role("button", name="Add zone").click()
        for x, y in corners:
            await click_at(page, x, y)
        await page.get_by_label("Zone name").fill("Sandpit")
        await page.locator(".zones fieldset").get_by_label("person").check()
        await shot(page, "zone-desk")
        await page.get_by_role("button", name="Save zones and masks").click()
        await page.locator(".zones [role=status]", has_text="Saved.").wait_for(timeout=10_000)

        [zone] = await zones_of(services, camera.id)
        assert zone["name"] == "Sandpit"
        assert zone["labels"] == ["person"]
        assert polygon_close(zone["polygon"], corners), zone["polygon"]
        # The node's detection runs with it.
        node = services.node
        assert node is not None
        used = node.detection_settings(camera.id)
        assert used is not None
        [running] = used.zones
        assert running.name == "Sandpit"
        assert running.labels == {"person"}
        assert polygon_close([list(p) for p in running.polygon], corners)

        # Drag the second corner elsewhere; delete the fourth from the keyboard.
        box = await page.locator(".zone-picture svg").bounding_box()
        assert box is not None
        handle = page.get_by_role("button", name="Corner 2 of Zone Sandpit", exact=False)
        await handle.hover()
        await page.mouse.down()
        await page.mouse.move(
            box["x"] + 0.8 * box["width"], box["y"] + 0.1 * box["height"], steps=5
        )
        await page.mouse.up()
        await page.get_by_role("button", name="Corner 4 of Zone Sandpit", exact=False).focus()
        await page.keyboard.press("Delete")
        # The third corner moves one step right with the arrow key.
        await page.get_by_role("button", name="Corner 3 of Zone Sandpit", exact=False).focus()
        await page.keyboard.press("ArrowRight")
        await page.get_by_role("button", name="Save zones and masks").click()
        expected = [(0.1, 0.2), (0.8, 0.1), (0.61, 0.7)]
        deadline = time.monotonic() + 10
        while not polygon_close((await zones_of(services, camera.id))[0]["polygon"], expected):
            assert time.monotonic() < deadline, await zones_of(services, camera.id)
            await page.wait_for_timeout(100)
        used = node.detection_settings(camera.id)
        assert used is not None
        assert polygon_close([list(p) for p in used.zones[0].polygon], expected)

        # A motion mask: drawn the same way, kept in the motion settings.
        await page.get_by_role("button", name="Add motion mask").click()
        mask = [(0.7, 0.6), (0.95, 0.6), (0.95, 0.95)]
        for x, y in mask:
            await click_at(page, x, y)
        await page.get_by_role("button", name="Save zones and masks").click()
        await page.locator(".zones [role=status]", has_text="Saved.").wait_for(timeout=10_000)
        stored = await services.cameras.store.get(camera.id)
        assert stored.detection is not None
        [masked] = stored.detection["motion"]["masks"]
        assert polygon_close(masked, mask), masked
        assert len(await zones_of(services, camera.id)) == 1
        await page.close()


async def test_recording_settings_are_kept_and_only_changes_are_sent(
    admin_context: BrowserContext, settings: Settings, services: Services
) -> None:
    camera = await add_camera(
        services, "Car park", "rtsp://127.0.0.1:9/x", enabled=False, detection=MOTION_ONLY
    )
    async with serving(create_app(settings, services)) as base:
        page = await admin_context.new_page()
        await page.goto(base + f"/#cameras?edit={camera.id}")
        await page.get_by_label("Keep", exact=True).select_option("events")
        await page.get_by_label("Keep footage for (days; empty: no limit)").fill("7")
        await page.get_by_label("Keep event footage for (days; empty: no limit)").fill("14")
        async with page.expect_request(lambda r: r.method == "PATCH") as sent:
            await page.get_by_role("button", name="Save", exact=True).click()
        assert set((await sent.value).post_data_json) == {
            "record_mode",
            "retention_days",
            "event_retention_days",
        }
        await page.locator(".camera-form [role=status]", has_text="Saved.").wait_for()
        await page.reload()
        assert await page.get_by_label("Keep", exact=True).input_value() == "events"
        retention = page.get_by_label("Keep footage for (days; empty: no limit)")
        assert await retention.input_value() == "7"
        stored = await services.cameras.store.get(camera.id)
        assert (stored.record_mode, stored.retention_days, stored.event_retention_days) == (
            "events",
            7,
            14,
        )
        await page.close()


async def test_what_is_typed_stays_while_the_camera_list_is_refused_for_a_moment(
    admin_context: BrowserContext, settings: Settings, services: Services
) -> None:
    camera = await add_camera(services, "Car park", "rtsp://127.0.0.1:9/x", enabled=False)
    async with serving(create_app(settings, services)) as base:
        page = await admin_context.new_page()
        await page.goto(base + f"/#cameras?edit={camera.id}")
        retention = page.get_by_label("Keep footage for (days; empty: no limit)")
        await retention.fill("7")
        refused = asyncio.Event()

        async def unavailable(route: Route) -> None:
            refused.set()
            await route.fulfill(
                status=503,
                content_type="application/problem+json",
                body='{"title": "Service Unavailable", "status": 503, '
                '"detail": "The database cannot be reached."}',
            )

        # The list's polls answer 503 (the database away) for a few of them.
        await page.route(f"{base}/api/cameras", unavailable)
        await asyncio.wait_for(refused.wait(), 10)
        await page.wait_for_timeout(2500)  # a second refused poll
        await page.unroute(f"{base}/api/cameras")
        assert await retention.input_value() == "7"
        await page.get_by_role("button", name="Save", exact=True).click()
        await page.locator(".camera-form [role=status]", has_text="Saved.").wait_for()
        assert (await services.cameras.store.get(camera.id)).retention_days == 7
        await page.close()


async def test_a_viewer_sees_no_add_edit_or_delete(
    browser: Browser, settings: Settings, services: Services, secret_watch: SecretWatch
) -> None:
    camera = await add_camera(services, "Hall", "rtsp://127.0.0.1:9/x", enabled=False)
    viewer = await make_user(services, "viewer", "viewer")
    operator = await make_user(services, "operator", "operator")
    await grant(services, TEST_ORG, [camera.id], {Permission.VIEW_LIVE}, viewer.id)
    await grant(services, TEST_ORG, [camera.id], set(Permission), operator.id)
    async with serving(create_app(settings, services)) as base:
        context = await browser.new_context()
        await sign_in(context, services, viewer, secret_watch)
        page = await context.new_page()
        await page.goto(base + "/#cameras")
        await page.get_by_role("link", name="Hall").wait_for()
        assert await page.get_by_role("link", name="Add camera").count() == 0
        assert await page.get_by_role("link", name="Edit Hall").count() == 0
        await page.goto(base + f"/#cameras?edit={camera.id}")
        await page.get_by_role("alert").wait_for()
        assert await page.get_by_role("button", name="Delete camera…").count() == 0
        await context.close()
        # An operator who may configure the camera edits it, but neither adds nor deletes.
        context = await browser.new_context()
        await sign_in(context, services, operator, secret_watch)
        page = await context.new_page()
        await page.goto(base + "/#cameras")
        await page.get_by_role("link", name="Edit Hall").click()
        await page.get_by_role("heading", name="Edit Hall").wait_for()
        assert await page.get_by_role("button", name="Delete camera…").count() == 0
        await page.goto(base + "/#cameras")
        await page.get_by_role("link", name="Edit Hall").wait_for()
        assert await page.get_by_role("link", name="Add camera").count() == 0
        await context.close()


async def test_an_admin_deletes_a_camera_after_confirming(
    admin_context: BrowserContext, settings: Settings, services: Services
) -> None:
    camera = await add_camera(services, "Old porch", "rtsp://127.0.0.1:9/x", enabled=False)
    async with serving(create_app(settings, services)) as base:
        page = await admin_context.new_page()
        await page.goto(base + f"/#cameras?edit={camera.id}")
        await page.get_by_role("button", name="Delete camera…").click()
        dialog = page.get_by_role("dialog")
        await dialog.get_by_text("all its recordings").wait_for()
        await dialog.get_by_role("button", name="Cancel").click()
        assert len(await services.cameras.store.list(org_id=TEST_ORG)) == 1
        await page.get_by_role("button", name="Delete camera…").click()
        await dialog.get_by_role("button", name="Delete Old porch").click()
        await page.wait_for_url(base + "/#cameras")
        assert await services.cameras.store.list(org_id=TEST_ORG) == []
        await page.close()


async def test_on_a_phone_each_camera_is_a_card_with_nothing_cut_off(
    admin_context: BrowserContext, settings: Settings, services: Services, sim: SimulatedCameras
) -> None:
    names = ["Front gate with a long name", "Playground"]
    for name, url in zip(names, sim.urls, strict=False):
        await add_camera(services, name, url)
    async with serving(create_app(settings, services)) as base:
        page = await admin_context.new_page()
        await page.set_viewport_size(PHONE)
        await page.goto(base + "/#cameras")
        rows = page.locator("tbody tr")
        for name in names:
            row = rows.filter(has_text=name)
            await row.get_by_text("10 fps").wait_for(timeout=30_000)
        boxes = [await rows.nth(i).bounding_box() for i in range(2)]
        assert all(box is not None for box in boxes)
        first, second = boxes[0], boxes[1]
        assert first is not None
        assert second is not None
        assert second["y"] >= first["y"] + first["height"], "cards are stacked"
        for box in boxes:
            assert box is not None
            assert box["x"] >= 0
            assert box["x"] + box["width"] <= PHONE["width"]
        fps = await rows.first.get_by_text("10 fps").bounding_box()
        assert fps is not None
        assert fps["x"] + fps["width"] <= PHONE["width"]
        wide = await page.evaluate("() => document.scrollingElement.scrollWidth")
        assert wide <= PHONE["width"]
        await shot(page, "list-phone")
        await page.close()


async def test_axe_finds_nothing_serious_in_either_theme(
    admin_context: BrowserContext, settings: Settings, services: Services
) -> None:
    camera = await add_camera(
        services, "Hall", "rtsp://127.0.0.1:9/x", enabled=False, detection=MOTION_ONLY
    )
    async with serving(create_app(settings, services)) as base:
        for theme in ("light", "dark"):
            for viewport in ({"width": 1280, "height": 800}, PHONE):
                page = await with_axe(await admin_context.new_page())
                await page.set_viewport_size(viewport)
                await page.emulate_media(color_scheme=theme)
                await page.goto(base + "/#cameras")
                await page.get_by_role("link", name="Edit Hall").wait_for()
                assert await serious_violations(page) == [], (theme, "list")
                await page.goto(base + "/#cameras?add")
                await page.get_by_role("button", name="Test connection").wait_for()
                assert await serious_violations(page) == [], (theme, "add")
                await page.goto(base + f"/#cameras?edit={camera.id}")
                await page.get_by_role("button", name="Add zone").click()
                await click_at(page, 0.2, 0.2)
                assert await serious_violations(page) == [], (theme, "edit")
                size = "phone" if viewport is PHONE else "desk"
                await shot(page, f"edit-{size}-{theme}")
                await page.close()


async def test_an_admin_pins_a_camera_to_a_media_node(
    admin_context: BrowserContext, settings: Settings, services: Services
) -> None:
    camera = await add_camera(services, "Loading bay", "rtsp://127.0.0.1:9/x", enabled=False)
    async with serving(create_app(settings, services)) as base:
        page = await with_axe(await admin_context.new_page())
        # One node: nothing to choose.
        await page.goto(base + f"/#cameras?edit={camera.id}")
        await page.get_by_label("Keep", exact=True).wait_for()
        assert await page.get_by_label("Media node").count() == 0
        # A second node joins (here the same node under a second name: the page only needs
        # the system to list two; placement itself is tested with real processes).
        assert services.node is not None
        services.nodes.attach("node-b", services.node)
        try:
            await page.reload()
            choice = page.get_by_label("Media node")
            await choice.wait_for()
            assert await choice.input_value() == ""  # any node with room
            assert "Recording now on local" in await page.locator(".camera-form").inner_text()
            await choice.select_option("node-b")
            async with page.expect_request(lambda r: r.method == "PATCH") as sent:
                await page.get_by_role("button", name="Save", exact=True).click()
            assert (await sent.value).post_data_json == {"pinned_node": "node-b"}
            await page.locator(".camera-form [role=status]", has_text="Saved.").wait_for()
            assert (await services.cameras.store.get(camera.id)).pinned_node == "node-b"
            await page.reload()
            assert await page.get_by_label("Media node").input_value() == "node-b"
            assert await serious_violations(page) == []
            await shot(page, "camera-pinned-desk")
            await page.set_viewport_size(PHONE)
            await shot(page, "camera-pinned-phone")
            box = await page.get_by_label("Media node").bounding_box()
            assert box is not None
            assert box["x"] + box["width"] <= PHONE["width"]
        finally:
            services.nodes.detach("node-b")
        await page.close()
