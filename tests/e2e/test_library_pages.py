"""The library's pages in a real browser: the gallery of events newest first with their
covers, an event's justified grid of thumbnails, the viewer (keyboard, zoom, a video playing,
editing, a swipe on a phone), sharing an event by a link from its page (the link opened in a
fresh browser) and an item from the viewer, and what a parent sees: their classes' events
and nothing else of the school. axe-core finds nothing serious on any of them, on a desk and on a phone.

One server with one school's library serves every test of the module (``site``)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, CDPSession, Page

from tests.conftest import TEST_ORG, SecretWatch
from tests.e2e.axe import serious_violations, with_axe
from tests.e2e.conftest import CspViolations
from tests.e2e.library_site import (
    DESK,
    LOCALE,
    PHONE,
    Site,
    chromium,
    library_site,
    photo,
    signed_in_context,
)
from tests.library.media_samples import faststart_mp4

pytestmark = pytest.mark.asyncio(loop_scope="module")
SCREENSHOTS = os.environ.get("VIGIL_SCREENSHOTS")

# Pictures as cameras and phones take them: landscape, portrait, wide, square, a panorama.
SIZES = [(1600, 1200), (1200, 1600), (1600, 900), (1200, 1200), (2400, 800), (1067, 1600)]
LOADED = """(selector) => {
  const images = [...document.querySelectorAll(selector)];
  return images.length > 0 && images.every((i) => i.complete && i.naturalWidth > 0);
}"""
# The grid as drawn: each row's tiles with their item, size and place.
GEOMETRY = """() => ({
  width: document.querySelector('.jg').getBoundingClientRect().width,
  rows: [...document.querySelectorAll('.jg-row')].map((row) => ({
    last: row.classList.contains('last'),
    tiles: [...row.querySelectorAll('.jg-cell')].map((cell) => {
      const box = cell.getBoundingClientRect();
      return { id: Number(cell.dataset.item), left: box.left, width: box.width, height: box.height };
    }),
  })),
})"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    folder = tmp_path_factory.mktemp("library-pages")
    async with library_site(folder / "site") as site:
        await site.add_event("Open day", "2026-02-01T10:00:00Z", [])
        await site.add_event(
            "Trip to the museum", "2026-03-10T08:30:00Z", ["3B"], place="City museum"
        )
        await site.add_event("Spring concert", "2026-04-01T18:00:00Z", ["3A"], place="Main hall")
        await site.add_event(
            "Sports day", "2026-06-12T09:00:00Z", ["3A", "3B"], place="Playing field",
            description="Races and relays on the field.",
        )  # fmt: skip
        for n, (width, height) in enumerate(SIZES, 1):
            await site.add_item(
                "Sports day",
                photo(width, height, n),
                filename=f"IMG_{n:04}.jpg",
                title=f"Relay {n}",
                tags="sport",
            )
        clip = faststart_mp4(folder / "finish.mp4", seconds=6).read_bytes()
        await site.add_item("Sports day", clip, filename="finish.mp4", title="The finish line")
        await site.add_item("Spring concert", photo(1600, 1200, 50), title="Choir")
        await site.add_item("Trip to the museum", photo(1600, 1200, 60), title="Dinosaur")
        yield site


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


def ids(site: Site, event: str) -> list[int]:
    return [int(item["id"]) for item in site.items[event]]


async def set_theme(page: Page, theme: str) -> None:
    await page.select_option(".theme select", theme)
    await page.wait_for_function(
        "(theme) => (document.documentElement.dataset.theme || 'system') === theme", arg=theme
    )


async def open_event(page: Page, site: Site, event: str, count: int) -> None:
    await page.goto(f"{site.base}/#library?event={site.events[event]}")
    await page.wait_for_function(
        "(n) => document.querySelectorAll('.jg-tile img').length === n", arg=count, timeout=20_000
    )
    await page.wait_for_function(LOADED, arg=".jg-tile img", timeout=20_000)


async def viewer_shows(page: Page, site: Site, event: str, item: int, title: str) -> None:
    await page.wait_for_function(
        "([hash, title]) => location.hash === hash && "
        "document.querySelector('dialog.lib-viewer[open] h2')?.textContent === title",
        arg=[f"#library?event={site.events[event]}&item={item}", title],
        timeout=20_000,
    )


async def shoot(page: Page, name: str) -> None:
    """A picture of the page for a person to look at, when VIGIL_SCREENSHOTS names a folder."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=f"{SCREENSHOTS}/{name}.png")


def full_file_requests(urls: list[str]) -> list[str]:
    return [u for u in urls if "/files/original" in u or "/files/web" in u]


async def test_the_gallery_shows_events_newest_first_with_their_covers_on_a_desk_and_a_phone(
    site: Site, browser: Browser, secret_watch: SecretWatch
) -> None:
    async with signed_in_context(browser, site, "teacher", secret_watch) as context:
        page = await with_axe(await context.new_page())
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        await page.goto(site.base + "/#library")
        await page.wait_for_selector(".lib-card")
        names = await page.eval_on_selector_all(
            ".lib-card-name", "all => all.map((e) => e.textContent)"
        )
        assert names == ["Sports day", "Spring concert", "Trip to the museum", "Open day"]
        sports = page.locator(f'.lib-card[data-event="{site.events["Sports day"]}"]')
        text = await sports.inner_text()
        assert "12 June 2026 · Playing field" in text
        assert "6 photos · 1 video" in text
        assert await sports.locator(".lib-chip").all_inner_texts() == ["3A", "3B"]
        # Each cover is the newest item's thumbnail (the finish line's, a video), loaded.
        await page.wait_for_function(LOADED, arg=".lib-card img", timeout=20_000)
        finish = site.items["Sports day"][-1]["id"]
        assert (
            await sports.locator("img").get_attribute("src")
            == f"/api/library/items/{finish}/files/thumb"
        )
        empty = page.locator(f'.lib-card[data-event="{site.events["Open day"]}"]')
        assert "No photos or videos yet" in await empty.inner_text()
        assert await empty.locator("img").count() == 0
        assert full_file_requests(requested) == []
        assert await page.get_attribute("nav a[aria-current=page]", "href") == "#library"
        assert await serious_violations(page) == []
        await set_theme(page, "dark")
        assert await serious_violations(page) == []
        await set_theme(page, "system")

        # On a phone: one card a row, and the bottom bar shows every page, the Library and
        # Search too (the account is the name in the top bar).
        await page.set_viewport_size(PHONE)
        await page.wait_for_function(
            "() => new Set([...document.querySelectorAll('.lib-card')]"
            ".map((c) => Math.round(c.getBoundingClientRect().left))).size === 1"
        )
        nav = await page.evaluate(
            "() => { const bar = document.querySelector('nav.sidebar');"
            " return { fits: bar.scrollWidth <= bar.clientWidth,"
            " links: [...bar.querySelectorAll('a')].filter((a) => a.checkVisibility())"
            ".map((a) => a.textContent) }; }"
        )
        assert nav == {
            "fits": True,
            "links": ["Live", "Recordings", "Events", "Library", "Search", "Cameras"],
        }
        assert await serious_violations(page) == []


async def test_an_event_shows_its_items_in_rows_of_equal_height_at_their_own_shapes(
    site: Site, browser: Browser, secret_watch: SecretWatch
) -> None:
    async with signed_in_context(browser, site, "teacher", secret_watch) as context:
        page = await with_axe(await context.new_page())
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        await open_event(page, site, "Sports day", 7)
        assert "Races and relays on the field." in await page.inner_text(".lib-event-head")
        # The event's actions look alike, the link (Download all) as the buttons.
        actions = await page.eval_on_selector_all(
            ".lib-event-actions :is(a.button, button)",
            "all => all.map((e) => [e.textContent.trim(), getComputedStyle(e).fontSize,"
            " Math.round(e.getBoundingClientRect().height)])",
        )
        assert [a[0] for a in actions][:2] == ["Download all", "Edit event"]
        assert len({(a[1], a[2]) for a in actions}) == 1, actions
        grid: dict[str, Any] = await page.evaluate(GEOMETRY)
        tiles = [t for row in grid["rows"] for t in row["tiles"]]
        assert [t["id"] for t in tiles] == ids(site, "Sports day")  # as taken, oldest first
        shapes = {int(i["id"]): i["width"] / i["height"] for i in site.items["Sports day"]}
        assert len(grid["rows"]) >= 2
        for row in grid["rows"]:
            heights = {round(t["height"], 1) for t in row["tiles"]}
            assert max(heights) - min(heights) < 1, row  # one height a row
            for tile in row["tiles"]:  # each at its own shape (panoramas are trimmed at 3:1)
                shape = min(shapes[tile["id"]], 3)
                assert tile["width"] / tile["height"] == pytest.approx(shape, rel=0.03), tile
            if not row["last"]:  # a full row fills the width exactly
                end = row["tiles"][-1]["left"] + row["tiles"][-1]["width"]
                assert end - row["tiles"][0]["left"] == pytest.approx(grid["width"], abs=1.5)
        # Thumbnails only, each loaded lazily; never the full file in the grid.
        sources = await page.eval_on_selector_all(
            ".jg-tile img", "all => all.map((i) => [i.getAttribute('src'), i.loading])"
        )
        assert all(src.endswith("/files/thumb") and loading == "lazy" for src, loading in sources)
        assert full_file_requests(requested) == []
        # Arrow keys move between tiles: along the order, and to the nearest in the next row.
        rows = [[t["id"] for t in row["tiles"]] for row in grid["rows"]]
        middle = {t["id"]: t["left"] + t["width"] / 2 for t in tiles}
        await page.focus(f'.jg-cell[data-item="{rows[0][0]}"] a')
        focused = "() => Number(document.activeElement.closest('.jg-cell')?.dataset.item)"
        await page.keyboard.press("ArrowRight")
        assert await page.evaluate(focused) == rows[0][1]
        await page.keyboard.press("ArrowDown")
        below = min(rows[1], key=lambda i: abs(middle[i] - middle[rows[0][1]]))
        assert await page.evaluate(focused) == below
        await page.keyboard.press("ArrowLeft")
        assert (
            await page.evaluate(focused) == tiles[[t["id"] for t in tiles].index(below) - 1]["id"]
        )
        await page.keyboard.press("ArrowUp")
        assert await page.evaluate(focused) in rows[0]
        video = page.locator(f'.jg-cell[data-item="{ids(site, "Sports day")[-1]}"] a')
        assert await video.get_attribute("aria-label") == "The finish line, video 0:06"
        assert await video.locator(".jg-badge").inner_text() == "▶ 0:06"
        assert await page.get_attribute(".lib-event-actions a", "href") == (
            f"/api/library/events/{site.events['Sports day']}/download"
        )
        assert await serious_violations(page) == []
        await set_theme(page, "dark")
        assert await serious_violations(page) == []
        await set_theme(page, "system")

        # The teacher describes an event: the page and the API have it.
        await page.goto(f"{site.base}/#library?event={site.events['Open day']}")
        await page.click("text=Edit event")
        await page.fill("label:has-text('Place') input", "School hall")
        await page.fill("label:has-text('Description') textarea", "Visitors welcome from ten.")
        assert await serious_violations(page) == []
        await page.click("button:has-text('Save')")
        await page.wait_for_selector(".lib-event-head >> text=School hall")
        assert "Visitors welcome from ten." in await page.inner_text(".lib-event-head")
        event = await site.services.library.store.event(1, site.events["Open day"])
        assert (event.place, event.description) == ("School hall", "Visitors welcome from ten.")


async def test_the_viewer_steps_with_the_keyboard_zooms_plays_edits_and_esc_goes_back(
    site: Site, browser: Browser, secret_watch: SecretWatch
) -> None:
    first, second, *_, finish = ids(site, "Sports day")
    async with signed_in_context(browser, site, "teacher", secret_watch) as context:
        page = await with_axe(await context.new_page())
        await open_event(page, site, "Sports day", 7)
        await page.click(f'.jg-cell[data-item="{first}"] a')
        await viewer_shows(page, site, "Sports day", first, "Relay 1")
        # The picture itself (the original, 1600 px wide) now that it is opened.
        await page.wait_for_function(
            "() => { const i = document.querySelector('.lib-viewer-photo');"
            " return i && i.complete && i.naturalWidth === 1600; }"
        )
        assert await page.inner_text(".lib-viewer-position") == "1 of 7"
        assert (
            await page.get_attribute(".lib-viewer-bar a", "href")
            == f"/api/library/items/{first}/files/original"
        )
        assert await serious_violations(page) == []

        await page.keyboard.press("ArrowRight")
        await viewer_shows(page, site, "Sports day", second, "Relay 2")
        assert await page.inner_text(".lib-viewer-position") == "2 of 7"
        await page.keyboard.press("ArrowLeft")
        await viewer_shows(page, site, "Sports day", first, "Relay 1")
        await page.keyboard.press("+")
        await page.wait_for_selector(".lib-viewer-actions button:has-text('150%')")
        assert "scale(1.5)" in await page.get_attribute(".lib-viewer-photo", "style")
        await page.keyboard.press("0")
        await page.wait_for_selector(".lib-viewer-actions button:has-text('100%')")
        await page.emulate_media(color_scheme="dark")  # the system's theme, followed
        assert await serious_violations(page) == []
        await page.emulate_media(color_scheme="light")

        # Esc: back to the grid, where it was, with the tile of the picture focused.
        await page.keyboard.press("Escape")
        await page.wait_for_function(
            "(hash) => location.hash === hash && !document.querySelector('dialog.lib-viewer')",
            arg=f"#library?event={site.events['Sports day']}",
        )
        focused = await page.evaluate("document.activeElement.closest('.jg-cell')?.dataset.item")
        assert focused == str(first)

        # The video plays in the viewer, over its poster.
        await page.goto(f"{site.base}/#library?event={site.events['Sports day']}&item={finish}")
        await viewer_shows(page, site, "Sports day", finish, "The finish line")
        video = page.locator("dialog.lib-viewer video")
        assert (await video.get_attribute("poster") or "").endswith(f"/items/{finish}/files/poster")
        assert (await video.get_attribute("src") or "").endswith(f"/items/{finish}/files/web")
        await page.wait_for_function(
            "() => document.querySelector('dialog video').currentTime > 0.5", timeout=20_000
        )
        started = await video.evaluate("(v) => v.currentTime")
        await page.wait_for_function(
            f"() => document.querySelector('dialog video').currentTime > {started} + 0.5"
        )
        assert await video.evaluate("(v) => v.error") is None

        # The teacher edits the video's title and tags: the page and the API have them.
        await page.click("text=Edit title, description and tags")
        await page.fill("dialog label:has-text('Title') input", "Across the line")
        await page.fill("dialog label:has-text('Tags') input", "sport, finish ,")
        assert await serious_violations(page) == []
        await page.click("dialog button:has-text('Save')")
        await page.wait_for_selector("#lib-viewer-title:has-text('Across the line')")
        assert await page.locator("dialog .lib-chip").all_inner_texts() == ["sport", "finish"]
        item = await site.services.library.store.item(1, finish)
        assert (item.title, item.tags) == ("Across the line", ["sport", "finish"])


async def swipe(cdp: CDPSession, y: float, x_from: float, x_to: float) -> None:
    """A finger across the screen, as the touch screen reports it."""
    await cdp.send(
        "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x_from, "y": y}]}
    )
    for step in range(1, 9):
        x = x_from + (x_to - x_from) * step / 8
        await cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]}
        )
    await cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


async def test_on_a_phone_the_viewer_follows_a_swipe(
    site: Site, browser: Browser, secret_watch: SecretWatch
) -> None:
    _, second, third, *_ = ids(site, "Sports day")
    async with signed_in_context(
        browser, site, "teacher", secret_watch, PHONE, has_touch=True
    ) as context:
        page = await with_axe(await context.new_page())
        await open_event(page, site, "Sports day", 7)
        assert await serious_violations(page) == []
        await page.goto(f"{site.base}/#library?event={site.events['Sports day']}&item={second}")
        await viewer_shows(page, site, "Sports day", second, "Relay 2")
        assert await serious_violations(page) == []
        stage = await page.locator(".lib-viewer-stage").bounding_box()
        assert stage is not None
        middle = stage["y"] + stage["height"] / 2
        cdp = await context.new_cdp_session(page)
        await swipe(
            cdp, middle, stage["x"] + stage["width"] * 0.8, stage["x"] + stage["width"] * 0.2
        )
        await viewer_shows(page, site, "Sports day", third, "Relay 3")
        await swipe(
            cdp, middle, stage["x"] + stage["width"] * 0.2, stage["x"] + stage["width"] * 0.8
        )
        await viewer_shows(page, site, "Sports day", second, "Relay 2")


async def test_a_teacher_shares_an_event_by_link_from_its_page_and_an_item_from_the_viewer(
    site: Site, browser: Browser, secret_watch: SecretWatch
) -> None:
    sports = site.events["Sports day"]
    _, second, *_ = ids(site, "Sports day")
    async with signed_in_context(browser, site, "teacher", secret_watch) as context:
        page = await with_axe(await context.new_page())
        await open_event(page, site, "Sports day", 7)

        # Share on the event's page: the classes it is shared with are ticked; a link made.
        await page.get_by_role("button", name="Share Sports day").click()
        dialog = page.locator("dialog.share-dialog")
        await dialog.wait_for()
        assert await dialog.locator("h2").inner_text() == "Share “Sports day”"
        await dialog.get_by_label("3A").wait_for()
        assert await dialog.get_by_label("3A").is_checked()
        assert await dialog.get_by_label("3B").is_checked()
        await dialog.get_by_text("No links yet.").wait_for()
        await dialog.get_by_label("Expires after").select_option("30")
        await dialog.get_by_role("button", name="Create link").click()
        address = dialog.locator("#share-address")
        await address.wait_for()
        url = await address.input_value()
        assert url.startswith(site.base + "/s/")
        secret_watch.add(url.rsplit("/", 1)[1])
        row = dialog.locator(".share-links li")
        await row.wait_for()
        assert "0 views" in await row.inner_text()
        assert await serious_violations(page) == []
        await shoot(page, "library-event-share")
        (link,) = await site.services.library.store.shares(TEST_ORG, event_id=sports)
        assert (link.item_id, link.password_hash, link.revoked) == (None, None, False)

        # The link in a browser where nobody is signed in: the event's gallery, each picture
        # loaded, one opened at the window's width.
        violations = CspViolations()
        fresh = await browser.new_context(viewport=DESK, **LOCALE)
        violations.watch(fresh)
        try:
            outside = await with_axe(await fresh.new_page())
            await outside.goto(url)
            await outside.wait_for_selector(".shared-gallery img")
            assert await outside.inner_text(".shared-header h1") == "Sports day"
            assert await outside.locator(".shared-thumb").count() == 7
            await outside.wait_for_function(LOADED, arg=".shared-gallery img", timeout=20_000)
            assert await serious_violations(outside) == []
            await outside.get_by_role("button", name="Open Relay 1").click()
            await outside.wait_for_function(
                "() => { const i = document.querySelector('img.shared-media');"
                " return i && i.complete && i.naturalWidth === 1600; }"
            )
            assert await fresh.cookies() == []
        finally:
            await fresh.close()
        assert violations.seen == []

        # Back on the teacher's page, the link's opening is counted.
        await page.keyboard.press("Escape")
        await dialog.wait_for(state="detached")
        await page.get_by_role("button", name="Share Sports day").click()
        await dialog.locator(".share-links li").wait_for()
        assert "1 view" in await dialog.locator(".share-links li").inner_text()
        await page.keyboard.press("Escape")
        await dialog.wait_for(state="detached")

        # Share in the viewer: a link with a password for one picture. Esc closes the share
        # dialog and leaves the viewer where it was, its Share focused again.
        await page.goto(f"{site.base}/#library?event={sports}&item={second}")
        await viewer_shows(page, site, "Sports day", second, "Relay 2")
        await page.locator("dialog.lib-viewer").get_by_role("button", name="Share Relay 2").click()
        await dialog.wait_for()
        assert await dialog.locator("h2").inner_text() == "Share “Relay 2”"
        await dialog.get_by_label("Password (optional)").fill("open sesame 42")
        secret_watch.add("open sesame 42")
        # Keys in the share dialog are its own: an arrow on a class's tick is not the viewer's.
        await dialog.get_by_label("3A").focus()
        await page.keyboard.press("ArrowRight")
        await dialog.get_by_role("button", name="Create link").click()
        await dialog.locator("#share-address").wait_for()
        secret_watch.add((await dialog.locator("#share-address").input_value()).rsplit("/", 1)[1])
        assert "password" in await dialog.locator(".share-links li").inner_text()
        assert await serious_violations(page) == []
        await page.keyboard.press("Escape")
        await dialog.wait_for(state="detached")
        await viewer_shows(page, site, "Sports day", second, "Relay 2")
        assert await page.evaluate(
            "() => document.activeElement?.classList.contains('share-button')"
        )
        (item_link,) = await site.services.library.store.shares(TEST_ORG, item_id=second)
        assert item_link.password_hash is not None


async def test_a_parent_sees_only_their_classes_events_and_nothing_else_of_the_school(
    site: Site, browser: Browser, secret_watch: SecretWatch, tmp_path: Path
) -> None:
    sports = site.events["Sports day"]
    first = ids(site, "Sports day")[0]
    async with signed_in_context(browser, site, "parent-3a", secret_watch) as context:
        page = await with_axe(await context.new_page())
        await page.goto(site.base + "/")  # lands on the library
        await page.wait_for_selector(".lib-card")
        names = await page.eval_on_selector_all(
            ".lib-card-name", "all => all.map((e) => e.textContent)"
        )
        assert names == ["Sports day", "Spring concert"]
        # Their library, its search and their own account; nothing else of the school.
        assert await page.eval_on_selector_all(
            "nav.sidebar a", "all => all.map((a) => a.textContent)"
        ) == ["Library", "Search", "Account"]
        assert await page.locator(
            f'.lib-card[data-event="{sports}"] .lib-chip'
        ).all_inner_texts() == ["3A"]
        assert await page.locator("text=New event").count() == 0
        assert await serious_violations(page) == []

        # The operator pages are not there, whatever the address says.
        for address in ("#live", "#recordings", "#events", "#cameras"):
            await page.goto(f"{site.base}/{address}")
            await page.wait_for_selector(".lib-card")
            assert await page.inner_text(".topbar h1") == "Library"
            assert await page.locator(".tile, .camera-table, .events-page, canvas").count() == 0

        # Their event: the pictures and the download, no editing, no uploading.
        await open_event(page, site, "Sports day", 7)
        assert await page.locator(".lib-upload").count() == 0
        assert await page.locator("text=Edit event").count() == 0
        assert await page.locator("text=Download all").count() == 1
        assert await page.locator(".share-button").count() == 0
        await page.click(f'.jg-cell[data-item="{first}"] a')
        await viewer_shows(page, site, "Sports day", first, "Relay 1")
        assert await page.locator("dialog >> text=Download").count() == 1
        assert await page.locator("dialog .share-button").count() == 0
        assert await page.locator("dialog >> text=Edit title, description and tags").count() == 0
        assert await serious_violations(page) == []

        # Another class's event, by its address: as if it did not exist.
        await page.goto(f"{site.base}/#library?event={site.events['Trip to the museum']}")
        await page.wait_for_selector("[role=alert]")
        assert "No library event with id" in await page.inner_text("[role=alert]")
        assert await page.locator(".jg-tile").count() == 0

        # What the API itself says to this parent's session, asked from their page.
        answers = await page.evaluate(
            """async (trip) => {
              const csrf = document.cookie.match(/vigil_csrf=([^;]+)/)[1];
              const status = async (path, init = {}) => (await fetch(path, init)).status;
              return {
                cameras: await (await fetch('/api/cameras')).json(),
                trip: await status(`/api/library/events/${trip}`),
                upload: await status('/api/uploads', { method: 'POST', headers: {
                  'Tus-Resumable': '1.0.0', 'Upload-Length': '10', 'X-CSRF-Token': csrf } }),
                users: await status('/api/users'),
              };
            }""",
            site.events["Trip to the museum"],
        )
        assert answers == {"cameras": [], "trip": 404, "upload": 403, "users": 403}
