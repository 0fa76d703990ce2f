"""The Account page in a real browser: enrolling in two-factor sign-in by scanning the QR
code shown (decoded from a screenshot, as a phone's camera would), then signing in with a
code; new recovery codes and turning it off; an API key made on the page that works with
curl until it is revoked there; ending another session; the organisation's rule leading
straight to enrolment; the phone layout and axe-core."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np
import pyotp
from playwright.async_api import Page

from tests.conftest import TEST_ORG, SecretWatch
from tests.e2e.site import (  # noqa: F401 (fixtures)
    MODULE_LOOP,
    PHONE,
    Site,
    assert_accessible,
    csp_clean,
    no_sideways_scroll,
    site_fixture,
)
from tests.e2e.test_cameras_page import SCREENSHOTS, shot
from tests.people import PASSWORD, make_user
from vigil.auth import totp
from vigil.store.models import User

pytestmark = MODULE_LOOP


async def scan_qr(page: Page) -> str:
    """The otpauth URI in the QR code on screen, read from a screenshot of it."""
    code = page.locator("img[data-qr]")
    # In the middle of the screen: on a phone the navigation bar covers the bottom.
    await code.evaluate("(img) => img.scrollIntoView({ block: 'center' })")
    png = await code.screenshot()
    picture = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    text, _points, _ = cv2.QRCodeDetector().detectAndDecode(picture)
    assert text.startswith("otpauth://totp/"), f"no QR code read ({len(png)} bytes of PNG)"
    return str(text)


def secret_of(uri: str) -> str:
    [secret] = parse_qs(urlsplit(uri).query)["secret"]
    return secret


def curl_status(base: str, key: str) -> int:
    """What curl gets for the camera list with ``key`` (loopback only)."""
    done = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
         "-H", f"Authorization: Bearer {key}", base + "/api/cameras"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(done.stdout)


async def enrolled_user(site: Site, username: str) -> tuple[User, str]:
    """A user with two-factor sign-in on (secret known, no step used yet near now)."""
    user = await make_user(site.services, username, "viewer")
    secret = totp.new_secret()
    users = site.services.auth.users
    await users.start_totp(user.id, site.services.auth.box.encrypt(secret))
    await users.enable_totp(user.id, int(time.time() // 30) - 10, [])
    return user, secret


async def test_an_admin_enrols_by_scanning_the_qr_code_and_signs_in_with_a_code(
    site: Site, secret_watch: SecretWatch
) -> None:
    page = await site.page(site.admin, secret_watch, "/#account")
    mfa = page.locator("section", has=page.get_by_role("heading", name="Two-factor sign-in"))
    await mfa.get_by_text("Off: signing in asks for your password only.").wait_for()
    await page.get_by_role("button", name="Set up two-factor sign-in").click()
    await page.locator("img[data-qr]").wait_for()
    uri = await scan_qr(page)
    secret = secret_of(uri)
    secret_watch.add(secret)
    assert urlsplit(uri).path.endswith(f"Vigil:{site.admin.username}")
    # The key to type instead, for those who cannot scan.
    await page.get_by_text("Cannot scan it? Type a key instead").click()
    shown = await page.locator("code.secret").inner_text()
    assert shown.replace(" ", "") == secret
    await shot(page, "account-enrol")

    # A wrong code is refused in words; the right one turns it on.
    await page.get_by_label("Then type the 6-digit code the app shows").fill("000000")
    await page.get_by_role("button", name="Turn on").click()
    await page.get_by_role("alert").filter(has_text="The code is wrong or has expired.").wait_for()
    confirmed_at = time.time()
    await page.get_by_label("Then type the 6-digit code the app shows").fill(
        pyotp.TOTP(secret).at(confirmed_at)
    )
    await page.get_by_role("button", name="Turn on").click()
    codes = page.locator("[data-recovery-codes] li")
    await codes.first.wait_for()
    shown_codes = await codes.all_inner_texts()
    assert len(shown_codes) == 10
    secret_watch.add(*shown_codes)
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Download as a file").click()
    saved = Path(await (await download_info.value).path()).read_text()
    assert all(code in saved for code in shown_codes)
    await page.get_by_role("button", name="I have saved them").click()
    await mfa.get_by_text("Two-factor sign-in is on; 10 recovery codes left.").wait_for()
    assert await page.locator("img[data-qr]").count() == 0  # the secret left the page

    # Signed out, signing in takes the password and a code.
    await page.get_by_role("button", name="Sign out", exact=True).click()
    # The sign-in page; with "?next=/" when the page's own poll met the ended session first.
    await page.wait_for_url(re.compile(re.escape(site.base) + r"/login(\?next=%2F)?$"))
    await page.fill("input[name=username]", site.admin.username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.get_by_text("Wrong username, password or code.").wait_for()
    await page.fill("input[name=code]", pyotp.TOTP(secret).at(confirmed_at + 30))
    await page.click("button[type=submit]")
    await page.wait_for_url(site.base + "/")
    assert await page.inner_text("[data-username]") == site.admin.username
    await page.context.close()


async def test_new_recovery_codes_and_turning_two_factor_off(
    site: Site, secret_watch: SecretWatch
) -> None:
    user, secret = await enrolled_user(site, "rosa")
    secret_watch.add(secret)
    page = await site.page(user, secret_watch, "/#account")
    await page.get_by_text("Two-factor sign-in is on; 0 recovery codes left.").wait_for()
    await page.get_by_text("Few recovery codes left: make new ones.").wait_for()
    now = time.time()
    await page.locator("#mfa-codes-code").fill(pyotp.TOTP(secret).at(now))
    await page.get_by_role("button", name="Make new recovery codes").click()
    codes = page.locator("[data-recovery-codes] li")
    await codes.first.wait_for()
    secret_watch.add(*await codes.all_inner_texts())
    assert await codes.count() == 10
    await page.get_by_role("button", name="I have saved them").click()
    await page.get_by_text("Two-factor sign-in is on; 10 recovery codes left.").wait_for()

    # Off: the password and a fresh code (the one above is spent).
    await page.get_by_label("Your password").fill("not-" + PASSWORD)
    await page.locator("#mfa-off-code").fill(pyotp.TOTP(secret).at(now + 30))
    await page.get_by_role("button", name="Turn off").click()
    await page.get_by_role("alert").filter(has_text="Wrong password or code.").wait_for()
    await page.get_by_label("Your password").fill(PASSWORD)
    await page.get_by_role("button", name="Turn off").click()
    await page.get_by_text("Off: signing in asks for your password only.").wait_for()
    assert not (await site.services.auth.users.get(TEST_ORG, user.id)).totp_enabled
    await page.context.close()


async def test_an_api_key_made_on_the_page_works_with_curl_until_revoked_there(
    site: Site, secret_watch: SecretWatch
) -> None:
    operator = await make_user(site.services, "kofi", "operator")
    page = await site.page(operator, secret_watch, "/#account")
    await page.get_by_text("You have no API keys.").wait_for()
    await page.get_by_label("Name", exact=True).fill("Nightly backup")
    # No scope: said, nothing made.
    await page.get_by_role("button", name="Create key").click()
    await page.get_by_text("Choose at least one scope.").wait_for()
    await page.get_by_role("checkbox", name="Cameras: read").check()
    await page.get_by_label("Expires").select_option(label="in 30 days")
    await page.get_by_role("button", name="Create key").click()
    secret_box = page.locator("#new-key-secret")
    await secret_box.wait_for()
    key = await secret_box.input_value()
    secret_watch.add(key)
    assert key.startswith("vgl_")
    row = page.locator("tr", has_text="Nightly backup")
    await row.get_by_text("active").wait_for()
    assert "Cameras: read" in await row.inner_text()
    [stored] = await site.services.auth.keys.of_users([operator.id])
    assert stored.scopes == ["cameras:read"]
    assert stored.expires_at is not None
    assert abs(stored.expires_at - (time.time() + 30 * 86400) * 1000) < 3_600_000
    await shot(page, "account-key")
    await page.get_by_role("button", name="I have copied it").click()
    assert await page.locator("#new-key-secret").count() == 0

    assert await asyncio.to_thread(curl_status, site.base, key) == 200
    await row.get_by_role("button", name="Revoke Nightly backup").click()
    await row.get_by_role("button", name="Yes, revoke").click()
    await row.get_by_text("revoked").wait_for()
    await page.get_by_text("Revoked “Nightly backup”.").wait_for()
    assert await asyncio.to_thread(curl_status, site.base, key) == 401
    await page.context.close()


async def test_another_session_is_listed_and_ended_from_the_page(
    site: Site, secret_watch: SecretWatch
) -> None:
    viewer = await make_user(site.services, "ines", "viewer")
    # Signed in on a phone, through the login page.
    phone = await site.browser.new_context(
        user_agent="Mozilla/5.0 (Linux; Android 14) Gecko/128.0 Firefox/128.0"
    )
    elsewhere = await phone.new_page()
    await elsewhere.goto(site.base + "/login")
    await elsewhere.fill("input[name=username]", "ines")
    await elsewhere.fill("input[name=password]", PASSWORD)
    await elsewhere.click("button[type=submit]")
    await elsewhere.wait_for_url(site.base + "/")
    page = await site.page(viewer, secret_watch, "/#account")
    sessions = page.locator("[data-session]")
    await sessions.nth(1).wait_for()
    assert await sessions.count() == 2
    here = sessions.filter(has_text="this browser")
    assert await here.count() == 1
    other = sessions.filter(has_text="Firefox on Android")
    await other.get_by_role("button", name="Sign out Firefox on Android").click()
    await other.get_by_role("button", name="Sign out", exact=True).click()
    await page.get_by_text("Signed out Firefox on Android.").wait_for()
    await page.wait_for_function("() => document.querySelectorAll('[data-session]').length === 1")
    # Asked from the phone's browser (its cookies), not by navigating it: its page may be
    # on its way to the sign-in page meanwhile.
    answer = await phone.request.get(site.base + "/api/me")
    assert answer.status == 401
    await phone.close()
    await page.context.close()


async def test_the_organisations_rule_leads_straight_to_enrolment(
    site: Site, secret_watch: SecretWatch
) -> None:
    viewer = await make_user(site.services, "tomas", "viewer")
    users = site.services.auth.users
    await users.update_org(TEST_ORG, {"require_mfa": True})
    try:
        page = await site.page(viewer, secret_watch, "/#events")
        await page.get_by_role("heading", name="Set up two-factor sign-in").wait_for()
        await page.get_by_text("Test school requires two-factor sign-in.").wait_for()
        await page.locator("img[data-qr]").wait_for()
        secret = secret_of(await scan_qr(page))
        secret_watch.add(secret)
        assert await page.get_by_role("button", name="Cancel").count() == 0
        await page.get_by_label("Then type the 6-digit code the app shows").fill(
            pyotp.TOTP(secret).now()
        )
        await page.get_by_role("button", name="Turn on").click()
        await page.locator("[data-recovery-codes] li").first.wait_for()
        secret_watch.add(*await page.locator("[data-recovery-codes] li").all_inner_texts())
        await page.get_by_role("button", name="I have saved them").click()
        # Enrolled: the app as usual (a viewer with no camera shared lands on the library).
        await page.get_by_text("appear here once a teacher shares them").wait_for()
        assert await page.get_by_role("heading", name="Set up two-factor sign-in").count() == 0
        await page.context.close()
    finally:
        await users.update_org(TEST_ORG, {"require_mfa": False})


async def test_the_account_page_on_a_phone_in_both_themes(
    site: Site, secret_watch: SecretWatch
) -> None:
    user = await make_user(site.services, "amara", "operator")
    page = await site.page(user, secret_watch, "/#account", viewport=PHONE, has_touch=True)
    await page.locator("[data-session]").first.wait_for()
    # The account is reached from the name in the top bar; the bottom bar leaves it out.
    assert not await page.locator(".sidebar a[href='#account']").is_visible()
    assert await page.get_by_role("link", name="amara").is_visible()
    await page.get_by_role("button", name="Set up two-factor sign-in").click()
    await page.locator("img[data-qr]").wait_for()
    secret_watch.add(secret_of(await scan_qr(page)))
    await page.get_by_role("checkbox", name="Live").check()
    await page.get_by_label("Name", exact=True).fill("Phone key")
    await page.get_by_role("button", name="Create key").click()
    key = await page.locator("#new-key-secret").input_value()
    secret_watch.add(key)
    await page.locator("tr", has_text="Phone key").wait_for()
    await no_sideways_scroll(page)
    for theme in ("light", "dark"):
        await page.evaluate(f"() => document.documentElement.dataset.theme = '{theme}'")
        await assert_accessible(page)
        if SCREENSHOTS:
            await page.screenshot(
                path=Path(SCREENSHOTS) / f"account-phone-{theme}.png", full_page=True
            )
    await page.context.close()
