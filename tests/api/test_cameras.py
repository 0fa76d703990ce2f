"""Cameras through the API: what a user adds, sees, changes and removes."""

from __future__ import annotations

import socket

import httpx
from fastapi import FastAPI

from tests.api.conftest import AddCamera, wait_for_state
from tests.conftest import TEST_ORG, Seed
from tests.people import grant, make_user, signed_in
from vigil.app import Services
from vigil.auth.permissions import Permission
from vigil.settings import Settings

PROBLEM = "application/problem+json"
PASSWORD = "s3cret-Pa55"
URL_PASSWORD = "hunter2-camera"


def error_locations(response: httpx.Response) -> set[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    return {error["location"] for error in response.json()["errors"]}


async def test_create_read_update_delete(
    client: httpx.AsyncClient, dead_url: str, settings: Settings
) -> None:
    created = await client.post(
        "/api/cameras", json={"name": "  Front door ", "main_url": dead_url, "enabled": False}
    )
    assert created.status_code == 201
    camera = created.json()
    assert created.headers["location"].endswith(f"/api/cameras/{camera['id']}")
    assert camera["name"] == "Front door"
    assert camera["main_url"] == dead_url
    assert camera["sub_url"] is None
    assert camera["has_password"] is False
    assert camera["enabled"] is False
    assert camera["recording"] is True
    assert camera["segment_seconds"] == settings.cameras.segment_seconds
    assert camera["retention_days"] is None
    assert camera["created_at"].endswith("Z")

    fetched = await client.get(created.headers["location"])
    assert fetched.status_code == 200
    assert fetched.json()["name"] == "Front door"
    listed = (await client.get("/api/cameras")).json()
    assert [c["id"] for c in listed] == [camera["id"]]

    changed = await client.patch(
        f"/api/cameras/{camera['id']}",
        json={"name": "Porch", "retention_days": 7, "sub_url": "rtsp://127.0.0.1:9/sub"},
    )
    assert changed.status_code == 200
    after = changed.json()
    assert (after["name"], after["retention_days"]) == ("Porch", 7)
    assert after["sub_url"] == "rtsp://127.0.0.1:9/sub"
    assert after["main_url"] == dead_url  # untouched fields keep their values
    assert after["enabled"] is False
    cleared = await client.patch(f"/api/cameras/{camera['id']}", json={"retention_days": None})
    assert cleared.json()["retention_days"] is None

    deleted = await client.delete(f"/api/cameras/{camera['id']}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    gone = await client.get(f"/api/cameras/{camera['id']}")
    assert gone.status_code == 404
    assert (await client.get("/api/cameras")).json() == []


async def test_a_camera_added_after_the_newest_was_deleted_never_takes_its_id(
    add_camera: AddCamera, client: httpx.AsyncClient
) -> None:
    """Its id names its recordings folder: taking a deleted camera's would mix footage (and
    lose the new camera's first segments to the old one's deletion)."""
    first = await add_camera()
    newest = await add_camera()
    assert (await client.delete(f"/api/cameras/{newest['id']}")).status_code == 204
    again = await add_camera()
    assert again["id"] > newest["id"] > first["id"]


async def test_password_is_write_only(
    client: httpx.AsyncClient, add_camera: AddCamera, services: Services
) -> None:
    camera = await add_camera(username="viewer", password=PASSWORD, enabled=False)
    assert camera["has_password"] is True
    assert camera["username"] == "viewer"
    cid = camera["id"]
    responses = [
        await client.get(f"/api/cameras/{cid}"),
        await client.get("/api/cameras"),
        await client.get(f"/api/cameras/{cid}/status"),
        await client.patch(f"/api/cameras/{cid}", json={"name": "Renamed"}),
    ]
    for response in responses:
        assert response.status_code == 200
        assert PASSWORD not in response.text
        assert '"password"' not in response.text
    # The node still gets it: write-only, not dropped.
    stored = await services.cameras.store.get(cid)
    assert services.cameras.store.config(stored).password == PASSWORD

    removed = await client.patch(f"/api/cameras/{cid}", json={"password": None})
    assert removed.json()["has_password"] is False


async def test_rejected_password_is_not_echoed(client: httpx.AsyncClient, dead_url: str) -> None:
    response = await client.post(
        "/api/cameras",
        json={"name": "x", "main_url": dead_url, "password": PASSWORD, "bogus": 1},
    )
    assert error_locations(response) == {"body.bogus"}
    assert PASSWORD not in response.text


async def test_credentials_in_the_url_move_out(client: httpx.AsyncClient, dead_url: str) -> None:
    with_creds = dead_url.replace("rtsp://", f"rtsp://admin:{URL_PASSWORD}@")
    response = await client.post("/api/cameras", json={"name": "Yard", "main_url": with_creds})
    assert response.status_code == 201
    camera = response.json()
    assert camera["main_url"] == dead_url
    assert camera["username"] == "admin"
    assert camera["has_password"] is True
    assert URL_PASSWORD not in response.text

    # Percent-encoded credentials are decoded; the same goes for a change of URL.
    encoded = dead_url.replace("rtsp://", "rtsp://ops%40site:p%3Ass@")
    changed = await client.patch(f"/api/cameras/{camera['id']}", json={"main_url": encoded})
    assert changed.json()["main_url"] == dead_url
    assert changed.json()["username"] == "ops@site"

    clash = await client.post(
        "/api/cameras", json={"name": "Gate", "main_url": with_creds, "username": "someone"}
    )
    assert clash.status_code == 422
    assert "user name in main_url differs" in clash.json()["detail"]
    assert URL_PASSWORD not in clash.text


async def test_url_must_be_a_camera_stream(client: httpx.AsyncClient) -> None:
    for url in (
        "ftp://127.0.0.1/x",
        "file:///etc/passwd",
        "127.0.0.1:554/x",
        "rtsp:///no-host",
        "rtsp://127.0.0.1:99999/x",
        "rtsp://127.0.0.1/with space",
        "",
    ):
        response = await client.post("/api/cameras", json={"name": "Cam", "main_url": url})
        assert error_locations(response) == {"body.main_url"}, url
    response = await client.post("/api/cameras", json={"name": "Cam", "main_url": "ftp://h/x"})
    assert "scheme must be one of rtsp, rtsps, http, https" in response.json()["detail"]

    sub = await client.post(
        "/api/cameras",
        json={"name": "Cam", "main_url": "rtsp://127.0.0.1/a", "sub_url": "udp://127.0.0.1/b"},
    )
    assert error_locations(sub) == {"body.sub_url"}


async def test_invalid_fields_are_named(client: httpx.AsyncClient, dead_url: str) -> None:
    assert error_locations(await client.post("/api/cameras", json={})) == {
        "body.name",
        "body.main_url",
    }
    cases: dict[str, dict[str, object]] = {
        "body.name": {"name": "x" * 101},
        "body.segment_seconds": {"segment_seconds": 0},
        "body.retention_days": {"retention_days": 0},
        "body.retention_max_bytes": {"retention_max_bytes": -1},
        "body.username": {"username": "u" * 201},
        "body.enabled": {"enabled": "sometimes"},
    }
    for location, fields in cases.items():
        body: dict[str, object] = {"name": "Cam", "main_url": dead_url, **fields}
        assert error_locations(await client.post("/api/cameras", json=body)) == {location}
    blank = await client.post("/api/cameras", json={"name": "   ", "main_url": dead_url})
    assert error_locations(blank) == {"body.name"}
    problem = blank.json()
    assert problem["status"] == 422
    assert "body.name" in problem["detail"]


async def test_update_validates_too(client: httpx.AsyncClient, add_camera: AddCamera) -> None:
    cid = (await add_camera(enabled=False))["id"]
    for body, location in (
        ({"name": None}, "body.name"),
        ({"main_url": "gopher://x/y"}, "body.main_url"),
        ({"segment_seconds": 601}, "body.segment_seconds"),
        ({"colour": "red"}, "body.colour"),
    ):
        response = await client.patch(f"/api/cameras/{cid}", json=body)
        assert error_locations(response) == {location}


async def test_malformed_json_says_so(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/cameras",
        content=b'{"name": "Cam", "main_url": ',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert "not valid JSON" in response.json()["detail"]


async def test_names_are_unique_ignoring_case(
    client: httpx.AsyncClient, add_camera: AddCamera, dead_url: str
) -> None:
    first = await add_camera(name="Front Door", enabled=False)
    for name in ("Front Door", "front door", " FRONT DOOR "):
        response = await client.post("/api/cameras", json={"name": name, "main_url": dead_url})
        assert response.status_code == 409, name
        assert response.headers["content-type"] == PROBLEM
        assert "already exists" in response.json()["detail"]
    second = await add_camera(name="Back Door", enabled=False)
    renamed = await client.patch(f"/api/cameras/{second['id']}", json={"name": "front DOOR"})
    assert renamed.status_code == 409
    # A camera may change the case of its own name.
    own = await client.patch(f"/api/cameras/{first['id']}", json={"name": "FRONT DOOR"})
    assert own.status_code == 200
    assert own.json()["name"] == "FRONT DOOR"


async def test_unknown_camera_is_404_everywhere(client: httpx.AsyncClient) -> None:
    window = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"}
    calls = [
        client.get("/api/cameras/999"),
        client.patch("/api/cameras/999", json={"name": "x"}),
        client.delete("/api/cameras/999"),
        client.get("/api/cameras/999/status"),
        client.get("/api/cameras/999/recordings"),
        client.get("/api/cameras/999/segments/1"),
        client.patch("/api/cameras/999/segments/1", json={"protected": True}),
        client.get("/api/cameras/999/segments/1/file"),
        client.get("/api/cameras/999/files/999/2026-01-01/00/x.mp4"),
        client.post("/api/cameras/999/recordings/protect", json=window),
        client.post("/api/cameras/999/recordings/unprotect", json=window),
        client.get("/api/cameras/999/storage"),
    ]
    for call in calls:
        response = await call
        assert response.status_code == 404, response.request.url
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        assert problem["title"] == "Not Found"
        assert problem["detail"] == "no camera with id 999"
        assert problem["instance"] == response.request.url.path


async def test_status_shows_the_connection_error(
    client: httpx.AsyncClient, add_camera: AddCamera
) -> None:
    camera = await add_camera()
    status = await wait_for_state(client, camera["id"], "error")
    assert "connection refused" in status["last_error"]
    assert status["restarts"] >= 1
    assert status["since"].endswith("Z")
    assert status["uptime_seconds"] is None
    listed = (await client.get(f"/api/cameras/{camera['id']}")).json()
    assert listed["status"]["state"] in {"error", "connecting"}


async def test_disabling_takes_effect_at_once(
    client: httpx.AsyncClient, add_camera: AddCamera
) -> None:
    camera = await add_camera()
    await wait_for_state(client, camera["id"], "error")
    disabled = await client.patch(f"/api/cameras/{camera['id']}", json={"enabled": False})
    assert disabled.json()["status"]["state"] == "disabled"
    status = (await client.get(f"/api/cameras/{camera['id']}/status")).json()
    assert status["state"] == "disabled"
    assert status["last_error"] is None
    await client.patch(f"/api/cameras/{camera['id']}", json={"enabled": True})
    await wait_for_state(client, camera["id"], "error")


async def test_delete_removes_rows_and_folder(
    client: httpx.AsyncClient,
    add_camera: AddCamera,
    seed: Seed,
    services: Services,
    settings: Settings,
) -> None:
    cid = (await add_camera(enabled=False))["id"]
    records = await seed(cid, [(1_700_000_000_000, 1_700_000_002_000)])
    folder = settings.recordings_dir / str(cid)
    assert (settings.recordings_dir / records[0].path).is_file()

    response = await client.delete(f"/api/cameras/{cid}")
    assert response.status_code == 204
    assert not folder.exists()
    assert await services.segments.usage(cid) == []
    assert (await client.get(f"/api/cameras/{cid}")).status_code == 404


async def test_delete_refused_while_footage_is_protected(
    client: httpx.AsyncClient, add_camera: AddCamera, seed: Seed, settings: Settings
) -> None:
    cid = (await add_camera(enabled=False))["id"]
    records = await seed(cid, [(1_700_000_000_000, 1_700_000_002_000)])
    window = {"start": 1_700_000_000, "end": 1_700_000_002}
    await client.post(f"/api/cameras/{cid}/recordings/protect", json=window)

    refused = await client.delete(f"/api/cameras/{cid}")
    assert refused.status_code == 409
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["protected_segments"] == 1
    assert "unprotect" in refused.json()["detail"]
    assert (await client.get(f"/api/cameras/{cid}")).status_code == 200
    assert (settings.recordings_dir / records[0].path).is_file()

    await client.post(f"/api/cameras/{cid}/recordings/unprotect", json=window)
    assert (await client.delete(f"/api/cameras/{cid}")).status_code == 204


async def test_each_camera_says_what_the_caller_may_do_with_it(
    app: FastAPI, client: httpx.AsyncClient, services: Services, dead_url: str
) -> None:
    """Pages show only the actions the API would allow: the list and the camera carry the
    caller's permissions on it."""
    made = [
        (
            await client.post(
                "/api/cameras", json={"name": n, "main_url": dead_url, "enabled": False}
            )
        ).json()
        for n in ("Gate", "Office")
    ]
    assert made[0]["permissions"] == sorted(p.value for p in Permission)
    viewer = await make_user(services, "vera", "viewer")
    await grant(services, TEST_ORG, [made[0]["id"]], {Permission.VIEW_LIVE}, viewer.id)
    async with signed_in(app, "vera") as vera:
        listed = (await vera.get("/api/cameras")).json()
        assert [(c["name"], c["permissions"]) for c in listed] == [("Gate", ["view_live"])]
        one = (await vera.get(f"/api/cameras/{made[0]['id']}")).json()
        assert one["permissions"] == ["view_live"]
    changed = await client.patch(f"/api/cameras/{made[1]['id']}", json={"name": "Office 2"})
    assert "configure" in changed.json()["permissions"]


async def test_a_camera_just_added_is_connecting_not_offline(client: httpx.AsyncClient) -> None:
    """Before its node has said anything, an enabled camera is on its way, not down. The
    camera here accepts the connection and never answers, so nothing is known for seconds."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"rtsp://127.0.0.1:{silent.getsockname()[1]}/cam"
        enabled = await client.post("/api/cameras", json={"name": "New", "main_url": url})
        assert enabled.json()["status"]["state"] == "connecting"
        disabled = await client.post(
            "/api/cameras", json={"name": "Spare", "main_url": url, "enabled": False}
        )
        assert disabled.json()["status"]["state"] == "disabled"
