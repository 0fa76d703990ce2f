"""Security headers on every HTTP answer: pages, API JSON, problems, static files."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from tests.api.conftest import AddCamera
from tests.backends import SQLITE_ONLY
from vigil.store.models import User

# The headers are the same whatever the database.
pytestmark = SQLITE_ONLY

# Written out in full, so that loosening the policy takes a change here too.
EXPECTED = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; worker-src 'self' blob:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": (
        "accelerometer=(), autoplay=(self), browsing-topics=(), camera=(), "
        "clipboard-read=(), display-capture=(), encrypted-media=(), fullscreen=(self), "
        "gamepad=(), geolocation=(), gyroscope=(), hid=(), identity-credentials-get=(), "
        "idle-detection=(), local-fonts=(), magnetometer=(), microphone=(), midi=(), "
        "otp-credentials=(), payment=(), picture-in-picture=(self), "
        "publickey-credentials-create=(), publickey-credentials-get=(), "
        "screen-wake-lock=(), serial=(), usb=(), window-management=(), "
        "xr-spatial-tracking=()"
    ),
}


def assert_secured(response: httpx.Response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get_list(name) == [value], (response.url, name)


async def test_pages_carry_the_security_headers(
    client: httpx.AsyncClient, add_camera: AddCamera
) -> None:
    camera = await add_camera(enabled=False)
    for path in ("/", f"/cameras/{camera['id']}", "/docs", "/invite"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        assert_secured(response)


async def test_first_run_pages_carry_the_security_headers(anonymous: httpx.AsyncClient) -> None:
    for path in ("/setup", "/invite"):  # a fresh install: nobody has signed up yet
        response = await anonymous.get(path)
        assert response.status_code == 200, path
        assert_secured(response)


async def test_login_page_and_redirects_carry_the_security_headers(
    anonymous: httpx.AsyncClient, admin: User
) -> None:
    for path, status in (("/login?next=/cameras/1", 200), ("/setup", 303), ("/", 303)):
        response = await anonymous.get(path)
        assert response.status_code == status, path
        assert_secured(response)


async def test_api_answers_and_problems_carry_the_security_headers(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, add_camera: AddCamera
) -> None:
    await add_camera(enabled=False)
    listed = await client.get("/api/cameras")
    assert listed.status_code == 200
    assert listed.headers["content-type"] == "application/json"
    assert_secured(listed)
    for response, status in (
        (await client.get("/api/cameras/999999"), 404),
        (await client.get("/api/cameras/0"), 422),
        (await client.post("/api/cameras", json={"name": ""}), 422),
        (await client.get("/no/such/page"), 404),
        (await anonymous.get("/api/cameras"), 401),
    ):
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert_secured(response)
    assert_secured(await anonymous.get("/openapi.json"))


async def test_static_files_carry_the_security_headers(anonymous: httpx.AsyncClient) -> None:
    for path, kind in (
        ("/static/vigil.css", "text/css"),
        ("/static/live.js", "text/javascript"),
        ("/static/vendor/hls.min.js", "text/javascript"),
        ("/static/vendor/swagger-ui/favicon-32x32.png", "image/png"),
    ):
        response = await anonymous.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith(kind), path
        assert_secured(response)
    missing = await anonymous.get("/static/nothing.js")
    assert missing.status_code == 404
    assert_secured(missing)


async def test_static_files_travel_compressed(anonymous: httpx.AsyncClient) -> None:
    """The app's code and hls.js go gzipped to a browser that accepts it, whole to one that
    does not."""
    for path in ("/static/app/main.js", "/static/vigil.css", "/static/vendor/hls.min.js"):
        whole = await anonymous.get(path, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in whole.headers, path
        packed = await anonymous.get(path, headers={"Accept-Encoding": "gzip"})
        assert packed.headers["content-encoding"] == "gzip", path
        assert packed.num_bytes_downloaded < len(whole.content) / 2, path
        assert packed.content == whole.content  # httpx decodes it back
        assert_secured(packed)


async def test_a_route_keeps_its_own_security_header(
    app: FastAPI, anonymous: httpx.AsyncClient
) -> None:
    own = {"Content-Security-Policy": "sandbox", "referrer-policy": "same-origin"}

    @app.get("/own-headers")
    async def own_headers() -> PlainTextResponse:
        return PlainTextResponse("mine", headers=own)

    response = await anonymous.get("/own-headers")
    assert response.headers.get_list("content-security-policy") == ["sandbox"]
    assert response.headers.get_list("referrer-policy") == ["same-origin"]
    # The others are added as usual.
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_pages_carry_no_inline_style_or_script(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, add_camera: AddCamera
) -> None:
    camera = await add_camera(enabled=False)
    pages = [await client.get(p) for p in ("/", f"/cameras/{camera['id']}", "/docs", "/invite")]
    pages.append(await anonymous.get("/login"))
    for page in pages:
        assert page.status_code == 200, page.url
        html = page.text.lower()
        assert "<style" not in html, page.url
        assert " style=" not in html, page.url
        attributes = {
            name
            for tag in re.findall(r"<[a-z][^>]*>", html)
            for name in re.findall(r"\s([a-z-]+)=", tag)
        }
        assert not {name for name in attributes if name.startswith("on")}, page.url
        scripts = re.findall(r"<script[^>]*>", html)
        assert scripts, page.url
        assert all(" src=" in tag for tag in scripts), (page.url, scripts)
