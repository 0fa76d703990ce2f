"""Signing in: cookies, answers that give nothing away, lockouts that run out, the audit."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.conftest import TEST_ORG
from tests.people import PASSWORD, make_user
from vigil.app import Services
from vigil.settings import Settings
from vigil.store.audit import AuditFilter
from vigil.store.models import User

WRONG = "not-the-password-99"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Lockouts short enough to wait out in a test (services start after this)."""
    return settings.model_copy(
        update={"auth": settings.auth.model_copy(update={"lockout_base_seconds": 0.5})}
    )


async def login(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await http.post("/api/auth/login", json={"username": username, "password": password})


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie header by cookie name, lower-cased for flag checks."""
    headers = response.headers.get_list("set-cookie")
    return {header.split("=", 1)[0]: header.lower() for header in headers}


async def test_login_sets_session_and_csrf_cookies(
    anonymous: httpx.AsyncClient, admin: User
) -> None:
    response = await login(anonymous, admin.username, PASSWORD)
    assert response.status_code == 200, response.text
    body = response.json()
    cookies = set_cookies(response)
    assert "httponly" in cookies["vigil_session"]
    assert "samesite=lax" in cookies["vigil_session"]
    assert "httponly" not in cookies["vigil_csrf"]
    assert "samesite=lax" in cookies["vigil_csrf"]
    assert "secure" not in cookies["vigil_session"]  # plain HTTP, secure_cookies = auto
    assert body["csrf_token"] == anonymous.cookies["vigil_csrf"]
    assert body["user"]["username"] == admin.username
    assert body["user"]["via"] == "session"
    me = await anonymous.get("/api/me")
    assert me.status_code == 200
    assert me.json()["id"] == admin.id


async def test_wrong_password_and_unknown_user_answer_alike(
    anonymous: httpx.AsyncClient, admin: User, services: Services
) -> None:
    disabled = await make_user(services, "gone", "viewer")
    await services.auth.users.update(TEST_ORG, disabled.id, {"disabled": True})
    answers = [
        await login(anonymous, admin.username, WRONG),
        await login(anonymous, "nobody-here", WRONG),
        await login(anonymous, "gone", PASSWORD),
    ]
    for response in answers:
        assert response.status_code == 401
        assert "vigil_session" not in response.headers.get("set-cookie", "")
    first = answers[0].json()
    assert first["type"] == "urn:vigil:problem:login-failed"
    for response in answers[1:]:
        assert (response.json()["type"], response.json()["detail"]) == (
            first["type"],
            first["detail"],
        )
    assert "vigil_session" not in anonymous.cookies
    assert (await anonymous.get("/api/me")).status_code == 401


async def test_login_is_audited(
    anonymous: httpx.AsyncClient, admin: User, services: Services
) -> None:
    assert (await login(anonymous, admin.username, WRONG)).status_code == 401
    assert (await login(anonymous, admin.username, PASSWORD)).status_code == 200
    entries = await services.auth.audit.query(TEST_ORG, AuditFilter(actions=["login"]))
    outcomes = [(entry.outcome, entry.user_id, entry.username) for entry in entries]
    assert outcomes == [
        ("success", admin.id, admin.username),
        ("failure", admin.id, admin.username),
    ]
    assert entries[1].detail["reason"] == "wrong password"
    assert WRONG not in str(entries[1].detail)
    assert PASSWORD not in str(entries[0].detail)


async def test_lockout_after_free_failures_then_expiry(
    anonymous: httpx.AsyncClient, admin: User, settings: Settings
) -> None:
    free = settings.auth.free_login_failures
    # The free failures: plain 401s; the last of them starts the lockout.
    for _ in range(free):
        assert (await login(anonymous, admin.username, WRONG)).status_code == 401
    locked = await login(anonymous, admin.username, PASSWORD)
    assert locked.status_code == 429
    assert locked.json()["type"] == "urn:vigil:problem:login-throttled"
    retry_after = int(locked.headers["Retry-After"])
    assert retry_after >= 1
    assert "vigil_session" not in anonymous.cookies
    await asyncio.sleep(retry_after)
    response = await login(anonymous, admin.username, PASSWORD)
    assert response.status_code == 200, response.text


async def test_unknown_names_lock_out_alike(
    anonymous: httpx.AsyncClient, admin: User, settings: Settings
) -> None:
    """After the same count of failures, an unknown name gets the very same 429."""
    free = settings.auth.free_login_failures
    locked = {}
    for username in (admin.username, "nobody-here"):
        for _ in range(free):
            assert (await login(anonymous, username, WRONG)).status_code == 401
        locked[username] = await login(anonymous, username, PASSWORD)
    known, unknown = locked[admin.username], locked["nobody-here"]
    assert known.status_code == unknown.status_code == 429
    assert known.headers["Retry-After"] == unknown.headers["Retry-After"]
    assert (known.json()["type"], known.json()["detail"]) == (
        unknown.json()["type"],
        unknown.json()["detail"],
    )
