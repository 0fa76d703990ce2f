"""A real browser for end-to-end tests: Debian's Chromium driven by Playwright, headless,
and browser contexts signed in as a user of the test organisation.

Every page of every context the browser opens is watched for Content-Security-Policy
violations: a test during which Chromium refused anything fails (see ``CspViolations``)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, async_playwright

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


class CspViolations:
    """What Chromium refused under a Content-Security-Policy, as it reports it on the console
    of the page concerned ("Executing inline script / Loading the script '…' violates the
    following Content Security Policy directive …"): inline script or style, an eval, a
    resource, worker, connection or frame from a source the policy does not allow."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def watch(self, context: BrowserContext) -> None:
        """Listen to every page of ``context``, present and future."""
        context.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        # Chromium writes "Content Security Policy" for refusals, "Content-Security-Policy" for
        # a policy it cannot read.
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            where = message.location.get("url") or (message.page.url if message.page else "?")
            self.seen.append(f"{where}: {message.text}")

    def take(self) -> list[str]:
        """The violations seen so far, forgotten: for a test that expects some."""
        seen, self.seen = self.seen, []
        return seen


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Browser tests see pages, not the database: SQLite only (the API tests run every
    database behaviour, sign-in included, on SQLite and PostgreSQL)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'vigil.db'}"


@pytest.fixture
def csp_violations() -> CspViolations:
    return CspViolations()


@pytest.fixture
async def browser(csp_violations: CspViolations) -> AsyncIterator[Browser]:
    """Headless Chromium; the test fails if any page it opens violates a Content-Security-
    Policy (a test expecting a violation takes it from ``csp_violations``)."""
    if not shutil.which(CHROMIUM):
        raise RuntimeError(
            f"{CHROMIUM} is missing: apt-get install chromium (scripts/bootstrap --dev)"
        )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        # Contexts made by browser.new_page() too: the event comes before the context is used.
        launched.on("context", csp_violations.watch)
        try:
            yield launched
        finally:
            await launched.close()
    if csp_violations.seen:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(csp_violations.seen))


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
