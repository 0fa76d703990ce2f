"""Signing in: cookies, answers that give nothing away, lockouts that run out, the audit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import TEST_ORG
from tests.people import PASSWORD, make_user
from vigil.api.app import create_app
from vigil.app import Services
from vigil.auth.throttle import Throttle
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


async def test_twenty_wrong_passwords_at_once_lock_the_account(
    app_with: AppWith, admin: User, settings: Settings, services: Services
) -> None:
    """Guesses are counted before they are checked: sent all at once, only the free ones
    are checked at all, the rest answer 429, and the right password then finds the
    account locked."""
    app = app_with(auth={"lockout_base_seconds": 600})  # not outwaited on a busy box
    async with client_from(app, "192.0.2.10") as http:
        answers = await asyncio.gather(*(login(http, admin.username, WRONG) for _ in range(20)))
        statuses = [a.status_code for a in answers]
        free = settings.auth.free_login_failures
        assert sorted(statuses) == [401] * free + [429] * (20 - free)
        right = await login(http, admin.username, PASSWORD)
        assert right.status_code == 429
        assert right.json()["type"] == "urn:vigil:problem:login-throttled"
        assert "vigil_session" not in http.cookies
    # Each checked guess has its row; the held-back ones are sampled, not one row each.
    entries = await services.auth.audit.query(TEST_ORG, AuditFilter(actions=["login"]))
    reasons = [e.detail["reason"] for e in entries]
    assert reasons.count("wrong password") == free
    assert reasons.count("locked out") == 1


async def test_the_whole_server_checks_a_bounded_number_of_guesses(
    app_with: AppWith, services: Services
) -> None:
    """Guesses spread over many names and addresses still meet the server-wide limit."""
    app = app_with(auth={"guesses_per_minute": 10})
    for i in range(10):
        async with client_from(app, f"198.51.100.{i}") as http:
            assert (await login(http, f"name{i}", WRONG)).status_code == 401
    async with client_from(app, "198.51.100.77") as http:
        held = await login(http, "someone-else", WRONG)
    assert held.status_code == 429
    assert int(held.headers["Retry-After"]) >= 1


async def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(
    app_with: AppWith, services: Services, admin: User
) -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.9"}
    for trusted, expected in (([], "127.0.0.1"), (["127.0.0.0/8"], "203.0.113.9")):
        app = app_with(server={"trusted_proxies": trusted})
        async with client_from(app, "127.0.0.1") as http:
            answer = await http.post(
                "/api/auth/login",
                json={"username": admin.username, "password": PASSWORD},
                headers=forwarded,
            )
            assert answer.status_code == 200
        (entry, *_) = await services.auth.audit.query(TEST_ORG, AuditFilter(actions=["login"]))
        assert entry.ip == expected, trusted
    # A proxy that is not listed is just another client, whatever it says.
    app = app_with(server={"trusted_proxies": ["10.9.8.7"]})
    async with client_from(app, "127.0.0.1") as http:
        await http.post(
            "/api/auth/login",
            json={"username": admin.username, "password": PASSWORD},
            headers=forwarded,
        )
    (entry, *_) = await services.auth.audit.query(TEST_ORG, AuditFilter(actions=["login"]))
    assert entry.ip == "127.0.0.1"


async def test_a_spoofed_address_does_not_escape_the_address_lockout(
    app_with: AppWith, settings: Settings
) -> None:
    """With no trusted proxy, a guesser naming a new X-Forwarded-For each time is still
    counted at its real address."""
    app = app_with(auth={"free_address_failures": 3, "free_login_failures": 100})
    statuses = []
    async with client_from(app, "192.0.2.50") as http:
        for i in range(5):
            answer = await http.post(
                "/api/auth/login",
                json={"username": f"guess{i}", "password": WRONG},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
            )
            statuses.append(answer.status_code)
    assert statuses == [401, 401, 401, 429, 429]


AppWith = Callable[..., FastAPI]


@pytest.fixture
def app_with(settings: Settings, services: Services) -> AppWith:
    """The API over the running services, with some settings changed (the auth service's
    throttle is rebuilt from them, so each app counts guesses afresh)."""

    def make(**sections: dict[str, Any]) -> FastAPI:
        changed = settings.model_copy(
            update={
                name: getattr(settings, name).model_copy(update=values)
                for name, values in sections.items()
            }
        )
        changed = Settings.model_validate(changed.model_dump())
        services.auth.throttle = Throttle.of_guesses_at("account", changed.auth)
        return create_app(changed, services)

    return make


def client_from(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")
