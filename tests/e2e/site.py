"""One running Vigil and one Chromium shared by the tests of a module, for pages whose tests
need no fresh server each (the account and administration pages): the services, the server
and the browser start once, each test opens its own signed-in browser context.

A module using it imports ``site_fixture`` (the ``site`` fixture) and ``csp_clean`` and marks
its tests ``pytestmark = MODULE_LOOP`` (they run in the module's event loop, where the server
runs). Each test still fails on a Content-Security-Policy violation (``csp_clean``, autouse
where imported)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.conftest import TEST_ORG, SecretWatch
from tests.e2e.axe import serious_violations, with_axe
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, CspViolations, sign_in
from tests.people import ADMIN, make_user
from tests.serve import serving
from vigil.api.app import create_app
from vigil.app import Services, start_services, stop_services
from vigil.settings import Settings
from vigil.store.models import User

MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")
PHONE = {"width": 375, "height": 812}


@dataclass
class Site:
    settings: Settings
    services: Services
    base: str
    browser: Browser
    csp: CspViolations
    admin: User

    async def context(self, user: User, watch: SecretWatch, **options: Any) -> BrowserContext:
        """A new browser context signed in as ``user`` (closed by the caller)."""
        context = await self.browser.new_context(**options)
        await sign_in(context, self.services, user, watch)
        return context

    async def page(self, user: User, watch: SecretWatch, path: str, **options: Any) -> Page:
        """A page of a new context signed in as ``user``, with axe-core, at ``path``."""
        context = await self.context(user, watch, **options)
        page = await with_axe(await context.new_page())
        await page.goto(self.base + path)
        return page


def site_settings(folder: Path) -> Settings:
    """As tests.conftest's settings, on SQLite (browser tests see pages, not the database)."""
    return Settings(
        data_dir=folder / "data",
        secret_key="test-secret-key",
        database={"url": f"sqlite+aiosqlite:///{folder / 'vigil.db'}"},
        node={
            "connect_timeout_seconds": 3,
            "stall_timeout_seconds": 3,
            "reconnect_min_seconds": 0.5,
            "reconnect_max_seconds": 2,
            "outbox_retry_seconds": 0.2,
        },
        retention={"interval_seconds": 3600, "min_free_bytes": 0},
        cameras={"segment_seconds": 2},
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module", name="site")
async def site_fixture(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    """Vigil serving on 127.0.0.1 with the test organisation and its admin, and Chromium."""
    if not shutil.which(CHROMIUM):
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install chromium")
    settings = site_settings(tmp_path_factory.mktemp("site"))
    services = await start_services(settings)
    try:
        org = await services.auth.users.create_org("Test school")
        assert org.id == TEST_ORG
        admin = await make_user(services, ADMIN, "admin")
        csp = CspViolations()
        async with serving(create_app(settings, services)) as base, async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            browser.on("context", csp.watch)
            try:
                yield Site(settings, services, base, browser, csp, admin)
            finally:
                await browser.close()
    finally:
        await stop_services(services)


@pytest.fixture(autouse=True)
def csp_clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """The test fails if Chromium refused anything under the Content-Security-Policy."""
    yield
    if "site" not in request.fixturenames:
        return
    site: Site = request.getfixturevalue("site")
    seen = site.csp.take()
    if seen:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(seen))


async def assert_accessible(page: Page) -> None:
    assert await serious_violations(page) == []


async def no_sideways_scroll(page: Page) -> None:
    """Nothing on the page is wider than the screen (a phone scrolls only down)."""
    widths = await page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], widths
