"""The audit log through the API: who did what, when, from where; filters, paging, CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI

from tests.api.conftest import AddCamera, Json
from tests.conftest import TEST_ORG, SecretWatch
from tests.people import PASSWORD, api_key, make_user, signed_in
from vigil.app import Services
from vigil.store.audit import Actor
from vigil.store.models import User

CAMERA_PASSWORD = "hunter2-camera"  # a watched secret (tests.conftest.SECRETS)


async def entries(client: httpx.AsyncClient, **params: object) -> list[Json]:
    response = await client.get("/api/audit", params=params)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    return list(response.json()["entries"])


def ms(entry: Json) -> int:
    return round(datetime.fromisoformat(entry["at"]).timestamp() * 1000)


@pytest.fixture
async def history(
    app: FastAPI, anonymous: httpx.AsyncClient, client: httpx.AsyncClient, add_camera: AddCamera
) -> Json:
    """The client's login, a failed login, a camera added: the camera's JSON."""
    failed = await anonymous.post(
        "/api/auth/login", json={"username": "admin", "password": "not-the-password"}
    )
    assert failed.status_code == 401
    return await add_camera(password=CAMERA_PASSWORD)


async def test_actions_appear_with_who_what_when_and_where(
    client: httpx.AsyncClient, admin: User, history: Json
) -> None:
    log = await entries(client)
    actions = [(e["action"], e["outcome"]) for e in log]
    # Newest first: the camera, the failed login, then the client's login.
    assert actions == [("camera.create", "success"), ("login", "failure"), ("login", "success")]
    camera, failed, login = log
    assert camera["target"] == f"camera:{history['id']}"
    assert camera["detail"] == {"name": history["name"]}
    for entry in (camera, login, failed):
        assert entry["user_id"] == admin.id
        assert entry["username"] == "admin"
        assert entry["ip"] == "127.0.0.1"
        assert entry["user_agent"].startswith("python-httpx/")
        assert entry["api_key_id"] is None
        assert entry["at"].endswith("Z")
    assert failed["detail"] == {"reason": "wrong password"}
    assert login["detail"] == {"mfa": False}
    assert ms(login) <= ms(failed) <= ms(camera)
    assert camera["id"] > failed["id"] > login["id"]


async def test_camera_credentials_never_reach_the_log(
    client: httpx.AsyncClient, add_camera: AddCamera, dead_url: str, history: Json
) -> None:
    url = dead_url.replace("rtsp://", f"rtsp://viewer:{CAMERA_PASSWORD}@")
    camera = await add_camera(main_url=url)
    await client.patch(f"/api/cameras/{camera['id']}", json={"password": CAMERA_PASSWORD})
    listed = await client.get("/api/audit")
    exported = await client.get("/api/audit.csv")
    assert {"camera.create", "camera.update"} <= {e["action"] for e in listed.json()["entries"]}
    assert CAMERA_PASSWORD not in listed.text
    assert CAMERA_PASSWORD not in exported.text


async def test_filters(client: httpx.AsyncClient, admin: User, history: Json) -> None:
    everything = await entries(client)
    assert [e["action"] for e in await entries(client, action="camera.create")] == ["camera.create"]
    both = await entries(client, action=["camera.create", "login"])
    assert [e["id"] for e in both] == [
        e["id"] for e in everything if e["action"] in ("camera.create", "login")
    ]
    failures = await entries(client, outcome="failure")
    assert [(e["action"], e["detail"]) for e in failures] == [
        ("login", {"reason": "wrong password"})
    ]
    assert await entries(client, outcome="denied") == []
    assert len(await entries(client, user_id=admin.id)) == len(everything)
    assert await entries(client, user_id=admin.id + 1000) == []
    assert len(await entries(client, username="admin")) == len(everything)
    assert await entries(client, username="nobody") == []

    # Time window: since is inclusive, until exclusive; ISO 8601 or epoch seconds.
    middle = everything[1]
    since = await entries(client, since=middle["at"])
    assert [e["id"] for e in since] == [e["id"] for e in everything if ms(e) >= ms(middle)]
    until = await entries(client, until=ms(middle) / 1000)
    assert [e["id"] for e in until] == [e["id"] for e in everything if ms(e) < ms(middle)]
    assert await entries(client, since="2000-01-01T00:00:00Z", until="2000-01-02") == []


async def test_bad_filters_answer_422_naming_the_field(client: httpx.AsyncClient) -> None:
    for params, field in [
        ({"outcome": "maybe"}, "outcome"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"since": "yesterday"}, "since"),
        ({"before_id": -1}, "before_id"),
        ({"action": "x" * 65}, "action"),
        ({"username": "x" * 101}, "username"),
    ]:
        response = await client.get("/api/audit", params=params)  # type: ignore[arg-type]
        assert response.status_code == 422, params
        assert field in response.text
        assert "x" * 65 not in response.text
    assert (await client.get("/api/audit.csv", params={"limit": 100_001})).status_code == 422


async def test_paging_with_before_id(client: httpx.AsyncClient, history: Json) -> None:
    everything = await entries(client)
    assert len(everything) >= 3
    seen: list[int] = []
    before_id = None
    while True:
        params = {"limit": 2} if before_id is None else {"limit": 2, "before_id": before_id}
        page = (await client.get("/api/audit", params=params)).json()
        seen += [e["id"] for e in page["entries"]]
        before_id = page["next_before_id"]
        if before_id is None:
            break
        assert before_id == seen[-1]
    assert seen == [e["id"] for e in everything]


async def test_csv_export(client: httpx.AsyncClient, admin: User, history: Json) -> None:
    listed = await entries(client)
    response = await client.get("/api/audit.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="vigil-audit-')
    assert disposition.endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == [
        "id", "at", "user_id", "username", "api_key_id", "action", "outcome", "target",
        "detail", "ip", "user_agent",
    ]  # fmt: skip
    # The export is recorded before it runs, so it is the newest row of its own file.
    assert rows[0]["action"] == "audit.export"
    assert rows[0]["username"] == "admin"
    assert [int(r["id"]) for r in rows[1:]] == [e["id"] for e in listed]
    camera = rows[1]
    assert camera["action"] == "camera.create"
    assert camera["target"] == f"camera:{history['id']}"
    assert camera["user_id"] == str(admin.id)
    assert camera["ip"] == "127.0.0.1"
    assert camera["at"] == listed[0]["at"]

    # The same filters as the JSON list; the export itself shows up in the log.
    failures = await client.get("/api/audit.csv", params={"outcome": "failure", "limit": 5})
    assert [r["action"] for r in csv.DictReader(io.StringIO(failures.text))] == ["login"]
    exports = await entries(client, action="audit.export")
    assert exports[0]["detail"] == {"filters": {"outcome": "failure"}, "limit": 5}
    assert exports[0]["outcome"] == "success"
    assert exports[0]["user_id"] == admin.id


async def test_csv_cells_never_run_as_formulas(
    anonymous: httpx.AsyncClient, client: httpx.AsyncClient, services: Services, admin: User
) -> None:
    # Anyone can put text in the log: the name of a failed login, their user agent.
    formula = '=HYPERLINK("http://evil.example/","click")'
    await services.auth.audit.record(
        Actor(TEST_ORG, None, formula, None, "127.0.0.1", "@SUM(1+1)"),
        "login",
        outcome="failure",
        reason="unknown user",
    )
    for name in ("+cmd", "-2+3"):
        await make_user(services, name, "viewer")
        await anonymous.post("/api/auth/login", json={"username": name, "password": "wrong"})
    rows = list(csv.DictReader(io.StringIO((await client.get("/api/audit.csv")).text)))
    names = {r["username"] for r in rows}
    assert {"'" + formula, "'+cmd", "'-2+3"} <= names
    assert "'@SUM(1+1)" in {r["user_agent"] for r in rows}
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@")), row


async def test_the_log_cannot_be_changed(client: httpx.AsyncClient, history: Json) -> None:
    newest = (await entries(client))[0]["id"]
    for path in ("/api/audit", "/api/audit.csv"):
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            response = await client.request(method, path, json={})
            assert response.status_code == 405, (method, path, response.text)
    response = await client.delete(f"/api/audit/{newest}")
    assert response.status_code in (404, 405)
    assert (await entries(client))[0]["id"] == newest


async def test_only_admins_read_it(app: FastAPI, services: Services) -> None:
    for role in ("viewer", "operator"):
        await make_user(services, role, role)
        async with signed_in(app, role) as http:
            for path in ("/api/audit", "/api/audit.csv"):
                response = await http.get(path)
                assert response.status_code == 403, (role, path)
                assert response.json()["type"] == "urn:vigil:problem:admin-only"


async def test_anonymous_callers_are_refused(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/api/audit")).status_code == 401
    assert (await anonymous.get("/api/audit.csv")).status_code == 401


async def test_api_keys_need_the_audit_scope(
    anonymous: httpx.AsyncClient, services: Services, admin: User, secret_watch: SecretWatch
) -> None:
    with_scope = await api_key(services, admin, ["audit"], secret_watch)
    without = await api_key(services, admin, ["cameras:read", "people"], secret_watch)
    response = await anonymous.get("/api/audit", headers={"Authorization": f"Bearer {with_scope}"})
    assert response.status_code == 200
    used = [e for e in response.json()["entries"] if e["action"] == "key.used"]
    assert used
    assert used[0]["api_key_id"] is not None
    exported = await anonymous.get(
        "/api/audit.csv", headers={"Authorization": f"Bearer {with_scope}"}
    )
    assert exported.status_code == 200
    for path in ("/api/audit", "/api/audit.csv"):
        refused = await anonymous.get(path, headers={"Authorization": f"Bearer {without}"})
        assert refused.status_code == 403
        assert refused.json()["type"] == "urn:vigil:problem:missing-scope"
    for text in (response.text, exported.text):
        secret_watch.check(text, "the audit log")


async def test_another_organisations_admin_sees_none_of_ours(
    app: FastAPI, services: Services, client: httpx.AsyncClient, admin: User, history: Json
) -> None:
    other = await services.auth.users.create_org("Other school")
    stranger = await make_user(services, "other-admin", "admin", org_id=other.id)
    async with signed_in(app, "other-admin", PASSWORD) as http:
        theirs = (await http.get("/api/audit", params={"limit": 1000})).json()["entries"]
        assert theirs
        assert all(e["user_id"] == stranger.id for e in theirs)
        assert await entries(http, user_id=admin.id) == []
        assert await entries(http, action="camera.create") == []
        rows = list(csv.DictReader(io.StringIO((await http.get("/api/audit.csv")).text)))
        assert {r["username"] for r in rows} == {"other-admin"}
    ours = await entries(client, limit=1000)
    assert all(e["user_id"] != stranger.id for e in ours)
