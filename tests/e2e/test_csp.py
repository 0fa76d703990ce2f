"""The Content-Security-Policy in a real browser: Swagger UI lives within it, another site
cannot frame Vigil's pages, and the watch that fails every e2e test on a violation works.

That the live page plays and signing in works under the policy is proven by
``test_live.py`` and ``test_signin.py`` themselves: the ``browser`` fixture fails any test
during which Chromium refused something (``tests/e2e/conftest.py``, ``CspViolations``)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.async_api import Browser, BrowserContext, Response

from tests.conftest import TEST_ORG
from tests.e2e.conftest import CspViolations
from tests.serve import serving
from vigil.api.app import create_app
from vigil.app import Services
from vigil.settings import Settings
from vigil.store.cameras import CameraFields
from vigil.store.models import User


async def test_the_watch_sees_what_the_policy_refuses(
    browser: Browser, settings: Settings, services: Services, csp_violations: CspViolations
) -> None:
    async with serving(create_app(settings, services)) as base:
        page = await browser.new_page()
        await page.goto(base + "/setup")
        # What an injection would try: an inline script, an inline style, another site's script.
        await page.evaluate(
            """() => {
              const script = document.createElement("script");
              script.textContent = "window.injected = true";
              document.head.append(script);
              document.body.setAttribute("style", "background: red");
              const remote = document.createElement("script");
              remote.src = "http://127.0.0.2:9/evil.js";
              document.head.append(remote);
            }"""
        )
        await page.wait_for_timeout(200)
        assert await page.evaluate("window.injected === undefined")
        assert await page.evaluate("getComputedStyle(document.body).backgroundColor") != (
            "rgb(255, 0, 0)"
        )
        await page.close()
    seen = "\n".join(csp_violations.take())
    assert "inline script" in seen
    assert "inline style" in seen
    assert "http://127.0.0.2:9/evil.js" in seen


async def test_docs_render_swagger_ui_within_the_policy(
    admin_context: BrowserContext, settings: Settings, services: Services
) -> None:
    async with serving(create_app(settings, services)) as base:
        page = await admin_context.new_page()
        response = await page.goto(base + "/docs")
        assert response is not None
        assert "script-src 'self';" in response.headers["content-security-policy"]
        # Swagger UI parses a 1 MB bundle and a 0.5 MB description: on a busy 2-core box that
        # took more than 15 s once.
        await page.wait_for_selector(".swagger-ui .opblock", timeout=60_000)
        assert "/api/cameras" in await page.inner_text(".swagger-ui")
        # Open an operation and run it from the page: the answer is shown, highlighted.
        operation = page.locator('.opblock-get:has(.opblock-summary-path[data-path="/api/me"])')
        await operation.locator(".opblock-summary").click()
        await operation.locator("button.try-out__btn").click()
        async with page.expect_response(base + "/api/me"):
            await operation.locator("button.execute").click()
        # The live answer (the documented example sits in the same wrapper).
        body = operation.locator(".live-responses-table .highlight-code").first
        await body.wait_for(timeout=15_000)
        assert '"username": "admin"' in await body.inner_text()
        # A write from the page carries the CSRF token (static/docs.js): signing out works.
        logout = page.locator(
            '.opblock-post:has(.opblock-summary-path[data-path="/api/auth/logout"])'
        )
        await logout.locator(".opblock-summary").click()
        await logout.locator("button.try-out__btn").click()
        async with page.expect_response(base + "/api/auth/logout") as answer:
            await logout.locator("button.execute").click()
        assert (await answer.value).status == 204
        assert (await admin_context.request.get(base + "/api/me")).status == 401
        await page.close()


FRAMING = """<!doctype html><html><head><title>Elsewhere</title></head><body>
<h1>Another site</h1><iframe src="{url}" width="640" height="480"></iframe>
</body></html>"""


async def test_another_site_cannot_frame_the_live_page(
    admin_context: BrowserContext,
    settings: Settings,
    services: Services,
    admin: User,
    csp_violations: CspViolations,
) -> None:
    camera = await services.cameras.create(
        CameraFields(name="Yard", main_url="rtsp://127.0.0.1:9/x", enabled=False),
        org_id=TEST_ORG,
    )
    async with serving(create_app(settings, services)) as base:
        live = f"{base}/cameras/{camera.id}"
        elsewhere = FastAPI()

        @elsewhere.get("/")
        async def framing_page() -> HTMLResponse:
            return HTMLResponse(FRAMING.format(url=live))

        async with serving(elsewhere) as other:
            page = await admin_context.new_page()
            served: list[Response] = []
            page.on("response", lambda response: served.append(response))
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            await page.goto(other + "/")
            await page.wait_for_timeout(500)

            # Vigil did answer with the signed-in live page (the cookie went along: same
            # site), and the browser refused to show it in the frame.
            answers = [r for r in served if r.url == live]
            assert [r.status for r in answers] == [200]
            assert await answers[0].header_value("x-frame-options") == "DENY"
            frame = next(f for f in page.frames if f != page.main_frame)
            assert not frame.url.startswith(base)
            assert await frame.query_selector("video") is None
            assert not any("/live/" in url or url.endswith(".js") for url in requested)
            await page.close()
    refused = csp_violations.take()
    assert len(refused) == 1
    assert "frame-ancestors 'none'" in refused[0]


async def test_browser_features_vigil_does_not_use_are_off(
    browser: Browser, settings: Settings, services: Services
) -> None:
    async with serving(create_app(settings, services)) as base:
        page = await browser.new_page()
        complaints: list[str] = []
        page.on(
            "console",
            lambda message: (
                complaints.append(message.text) if "Permissions-Policy" in message.text else None
            ),
        )
        await page.goto(base + "/setup")
        allowed = set(await page.evaluate("() => document.featurePolicy.allowedFeatures()"))
        assert {"fullscreen", "picture-in-picture", "autoplay"} <= allowed
        off = {"camera", "microphone", "geolocation", "usb", "serial", "payment", "clipboard-read"}
        assert not off & allowed
        assert complaints == []  # every feature named is one Chromium knows
        await page.close()
