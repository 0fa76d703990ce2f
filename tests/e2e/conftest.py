"""A real browser for end-to-end tests: Debian's Chromium driven by Playwright, headless,
and browser contexts signed in as a user of the test organisation."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext, async_playwright

from tests.conftest import SecretWatch
from tests.people import ADMIN, make_user
from vigil.api.security import CSRF_COOKIE, SESSION_COOKIE
from vigil.app import Services
from vigil.store.audit import Actor
from vigil.store.models import User

CHROMIUM = "/usr/bin/chromium"
# Without these, Chromium keeps dialling Google's services, which this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not shutil.which(CHROMIUM):
        raise RuntimeError(
            f"{CHROMIUM} is missing: apt-get install chromium (scripts/bootstrap --dev)"
        )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def admin(services: Services) -> User:
    """The test organisation's admin (password ``tests.people.PASSWORD``)."""
    return await make_user(services, ADMIN, "admin")


async def sign_in(
    context: BrowserContext, services: Services, user: User, watch: SecretWatch
) -> str:
    """Give ``context`` a session of ``user``, as the login page would; returns its token."""
    signed_in = await services.auth.start_session(user, Actor())
    watch.add(signed_in.token)
    await context.add_cookies(
        [
            {
                "name": SESSION_COOKIE,
                "value": signed_in.token,
                "domain": "127.0.0.1",
                "path": "/",
                "httpOnly": True,
                "sameSite": "Lax",
            },
            {
                "name": CSRF_COOKIE,
                "value": signed_in.csrf,
                "domain": "127.0.0.1",
                "path": "/",
                "sameSite": "Lax",
            },
        ]
    )
    return signed_in.token


@pytest.fixture
async def admin_context(
    browser: Browser, services: Services, admin: User, secret_watch: SecretWatch
) -> AsyncIterator[BrowserContext]:
    """A browser context signed in as the admin (pages of any 127.0.0.1 port)."""
    context = await browser.new_context()
    await sign_in(context, services, admin, secret_watch)
    try:
        yield context
    finally:
        await context.close()
