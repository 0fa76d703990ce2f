"""Admins manage their organisation's people: roles, invitations, disabling, MFA, keys."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from tests.conftest import TEST_ORG, SecretWatch
from tests.people import PASSWORD, api_key, make_user, signed_in
from vigil.app import Services
from vigil.auth import totp
from vigil.store.audit import AuditFilter
from vigil.store.models import AuditEntry, Invitation, User, UserGroup

NEW_PASSWORD = "copper-kettle-slowly-93"


async def audit(services: Services, action: str, org_id: int = TEST_ORG) -> list[AuditEntry]:
    return await services.auth.audit.query(org_id, AuditFilter(actions=[action]))


async def create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/users", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_admin_adds_people_and_only_admins_may_list_them(
    app: FastAPI, client: httpx.AsyncClient, services: Services, secret_watch: SecretWatch
) -> None:
    operator = await create(
        client,
        username="olga",
        role="operator",
        display_name="Olga Guard",
        email="olga@example.org",
        password=PASSWORD,
    )
    assert operator["invitation"] is None
    assert operator["user"]["has_password"] is True
    viewer = await create(client, username="vic", role="viewer", password=PASSWORD)

    people = (await client.get("/api/users")).json()
    assert [(p["username"], p["role"]) for p in people] == [
        ("admin", "admin"),
        ("olga", "operator"),
        ("vic", "viewer"),
    ]
    assert people[1]["email"] == "olga@example.org"
    assert all("password" not in key for p in people for key in p if key != "has_password")
    entries = await audit(services, "user.create")
    assert {(e.target, e.detail["role"]) for e in entries} == {
        (f"user:{operator['user']['id']}", "operator"),
        (f"user:{viewer['user']['id']}", "viewer"),
    }

    for name in ("olga", "vic"):
        async with signed_in(app, name, watch=secret_watch) as http:
            response = await http.get("/api/users")
            assert response.status_code == 403
            assert response.json()["type"] == "urn:vigil:problem:admin-only"
            assert (await http.post("/api/users", json={"username": "x", "role": "admin"})).status_code == 403  # fmt: skip


async def test_an_invited_person_sets_a_password_and_is_signed_in(
    app: FastAPI,
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    services: Services,
    secret_watch: SecretWatch,
) -> None:
    created = await create(client, username="ines", role="viewer", email="ines@example.org")
    invitation = created["invitation"]
    token = invitation["token"]
    secret_watch.add(token, NEW_PASSWORD)
    assert invitation["url"] == f"/invite#{token}"
    assert created["user"]["has_password"] is False
    user_id = created["user"]["id"]
    # Only its hash is kept, and no audit entry carries it.
    entry = (await audit(services, "user.create"))[0]
    assert token not in str(entry.detail)
    assert entry.detail["invited"] is True

    # No password yet: signing in fails like any wrong password.
    login = {"username": "ines", "password": NEW_PASSWORD}
    assert (await anonymous.post("/api/auth/login", json=login)).status_code == 401

    accept = {"token": token, "password": NEW_PASSWORD}
    response = await anonymous.post("/api/auth/invitation", json=accept)
    assert response.status_code == 200, response.text
    assert response.json()["user"]["username"] == "ines"
    me = await anonymous.get("/api/me")
    assert me.status_code == 200
    assert me.json()["role"] == "viewer"

    again = await anonymous.post("/api/auth/invitation", json=accept)
    assert again.status_code == 401
    assert (await client.get(f"/api/users/{user_id}")).json()["has_password"] is True
    async with signed_in(app, "ines", NEW_PASSWORD, watch=secret_watch) as http:
        assert (await http.get("/api/me")).status_code == 200


async def test_a_new_invitation_replaces_the_old_and_an_expired_one_fails(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    services: Services,
    secret_watch: SecretWatch,
) -> None:
    created = await create(client, username="ivo", role="operator")
    first = created["invitation"]["token"]
    user_id = created["user"]["id"]
    response = await client.post(f"/api/users/{user_id}/invitation")
    assert response.status_code == 201
    second = response.json()["token"]
    secret_watch.add(first, second)
    assert second != first
    assert [e.target for e in await audit(services, "user.invite")] == [f"user:{user_id}"]

    old = await anonymous.post("/api/auth/invitation", json={"token": first, "password": NEW_PASSWORD})  # fmt: skip
    assert old.status_code == 401
    async with services.db.write() as session:
        await session.execute(update(Invitation).values(expires_at=1))
    expired = await anonymous.post(
        "/api/auth/invitation", json={"token": second, "password": NEW_PASSWORD}
    )
    assert expired.status_code == 401
    assert expired.json()["type"] == "urn:vigil:problem:not-authenticated"


async def test_a_role_change_takes_effect_at_once(
    app: FastAPI, client: httpx.AsyncClient, services: Services, secret_watch: SecretWatch
) -> None:
    operator = await make_user(services, "otto", "operator")
    async with signed_in(app, "otto", watch=secret_watch) as http:
        assert (await http.get("/api/users")).status_code == 403
        response = await client.patch(f"/api/users/{operator.id}", json={"role": "admin"})
        assert response.status_code == 200, response.text
        assert response.json()["role"] == "admin"
        assert (await http.get("/api/users")).status_code == 200
        await client.patch(f"/api/users/{operator.id}", json={"role": "viewer"})
        assert (await http.get("/api/users")).status_code == 403
    entries = await audit(services, "user.update")
    assert [e.detail["role"] for e in entries] == [
        {"old": "admin", "new": "viewer"},
        {"old": "operator", "new": "admin"},
    ]
    assert entries[0].detail["fields"] == ["role"]


async def test_profile_changes_are_audited_by_field(
    client: httpx.AsyncClient, services: Services
) -> None:
    user = await make_user(services, "paula", "viewer")
    body = {"display_name": "Paula P.", "email": "paula@example.org"}
    response = await client.patch(f"/api/users/{user.id}", json=body)
    assert response.json()["display_name"] == "Paula P."
    cleared = await client.patch(f"/api/users/{user.id}", json={"email": None})
    assert cleared.json()["email"] is None
    fields = [e.detail["fields"] for e in await audit(services, "user.update")]
    assert fields == [["email"], ["display_name", "email"]]
    null_role = await client.patch(f"/api/users/{user.id}", json={"role": None})
    assert null_role.status_code == 422


async def test_disabling_someone_signs_them_out_at_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    services: Services,
    secret_watch: SecretWatch,
) -> None:
    user = await make_user(services, "dora", "operator")
    key = await api_key(services, user, ["cameras:read"], secret_watch)
    bearer = {"Authorization": f"Bearer {key}"}
    async with signed_in(app, "dora", watch=secret_watch) as http:
        assert (await http.get("/api/me")).status_code == 200
        assert (await anonymous.get("/api/me", headers=bearer)).status_code == 200
        response = await client.patch(f"/api/users/{user.id}", json={"disabled": True})
        assert response.status_code == 200
        assert response.json()["disabled"] is True
        assert (await http.get("/api/me")).status_code == 401
    assert (await anonymous.get("/api/me", headers=bearer)).status_code == 401
    assert (await client.get(f"/api/users/{user.id}/sessions")).json() == []
    login = {"username": "dora", "password": PASSWORD}
    assert (await anonymous.post("/api/auth/login", json=login)).status_code == 401
    assert (await audit(services, "user.update"))[0].detail["disabled"] is True

    await client.patch(f"/api/users/{user.id}", json={"disabled": False})
    assert (await anonymous.post("/api/auth/login", json=login)).status_code == 200


async def test_the_last_admin_stays_and_nobody_deletes_themselves(
    app: FastAPI, client: httpx.AsyncClient, admin: User, services: Services
) -> None:
    for body in ({"role": "operator"}, {"disabled": True}):
        response = await client.patch(f"/api/users/{admin.id}", json=body)
        assert response.status_code == 409, response.text
        assert response.json()["type"] == "urn:vigil:problem:last-admin"
    alone = await client.delete(f"/api/users/{admin.id}")
    assert alone.status_code == 409
    assert alone.json()["type"] == "urn:vigil:problem:last-admin"
    failures = await services.auth.audit.query(TEST_ORG, AuditFilter(outcome="failure"))
    assert {e.action for e in failures} == {"user.update", "user.delete"}

    # A disabled admin does not count.
    other = await make_user(services, "ada", "admin")
    await client.patch(f"/api/users/{other.id}", json={"disabled": True})
    assert (await client.patch(f"/api/users/{admin.id}", json={"role": "viewer"})).status_code == 409  # fmt: skip
    await client.patch(f"/api/users/{other.id}", json={"disabled": False})

    self_delete = await client.delete(f"/api/users/{admin.id}")
    assert self_delete.status_code == 409
    assert self_delete.json()["type"] == "urn:vigil:problem:cannot-delete-self"
    demoted = await client.patch(f"/api/users/{admin.id}", json={"role": "operator"})
    assert demoted.status_code == 200
    assert (await client.get("/api/users")).status_code == 403


async def test_deleting_someone_ends_their_access_and_group_memberships(
    app: FastAPI, client: httpx.AsyncClient, services: Services, secret_watch: SecretWatch
) -> None:
    user = await make_user(services, "dan", "viewer")
    group = await services.auth.access.add(
        UserGroup(org_id=TEST_ORG, name="parents", user_ids=[user.id])
    )
    assert (await client.get(f"/api/users/{user.id}")).json()["groups"] == [group.id]
    async with signed_in(app, "dan", watch=secret_watch) as http:
        response = await client.delete(f"/api/users/{user.id}")
        assert response.status_code == 204
        assert (await http.get("/api/me")).status_code == 401
    gone = await client.get(f"/api/users/{user.id}")
    assert gone.status_code == 404
    assert gone.json()["type"] == "urn:vigil:problem:user-not-found"
    group = await services.auth.access.get(UserGroup, TEST_ORG, group.id)
    assert group.user_ids == []
    entry = (await audit(services, "user.delete"))[0]
    assert (entry.target, entry.outcome) == (f"user:{user.id}", "success")


async def test_another_organisations_people_are_not_found(
    client: httpx.AsyncClient, services: Services, secret_watch: SecretWatch
) -> None:
    other_org = await services.auth.users.create_org("Other school")
    stranger = await make_user(services, "stranger", "admin", org_id=other_org.id)
    await api_key(services, stranger, ["people"], secret_watch)
    unknown = 999_999

    def same(one: httpx.Response, other: httpx.Response, their_id: int) -> None:
        assert one.status_code == other.status_code == 404
        a, b = one.json(), other.json()
        assert a["type"] == b["type"]
        assert a["detail"].replace(str(their_id), "N") == b["detail"].replace(str(unknown), "N")

    for method, suffix, body in [
        ("GET", "", None),
        ("PATCH", "", {"role": "viewer"}),
        ("DELETE", "", None),
        ("POST", "/invitation", None),
        ("DELETE", "/mfa", None),
        ("GET", "/sessions", None),
        ("DELETE", "/sessions", None),
    ]:
        theirs = await client.request(method, f"/api/users/{stranger.id}{suffix}", json=body)
        nobody = await client.request(method, f"/api/users/{unknown}{suffix}", json=body)
        same(theirs, nobody, stranger.id)
    assert "stranger" not in (await client.get("/api/users")).text
    assert (await client.get("/api/keys")).json() == []
    stranger_key = (await services.auth.keys.of_users([stranger.id]))[0]
    same(
        await client.delete(f"/api/keys/{stranger_key.id}"),
        await client.delete(f"/api/keys/{unknown}"),
        stranger_key.id,
    )
    assert (await services.auth.keys.get(stranger_key.id)).revoked_at is None  # type: ignore[union-attr]
    taken = await client.post("/api/users", json={"username": "STRANGER", "role": "viewer"})
    assert taken.status_code == 409
    assert taken.json()["type"] == "urn:vigil:problem:duplicate-user-name"


async def test_an_mfa_reset_lets_the_person_sign_in_without_a_code(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    services: Services,
    secret_watch: SecretWatch,
) -> None:
    user = await make_user(services, "mia", "operator")
    secret = totp.new_secret()
    secret_watch.add(secret)
    await services.auth.users.start_totp(user.id, services.auth.box.encrypt(secret))
    await services.auth.users.enable_totp(user.id, 0, [])
    login = {"username": "mia", "password": PASSWORD}
    assert (await anonymous.post("/api/auth/login", json=login)).status_code == 401
    assert (await client.get(f"/api/users/{user.id}")).json()["mfa_enabled"] is True

    assert (await client.delete(f"/api/users/{user.id}/mfa")).status_code == 204
    assert (await anonymous.post("/api/auth/login", json=login)).status_code == 200
    assert (await client.get(f"/api/users/{user.id}")).json()["mfa_enabled"] is False
    entry = (await audit(services, "mfa.reset"))[0]
    assert entry.target == f"user:{user.id}"


async def test_an_admin_signs_someone_out_everywhere(
    app: FastAPI, client: httpx.AsyncClient, services: Services, secret_watch: SecretWatch
) -> None:
    user = await make_user(services, "sam", "viewer")
    async with (
        signed_in(app, "sam", watch=secret_watch) as phone,
        signed_in(app, "sam", watch=secret_watch) as laptop,
    ):
        sessions = (await client.get(f"/api/users/{user.id}/sessions")).json()
        assert len(sessions) == 2
        assert not any(s["current"] for s in sessions)
        assert "token" not in str(sessions)
        assert (await client.delete(f"/api/users/{user.id}/sessions")).status_code == 204
        assert (await phone.get("/api/me")).status_code == 401
        assert (await laptop.get("/api/me")).status_code == 401
    entry = (await audit(services, "session.revoke_all"))[0]
    assert (entry.target, entry.detail["ended"]) == (f"user:{user.id}", 2)
    # Your own current session stays when you sign yourself out elsewhere.
    me = (await client.get("/api/me")).json()
    assert (await client.delete(f"/api/users/{me['id']}/sessions")).status_code == 204
    assert (await client.get("/api/me")).status_code == 200


async def test_keys_are_listed_without_secrets_and_revoked_at_once(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    services: Services,
    secret_watch: SecretWatch,
) -> None:
    user = await make_user(services, "kai", "operator")
    key = await api_key(services, user, ["cameras:read", "live"], secret_watch)
    bearer = {"Authorization": f"Bearer {key}"}
    assert (await anonymous.get("/api/me", headers=bearer)).status_code == 200

    listed = (await client.get("/api/keys")).json()
    assert len(listed) == 1
    assert listed[0]["username"] == "kai"
    assert listed[0]["scopes"] == ["cameras:read", "live"]
    assert listed[0]["revoked_at"] is None
    assert not {"secret", "secret_hash", "key", "token"} & set(listed[0])
    stored = (await services.auth.keys.of_users([user.id]))[0]
    assert stored.secret_hash not in str(listed)

    assert (await client.delete(f"/api/keys/{listed[0]['id']}")).status_code == 204
    assert (await anonymous.get("/api/me", headers=bearer)).status_code == 401
    assert (await client.get("/api/keys")).json()[0]["revoked_at"] is not None
    entry = (await audit(services, "key.revoke"))[0]
    assert (entry.target, entry.detail["user_id"]) == (f"key:{stored.id}", user.id)


async def test_an_admin_key_needs_the_people_scope(
    anonymous: httpx.AsyncClient, admin: User, services: Services, secret_watch: SecretWatch
) -> None:
    cameras_only = await api_key(services, admin, ["cameras:read"], secret_watch)
    people = await api_key(services, admin, ["people"], secret_watch)
    refused = await anonymous.get("/api/users", headers={"Authorization": f"Bearer {cameras_only}"})
    assert refused.status_code == 403
    assert refused.json()["type"] == "urn:vigil:problem:missing-scope"
    allowed = await anonymous.get("/api/users", headers={"Authorization": f"Bearer {people}"})
    assert allowed.status_code == 200


async def test_bad_input_is_refused_naming_the_field(client: httpx.AsyncClient) -> None:
    cases = [
        ({"username": "u" * 101, "role": "viewer"}, "body.username"),
        ({"username": "two words", "role": "viewer"}, "body.username"),
        ({"username": "ok", "role": "owner"}, "body.role"),
        ({"username": "ok", "role": "viewer", "email": "no-at-sign"}, "body.email"),
        ({"username": "ok", "role": "viewer", "email": "a@" + "b" * 319}, "body.email"),
        ({"username": "ok", "role": "viewer", "display_name": "x" * 201}, "body.display_name"),
        ({"username": "ok", "role": "viewer", "password": "short"}, "body.password"),
        ({"username": "ok", "role": "viewer", "password": "password123"}, "body.password"),
        ({"username": "ok", "role": "viewer", "is_admin": True}, "body.is_admin"),
    ]
    for body, location in cases:
        response = await client.post("/api/users", json=body)
        assert response.status_code == 422, (body, response.text)
        assert [e["location"] for e in response.json()["errors"]] == [location], response.text
    assert [u["username"] for u in (await client.get("/api/users")).json()] == ["admin"]
    assert (await client.get("/api/users/0")).status_code == 422


async def test_names_that_differ_only_in_case_are_one_name(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """ "Émile_t" and "émile_t" (a non-ASCII capital), or "ﬁona" and "FIONA" (a ligature),
    are the same person's name on every database: the second is a 409, and signing in
    with any spelling reaches the first."""
    emile = await create(client, username="Émile_t", role="viewer", password=PASSWORD)
    for clash in ("émile_t", "ÉMILE_T", "E\u0301mile_t"):
        answer = await client.post(
            "/api/users", json={"username": clash, "role": "viewer", "password": PASSWORD}
        )
        assert answer.status_code == 409, clash
        assert answer.json()["type"] == "urn:vigil:problem:duplicate-user-name"
    await create(client, username="ﬁona", role="viewer", password=PASSWORD)
    taken = await client.post(
        "/api/users", json={"username": "FIONA", "role": "viewer", "password": PASSWORD}
    )
    assert taken.status_code == 409
    renamed = await client.patch(f"/api/users/{emile['user']['id']}", json={"username": "fiona"})
    assert renamed.status_code == 409
    renamed = await client.patch(f"/api/users/{emile['user']['id']}", json={"username": "Émile"})
    assert renamed.status_code == 200
    renamed = await client.patch(f"/api/users/{emile['user']['id']}", json={"username": "Émile_t"})
    assert renamed.status_code == 200

    for spelling in ("Émile_t", "émile_t"):
        async with signed_in(app, spelling) as http:
            assert (await http.get("/api/me")).json()["id"] == emile["user"]["id"]
