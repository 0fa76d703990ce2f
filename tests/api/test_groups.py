"""User groups, camera groups and grants: the rights model end to end, through the API."""

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
from vigil.timeutil import now_ms

Json = dict[str, Any]
MISSING_PERMISSION = "urn:vigil:problem:missing-permission"


async def _post(client: httpx.AsyncClient, path: str, body: Json) -> Json:
    response = await client.post(path, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _export(camera_id: int) -> Json:
    end = now_ms()
    return {"camera_ids": [camera_id], "start": (end - 3_600_000) / 1000, "end": end / 1000}


def _locations(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "urn:vigil:problem:invalid-request"
    return [error["location"] for error in response.json()["errors"]]


async def _actions(services: Services, org_id: int = TEST_ORG) -> list[str]:
    entries = await services.auth.audit.query(org_id, AuditFilter(limit=1000))
    return [entry.action for entry in entries]


async def _share(client: httpx.AsyncClient, user_id: int, camera: int) -> tuple[Json, Json]:
    """A class of one with view_live on one camera: (user group, grant)."""
    group = await _post(client, "/api/user-groups", {"name": "Class 4B", "user_ids": [user_id]})
    assert group["user_ids"] == [user_id]
    hall = await _post(client, "/api/camera-groups", {"name": "Hall", "camera_ids": [camera]})
    assert hall["camera_ids"] == [camera]
    grant = await _post(
        client,
        "/api/grants",
        {"camera_group_id": hall["id"], "user_group_id": group["id"], "permissions": ["view_live"]},
    )
    assert grant["permissions"] == ["view_live"]
    assert grant["user_id"] is None
    return group, grant


async def test_a_grant_gives_exactly_its_permissions(
    app: FastAPI,
    client: httpx.AsyncClient,
    services: Services,
    add_camera: AddCamera,
    secret_watch: SecretWatch,
) -> None:
    camera = (await add_camera(enabled=False))["id"]
    olga = await make_user(services, "olga", "operator")
    async with signed_in(app, "olga", watch=secret_watch) as operator:
        # No grant: the camera is not there at all.
        assert (await operator.get("/api/cameras")).json() == []
        missing = await operator.get(f"/api/cameras/{camera}")
        assert missing.status_code == 404
        assert missing.json()["type"] == "urn:vigil:problem:camera-not-found"

        _, grant = await _share(client, olga.id, camera)

        # Live only: the camera shows, its live view answers, nothing else is allowed.
        listed = (await operator.get("/api/cameras")).json()
        assert [c["id"] for c in listed] == [camera]
        info = await operator.get(f"/api/cameras/{camera}/live/info")
        assert info.status_code == 200, info.text
        assert info.json()["live"] is False
        export = await operator.post("/api/exports", json=_export(camera))
        assert export.status_code == 403, export.text
        assert export.json()["type"] == MISSING_PERMISSION
        rename = await operator.patch(f"/api/cameras/{camera}", json={"name": "Renamed"})
        assert rename.status_code == 403
        assert rename.json()["type"] == MISSING_PERMISSION

        # Adding configure lets the operator change the camera, at once.
        changed = await client.patch(
            f"/api/grants/{grant['id']}", json={"permissions": ["view_live", "configure"]}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["permissions"] == ["configure", "view_live"]
        rename = await operator.patch(f"/api/cameras/{camera}", json={"name": "Renamed"})
        assert rename.status_code == 200, rename.text

    actions = await _actions(services)
    for action in ("group.create", "camera_group.create", "grant.create", "grant.update"):
        assert action in actions
    [created] = await services.auth.audit.query(TEST_ORG, AuditFilter(actions=["grant.create"]))
    assert created.detail["permissions"] == ["view_live"]
    assert created.target == f"grant:{grant['id']}"
    [updated] = await services.auth.audit.query(TEST_ORG, AuditFilter(actions=["grant.update"]))
    assert updated.detail["permissions"] == ["configure", "view_live"]


async def test_leaving_the_group_or_losing_the_grant_ends_access_at_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    services: Services,
    add_camera: AddCamera,
    secret_watch: SecretWatch,
) -> None:
    camera = (await add_camera(enabled=False))["id"]
    olga = await make_user(services, "olga", "operator")
    group, grant = await _share(client, olga.id, camera)
    async with signed_in(app, "olga", watch=secret_watch) as operator:
        assert (await operator.get(f"/api/cameras/{camera}")).status_code == 200

        # Out of the group: out of sight, at once.
        emptied = await client.patch(f"/api/user-groups/{group['id']}", json={"user_ids": []})
        assert emptied.status_code == 200
        assert emptied.json()["user_ids"] == []
        assert (await operator.get(f"/api/cameras/{camera}")).status_code == 404
        assert (await operator.get("/api/cameras")).json() == []

        # Back in, then the grant goes: out of sight again.
        back = await client.patch(f"/api/user-groups/{group['id']}", json={"user_ids": [olga.id]})
        assert back.status_code == 200
        assert (await operator.get(f"/api/cameras/{camera}")).status_code == 200
        assert (await client.delete(f"/api/grants/{grant['id']}")).status_code == 204
        assert (await operator.get(f"/api/cameras/{camera}")).status_code == 404
        assert (await client.get(f"/api/grants/{grant['id']}")).status_code == 404

    [deleted] = await services.auth.audit.query(TEST_ORG, AuditFilter(actions=["grant.delete"]))
    assert deleted.detail["permissions"] == ["view_live"]
    assert (
        len(await services.auth.audit.query(TEST_ORG, AuditFilter(actions=["group.update"]))) == 2
    )


async def test_a_viewer_never_gets_more_than_the_role_allows(
    app: FastAPI,
    client: httpx.AsyncClient,
    services: Services,
    add_camera: AddCamera,
    secret_watch: SecretWatch,
) -> None:
    camera = (await add_camera(enabled=False))["id"]
    vera = await make_user(services, "vera", "viewer")
    cameras = await _post(client, "/api/camera-groups", {"name": "Gate", "camera_ids": [camera]})
    await _post(
        client,
        "/api/grants",
        {
            "camera_group_id": cameras["id"],
            "user_id": vera.id,
            "permissions": ["view_live", "export", "configure"],
        },
    )
    async with signed_in(app, "vera", watch=secret_watch) as viewer:
        assert (await viewer.get(f"/api/cameras/{camera}")).status_code == 200
        assert (await viewer.get(f"/api/cameras/{camera}/live/info")).status_code == 200
        export = await viewer.post("/api/exports", json=_export(camera))
        assert export.status_code == 403
        assert export.json()["type"] == MISSING_PERMISSION
        rename = await viewer.patch(f"/api/cameras/{camera}", json={"name": "Mine now"})
        assert rename.status_code == 403
        assert rename.json()["type"] == MISSING_PERMISSION


async def test_deleting_a_group_takes_its_grants_with_it(
    app: FastAPI,
    client: httpx.AsyncClient,
    services: Services,
    add_camera: AddCamera,
    secret_watch: SecretWatch,
) -> None:
    camera = (await add_camera(enabled=False))["id"]
    otto = await make_user(services, "otto", "operator")
    people = await _post(client, "/api/user-groups", {"name": "Night shift", "user_ids": [otto.id]})
    cameras = await _post(client, "/api/camera-groups", {"name": "Yard", "camera_ids": [camera]})
    grant = await _post(
        client,
        "/api/grants",
        {"camera_group_id": cameras["id"], "user_group_id": people["id"], "permissions": ["ptz"]},
    )
    async with signed_in(app, "otto", watch=secret_watch) as operator:
        assert (await operator.get(f"/api/cameras/{camera}")).status_code == 200
        assert (await client.delete(f"/api/user-groups/{people['id']}")).status_code == 204
        assert (await operator.get(f"/api/cameras/{camera}")).status_code == 404
    assert (await client.get(f"/api/grants/{grant['id']}")).status_code == 404
    assert (await client.get("/api/grants")).json() == []
    gone = await client.get(f"/api/user-groups/{people['id']}")
    assert gone.status_code == 404
    assert gone.json()["type"] == "urn:vigil:problem:user-group-not-found"
    assert (await client.delete(f"/api/camera-groups/{cameras['id']}")).status_code == 204
    assert (await client.get("/api/camera-groups")).json() == []
    actions = await _actions(services)
    assert "group.delete" in actions
    assert "camera_group.delete" in actions


async def test_groups_list_read_and_rename(
    client: httpx.AsyncClient, services: Services, add_camera: AddCamera
) -> None:
    camera = (await add_camera(enabled=False))["id"]
    ada = await make_user(services, "ada", "operator")
    people = await _post(client, "/api/user-groups", {"name": " Teachers ", "user_ids": [ada.id]})
    assert people["name"] == "Teachers"
    cameras = await _post(client, "/api/camera-groups", {"name": "Lab", "camera_ids": [camera]})
    assert (await client.get("/api/user-groups")).json() == [people]
    assert (await client.get(f"/api/user-groups/{people['id']}")).json() == people
    assert (await client.get("/api/camera-groups")).json() == [cameras]
    renamed = await client.patch(f"/api/camera-groups/{cameras['id']}", json={"name": "Lab 2"})
    assert renamed.json() == {**cameras, "name": "Lab 2"}
    assert (await client.get(f"/api/camera-groups/{cameras['id']}")).json()["name"] == "Lab 2"
    # A deleted camera drops out of its groups.
    assert (await client.delete(f"/api/cameras/{camera}")).status_code == 204
    assert (await client.get(f"/api/camera-groups/{cameras['id']}")).json()["camera_ids"] == []
    assert "camera_group.update" in await _actions(services)


async def test_bad_input_is_refused_naming_the_field(
    client: httpx.AsyncClient, services: Services, add_camera: AddCamera, admin: User
) -> None:
    camera = (await add_camera(enabled=False))["id"]
    cameras = await _post(client, "/api/camera-groups", {"name": "Gym", "camera_ids": [camera]})
    people = await _post(client, "/api/user-groups", {"name": "Coaches", "user_ids": []})

    too_long = await client.post("/api/user-groups", json={"name": "x" * 101, "user_ids": []})
    assert _locations(too_long) == ["body.name"]
    blank = await client.post("/api/camera-groups", json={"name": "  ", "camera_ids": []})
    assert _locations(blank) == ["body.name"]
    unknown_user = await client.post("/api/user-groups", json={"name": "A", "user_ids": [9999]})
    assert _locations(unknown_user) == ["body.user_ids"]
    repeated = await client.post(
        "/api/user-groups", json={"name": "A", "user_ids": [admin.id, admin.id]}
    )
    assert _locations(repeated) == ["body.user_ids"]
    unknown_camera = await client.post("/api/camera-groups", json={"name": "B", "camera_ids": [77]})
    assert _locations(unknown_camera) == ["body.camera_ids"]
    patched = await client.patch(f"/api/camera-groups/{cameras['id']}", json={"camera_ids": [77]})
    assert _locations(patched) == ["body.camera_ids"]
    null_name = await client.patch(f"/api/user-groups/{people['id']}", json={"name": None})
    assert _locations(null_name) == ["body.name"]
    extra = await client.post("/api/user-groups", json={"name": "C", "members": []})
    assert _locations(extra) == ["body.members"]

    base = {"camera_group_id": cameras["id"], "permissions": ["view_live"]}
    both = await client.post(
        "/api/grants", json={**base, "user_id": admin.id, "user_group_id": people["id"]}
    )
    assert _locations(both) == ["body"]
    assert "exactly one" in both.json()["detail"]
    neither = await client.post("/api/grants", json=base)
    assert _locations(neither) == ["body"]
    subject = {"user_group_id": people["id"]}
    unknown = await client.post(
        "/api/grants", json={**base, **subject, "permissions": ["view_live", "fly"]}
    )
    assert _locations(unknown) == ["body.permissions.1"]
    empty = await client.post("/api/grants", json={**base, **subject, "permissions": []})
    assert _locations(empty) == ["body.permissions"]
    twice = await client.post(
        "/api/grants", json={**base, **subject, "permissions": ["ptz", "ptz"]}
    )
    assert _locations(twice) == ["body.permissions"]
    no_group = await client.post("/api/grants", json={**base, **subject, "camera_group_id": 999})
    assert _locations(no_group) == ["body.camera_group_id"]
    no_people = await client.post("/api/grants", json={**base, "user_group_id": 999})
    assert _locations(no_people) == ["body.user_group_id"]
    no_user = await client.post("/api/grants", json={**base, "user_id": 999})
    assert _locations(no_user) == ["body.user_id"]
    assert (await client.get("/api/grants")).json() == []
    assert (await client.get("/api/user-groups/0")).status_code == 422
    assert (await client.patch("/api/grants/5", json={"permissions": ["ptz"]})).status_code == 404


async def test_only_admins_manage_groups(
    app: FastAPI, client: httpx.AsyncClient, services: Services, secret_watch: SecretWatch
) -> None:
    await make_user(services, "olga", "operator")
    async with signed_in(app, "olga", watch=secret_watch) as operator:
        for path in ("/api/user-groups", "/api/camera-groups", "/api/grants"):
            refused = await operator.get(path)
            assert refused.status_code == 403
            assert refused.json()["type"] == "urn:vigil:problem:admin-only"
        made = await operator.post("/api/user-groups", json={"name": "Mine", "user_ids": []})
        assert made.status_code == 403
    admin_user = await services.auth.users.by_username("admin")
    assert admin_user is not None
    key = await api_key(services, admin_user, ["cameras:read"], secret_watch)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        scoped = await http.get("/api/grants", headers=headers)
        assert scoped.status_code == 403
        assert scoped.json()["type"] == "urn:vigil:problem:missing-scope"
        people_key = await api_key(services, admin_user, ["people"], secret_watch)
        allowed = await http.get("/api/grants", headers={"Authorization": f"Bearer {people_key}"})
        assert allowed.status_code == 200


async def test_another_organisation_sees_none_of_it(
    app: FastAPI,
    client: httpx.AsyncClient,
    services: Services,
    add_camera: AddCamera,
    secret_watch: SecretWatch,
) -> None:
    camera = (await add_camera(enabled=False))["id"]
    olga = await make_user(services, "olga", "operator")
    people = await _post(client, "/api/user-groups", {"name": "Ours", "user_ids": [olga.id]})
    cameras = await _post(client, "/api/camera-groups", {"name": "Ours", "camera_ids": [camera]})
    grant = await _post(
        client,
        "/api/grants",
        {"camera_group_id": cameras["id"], "user_id": olga.id, "permissions": ["view_live"]},
    )
    other = await services.auth.users.create_org("Other school")
    await make_user(services, "mallory", "admin", org_id=other.id)
    async with signed_in(app, "mallory", watch=secret_watch) as stranger:
        for path in ("/api/user-groups", "/api/camera-groups", "/api/grants"):
            assert (await stranger.get(path)).json() == []
        for path, body in (
            (f"/api/user-groups/{people['id']}", {"name": "Taken"}),
            (f"/api/camera-groups/{cameras['id']}", {"name": "Taken"}),
            (f"/api/grants/{grant['id']}", {"permissions": ["configure"]}),
        ):
            assert (await stranger.get(path)).status_code == 404
            assert (await stranger.patch(path, json=body)).status_code == 404
            assert (await stranger.delete(path)).status_code == 404
        # Nor can it point at our people or cameras.
        theirs = await _post(stranger, "/api/camera-groups", {"name": "Theirs", "camera_ids": []})
        ours = await stranger.post("/api/camera-groups", json={"name": "X", "camera_ids": [camera]})
        assert _locations(ours) == ["body.camera_ids"]
        ours = await stranger.patch(
            f"/api/camera-groups/{theirs['id']}", json={"camera_ids": [camera]}
        )
        assert _locations(ours) == ["body.camera_ids"]
        ours = await stranger.post("/api/user-groups", json={"name": "X", "user_ids": [olga.id]})
        assert _locations(ours) == ["body.user_ids"]
        ours = await stranger.post(
            "/api/grants",
            json={"camera_group_id": theirs["id"], "user_id": olga.id, "permissions": ["ptz"]},
        )
        assert _locations(ours) == ["body.user_id"]
        ours = await stranger.post(
            "/api/grants",
            json={
                "camera_group_id": cameras["id"],
                "user_group_id": people["id"],
                "permissions": ["ptz"],
            },
        )
        assert _locations(ours) == ["body.camera_group_id"]
    # Ours are untouched, and the stranger's actions are in their own log, not ours.
    assert (await client.get(f"/api/grants/{grant['id']}")).json()["permissions"] == ["view_live"]
    assert (await client.get(f"/api/user-groups/{people['id']}")).json()["name"] == "Ours"
    assert "camera_group.create" in await _actions(services, other.id)
    assert len([a for a in await _actions(services) if a == "camera_group.create"]) == 1
