"""Your own account: profile, password, sessions and their ends, CSRF on cookie writes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from tests.conftest import TEST_ORG, SecretWatch
from tests.people import PASSWORD, api_key, make_user, signed_in
from vigil.app import Services
from vigil.store.audit import AuditFilter
from vigil.store.models import User, UserSession
from vigil.timeutil import now_ms

NEW_PASSWORD = "copper-heron-sideways-81"


async def set_session(services: Services, user: User, **values: Any) -> None:
    """Change the user's sessions in the database, and make Vigil read them again."""
    async with services.db.write() as session:
        await session.execute(
            update(UserSession).where(UserSession.user_id == user.id).values(**values)
        )
    services.auth.forget_user(user.id)


async def actions(services: Services, action: str) -> list[str]:
    entries = await services.auth.audit.query(TEST_ORG, AuditFilter(actions=[action]))
    return [f"{entry.outcome} {entry.target}" for entry in entries]


# Profile -------------------------------------------------------------------------------


async def test_update_profile(client: httpx.AsyncClient, admin: User, services: Services) -> None:
    response = await client.patch(
        "/api/me", json={"display_name": " Ada Lovelace ", "email": "ada@example.org"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["display_name"] == "Ada Lovelace"
    assert response.json()["email"] == "ada@example.org"
    # Only the fields given change; null clears.
    response = await client.patch("/api/me", json={"email": None})
    assert response.json()["display_name"] == "Ada Lovelace"
    assert response.json()["email"] is None
    assert (await client.get("/api/me")).json()["display_name"] == "Ada Lovelace"
    assert await actions(services, "user.update") == [f"success user:{admin.id}"] * 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not an address"}, "body.email"),
        ({"display_name": "x" * 201}, "body.display_name"),
        ({"display_name": "tab\there"}, "body.display_name"),
        ({"role": "admin"}, "body.role"),
    ],
)
async def test_update_profile_refuses_bad_input(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await client.patch("/api/me", json=body)
    assert response.status_code == 422
    assert [error["location"] for error in response.json()["errors"]] == [field]


async def test_account_routes_are_for_sessions_not_keys(
    anonymous: httpx.AsyncClient, admin: User, services: Services, secret_watch: SecretWatch
) -> None:
    key = await api_key(services, admin, ["people"], secret_watch)
    headers = {"Authorization": f"Bearer {key}"}
    assert (await anonymous.get("/api/me", headers=headers)).json()["via"] == "key"
    for method, path, body in [
        ("PATCH", "/api/me", {"display_name": "Bot"}),
        ("POST", "/api/me/password", {"current_password": PASSWORD, "new_password": "x" * 20}),
        ("GET", "/api/me/sessions", None),
        ("DELETE", "/api/me/sessions", None),
    ]:
        response = await anonymous.request(method, path, json=body, headers=headers)
        assert response.status_code == 403, (method, path)
        assert response.json()["type"] == "urn:vigil:problem:session-only"


# CSRF ----------------------------------------------------------------------------------


async def test_cookie_writes_need_the_csrf_token(
    client: httpx.AsyncClient, services: Services
) -> None:
    token = client.headers.pop("X-CSRF-Token")
    for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": ""}):
        for method in ("PATCH", "DELETE"):
            path = "/api/me" if method == "PATCH" else "/api/me/sessions"
            body = {"display_name": "Eve"} if method == "PATCH" else None
            response = await client.request(method, path, json=body, headers=headers)
            assert response.status_code == 403, (method, headers)
            assert response.json()["type"] == "urn:vigil:problem:csrf"
        response = await client.post("/api/me/keys", json={"name": "k", "scopes": ["live"]})
        assert response.status_code == 403
    # Reads need none; the cookie's own value works as the header.
    assert (await client.get("/api/me")).status_code == 200
    assert client.cookies["vigil_csrf"] == token
    response = await client.patch(
        "/api/me", json={"display_name": "Ada"}, headers={"X-CSRF-Token": token}
    )
    assert response.status_code == 200
    assert response.json()["display_name"] == "Ada"
    # Each refusal is in the admins' log: who, what they tried, why.
    denied = await services.auth.audit.query(TEST_ORG, AuditFilter(actions=["access.denied"]))
    assert len(denied) == 9
    assert {(e.username, e.outcome, e.detail["reason"]) for e in denied} == {
        ("admin", "denied", "csrf")
    }
    assert {e.detail["path"] for e in denied} == {"/api/me", "/api/me/sessions", "/api/me/keys"}


async def test_api_keys_need_no_csrf_token(
    anonymous: httpx.AsyncClient,
    admin: User,
    services: Services,
    secret_watch: SecretWatch,
    dead_url: str,
) -> None:
    key = await api_key(services, admin, ["cameras:write"], secret_watch)
    response = await anonymous.post(
        "/api/cameras",
        json={"name": "Gate", "main_url": dead_url, "enabled": False},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 201, response.text


# Sessions ------------------------------------------------------------------------------


async def test_list_sessions_shows_the_current_one(
    client: httpx.AsyncClient, app: FastAPI, admin: User, secret_watch: SecretWatch
) -> None:
    listed = (await client.get("/api/me/sessions")).json()
    assert len(listed) == 1
    assert listed[0]["current"] is True
    assert set(listed[0]) == {
        "id",
        "created_at",
        "last_seen_at",
        "expires_at",
        "ip",
        "user_agent",
        "current",
    }
    assert listed[0]["expires_at"] > listed[0]["created_at"]  # ISO 8601 compares as text
    async with signed_in(app, admin.username, watch=secret_watch) as other:
        mine = (await client.get("/api/me/sessions")).json()
        theirs = (await other.get("/api/me/sessions")).json()
    assert len(mine) == len(theirs) == 2
    assert [s["current"] for s in mine].count(True) == 1
    current = {s["id"] for s in mine if s["current"]} | {s["id"] for s in theirs if s["current"]}
    assert current == {s["id"] for s in mine}


async def test_revoke_another_session_ends_it_at_once(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin: User,
    services: Services,
    secret_watch: SecretWatch,
) -> None:
    async with signed_in(app, admin.username, watch=secret_watch) as other:
        assert (await other.get("/api/me")).status_code == 200  # cached as signed in
        listed = (await client.get("/api/me/sessions")).json()
        [victim] = [s["id"] for s in listed if not s["current"]]
        assert (await client.delete(f"/api/me/sessions/{victim}")).status_code == 204
        response = await other.get("/api/me")
        assert response.status_code == 401
        assert response.json()["type"] == "urn:vigil:problem:not-authenticated"
    assert (await client.get("/api/me")).status_code == 200
    assert [s["id"] for s in (await client.get("/api/me/sessions")).json()] != [victim]
    assert await actions(services, "session.revoke") == [f"success session:{victim}"]
    # Gone now, and never another user's: both read the same.
    for session_id in (victim, 999_999):
        response = await client.delete(f"/api/me/sessions/{session_id}")
        assert response.status_code == 404
        assert response.json()["type"] == "urn:vigil:problem:session-not-found"


async def test_cannot_revoke_another_users_session(
    client: httpx.AsyncClient, app: FastAPI, services: Services, secret_watch: SecretWatch
) -> None:
    await make_user(services, "olive", "operator")
    async with signed_in(app, "olive", watch=secret_watch) as olive:
        [theirs] = (await olive.get("/api/me/sessions")).json()
        response = await client.delete(f"/api/me/sessions/{theirs['id']}")
        assert response.status_code == 404
        assert (await olive.get("/api/me")).status_code == 200


async def test_log_out_everywhere(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin: User,
    services: Services,
    secret_watch: SecretWatch,
) -> None:
    async with signed_in(app, admin.username, watch=secret_watch) as other:
        assert (await other.get("/api/me")).status_code == 200
        response = await client.delete("/api/me/sessions")
        assert response.status_code == 204
        cleared = response.headers.get_list("set-cookie")
        assert any(c.startswith('vigil_session=""') or "max-age=0" in c.lower() for c in cleared)
        assert (await other.get("/api/me")).status_code == 401
    assert (await client.get("/api/me")).status_code == 401
    assert await services.auth.sessions.of_user(admin.id) == []
    assert await actions(services, "session.revoke_all") == [f"success user:{admin.id}"]


async def test_idle_session_ends(
    client: httpx.AsyncClient, admin: User, services: Services
) -> None:
    idle_ms = int(services.settings.auth.session_idle_minutes * 60_000)
    await set_session(services, admin, last_seen_at=now_ms() - idle_ms - 1000)
    assert (await client.get("/api/me")).status_code == 401
    assert await services.auth.sessions.of_user(admin.id) == []


async def test_session_ends_at_its_absolute_expiry(
    client: httpx.AsyncClient, admin: User, services: Services
) -> None:
    await set_session(services, admin, expires_at=now_ms() - 1)
    assert (await client.get("/api/me")).status_code == 401


# Password ------------------------------------------------------------------------------


async def test_change_password_ends_other_sessions_only(
    client: httpx.AsyncClient,
    app: FastAPI,
    anonymous: httpx.AsyncClient,
    admin: User,
    services: Services,
    secret_watch: SecretWatch,
) -> None:
    secret_watch.add(NEW_PASSWORD)
    async with signed_in(app, admin.username, watch=secret_watch) as other:
        assert (await other.get("/api/me")).status_code == 200
        response = await client.post(
            "/api/me/password",
            json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        )
        assert response.status_code == 204, response.text
        assert (await other.get("/api/me")).status_code == 401
    assert (await client.get("/api/me")).status_code == 200
    assert len((await client.get("/api/me/sessions")).json()) == 1
    login = {"username": admin.username, "password": PASSWORD}
    assert (await anonymous.post("/api/auth/login", json=login)).status_code == 401
    login["password"] = NEW_PASSWORD
    assert (await anonymous.post("/api/auth/login", json=login)).status_code == 200
    assert await actions(services, "password.change") == [f"success user:{admin.id}"]


async def test_change_password_checks_the_current_one(
    client: httpx.AsyncClient, admin: User, services: Services
) -> None:
    response = await client.post(
        "/api/me/password",
        json={"current_password": "not-the-password-99", "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 401
    assert response.json()["type"] == "urn:vigil:problem:login-failed"
    # A wrong guess does not sign you out.
    assert (await client.get("/api/me")).status_code == 200
    assert await actions(services, "password.change") == ["failure None"]


async def test_wrong_current_passwords_count_as_failed_sign_ins(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, admin: User, services: Services
) -> None:
    wrong = {"current_password": "not-the-password-99", "new_password": NEW_PASSWORD}
    for _ in range(services.settings.auth.free_login_failures):
        assert (await client.post("/api/me/password", json=wrong)).status_code == 401
    response = await client.post("/api/me/password", json=wrong)
    assert response.status_code == 429
    assert "Retry-After" in response.headers
    login = {"username": admin.username, "password": PASSWORD}
    assert (await anonymous.post("/api/auth/login", json=login)).status_code == 429


@pytest.mark.parametrize("new_password", ["short-1", "password123"])
async def test_change_password_refuses_a_weak_one(
    client: httpx.AsyncClient, new_password: str
) -> None:
    response = await client.post(
        "/api/me/password", json={"current_password": PASSWORD, "new_password": new_password}
    )
    assert response.status_code == 422
    body = response.json()
    assert [error["location"] for error in body["errors"]] == ["body.new_password"]
    assert new_password not in response.text


async def test_change_password_refuses_bad_input(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/me/password", json={"current_password": PASSWORD})
    assert response.status_code == 422
    assert [e["location"] for e in response.json()["errors"]] == ["body.new_password"]
    response = await client.post(
        "/api/me/password",
        content=b'{"current_password": ',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["type"] == "urn:vigil:problem:malformed-json"
