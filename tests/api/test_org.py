"""The organisation and its sites: members read them, admins change them, strangers see none."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from tests.api.conftest import AddCamera
from tests.conftest import TEST_ORG, SecretWatch
from tests.people import api_key, make_user, signed_in
from vigil.app import Services
from vigil.store.audit import AuditFilter
from vigil.store.models import User

Json = dict[str, Any]


def _locations(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    return [error["location"] for error in response.json()["errors"]]


async def _entries(services: Services, action: str, org_id: int = TEST_ORG) -> list[Any]:
    return await services.auth.audit.query(org_id, AuditFilter(actions=[action]))


async def test_members_read_the_organisation_and_admins_rename_it(
    app: FastAPI, client: httpx.AsyncClient, services: Services, secret_watch: SecretWatch
) -> None:
    await make_user(services, "vera", "viewer")
    async with signed_in(app, "vera", watch=secret_watch) as viewer:
        org = await viewer.get("/api/org")
        assert org.json() == {"id": TEST_ORG, "name": "Test school", "require_mfa": False}
        refused = await viewer.patch("/api/org", json={"name": "Mine"})
        assert refused.status_code == 403
        assert refused.json()["type"] == "urn:vigil:problem:admin-only"

        renamed = await client.patch("/api/org", json={"name": " Hill School "})
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["name"] == "Hill School"
        assert (await viewer.get("/api/org")).json()["name"] == "Hill School"
        assert (await viewer.get("/api/me")).json()["org"]["name"] == "Hill School"

    await services.auth.users.create_org("Other school")
    taken = await client.patch("/api/org", json={"name": "other SCHOOL"})
    assert taken.status_code == 409
    assert _locations(await client.patch("/api/org", json={"name": "x" * 101})) == ["body.name"]
    assert _locations(await client.patch("/api/org", json={"name": None})) == ["body.name"]
    assert _locations(await client.patch("/api/org", json={"id": 2})) == ["body.id"]
    [entry] = await _entries(services, "org.update")
    assert entry.target == f"org:{TEST_ORG}"
    assert entry.detail["name"] == "Hill School"


async def test_requiring_mfa_applies_at_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    services: Services,
    admin: User,
    secret_watch: SecretWatch,
) -> None:
    await make_user(services, "olga", "operator")
    key = await api_key(services, admin, ["people"], secret_watch)
    async with signed_in(app, "olga", watch=secret_watch) as operator:
        assert (await operator.get("/api/me")).json()["mfa_enrolment_required"] is False
        on = await client.patch("/api/org", json={"require_mfa": True})
        assert on.status_code == 200, on.text
        assert on.json()["require_mfa"] is True

        # Everyone without a second factor must enrol before anything else, the admin too.
        for person in (operator, client):
            me = await person.get("/api/me")
            assert me.json()["mfa_enrolment_required"] is True
            assert me.json()["org"]["require_mfa"] is True
            blocked = await person.get("/api/cameras")
            assert blocked.status_code == 403
            assert blocked.json()["type"] == "urn:vigil:problem:mfa-enrolment-required"

        # An API key is not a sign-in: the admin's key turns it off again.
        off = await client.patch(
            "/api/org",
            json={"require_mfa": False},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert off.status_code == 200, off.text
        assert (await operator.get("/api/me")).json()["mfa_enrolment_required"] is False
        assert (await operator.get("/api/cameras")).status_code == 200
    entries = await _entries(services, "org.update")
    assert [e.detail["require_mfa"] for e in entries] == [False, True]  # newest first


async def test_sites_and_cameras_on_them(
    app: FastAPI,
    client: httpx.AsyncClient,
    services: Services,
    add_camera: AddCamera,
    secret_watch: SecretWatch,
) -> None:
    made = await client.post("/api/sites", json={"name": "North campus", "address": "1 Hill Rd"})
    assert made.status_code == 201, made.text
    site = made.json()
    assert site["name"] == "North campus"
    assert site["address"] == "1 Hill Rd"
    camera = await add_camera(enabled=False, site_id=site["id"])
    assert camera["site_id"] == site["id"]
    assert (await client.get(f"/api/cameras/{camera['id']}")).json()["site_id"] == site["id"]

    await make_user(services, "vera", "viewer")
    async with signed_in(app, "vera", watch=secret_watch) as viewer:
        assert (await viewer.get("/api/sites")).json() == [site]
        assert (await viewer.get(f"/api/sites/{site['id']}")).json() == site
        refused = await viewer.post("/api/sites", json={"name": "Mine"})
        assert refused.status_code == 403
        assert (await viewer.delete(f"/api/sites/{site['id']}")).status_code == 403

    changed = await client.patch(
        f"/api/sites/{site['id']}", json={"name": "North", "address": None}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() == {**site, "name": "North", "address": None}
    duplicate = await client.post("/api/sites", json={"name": "NORTH"})
    assert duplicate.status_code == 409
    south = (await client.post("/api/sites", json={"name": "South"})).json()
    moved = await client.patch(f"/api/cameras/{camera['id']}", json={"site_id": south["id"]})
    assert moved.json()["site_id"] == south["id"]
    cleared = await client.patch(f"/api/cameras/{camera['id']}", json={"site_id": None})
    assert cleared.json()["site_id"] is None
    await client.patch(f"/api/cameras/{camera['id']}", json={"site_id": site["id"]})

    # Deleting the site leaves its cameras on no site.
    assert (await client.delete(f"/api/sites/{site['id']}")).status_code == 204
    gone = await client.get(f"/api/sites/{site['id']}")
    assert gone.status_code == 404
    assert gone.json()["type"] == "urn:vigil:problem:site-not-found"
    assert (await client.get(f"/api/cameras/{camera['id']}")).json()["site_id"] is None
    assert [s["name"] for s in (await client.get("/api/sites")).json()] == ["South"]

    for action in ("site.create", "site.update", "site.delete"):
        assert await _entries(services, action), action
    assert await _entries(services, "camera.update")


async def test_bad_sites_are_refused_naming_the_field(
    client: httpx.AsyncClient, add_camera: AddCamera
) -> None:
    assert _locations(await client.post("/api/sites", json={"name": "x" * 101})) == ["body.name"]
    assert _locations(await client.post("/api/sites", json={"name": ""})) == ["body.name"]
    long_address = {"name": "A", "address": "y" * 501}
    assert _locations(await client.post("/api/sites", json=long_address)) == ["body.address"]
    site = (await client.post("/api/sites", json={"name": "A"})).json()
    assert _locations(await client.patch(f"/api/sites/{site['id']}", json={"name": None})) == [
        "body.name"
    ]
    no_site = await client.post(
        "/api/cameras", json={"name": "Nowhere", "main_url": "rtsp://192.0.2.1/x", "site_id": 999}
    )
    assert _locations(no_site) == ["body.site_id"]
    camera = await add_camera(enabled=False)
    no_site = await client.patch(f"/api/cameras/{camera['id']}", json={"site_id": 999})
    assert _locations(no_site) == ["body.site_id"]
    assert (await client.get("/api/sites/0")).status_code == 422


async def test_another_organisation_sees_none_of_our_sites(
    app: FastAPI,
    client: httpx.AsyncClient,
    services: Services,
    add_camera: AddCamera,
    secret_watch: SecretWatch,
) -> None:
    ours = (await client.post("/api/sites", json={"name": "Main"})).json()
    camera = await add_camera(enabled=False)
    other = await services.auth.users.create_org("Other school")
    await make_user(services, "mallory", "admin", org_id=other.id)
    async with signed_in(app, "mallory", watch=secret_watch) as stranger:
        assert (await stranger.get("/api/org")).json()["name"] == "Other school"
        assert (await stranger.get("/api/sites")).json() == []
        path = f"/api/sites/{ours['id']}"
        for response in (
            await stranger.get(path),
            await stranger.patch(path, json={"name": "Taken"}),
            await stranger.delete(path),
        ):
            assert response.status_code == 404
            assert response.json()["type"] == "urn:vigil:problem:site-not-found"
        # Their cameras cannot go on our site, nor can they touch our camera.
        on_ours = await stranger.post(
            "/api/cameras",
            json={"name": "Sneaky", "main_url": "rtsp://192.0.2.1/x", "site_id": ours["id"]},
        )
        assert _locations(on_ours) == ["body.site_id"]
        theirs = (await stranger.post("/api/sites", json={"name": "Main"})).json()
        assert (await stranger.get(f"/api/cameras/{camera['id']}")).status_code == 404
        renamed = await stranger.patch("/api/org", json={"name": "Renamed"})
        assert renamed.status_code == 200
    # Nor ours on theirs.
    on_theirs = await client.patch(f"/api/cameras/{camera['id']}", json={"site_id": theirs["id"]})
    assert _locations(on_theirs) == ["body.site_id"]
    assert (await client.get(path)).json()["name"] == "Main"
    assert (await client.get("/api/org")).json()["name"] == "Test school"
    assert await _entries(services, "site.create", other.id)
