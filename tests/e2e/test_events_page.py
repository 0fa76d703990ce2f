"""The Events page in a real browser: the review queue newest first with its pictures, review
from the keyboard and in bulk (read back through the API), new events arriving while it is
open, filters, saving a snapshot to the library, a viewer's actions, the clip playing in place
on a phone, and what axe-core finds in both themes.

Events come in as a node reports them (``services.nodes.events_reported``), each with a real
JPEG snapshot on the node's disk."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from urllib.parse import parse_qs

import cv2
import numpy as np
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize

from tests.conftest import TEST_ORG, SecretWatch
from tests.e2e.axe import serious_violations, with_axe
from tests.e2e.conftest import sign_in
from tests.node.helpers import recorded_camera
from tests.people import grant, make_user
from tests.serve import serving
from vigil.api.app import create_app
from vigil.app import Services
from vigil.auth.permissions import Permission
from vigil.link.messages import BoxAt, EventKind, EventRecord, EventSnapshot, EventStage
from vigil.settings import Settings
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields
from vigil.store.events import EventFilter
from vigil.store.models import Camera
from vigil.timeutil import iso, now_ms

PHONE: ViewportSize = {"width": 375, "height": 812}
DESK: ViewportSize = {"width": 1280, "height": 800}
# Set to a folder to keep screenshots of the page (they are not part of the repository).
SCREENSHOTS = os.environ.get("VIGIL_SCREENSHOTS")

SELECTED = "() => document.querySelector('.event-card[data-selected]')?.dataset.event"
CARDS = "() => [...document.querySelectorAll('.event-card')].map((c) => Number(c.dataset.event))"
THUMBS_LOADED = """() => {
  const images = [...document.querySelectorAll('.event-card img')];
  return images.length > 0 && images.every((i) => i.complete && i.naturalWidth > 0);
}"""


def picture(shade: int) -> bytes:
    image = np.full((180, 320, 3), shade, np.uint8)
    cv2.rectangle(image, (100, 40), (220, 160), (30, 30, 200), 4)
    ok, jpeg = cv2.imencode(".jpg", image)
    assert ok
    return jpeg.tobytes()


async def report(
    services: Services,
    camera: Camera,
    start_ms: int,
    end_ms: int | None,
    label: str = "person",
    zones: tuple[str, ...] = (),
    snapshot: bool = True,
) -> int:
    """Report an event (ended, or going on with ``end_ms`` None), with a snapshot unless told
    otherwise, as a node does; answers its id."""
    assert services.node is not None
    uid = uuid.uuid4().hex
    box = BoxAt(time_ms=start_ms + 500, x1=0.3, y1=0.2, x2=0.7, y2=0.9)
    shot = None
    if snapshot:
        key = f"{camera.id}/events/{uid}.jpg"
        path = services.node.layout.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(picture(100 + start_ms // 1000 % 100))
        shot = EventSnapshot(path=key, time_ms=start_ms + 500, score=0.87, box=box)
    record = EventRecord(
        uid=uid,
        camera_id=camera.id,
        stage=EventStage.END if end_ms is not None else EventStage.NEW,
        kind=EventKind.OBJECT,
        label=label,
        score=0.87,
        zones=list(zones),
        start_ms=start_ms,
        end_ms=end_ms,
        last_ms=end_ms if end_ms is not None else start_ms + 500,
        pre_ms=0,
        post_ms=0,
        boxes=[box],
        snapshot=shot,
    )
    await services.nodes.events_reported(services.node.name, [record])
    events = await services.events.store.find(
        EventFilter(org_id=TEST_ORG, camera_ids=[camera.id], limit=500)
    )
    return next(e.id for e in events if e.uid == uid)


async def flags(services: Services, event_id: int) -> tuple[bool, bool]:
    """(reviewed, protected) as the API's store has them."""
    event = await services.events.store.get(event_id)
    return event.reviewed, event.protected


async def shoot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=f"{SCREENSHOTS}/{name}.png", full_page=True)


async def set_theme(page: Page, theme: str) -> None:
    await page.select_option(".theme select", theme)
    await page.wait_for_function(
        "(theme) => (document.documentElement.dataset.theme || 'system') === theme", arg=theme
    )


async def wait_selected(page: Page, event_id: int) -> None:
    await page.wait_for_function(
        "(id) => document.querySelector('.event-card[data-selected]')?.dataset.event === id",
        arg=str(event_id),
        timeout=20_000,
    )


async def wait_cards(page: Page, ids: list[int]) -> None:
    """Wait until the list shows exactly these events, in this order."""
    await page.wait_for_function(
        "(ids) => JSON.stringify([...document.querySelectorAll('.event-card')]"
        ".map((c) => Number(c.dataset.event))) === JSON.stringify(ids)",
        arg=ids,
        timeout=20_000,
    )


async def wait_text(page: Page, selector: str, text: str) -> None:
    await page.wait_for_function(
        "([selector, text]) => document.querySelector(selector)?.innerText.includes(text)",
        arg=[selector, text],
        timeout=20_000,
    )


async def wait_video_past(page: Page, seconds: float) -> float:
    await page.wait_for_function(
        "(s) => document.querySelector('.event-detail video')?.currentTime > s",
        arg=seconds,
        timeout=30_000,
    )
    return float(await page.evaluate("document.querySelector('.event-detail video').currentTime"))


async def test_review_queue_on_a_desk(
    browser: Browser,
    admin_context: BrowserContext,
    settings: Settings,
    services: Services,
    sim: SimulatedCameras,
    secret_watch: SecretWatch,
) -> None:
    gate = await services.cameras.create(
        CameraFields(name="Front gate", main_url=sim.url("cam1"), enabled=False), org_id=TEST_ORG
    )
    hall = await services.cameras.create(
        CameraFields(name="Hall", main_url=sim.url("cam2"), enabled=False), org_id=TEST_ORG
    )
    t0 = (now_ms() - 3_600_000) // 1000 * 1000
    e1 = await report(services, gate, t0, t0 + 4000, "person")
    e2 = await report(services, hall, t0 + 60_000, t0 + 65_000, "car")
    e3 = await report(services, gate, t0 + 120_000, t0 + 121_000, "person", ("yard",))
    e4 = await report(services, hall, t0 + 180_000, t0 + 200_000, "dog")

    async with serving(create_app(settings, services)) as base:
        page = await with_axe(await admin_context.new_page())
        await page.set_viewport_size(DESK)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(base + "/#events")
        await page.wait_for_selector(".event-card", timeout=20_000)

        # (1) Newest first, not reviewed, each with its picture loaded; the newest chosen.
        assert await page.evaluate(CARDS) == [e4, e3, e2, e1]
        await page.wait_for_function(THUMBS_LOADED, timeout=20_000)
        await wait_selected(page, e4)
        first = page.locator(f'.event-card[data-event="{e4}"]')
        assert "dog" in await first.inner_text()
        assert "Hall" in await first.inner_text()
        assert "87%" in await first.inner_text()
        assert "20 s" in await first.inner_text()
        assert "not reviewed" in await first.inner_text()
        assert await page.inner_text(".event-detail h2") == "dog on Hall"
        assert "Keys:" in await page.inner_text(".event-keys")
        await shoot(page, "desk-light")
        assert await serious_violations(page) == []

        # (2) The keyboard: j next, k previous, r marks reviewed (it leaves the queue, the
        # next is chosen), p protects.
        await page.keyboard.press("j")
        await wait_selected(page, e3)
        await page.keyboard.press("k")
        await wait_selected(page, e4)
        await page.keyboard.press("ArrowDown")
        await wait_selected(page, e3)
        await page.keyboard.press("r")
        await page.wait_for_selector(f'.event-card[data-event="{e3}"]', state="detached")
        await wait_selected(page, e2)
        assert await flags(services, e3) == (True, False)
        assert await page.evaluate(CARDS) == [e4, e2, e1]
        await page.keyboard.press("p")
        await wait_text(page, f'.event-card[data-event="{e2}"]', "protected")
        assert await flags(services, e2) == (False, True)
        assert "Unprotect" in await page.inner_text(".event-detail .event-actions")

        # Keys typed into a filter are the filter's: r there reviews nothing.
        await page.focus("#ef-camera")
        await page.keyboard.press("r")
        assert await page.evaluate(SELECTED) == str(e2)
        assert await flags(services, e2) == (False, True)

        # (3) Bulk: two ticked, "Mark 2 reviewed"; the API agrees.
        await page.get_by_role("checkbox", name="Select dog on Hall", exact=False).check()
        await page.locator(f'.event-card[data-event="{e1}"] input[type=checkbox]').check()
        await page.get_by_role("button", name="Mark 2 reviewed").click()
        await wait_cards(page, [e2])
        assert await flags(services, e4) == (True, False)
        assert await flags(services, e1) == (True, False)
        assert "Marked 2 reviewed." in await page.inner_text(".event-notice")

        # (4) A new event shows up without a reload, announced, the choice left alone.
        e5 = await report(services, gate, t0 + 240_000, t0 + 242_000, "person", ("yard",))
        await wait_cards(page, [e5, e2])
        assert await page.inner_text(".event-notice") == "1 new event"
        assert await page.evaluate(SELECTED) == str(e2)
        assert "new" in await page.inner_text(f'.event-card[data-event="{e5}"] .event-badges')

        # (5) Filters, kept in the address: all events, then one camera, then one label.
        await page.select_option("#ef-reviewed", "all")
        await page.wait_for_function(f"() => ({CARDS})().length === 5", timeout=20_000)
        await page.select_option("#ef-camera", str(gate.id))
        await wait_cards(page, [e5, e3, e1])
        await page.select_option("#ef-zone", "yard")
        await wait_cards(page, [e5, e3])
        await page.select_option("#ef-zone", "")
        await page.select_option("#ef-camera", "")
        await page.select_option("#ef-label", "car")
        await wait_cards(page, [e2])
        assert "label=car" in page.url
        assert "reviewed=all" in page.url
        # A linked queue opens filtered.
        await page.goto(f"{base}/#events?camera={hall.id}&reviewed=all")
        await wait_cards(page, [e4, e2])
        assert await page.input_value("#ef-camera") == str(hall.id)
        # A linked event opens even when the queue no longer lists it (reviewed already).
        await page.goto(f"{base}/#events?event={e3}")
        await page.wait_for_selector(f'.event-detail[data-event="{e3}"]')
        assert await page.inner_text(".event-detail h2") == "person on Front gate"
        await page.goto(f"{base}/#events?camera={hall.id}&reviewed=all")
        await wait_cards(page, [e4, e2])

        # (7) Save the chosen event's snapshot to the library.
        await page.locator(f'.event-card[data-event="{e2}"] .event-open').click()
        await page.wait_for_selector(f'.event-detail[data-event="{e2}"]')
        href = await page.get_attribute(".event-detail a.button", "href")
        assert href is not None
        assert href.startswith("#recordings?")
        link = parse_qs(href.split("?", 1)[1])
        assert link == {"camera": [str(hall.id)], "at": [iso(t0 + 60_000)]}
        await page.get_by_role("button", name="Save snapshot to library").click()
        await page.wait_for_selector(".event-message:has-text('Saved to the library')")
        items = await services.library.store.items_of(TEST_ORG)
        assert [(i.source, i.camera_id, i.labels) for i in items] == [
            ("snapshot", hall.id, ["car"])
        ]

        # (9) Dark theme.
        await set_theme(page, "dark")
        await shoot(page, "desk-dark")
        assert await serious_violations(page) == []
        await set_theme(page, "system")
        assert errors == []
        await page.close()

        # A viewer with recordings of the hall: may review, may neither protect nor save.
        viewer = await make_user(services, "parent", "viewer")
        await grant(
            services,
            TEST_ORG,
            [hall.id],
            {Permission.VIEW_LIVE, Permission.VIEW_RECORDINGS},
            viewer.id,
        )
        context = await browser.new_context()
        await sign_in(context, services, viewer, secret_watch)
        page = await context.new_page()
        await page.set_viewport_size(DESK)
        await page.goto(base + "/#events?reviewed=all")
        await wait_cards(page, [e4, e2])
        actions = await page.inner_text(".event-detail .event-actions")
        assert "Mark not reviewed" in actions
        for absent in ("Protect", "Save snapshot", "Save clip"):
            assert absent not in actions
        assert "protect" not in await page.inner_text(".event-keys")
        await page.keyboard.press("j")
        await wait_selected(page, e2)
        await page.keyboard.press("r")
        await wait_text(page, f'.event-card[data-event="{e2}"] .event-reviewed', "reviewed")
        assert await flags(services, e2) == (True, True)
        await context.close()


async def test_an_event_clip_plays_in_place_on_a_phone(
    admin_context: BrowserContext,
    settings: Settings,
    services: Services,
    sim: SimulatedCameras,
) -> None:
    camera, segments = await recorded_camera(services, "Playground", sim.url("cam3"), 4)
    start, end = segments[0].start_ms + 500, segments[-1].end_ms - 500
    event_id = await report(services, camera, start, end, "person")
    going_on = await report(services, camera, now_ms() - 5000, None, "cat", snapshot=False)

    async with serving(create_app(settings, services)) as base:
        page = await with_axe(await admin_context.new_page())
        await page.set_viewport_size(PHONE)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(base + "/#events")
        await page.wait_for_selector(".event-card", timeout=20_000)
        await page.wait_for_function(THUMBS_LOADED, timeout=20_000)
        card = await page.inner_text(f'.event-card[data-event="{going_on}"]')
        assert "No picture" in card
        assert "ongoing" in card
        # (8) On a phone the list comes first, the detail in its place once an event is opened.
        assert not await page.is_visible(".event-detail")
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await shoot(page, "phone-list")
        assert await serious_violations(page) == []
        await page.locator(f'.event-card[data-event="{event_id}"] .event-open').click()
        await page.wait_for_selector(".event-detail", state="visible")
        assert not await page.is_visible(".event-list")
        assert await page.evaluate("document.activeElement.id") == "event-heading"

        # (6) The clip plays in place: its time advances.
        await page.get_by_role("button", name="Play clip").click()
        first = await wait_video_past(page, 0.5)
        await wait_video_past(page, first + 1.0)
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await shoot(page, "phone-detail")
        assert await serious_violations(page) == []
        await set_theme(page, "dark")
        await shoot(page, "phone-detail-dark")
        assert await serious_violations(page) == []

        # Save its clip to the library: exported, then copied in.
        await page.get_by_role("button", name="Save clip to library").click()
        await page.wait_for_selector(
            ".event-message:has-text('Saved to the library')", timeout=60_000
        )
        items = await services.library.store.items_of(TEST_ORG)
        assert [(i.source, i.mime) for i in items] == [("export", "video/mp4")]

        # Back to the list, the event still chosen.
        await page.get_by_role("button", name="Back to the list").click()
        await page.wait_for_selector(".event-list", state="visible")
        assert not await page.is_visible(".event-detail")
        assert await page.evaluate(SELECTED) == str(event_id)
        assert errors == []
        await page.close()
