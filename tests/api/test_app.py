"""The application as a whole: health, OpenAPI, docs, and problem details for any error."""

from __future__ import annotations

import httpx
import pytest

from tests.people import PASSWORD, api_key, make_user
from vigil import __version__
from vigil.api.app import create_app
from vigil.app import Services
from vigil.settings import Settings

PROBLEM = "application/problem+json"


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "version": __version__}


async def test_openapi_lists_the_routes(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    assert set(paths["/api/cameras"]) == {"get", "post"}
    assert set(paths["/api/cameras/{camera_id}"]) == {"get", "patch", "delete"}
    for path in (
        "/api/health",
        "/api/storage",
        "/api/cameras/{camera_id}/status",
        "/api/cameras/{camera_id}/recordings",
        "/api/cameras/{camera_id}/recordings/protect",
        "/api/cameras/{camera_id}/recordings/unprotect",
        "/api/cameras/{camera_id}/segments/{segment_id}",
        "/api/cameras/{camera_id}/segments/{segment_id}/file",
        "/api/cameras/{camera_id}/files/{path}",
        "/api/cameras/{camera_id}/storage",
    ):
        assert path in paths
    camera = spec["components"]["schemas"]["CameraOut"]["properties"]
    assert "password" not in camera
    assert "has_password" in camera


async def test_docs_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert "/openapi.json" in response.text
    # Served from the vendored bundle, so the page works on a box with no internet access.
    assert "cdn" not in response.text.lower()
    script = await client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.text


async def test_home_page_is_the_app_shell(client: httpx.AsyncClient, add_camera) -> None:
    """The page itself carries no camera data: the app reads it from the API (tests/e2e)."""
    await add_camera(name="Gate <b>&</b>")
    page = await client.get("/")
    assert page.status_code == 200
    assert '<script type="module" src="/static/app/main.js">' in page.text
    assert "Gate" not in page.text
    script = await client.get("/static/app/main.js")
    assert script.status_code == 200


async def test_unknown_route_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == 404
    assert body["title"] == "Not Found"
    assert body["instance"] == "/api/nothing-here"


async def test_wrong_method_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.put("/api/cameras", json={})
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert "GET" in response.headers["allow"]
    assert response.json()["title"] == "Method Not Allowed"


async def test_unexpected_error_is_a_bare_500(
    settings: Settings, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object) -> None:
        raise RuntimeError("internal detail: /srv/vigil/db password=x")

    monkeypatch.setattr(services.segments, "usage", broken)
    key = await api_key(services, await make_user(services, "boss", "admin"), ["cameras:read"])
    transport = httpx.ASGITransport(app=create_app(settings, services), raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers={"Authorization": f"Bearer {key}"}
    ) as client:
        response = await client.get("/api/storage")
    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["title"] == "Internal Server Error"
    assert "internal detail" not in response.text
    assert "Traceback" not in response.text
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


async def test_app_without_services_starts_its_own(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            setup = await client.post(
                "/api/auth/setup",
                json={"organisation": "Own", "username": "owner", "password": PASSWORD},
            )
            assert setup.status_code == 201, setup.text
            created = await client.post(
                "/api/cameras",
                json={"name": "Own", "main_url": "rtsp://127.0.0.1:9/x", "enabled": False},
                headers={"X-CSRF-Token": setup.json()["csrf_token"]},
            )
            assert created.status_code == 201
            assert created.json()["status"]["state"] == "disabled"
    assert (settings.data_dir / "recordings").is_dir()
