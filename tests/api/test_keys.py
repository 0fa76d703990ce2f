"""API keys: shown once, scoped, expiring, revoked at once, audited when used."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from tests.conftest import TEST_ORG, SecretWatch
from tests.people import make_user, signed_in
from vigil.app import Services
from vigil.auth.tokens import token_hash
from vigil.store.audit import AuditFilter
from vigil.store.models import ApiKey, User
from vigil.timeutil import iso, now_ms

Json = dict[str, Any]
DAY_MS = 86_400_000


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def create_key(
    client: httpx.AsyncClient, watch: SecretWatch, scopes: list[str], **fields: Any
) -> Json:
    """A new key through the API; its secret is watched from here on."""
    response = await client.post(
        "/api/me/keys", json={"name": "script", "scopes": scopes, **fields}
    )
    assert response.status_code == 201, response.text
    created = dict(response.json())
    watch.add(created["key"])
    return created


async def test_key_is_shown_once_and_stored_hashed(
    client: httpx.AsyncClient, admin: User, services: Services, secret_watch: SecretWatch
) -> None:
    expires = now_ms() + 30 * DAY_MS
    created = await create_key(
        client,
        secret_watch,
        ["cameras:read", "live"],
        name="Nightly backup",
        expires_at=iso(expires),
    )
    key = created["key"]
    assert key.startswith("vgl_")
    assert created["name"] == "Nightly backup"
    assert created["scopes"] == ["cameras:read", "live"]
    assert created["revoked_at"] is None
    assert created["last_used_at"] is None
    listed = await client.get("/api/me/keys")
    assert key not in listed.text
    [row] = listed.json()
    assert "key" not in row
    assert {k: v for k, v in created.items() if k != "key"} == row
    stored = await services.auth.keys.by_hash(token_hash(key))
    assert stored is not None
    assert stored.secret_hash != key
    assert stored.user_id == admin.id
    entries = await services.auth.audit.query(TEST_ORG, AuditFilter(actions=["key.create"]))
    assert [(e.target, e.user_id) for e in entries] == [(f"key:{created['id']}", admin.id)]
    assert key not in str(entries[0].detail)


async def test_key_signs_in_as_its_user_and_is_audited(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    admin: User,
    services: Services,
    secret_watch: SecretWatch,
) -> None:
    created = await create_key(client, secret_watch, ["cameras:read"])
    before = now_ms()
    me = await anonymous.get("/api/me", headers=bearer(created["key"]))
    assert me.status_code == 200
    assert (me.json()["id"], me.json()["via"]) == (admin.id, "key")
    assert (await anonymous.get("/api/cameras", headers=bearer(created["key"]))).status_code == 200
    [row] = (await client.get("/api/me/keys")).json()
    assert row["last_used_at"] is not None
    assert row["last_used_at"] >= iso(before)
    assert row["last_used_ip"] == "127.0.0.1"
    used = await services.auth.audit.query(TEST_ORG, AuditFilter(actions=["key.used"]))
    # At most once a minute per key, however often it is used.
    assert [(e.api_key_id, e.user_id) for e in used] == [(created["id"], admin.id)]


async def test_scopes_narrow_a_key(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, secret_watch: SecretWatch
) -> None:
    live = await create_key(client, secret_watch, ["live"])
    response = await anonymous.get("/api/cameras", headers=bearer(live["key"]))
    assert response.status_code == 403
    assert response.json()["type"] == "urn:vigil:problem:missing-scope"
    reader = await create_key(client, secret_watch, ["cameras:read"])
    assert (await anonymous.get("/api/cameras", headers=bearer(reader["key"]))).status_code == 200


async def test_key_cannot_manage_account_or_keys(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, secret_watch: SecretWatch
) -> None:
    created = await create_key(client, secret_watch, ["people", "audit", "cameras:read"])
    headers = bearer(created["key"])
    for method, path, body in [
        ("GET", "/api/me/keys", None),
        ("POST", "/api/me/keys", {"name": "child", "scopes": ["live"]}),
        ("DELETE", f"/api/me/keys/{created['id']}", None),
    ]:
        response = await anonymous.request(method, path, json=body, headers=headers)
        assert response.status_code == 403, (method, path)
        assert response.json()["type"] == "urn:vigil:problem:session-only"
    assert len((await client.get("/api/me/keys")).json()) == 1


async def test_revoked_key_stops_at_once(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    services: Services,
    secret_watch: SecretWatch,
) -> None:
    created = await create_key(client, secret_watch, ["cameras:read"])
    headers = bearer(created["key"])
    assert (await anonymous.get("/api/me", headers=headers)).status_code == 200  # now cached
    assert (await client.delete(f"/api/me/keys/{created['id']}")).status_code == 204
    response = await anonymous.get("/api/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["type"] == "urn:vigil:problem:not-authenticated"
    [row] = (await client.get("/api/me/keys")).json()
    assert row["revoked_at"] is not None
    # Revoking again changes nothing; an unknown id is "not found".
    assert (await client.delete(f"/api/me/keys/{created['id']}")).status_code == 204
    response = await client.delete("/api/me/keys/999999")
    assert response.status_code == 404
    assert response.json()["type"] == "urn:vigil:problem:key-not-found"
    entries = await services.auth.audit.query(TEST_ORG, AuditFilter(actions=["key.revoke"]))
    assert [e.target for e in entries] == [f"key:{created['id']}"]


async def test_cannot_see_or_revoke_another_users_key(
    client: httpx.AsyncClient,
    app: FastAPI,
    anonymous: httpx.AsyncClient,
    services: Services,
    secret_watch: SecretWatch,
) -> None:
    await make_user(services, "olive", "operator")
    async with signed_in(app, "olive", watch=secret_watch) as olive:
        theirs = await create_key(olive, secret_watch, ["cameras:read"])
        assert (await olive.get("/api/me/keys")).json()[0]["id"] == theirs["id"]
    assert (await client.get("/api/me/keys")).json() == []
    response = await client.delete(f"/api/me/keys/{theirs['id']}")
    assert response.status_code == 404
    assert (await anonymous.get("/api/me", headers=bearer(theirs["key"]))).status_code == 200


async def test_expired_key_is_refused(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    admin: User,
    services: Services,
    secret_watch: SecretWatch,
) -> None:
    created = await create_key(
        client, secret_watch, ["cameras:read"], expires_at=iso(now_ms() + DAY_MS)
    )
    headers = bearer(created["key"])
    assert (await anonymous.get("/api/me", headers=headers)).status_code == 200
    async with services.db.write() as session:
        await session.execute(
            update(ApiKey).where(ApiKey.id == created["id"]).values(expires_at=now_ms() - 1)
        )
    services.auth.forget_user(admin.id)
    assert (await anonymous.get("/api/me", headers=headers)).status_code == 401


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer ",
        "Basic YWRtaW46cGFzcw==",
        "Bearer vgl_unknown",
        "Bearer not-a-key",
        "vgl_x",
    ],
)
async def test_malformed_or_unknown_bearer_is_refused(
    anonymous: httpx.AsyncClient, admin: User, authorization: str
) -> None:
    response = await anonymous.get("/api/me", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.json()["type"] == "urn:vigil:problem:not-authenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("fields", "location"),
    [
        ({"name": "x" * 101}, "body.name"),
        ({"name": ""}, "body.name"),
        ({"name": "a\nb"}, "body.name"),
        ({"scopes": ["cameras:read", "root"]}, "body.scopes.1"),
        ({"scopes": []}, "body.scopes"),
        ({"scopes": ["live", "live"]}, "body.scopes"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "body.expires_at"),
        ({"expires_at": "9000-01-01T00:00:00Z"}, "body.expires_at"),
        ({"expires_at": "next week"}, "body.expires_at"),
        ({"secret": "mine"}, "body.secret"),
    ],
)
async def test_create_key_refuses_bad_input(
    client: httpx.AsyncClient, fields: Json, location: str
) -> None:
    body = {"name": "script", "scopes": ["live"], **fields}
    response = await client.post("/api/me/keys", json=body)
    assert response.status_code == 422, response.text
    assert [error["location"] for error in response.json()["errors"]] == [location]
    assert (await client.get("/api/me/keys")).json() == []


async def test_create_key_refuses_malformed_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/me/keys", content=b'{"name": "x", ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["type"] == "urn:vigil:problem:malformed-json"


async def test_no_keys_before_required_mfa(
    app: FastAPI, admin: User, services: Services, secret_watch: SecretWatch
) -> None:
    """A key would get round the second factor the organisation requires."""
    await services.auth.users.update_org(TEST_ORG, {"require_mfa": True})
    async with signed_in(app, admin.username, watch=secret_watch) as http:
        response = await http.post("/api/me/keys", json={"name": "k", "scopes": ["live"]})
        assert response.status_code == 403
        assert response.json()["type"] == "urn:vigil:problem:mfa-enrolment-required"
