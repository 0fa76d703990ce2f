"""The Search page in a real browser: "/" from anywhere into the box, suggestions while typing,
items found by a tag and by a word of their library event's name, facets that narrow exactly
as the API's filters do (the page's results against the API's own answer), filters as chips,
the whole search in the address (reload and Back), sharing an item from its card, what a
parent finds, a phone's width, and axe-core in both themes.

One served app and library for the whole module's walk through the page, on a desk then on a
phone."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from playwright.async_api import Browser, BrowserContext, Page, ViewportSize

from tests.conftest import TEST_ORG, SecretWatch
from tests.e2e.axe import serious_violations, with_axe
from tests.e2e.conftest import sign_in
from tests.e2e.library_seed import Shelf
from tests.people import make_user
from tests.serve import serving
from vigil.api.app import create_app
from vigil.app import Services
from vigil.settings import Settings
from vigil.store.cameras import CameraFields
from vigil.store.models import User, UserGroup

PHONE: ViewportSize = {"width": 375, "height": 812}
DESK: ViewportSize = {"width": 1280, "height": 800}
SCREENSHOTS = os.environ.get("VIGIL_SCREENSHOTS")

RESULTS = "() => [...document.querySelectorAll('.result-card')].map((c) => Number(c.dataset.item))"
THUMBS_LOADED = """() => {
  const images = [...document.querySelectorAll('.result-card img')];
  return images.length > 0 && images.every((i) => i.complete && i.naturalWidth > 0);
}"""


async def shoot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=f"{SCREENSHOTS}/{name}.png", full_page=True)


async def wait_results(page: Page, ids: list[int]) -> None:
    """Wait until the page shows exactly these items, in this order, and is done loading."""
    await page.wait_for_function(
        "(ids) => JSON.stringify([...document.querySelectorAll('.result-card')]"
        ".map((c) => Number(c.dataset.item))) === JSON.stringify(ids)"
        " && document.querySelector('.search-results')?.getAttribute('aria-busy') === 'false'",
        arg=ids,
        timeout=20_000,
    )


async def api_ids(page: Page, query: str) -> list[int]:
    """The items the API finds for ``query``, asked from the page's own session."""
    answer = await page.evaluate(
        "async (q) => (await fetch('/api/library/search?' + q)).json()", query
    )
    return [item["id"] for item in answer["items"]]


async def hash_params(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).fragment.partition("?")[2])


async def type_search(page: Page, words: str) -> None:
    box = page.locator("#search-words")
    await box.fill("")
    await box.press_sequentially(words, delay=20)


async def test_search_on_a_desk_and_a_phone(
    browser: Browser,
    admin_context: BrowserContext,
    settings: Settings,
    services: Services,
    admin: User,
    secret_watch: SecretWatch,
    tmp_path: Path,
) -> None:
    parent = await make_user(services, "parent", "viewer")
    class_5 = UserGroup(org_id=TEST_ORG, name="Class 5", user_ids=[parent.id])
    await services.auth.access.add(class_5)
    gate = await services.cameras.create(
        CameraFields(name="Front gate", main_url="rtsp://127.0.0.1:9/a", enabled=False),
        org_id=TEST_ORG,
    )
    lane = await services.cameras.create(
        CameraFields(name="Bus lane", main_url="rtsp://127.0.0.1:9/b", enabled=False),
        org_id=TEST_ORG,
    )
    shelf = Shelf(services, admin, tmp_path)
    sports = await shelf.event("Sports Day 2026")
    concert = await shelf.event("Winter Concert")
    relay = await shelf.picture("Relay start", tags=["athletics", "year 5"], event_id=sports)
    jump = await shelf.picture("Long jump", tags=["athletics"], event_id=sports)
    choir = await shelf.picture("Choir", tags=["music"], event_id=concert)
    postman = await shelf.picture(
        "Postman", source="snapshot", camera_id=gate.id, labels=["person"]
    )
    bus = await shelf.picture(
        "Morning bus", source="snapshot", camera_id=lane.id, labels=["car", "person"]
    )
    newest_first = [bus, postman, choir, jump, relay]

    async with serving(create_app(settings, services)) as base:
        page = await with_axe(await admin_context.new_page())
        await page.set_viewport_size(DESK)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))

        # (1) "/" on another page opens the search, its box focused; with no words, the
        # newest items, each with its thumbnail.
        await page.goto(base + "/#live")
        await page.wait_for_selector(".search-link")
        await page.keyboard.press("/")
        await page.wait_for_function("() => document.activeElement?.id === 'search-words'")
        assert page.url.endswith("#search")
        await wait_results(page, newest_first)
        await page.wait_for_function(THUMBS_LOADED, timeout=20_000)
        assert "5 items" in await page.inner_text("#search-summary")

        # (2) Suggestions while typing: the tag, with how many items it finds.
        await type_search(page, "athl")
        tag = page.locator('#search-suggestions li[data-kind="tags"]')
        await tag.first.wait_for()
        assert "athletics" in await tag.first.inner_text()
        assert "2 items" in await tag.first.inner_text()
        assert await page.get_attribute("#search-words", "aria-expanded") == "true"
        await shoot(page, "search-suggestions")
        assert await serious_violations(page) == []

        # (3) The words searched: found by the tag.
        await page.keyboard.press("Enter")
        await wait_results(page, await api_ids(page, "q=athl&limit=48&sort=relevance"))
        assert sorted(await page.evaluate(RESULTS)) == sorted([relay, jump])
        assert (await hash_params(page))["q"] == ["athl"]

        # (4) ... and by a word of the library event's name; the event itself is listed.
        await type_search(page, "winter")
        await page.keyboard.press("Enter")
        await wait_results(page, [choir])
        event_link = page.locator(".result-events a")
        assert await event_link.inner_text() == "Winter Concert"
        assert await event_link.get_attribute("href") == f"#library?event={concert}"
        assert (
            await page.get_attribute(f'.result-card[data-item="{choir}"] .result-open', "href")
            == f"#library?event={concert}&item={choir}"
        )

        # (5) A suggestion picked becomes a filter, shown as a chip.
        await type_search(page, "athl")
        await tag.first.wait_for()
        await page.keyboard.press("ArrowDown")
        assert await page.get_attribute("#search-words", "aria-activedescendant") == "suggestion-0"
        await page.keyboard.press("Enter")
        await page.wait_for_selector('.chip-filter[data-chip="tag:athletics"]')
        assert await hash_params(page) == {"tag": ["athletics"]}
        await wait_results(page, [jump, relay])
        await page.click('.chip-filter[data-chip="tag:athletics"] button')
        await wait_results(page, newest_first)

        # (6) Facets narrow exactly as the API's filters: a label, then a camera.
        await page.click('button.facet-value[data-facet="label"][data-value="person"]')
        await wait_results(page, await api_ids(page, "label=person&limit=48&sort=relevance"))
        assert await page.evaluate(RESULTS) == [bus, postman]
        facet = page.locator(f'button.facet-value[data-facet="camera"][data-value="{lane.id}"]')
        assert "Bus lane" in await facet.inner_text()
        await facet.click()
        query = f"label=person&camera_id={lane.id}&limit=48&sort=relevance"
        await wait_results(page, await api_ids(page, query))
        assert await page.evaluate(RESULTS) == [bus]
        chips = await page.locator(".chip-filter").all_inner_texts()
        assert any("Seen:" in c and "person" in c for c in chips)
        assert any("Camera:" in c and "Bus lane" in c for c in chips)
        camera_events = page.locator(".result-camera-events a")
        assert "person" in await camera_events.inner_text()
        await shoot(page, "search-facets")
        assert await serious_violations(page) == []

        # (7) The address holds the whole search: a reload shows it again, Back steps back.
        assert await hash_params(page) == {"camera": [str(lane.id)], "label": ["person"]}
        await page.reload()
        await wait_results(page, [bus])
        await page.wait_for_selector(f'.chip-filter[data-chip="camera:{lane.id}"]')
        await page.go_back()
        await wait_results(page, [bus, postman])
        assert await hash_params(page) == {"label": ["person"]}

        # (8) The date facet: taken this year, everything (captured today).
        await page.click('.chip-filter[data-chip="label:person"] button')
        await wait_results(page, newest_first)
        await page.click('button.facet-value[data-facet="date"][data-value="week"]')
        await page.wait_for_selector('.chip-filter[data-chip="date"]')
        await wait_results(page, newest_first)

        # (9) Share an item from its card: with a class, then by a link, then withdrawn.
        card = page.locator(f'.result-card[data-item="{relay}"]')
        await card.locator(".share-button").click()
        dialog = page.locator("dialog.share-dialog")
        await dialog.wait_for()
        assert "Relay start" in await dialog.locator("h2").inner_text()
        await dialog.get_by_label("Class 5").check()
        await dialog.get_by_role("button", name="Save groups").click()
        await dialog.get_by_text("Groups saved.").wait_for()
        item = await services.library.store.item(TEST_ORG, relay)
        assert item.group_ids == [class_5.id]
        await dialog.get_by_label("Expires after").select_option("30")
        await dialog.get_by_label("Password (optional)").fill("open sesame 42")
        secret_watch.add("open sesame 42")
        await dialog.get_by_role("button", name="Create link").click()
        address = dialog.locator("#share-address")
        await address.wait_for()
        url = await address.input_value()
        assert url.startswith(base + "/s/")
        secret_watch.add(url.rsplit("/", 1)[1])
        row = dialog.locator(".share-links li")
        await row.first.wait_for()
        assert "password" in await row.first.inner_text()
        assert await serious_violations(page) == []
        await shoot(page, "search-share-dialog")
        await row.first.get_by_role("button", name="Withdraw").click()
        await dialog.locator(".share-links li.share-dead").wait_for()
        assert "withdrawn" in await row.first.inner_text()
        (link,) = await services.library.store.shares(TEST_ORG, item_id=relay)
        assert link.revoked
        await page.keyboard.press("Escape")
        await dialog.wait_for(state="hidden")
        assert await page.evaluate(
            "() => document.activeElement?.classList.contains('share-button')"
        )

        # (10) A parent of Class 5 finds only what is shared with the class, and no Share.
        family = await browser.new_context(viewport=DESK)
        await sign_in(family, services, parent, secret_watch)
        their = await family.new_page()
        await their.goto(base + "/#search?q=athletics")
        await wait_results(their, [relay])
        assert await their.locator(".share-button").count() == 0
        await family.close()

        # (11) Dark theme: axe-core again.
        await page.select_option(".theme select", "dark")
        await page.wait_for_function("() => document.documentElement.dataset.theme === 'dark'")
        assert await serious_violations(page) == []
        await page.select_option(".theme select", "system")

        # (12) A phone: Search in the bar at the bottom, the facets behind a button, two
        # cards abreast, nothing wider than the screen.
        await page.set_viewport_size(PHONE)
        await page.goto(base + "/#live")
        assert not await page.locator(".search-link").is_visible()
        await page.get_by_role("link", name="Search", exact=True).click()
        await page.wait_for_selector("#search-words")
        await page.goto(base + "/#search?q=sports")
        await wait_results(page, await api_ids(page, "q=sports&limit=48&sort=relevance"))
        assert sorted(await page.evaluate(RESULTS)) == sorted([relay, jump])
        assert await page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        assert not await page.locator("#search-facet-list").is_visible()
        await page.click(".facets-toggle")
        await page.click('button.facet-value[data-facet="tag"][data-value="year 5"]')
        await wait_results(page, [relay])
        tops = await page.evaluate(
            "[...document.querySelectorAll('.result-card')].map((c) => c.getBoundingClientRect().width)"
        )
        assert all(width < PHONE["width"] / 2 for width in tops)
        await shoot(page, "search-phone")
        assert await serious_violations(page) == []
        assert errors == []
