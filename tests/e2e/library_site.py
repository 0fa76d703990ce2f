"""A school's library for the browser tests of the library pages: a server on a real port
(SQLite, the local store) with a teacher, parents of two classes, library events and real
pictures and videos, shared by the tests of one module; browser contexts signed in as any of
them; photographs made up of colours and shapes at the sizes cameras and phones take."""

from __future__ import annotations

import io
import random
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from PIL import Image, ImageDraw
from playwright.async_api import Browser, BrowserContext, ViewportSize, async_playwright

from tests.api.test_library import uploaded
from tests.conftest import TEST_ORG, SecretWatch
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, CspViolations, sign_in
from tests.people import make_user, signed_in
from tests.serve import serving
from vigil.api.app import create_app
from vigil.app import Services, start_services, stop_services
from vigil.settings import Settings
from vigil.store.models import User, UserGroup

PHONE: ViewportSize = {"width": 375, "height": 812}
DESK: ViewportSize = {"width": 1280, "height": 800}
# Dates are checked as a person in London reads them.
LOCALE = {"locale": "en-GB", "timezone_id": "Europe/London"}


def photo(width: int, height: int, seed: int) -> bytes:
    """A JPEG of a sky-like gradient with coloured discs: every one different."""
    rnd = random.Random(seed)
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    top = [rnd.randrange(60, 200) for _ in range(3)]
    bottom = [rnd.randrange(0, 120) for _ in range(3)]
    for y in range(height):
        t = y / height
        draw.line(
            [(0, y), (width, y)],
            fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)),
        )
    for _ in range(6):
        x, y, r = (
            rnd.randrange(width),
            rnd.randrange(height),
            rnd.randrange(height // 10, height // 3),
        )
        draw.ellipse([x - r, y - r, x + r, y + r], fill=tuple(rnd.randrange(256) for _ in range(3)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


@dataclass
class Site:
    """The running server and who is in it."""

    base: str
    app: FastAPI
    services: Services
    users: dict[str, User]
    groups: dict[str, int]
    events: dict[str, int] = field(default_factory=dict)
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    async def add_event(self, name: str, start: str, groups: list[str], **fields: Any) -> int:
        async with signed_in(self.app, "teacher") as http:
            answer = await http.post(
                "/api/library/events",
                json={
                    "name": name,
                    "start": start,
                    "group_ids": [self.groups[g] for g in groups],
                    **fields,
                },
            )
            assert answer.status_code == 201, answer.text
        self.events[name] = int(answer.json()["id"])
        self.items[name] = []
        return self.events[name]

    async def add_item(self, event: str, data: bytes, **meta: str) -> dict[str, Any]:
        async with signed_in(self.app, "teacher") as http:
            item = await uploaded(
                http, self.services, data, event_id=str(self.events[event]), **meta
            )
        self.items[event].append(item)
        return item


@asynccontextmanager
async def library_site(folder: Path, wrap: Any = None) -> AsyncIterator[Site]:
    """The server with its people: a teacher (operator), parents of 3A and 3B (viewers in
    those user groups). ``wrap(app)`` may put middleware around the app (what the server
    was asked, for the upload tests)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    settings = Settings(
        data_dir=folder / "data",
        secret_key="test-secret-key",
        database={"url": f"sqlite+aiosqlite:///{folder / 'vigil.db'}"},
        retention={"interval_seconds": 3600, "min_free_bytes": 0},
    )
    services = await start_services(settings)
    try:
        org = await services.auth.users.create_org("Hill school")
        assert org.id == TEST_ORG
        users = {
            "teacher": await make_user(services, "teacher", "operator"),
            "parent-3a": await make_user(services, "parent-3a", "viewer"),
            "parent-3b": await make_user(services, "parent-3b", "viewer"),
        }
        groups = {}
        for name in ("3A", "3B"):
            group = UserGroup(
                org_id=TEST_ORG, name=name, user_ids=[users[f"parent-{name.lower()}"].id]
            )
            await services.auth.access.add(group)
            groups[name] = group.id
        app = create_app(settings, services)
        async with serving(wrap(app) if wrap else app) as base:
            yield Site(base, app, services, users, groups)
    finally:
        await stop_services(services)


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def signed_in_context(
    browser: Browser,
    site: Site,
    username: str,
    watch: SecretWatch,
    viewport: ViewportSize = DESK,
    **options: Any,
) -> AsyncIterator[BrowserContext]:
    """A context of ``username``'s session; fails if any of its pages violates the CSP."""
    violations = CspViolations()
    context = await browser.new_context(viewport=viewport, **LOCALE, **options)
    violations.watch(context)
    await sign_in(context, site.services, site.users[username], watch)
    try:
        yield context
    finally:
        await context.close()
    assert violations.seen == [], "Content-Security-Policy violations:\n" + "\n".join(
        violations.seen
    )
