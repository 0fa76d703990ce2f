"""Signing in, out and up in a real browser: the login, first-run and invitation pages, and
what signed-in pages show to whom."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from playwright.async_api import Browser, BrowserContext, Page

from tests.api.test_mfa import enrol
from tests.conftest import TEST_ORG, SecretWatch
from tests.e2e.conftest import sign_in
from tests.people import PASSWORD, grant, make_user, signed_in
from tests.serve import serving
from vigil.api.app import create_app
from vigil.app import Services
from vigil.auth.permissions import Permission
from vigil.auth.tokens import new_token, token_hash
from vigil.link.messages import EventKind, EventRecord, EventStage
from vigil.settings import Settings
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields
from vigil.store.events import EventFilter
from vigil.store.models import Camera, CameraGroup, User
from vigil.timeutil import now_ms


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A lockout long enough that a busy box cannot outwait it mid-test."""
    settings.auth.lockout_base_seconds = 600
    return settings


async def idle_camera(services: Services, name: str) -> Camera:
    """A camera that records nothing (no ffmpeg): pages only need it to exist."""
    fields = CameraFields(name=name, main_url="rtsp://127.0.0.1:9/x", enabled=False)
    return await services.cameras.create(fields, org_id=TEST_ORG)


async def error_shown(page: Page) -> str:
    await page.wait_for_selector(".error:not([hidden])")
    return await page.inner_text(".error")


async def log_in(page: Page, username: str, password: str) -> None:
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")


async def test_first_run_creates_the_admin_signs_in_and_leads_to_the_first_camera(
    browser: Browser, settings: Settings, services: Services, sim: SimulatedCameras
) -> None:
    async with serving(create_app(settings, services)) as base:
        page = await browser.new_page()
        await page.goto(base + "/")
        assert page.url == base + "/setup"
        await page.goto(base + "/login")
        assert page.url == base + "/setup"

        await page.fill("input[name=organisation]", "Hill school")
        await page.fill("input[name=username]", "head")
        await page.fill("input[name=password]", PASSWORD)
        await page.fill("input[name=repeat]", PASSWORD + "!")
        await page.click("button[type=submit]")
        assert await error_shown(page) == "The two passwords differ."

        await page.fill("input[name=password]", "password123")
        await page.fill("input[name=repeat]", "password123")
        await page.click("button[type=submit]")
        assert "password" in (await error_shown(page)).lower()  # the policy's reason
        assert await services.auth.users.count() == 0

        await page.fill("input[name=password]", PASSWORD)
        await page.fill("input[name=repeat]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(base + "/")
        assert await page.inner_text("[data-username]") == "head"
        assert "Hill school" in await page.inner_text(".account")

        # Setup is over: another browser is sent to the login page.
        other = await browser.new_page()
        await other.goto(base + "/setup")
        assert other.url == base + "/login"

        # The empty live grid leads to the add form; the camera tested, saved, then playing.
        await page.get_by_role("link", name="Add a camera").click()
        await page.get_by_label("Name", exact=True).fill("Front gate")
        await page.get_by_label("Main stream URL").fill(sim.url("cam1"))
        await page.get_by_role("button", name="Test connection").click()
        await page.locator("[data-probe]").filter(has_text="H.264").wait_for(timeout=30_000)
        await page.get_by_role("button", name="Save").click()
        await page.locator("tbody tr", has_text="Front gate").wait_for()
        await page.get_by_role("navigation", name="Main").get_by_role("link", name="Live").click()
        video = page.locator(".tile video")
        await video.wait_for()
        await page.wait_for_function(
            "() => document.querySelector('.tile video').currentTime > 1", timeout=30_000
        )


async def test_login_page_refuses_a_wrong_password_then_goes_next(
    browser: Browser, settings: Settings, services: Services, admin: User
) -> None:
    camera = await idle_camera(services, "Hall")
    async with serving(create_app(settings, services)) as base:
        page = await browser.new_page()
        await page.goto(f"{base}/login?next=/cameras/{camera.id}")
        await log_in(page, "admin", "not-the-password-at-all")
        assert await error_shown(page) == "Wrong username, password or code."
        assert page.url == f"{base}/login?next=/cameras/{camera.id}"

        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{base}/cameras/{camera.id}")
        assert await page.inner_text("header strong") == "Hall"


async def test_login_never_sends_the_user_to_another_site(
    browser: Browser, settings: Settings, services: Services, admin: User
) -> None:
    async with serving(create_app(settings, services)) as base:
        for elsewhere in ("//example.com/x", "/\\example.com"):
            context = await browser.new_context()
            page = await context.new_page()
            await page.goto(f"{base}/login?next={quote(elsewhere, safe='')}")
            await log_in(page, "admin", PASSWORD)
            await page.wait_for_url(base + "/")
            await context.close()


async def test_signed_out_visits_go_to_the_login_page(
    browser: Browser, settings: Settings, services: Services, admin: User
) -> None:
    async with serving(create_app(settings, services)) as base:
        page = await browser.new_page()
        await page.goto(base + "/cameras/1")
        assert page.url == base + "/login?next=/cameras/1"
        await page.goto(base + "/cameras/1?hls")
        assert page.url == base + "/login?next=/cameras/1%3Fhls"
        await page.goto(base + "/")
        assert page.url == base + "/login?next=/"
        # The API documentation is public; the API itself answers 401, not a redirect.
        assert (await page.goto(base + "/docs")).status == 200  # type: ignore[union-attr]
        assert (await page.request.get(base + "/api/cameras")).status == 401


async def test_a_viewer_sees_only_the_cameras_granted_to_them_anywhere(
    browser: Browser,
    settings: Settings,
    services: Services,
    admin: User,
    secret_watch: SecretWatch,
) -> None:
    """Another group's camera is nowhere for a viewer: not on the grid, in the views, the
    recordings' cameras, the events and their filters, the cameras page, nor through a
    linked address; and the admin's actions are not on the pages at all."""
    granted = await idle_camera(services, "Playground")
    hidden = await idle_camera(services, "Staff room")
    viewer = await make_user(services, "pat", "viewer")
    await grant(
        services,
        TEST_ORG,
        [granted.id],
        {Permission.VIEW_LIVE, Permission.VIEW_RECORDINGS},
        viewer.id,
    )
    # An organisation group holding both cameras is offered to the viewer as a view.
    await services.auth.access.add(
        CameraGroup(org_id=TEST_ORG, name="Whole school", camera_ids=[granted.id, hidden.id])
    )
    seen = now_ms() - 60_000
    await services.nodes.events_reported(
        services.node.name,
        [
            EventRecord(
                uid=f"event-{camera.id}",
                camera_id=camera.id,
                stage=EventStage.END,
                kind=EventKind.OBJECT,
                label=label,
                score=0.9,
                start_ms=seen,
                end_ms=seen + 5_000,
                last_ms=seen + 5_000,
            )
            for camera, label in ((granted, "person"), (hidden, "car"))
        ],
    )
    [hidden_event] = [
        e
        for e in await services.events.store.find(EventFilter(org_id=TEST_ORG))
        if e.camera_id == hidden.id
    ]
    context = await browser.new_context()
    await sign_in(context, services, viewer, secret_watch)
    async with serving(create_app(settings, services)) as base:
        page = await context.new_page()

        async def nowhere() -> None:
            body = await page.inner_text("body")
            assert "Staff room" not in body
            assert "car" not in body.lower().split()
            for action in ("Add camera", "Add a camera", "Edit", "Export", "Protect"):
                assert await page.get_by_role("button", name=action).count() == 0, action
                assert await page.get_by_role("link", name=action).count() == 0, action

        await page.goto(base + "/")
        # The grid has one tile, the granted camera's; the group view shows only it too.
        await page.wait_for_selector(".tile")
        assert await page.locator(".tile .name").all_inner_texts() == ["Playground"]
        await page.get_by_label("View").select_option(label="Whole school")
        await page.wait_for_function("() => document.querySelectorAll('.tile').length === 1")
        assert await page.locator(".tile .name").all_inner_texts() == ["Playground"]
        await nowhere()

        await page.goto(f"{base}/#recordings?camera={granted.id},{hidden.id}")
        await page.locator("canvas").first.wait_for()
        await nowhere()

        await page.goto(base + "/#events?reviewed=all")
        await page.locator(".event-card").first.wait_for()
        assert await page.locator(".event-card").count() == 1
        assert "person" in await page.inner_text(".event-card")
        cameras = await page.locator("#ef-camera option").all_inner_texts()
        assert "Staff room" not in cameras
        assert "Playground" in cameras
        await nowhere()
        await page.goto(f"{base}/#events?event={hidden_event.id}")
        await page.wait_for_timeout(1000)  # the page has asked for the event by now
        await nowhere()

        await page.goto(base + "/#cameras")
        await page.wait_for_selector("tbody tr")
        assert await page.locator("tbody tr").count() == 1
        assert "Playground" in await page.inner_text("tbody tr")
        await nowhere()
        await page.goto(f"{base}/#cameras?edit={hidden.id}")
        await page.wait_for_timeout(1000)
        await nowhere()
        assert await page.inner_text("[data-username]") == "pat"
        response = await page.goto(f"{base}/cameras/{hidden.id}")
        assert response is not None
        assert response.status == 404
    await context.close()


async def test_sign_out_ends_the_session(
    browser: Browser,
    settings: Settings,
    services: Services,
    admin: User,
    secret_watch: SecretWatch,
) -> None:
    context = await browser.new_context()
    token = await sign_in(context, services, admin, secret_watch)
    async with serving(create_app(settings, services)) as base:
        page = await context.new_page()
        await page.goto(base + "/")
        assert (await context.request.get(base + "/api/me")).status == 200
        await page.click("button[data-sign-out]")
        await page.wait_for_url(base + "/login")
        assert (await context.request.get(base + "/api/me")).status == 401
        # Not only forgotten by the browser: the server ended the session.
        replayed = await context.request.get(
            base + "/api/me", headers={"Cookie": f"vigil_session={token}"}
        )
        assert replayed.status == 401
    await context.close()


async def test_an_invitation_sets_the_password_and_signs_in(
    browser: Browser,
    settings: Settings,
    services: Services,
    admin: User,
    secret_watch: SecretWatch,
) -> None:
    invited = await services.auth.users.create(TEST_ORG, "newcomer", "viewer", None)
    token = new_token()
    secret_watch.add(token)
    await services.auth.users.invite(invited.id, token_hash(token), now_ms() + 60_000)
    async with serving(create_app(settings, services)) as base:
        page = await browser.new_page()
        await page.goto(f"{base}/invite#{token}")
        assert page.url == base + "/invite"  # the token leaves the address bar
        await page.fill("input[name=password]", PASSWORD)
        await page.fill("input[name=repeat]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(base + "/")
        assert await page.inner_text("[data-username]") == "newcomer"

        # The link is spent.
        again = await browser.new_page()
        await again.goto(f"{base}/invite#token={token}")
        await again.fill("input[name=password]", PASSWORD)
        await again.fill("input[name=repeat]", PASSWORD)
        await again.click("button[type=submit]")
        assert "expired" in await error_shown(again)


async def test_a_signed_in_user_is_not_asked_to_sign_in_again(
    admin_context: BrowserContext, settings: Settings, services: Services
) -> None:
    async with serving(create_app(settings, services)) as base:
        page = await admin_context.new_page()
        await page.goto(base + "/login?next=/docs", wait_until="commit")
        assert page.url == base + "/docs"


async def test_login_page_shows_why_it_must_wait(
    browser: Browser, settings: Settings, services: Services, admin: User
) -> None:
    async with serving(create_app(settings, services)) as base:
        page = await browser.new_page()
        wrong = {"username": "admin", "password": "not-the-password-at-all"}
        for _ in range(settings.auth.free_login_failures):
            refused = await page.request.post(base + "/api/auth/login", data=wrong)
            assert refused.status == 401
        await page.goto(base + "/login")
        await log_in(page, "admin", PASSWORD)
        assert (await error_shown(page)).startswith("Too many failed sign-ins: try again in")


async def test_two_factor_sign_in_takes_the_authenticator_code(
    browser: Browser, settings: Settings, services: Services, secret_watch: SecretWatch
) -> None:
    """A person with an authenticator app types its code under the password: without it, or
    with a wrong one, the page refuses; with the app's current code they are in."""
    await make_user(services, "tamsin", "operator")
    app = create_app(settings, services)
    async with signed_in(app, "tamsin", watch=secret_watch) as http:
        enrolled = await enrol(http, "tamsin", secret_watch)
    async with serving(app) as base:
        page = await browser.new_page()
        await page.goto(base + "/login")
        await log_in(page, "tamsin", PASSWORD)
        assert await error_shown(page) == "Wrong username, password or code."
        await page.fill("input[name=code]", enrolled.wrong_code())
        await page.click("button[type=submit]")
        await page.wait_for_selector(".error:not([hidden])")
        assert page.url == base + "/login"
        # The code that confirmed enrolment is spent; the authenticator's next one signs in.
        await page.fill("input[name=code]", enrolled.code(1))
        await page.click("button[type=submit]")
        await page.wait_for_url(base + "/")
        assert await page.inner_text("[data-username]") == "tamsin"
