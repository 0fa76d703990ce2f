"""The page a share link opens, in a browser context with no session: the password asked for
(a wrong one said so), then the shared video playing (its time advancing) and downloadable,
a range request on it answering 206; a library event's gallery and viewer; links that
expired, were withdrawn or never existed, each saying so; guesses at a password held back;
a phone's width; axe-core on each.

The token and the password are watched: neither may reach a log line."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import Browser, Page, ViewportSize

from tests.conftest import TEST_ORG, SecretWatch
from tests.e2e.axe import serious_violations, with_axe
from tests.e2e.library_seed import Shelf
from tests.serve import serving
from vigil.api.app import create_app
from vigil.app import Services
from vigil.auth.tokens import token_hash
from vigil.settings import Settings
from vigil.store.models import User
from vigil.timeutil import now_ms

PHONE: ViewportSize = {"width": 375, "height": 812}
DESK: ViewportSize = {"width": 1280, "height": 800}
SCREENSHOTS = os.environ.get("VIGIL_SCREENSHOTS")
PASSWORD = "open sesame 42"


async def shoot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=f"{SCREENSHOTS}/{name}.png", full_page=True)


async def video_time(page: Page) -> float:
    return float(
        await page.evaluate("() => document.querySelector('video.shared-media').currentTime")
    )


async def test_a_shared_link_in_a_browser_without_an_account(
    browser: Browser,
    settings: Settings,
    services: Services,
    admin: User,
    secret_watch: SecretWatch,
    tmp_path: Path,
) -> None:
    shelf = Shelf(services, admin, tmp_path)
    clip = await shelf.video("Relay final", seconds=6)
    sports = await shelf.event("Sports Day 2026")
    pictures = [await shelf.picture(f"Race {n}", event_id=sports) for n in (1, 2, 3)]
    viewer = await shelf.viewer()
    library = services.library

    async def share(item_id: int | None, event_id: int | None, password: str | None = None) -> str:
        made = await library.create_share(
            viewer, item_id=item_id, event_id=event_id, days=7, password=password
        )
        secret_watch.add(made.token)
        return made.token

    secret_watch.add(PASSWORD)
    video_token = await share(clip, None, PASSWORD)
    event_token = await share(None, sports)
    expired_token = await share(clip, None)
    withdrawn_token = await share(clip, None)
    guessed_token = await share(clip, None, PASSWORD)
    links = {link.token_hash: link.id for link in await library.store.shares(TEST_ORG)}
    await library.store.update_share(
        TEST_ORG, links[token_hash(expired_token)], expires_at=now_ms() - 1
    )
    await library.store.update_share(TEST_ORG, links[token_hash(withdrawn_token)], revoked=True)

    async with serving(create_app(settings, services)) as base:
        context = await browser.new_context(viewport=DESK)  # nobody signed in
        page = await with_axe(await context.new_page())
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))

        # (1) The password first; a wrong one is said to be wrong.
        await page.goto(f"{base}/s/{video_token}")
        await page.wait_for_selector("form.shared-password")
        assert await serious_violations(page) == []
        await page.fill("input[name=password]", "not the password")
        await page.click("form.shared-password button[type=submit]")
        await page.get_by_text("Wrong password").wait_for()
        assert await page.get_attribute("input[name=password]", "aria-invalid") == "true"
        await shoot(page, "shared-password")

        # (2) The right one: the video, playing; its file answers ranges; a download link.
        await page.fill("input[name=password]", PASSWORD)
        await page.click("form.shared-password button[type=submit]")
        await page.wait_for_selector("video.shared-media")
        assert await page.inner_text(".shared-header h1") == "Relay final"
        await page.evaluate(
            "() => { const v = document.querySelector('video'); v.muted = true; v.play(); }"
        )
        await page.wait_for_function(
            "() => document.querySelector('video.shared-media').currentTime > 0.3", timeout=20_000
        )
        started = await video_time(page)
        await page.wait_for_function(
            "(t) => document.querySelector('video.shared-media').currentTime > t + 0.5",
            arg=started,
            timeout=20_000,
        )
        assert (
            await page.evaluate("() => document.querySelector('video.shared-media').error") is None
        )
        source = await page.evaluate(
            "() => document.querySelector('video.shared-media').currentSrc"
        )
        assert "sig=" in source
        ranged = await page.evaluate(
            """async (src) => {
                const r = await fetch(src, { headers: { Range: 'bytes=0-99' } });
                return [r.status, r.headers.get('Content-Range'), (await r.arrayBuffer()).byteLength];
            }""",
            source,
        )
        assert ranged[0] == 206
        assert ranged[1].startswith("bytes 0-99/")
        assert ranged[2] == 100
        download = page.get_by_role("link", name="Download Relay final")
        assert "/original?sig=" in (await download.get_attribute("href") or "")
        assert await serious_violations(page) == []
        await shoot(page, "shared-video")

        # (3) A library event: its gallery of thumbnails, a viewer with previous and next,
        # and Back to the gallery.
        await page.goto(f"{base}/s/{event_token}")
        await page.wait_for_selector(".shared-gallery img")
        await page.wait_for_function(
            "() => [...document.querySelectorAll('.shared-gallery img')].every((i) => i.complete && i.naturalWidth > 0)"
        )
        assert await page.locator(".shared-thumb").count() == len(pictures)
        assert await serious_violations(page) == []
        await shoot(page, "shared-gallery")
        await page.get_by_role("button", name="Open Race 2").click()
        await page.wait_for_selector(".shared-viewer img.shared-media")
        assert await page.inner_text(".shared-caption h2") == "Race 2"
        await page.keyboard.press("ArrowRight")
        await page.wait_for_function(
            "() => document.querySelector('.shared-caption h2')?.innerText === 'Race 1'"
        )
        await page.wait_for_function(
            "() => { const i = document.querySelector('img.shared-media'); return i.complete && i.naturalWidth > 0; }"
        )
        assert await serious_violations(page) == []
        await page.go_back()
        await page.wait_for_selector(".shared-gallery")

        # (4) Links that no longer work, or never did, say so.
        for token, words in (
            (expired_token, "It has expired"),
            (withdrawn_token, "withdrawn"),
            ("x" * 43, "This link does not exist"),
        ):
            await page.goto(f"{base}/s/{token}")
            await page.wait_for_selector(".shared-problem")
            assert words in await page.inner_text(".shared-problem")
        assert await serious_violations(page) == []

        # (5) Guesses at a password are held back, and the page says for how long.
        await page.goto(f"{base}/s/{guessed_token}")
        for n in range(settings.auth.free_login_failures + 1):
            await page.fill("input[name=password]", f"guess number {n}")
            await page.click("form.shared-password button[type=submit]")  # waits while busy
        await page.get_by_text("Too many wrong passwords: wait").wait_for()

        # (6) A phone: the password form, the video, nothing wider than the screen.
        await page.set_viewport_size(PHONE)
        await page.goto(f"{base}/s/{video_token}")
        await page.fill("input[name=password]", PASSWORD)
        await page.press("input[name=password]", "Enter")
        await page.wait_for_selector("video.shared-media")
        width = await page.evaluate(
            "() => document.querySelector('video.shared-media').getBoundingClientRect().width"
        )
        assert 300 < width <= PHONE["width"]
        assert await page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        assert await serious_violations(page) == []
        await shoot(page, "shared-phone")
        await page.goto(f"{base}/s/{event_token}")
        await page.wait_for_selector(".shared-gallery img")
        assert await page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        assert errors == []
        await context.close()
