"""Two-factor sign-in: enrolment, sign-in with codes, recovery codes, the organisation's rule.

Codes come from pyotp, as an authenticator app would make them. The server checks codes
against its own clock (now ± one 30 s step), and each step signs in once: a test takes the
step it starts in (``code(0)``) and the next (``code(1)``), both valid for its whole run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pyotp
from fastapi import FastAPI

from tests.conftest import TEST_ORG, SecretWatch
from tests.people import PASSWORD, api_key, make_user, signed_in
from vigil.app import Services
from vigil.auth import totp
from vigil.store.audit import AuditFilter
from vigil.store.models import User

PROBLEM = "urn:vigil:problem:"


@dataclass
class Enrolled:
    secret: str
    recovery_codes: list[str]
    base: float

    def code(self, k: int) -> str:
        """The code for the ``k``-th 30 s step after the one enrolment started in."""
        return pyotp.TOTP(self.secret).at(self.base + 30 * k)

    def wrong_code(self) -> str:
        """Six digits that are no code of any step near now."""
        near = {pyotp.TOTP(self.secret).at(self.base + 30 * k) for k in range(-3, 5)}
        return next(f"{n:06d}" for n in range(10**6) if f"{n:06d}" not in near)


async def enrol(http: httpx.AsyncClient, username: str, watch: SecretWatch) -> Enrolled:
    """Start enrolment, check what it shows, confirm with the current code."""
    base = time.time()
    started = await http.post("/api/me/mfa/totp")
    assert started.status_code == 201, started.text
    assert started.headers["cache-control"] == "no-store"
    body = started.json()
    watch.add(body["secret"])
    uri = urlsplit(body["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert unquote(uri.path) == f"/Vigil:{username}"
    query = parse_qs(uri.query)
    assert query["issuer"] == ["Vigil"]
    assert query["secret"] == [body["secret"]]
    # The QR code is the image of exactly that URI.
    assert body["qr_svg"].startswith("<svg")
    assert body["qr_svg"] == totp.qr_svg(body["otpauth_uri"])
    assert (await http.get("/api/me/mfa")).json()["enabled"] is False

    confirmed = await http.post(
        "/api/me/mfa/totp/confirm", json={"code": pyotp.TOTP(body["secret"]).at(base)}
    )
    assert confirmed.status_code == 200, confirmed.text
    codes = confirmed.json()["recovery_codes"]
    watch.add(*codes)
    assert len(codes) == len(set(codes)) == 10
    return Enrolled(body["secret"], codes, base)


async def sign_in(
    http: httpx.AsyncClient,
    username: str,
    code: str | None = None,
    watch: SecretWatch | None = None,
    password: str = PASSWORD,
) -> httpx.Response:
    """Log in on ``http``; when it works the client then sends the new CSRF token."""
    body: dict[str, Any] = {"username": username, "password": password}
    if code is not None:
        body["code"] = code
    response = await http.post("/api/auth/login", json=body)
    if response.status_code == 200:
        http.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        if watch is not None:
            watch.add(http.cookies["vigil_session"])
    return response


async def sign_out(http: httpx.AsyncClient) -> None:
    assert (await http.post("/api/auth/logout")).status_code == 204


async def audited(services: Services, action: str, outcome: str | None = None) -> list[Any]:
    return await services.auth.audit.query(TEST_ORG, AuditFilter(actions=[action], outcome=outcome))


async def test_enrol_then_sign_in_needs_a_fresh_code(
    client: httpx.AsyncClient, admin: User, services: Services, secret_watch: SecretWatch
) -> None:
    status = await client.get("/api/me/mfa")
    assert status.json() == {"enabled": False, "recovery_codes_left": 0, "required_by_org": False}

    # A wrong code does not finish enrolment, and says nothing of why.
    started = await client.post("/api/me/mfa/totp")
    assert started.status_code == 201
    secret_watch.add(started.json()["secret"])
    abandoned = Enrolled(started.json()["secret"], [], time.time())
    wrong = await client.post("/api/me/mfa/totp/confirm", json={"code": abandoned.wrong_code()})
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == "The code is wrong or has expired."

    enrolled = await enrol(client, admin.username, secret_watch)
    status = await client.get("/api/me/mfa")
    assert status.json() == {"enabled": True, "recovery_codes_left": 10, "required_by_org": False}
    assert (await client.get("/api/me")).json()["mfa_enabled"] is True
    # On is on: enrolling again means turning it off first.
    again = await client.post("/api/me/mfa/totp")
    assert again.status_code == 409
    assert "secret" not in again.text
    assert (await client.post("/api/me/mfa/totp/confirm", json={"code": "1"})).status_code == 409

    await sign_out(client)
    no_code = await sign_in(client, admin.username)
    assert no_code.status_code == 401
    wrong_code = await sign_in(client, admin.username, enrolled.wrong_code())
    wrong_password = await sign_in(client, admin.username, enrolled.code(1), password="x" * 12)
    assert wrong_code.status_code == wrong_password.status_code == 401
    assert wrong_code.json() == wrong_password.json()
    assert wrong_code.json()["type"] == PROBLEM + "login-failed"
    # The code confirming enrolment is spent; the next step's code signs in, once.
    spent = await sign_in(client, admin.username, enrolled.code(0))
    assert spent.status_code == 401
    right = await sign_in(client, admin.username, enrolled.code(1), secret_watch)
    assert right.status_code == 200, right.text
    assert (await client.get("/api/me")).status_code == 200
    await sign_out(client)
    replay = await sign_in(client, admin.username, enrolled.code(1))
    assert replay.status_code == 401

    assert [e.outcome for e in await audited(services, "mfa.enable")] == ["success", "failure"]
    assert [e.target for e in await audited(services, "mfa.enable")] == [f"user:{admin.id}"] * 2
    assert len(await audited(services, "mfa.enrolment_started")) == 2
    logins = await audited(services, "login")
    assert [e.outcome for e in logins[:5]] == ["failure", "success", *["failure"] * 3]
    assert logins[1].detail == {"mfa": True}


async def test_recovery_codes_work_once_and_can_be_replaced(
    client: httpx.AsyncClient, admin: User, services: Services, secret_watch: SecretWatch
) -> None:
    enrolled = await enrol(client, admin.username, secret_watch)
    first, second, third = enrolled.recovery_codes[:3]
    await sign_out(client)

    assert (await sign_in(client, admin.username, first, secret_watch)).status_code == 200
    assert (await client.get("/api/me/mfa")).json()["recovery_codes_left"] == 9
    await sign_out(client)
    assert (await sign_in(client, admin.username, first)).status_code == 401
    # As typed: any case, with or without dashes and spaces.
    typed = second.replace("-", " ").upper()
    assert (await sign_in(client, admin.username, typed, secret_watch)).status_code == 200
    assert (await client.get("/api/me/mfa")).json()["recovery_codes_left"] == 8
    used = await audited(services, "mfa.recovery_code_used")
    assert [e.detail["codes_left"] for e in used] == [8, 9]

    # New codes need a current authenticator code; the old codes stop working.
    refused = await client.post("/api/me/mfa/recovery-codes", json={"code": second})
    assert refused.status_code == 401
    replaced = await client.post("/api/me/mfa/recovery-codes", json={"code": enrolled.code(1)})
    assert replaced.status_code == 200, replaced.text
    assert replaced.headers["cache-control"] == "no-store"
    new_codes = replaced.json()["recovery_codes"]
    secret_watch.add(*new_codes)
    assert len(set(new_codes)) == 10
    assert not set(new_codes) & set(enrolled.recovery_codes)
    assert (await client.get("/api/me/mfa")).json()["recovery_codes_left"] == 10
    # That authenticator code is spent too.
    replay = await client.post("/api/me/mfa/recovery-codes", json={"code": enrolled.code(1)})
    assert replay.status_code == 401

    await sign_out(client)
    assert (await sign_in(client, admin.username, third)).status_code == 401
    assert (await sign_in(client, admin.username, new_codes[0], secret_watch)).status_code == 200

    outcomes = [e.outcome for e in await audited(services, "mfa.recovery_codes")]
    assert outcomes == ["failure", "success", "failure"]


async def test_turning_off_needs_the_password_and_a_code(
    client: httpx.AsyncClient, admin: User, services: Services, secret_watch: SecretWatch
) -> None:
    off = await client.post("/api/me/mfa/disable", json={"password": PASSWORD, "code": "123456"})
    assert off.status_code == 409
    enrolled = await enrol(client, admin.username, secret_watch)

    code = enrolled.code(1)
    bad_password = {"password": "not-the-password", "code": code}
    bad_code = {"password": PASSWORD, "code": enrolled.wrong_code()}
    for body in (bad_password, bad_code, {"password": PASSWORD}):
        refused = await client.post("/api/me/mfa/disable", json=body)
        assert refused.status_code in (401, 422), refused.text
        assert "not-the-password" not in refused.text
    assert (await client.get("/api/me/mfa")).json()["enabled"] is True

    off = await client.post("/api/me/mfa/disable", json={"password": PASSWORD, "code": code})
    assert off.status_code == 204, off.text
    status = await client.get("/api/me/mfa")
    assert status.json() == {"enabled": False, "recovery_codes_left": 0, "required_by_org": False}
    await sign_out(client)
    assert (await sign_in(client, admin.username, watch=secret_watch)).status_code == 200
    # Off means the recovery codes are gone too.
    assert (await sign_in(client, admin.username, enrolled.recovery_codes[0])).status_code == 200

    outcomes = [e.outcome for e in await audited(services, "mfa.disable")]
    assert outcomes == ["success", "failure", "failure"]


async def test_organisation_requirement_holds_back_users_until_they_enrol(
    app: FastAPI, services: Services, secret_watch: SecretWatch
) -> None:
    dana = await make_user(services, "dana", "operator")
    await services.auth.users.update_org(TEST_ORG, {"require_mfa": True})
    services.auth.forget_user(dana.id)

    async with signed_in(app, "dana", watch=secret_watch) as http:
        held = await http.get("/api/cameras")
        assert held.status_code == 403
        assert held.json()["type"] == PROBLEM + "mfa-enrolment-required"
        me = await http.get("/api/me")
        assert me.status_code == 200
        assert me.json()["mfa_enrolment_required"] is True
        status = await http.get("/api/me/mfa")
        assert status.json() == {
            "enabled": False,
            "recovery_codes_left": 0,
            "required_by_org": True,
        }

        enrolled = await enrol(http, "dana", secret_watch)
        assert (await http.get("/api/cameras")).status_code == 200
        assert (await http.get("/api/me")).json()["mfa_enrolment_required"] is False

        body = {"password": PASSWORD, "code": enrolled.code(1)}
        refused = await http.post("/api/me/mfa/disable", json=body)
        assert refused.status_code == 403
        assert refused.json()["type"] == PROBLEM + "mfa-required"
        assert (await http.get("/api/me/mfa")).json()["enabled"] is True

    [failure] = await audited(services, "mfa.disable")
    assert (failure.outcome, failure.user_id) == ("failure", dana.id)
    [enabled] = await audited(services, "mfa.enable")
    assert (enabled.outcome, enabled.target) == ("success", f"user:{dana.id}")


async def test_api_keys_cannot_manage_two_factor_sign_in(
    app: FastAPI, admin: User, services: Services, secret_watch: SecretWatch
) -> None:
    key = await api_key(services, admin, ["people"], secret_watch)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=headers
    ) as http:
        for method, path in (("GET", "/api/me/mfa"), ("POST", "/api/me/mfa/totp")):
            response = await http.request(method, path)
            assert response.status_code == 403
            assert response.json()["type"] == PROBLEM + "session-only"
