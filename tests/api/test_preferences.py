"""The live grid's preferences and views, remembered per person on the server: what each
person saves, what they may see of it, and the organisation's camera groups as views."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI

from tests.api.conftest import AddCamera
from tests.people import api_key, grant, make_user, signed_in
from vigil.app import Services
from vigil.auth.permissions import Permission
from vigil.store.models import User

Json = dict[str, Any]


def _invalid(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    return [error["location"] for error in response.json()["errors"]]


async def test_preferences_are_remembered_and_replaced_whole(
    client: httpx.AsyncClient, add_camera: AddCamera
) -> None:
    first, second = (await add_camera(enabled=False))["id"], (await add_camera(enabled=False))["id"]
    fresh = await client.get("/api/me/preferences")
    assert fresh.status_code == 200
    assert fresh.json() == {"layout": "4", "camera_order": [], "view": None}

    saved = {"layout": "9", "camera_order": [second, first], "view": "user:3"}
    response = await client.put("/api/me/preferences", json=saved)
    assert response.status_code == 200, response.text
    assert response.json() == saved
    assert (await client.get("/api/me/preferences")).json() == saved

    # Whole: what is left out returns to its default.
    await client.put("/api/me/preferences", json={"layout": "fit"})
    assert (await client.get("/api/me/preferences")).json() == {
        "layout": "fit",
        "camera_order": [],
        "view": None,
    }


async def test_bad_preferences_are_refused_with_the_field_named(
    client: httpx.AsyncClient, add_camera: AddCamera
) -> None:
    camera = (await add_camera(enabled=False))["id"]
    put = client.put
    assert _invalid(await put("/api/me/preferences", json={"layout": "25"})) == ["body.layout"]
    assert _invalid(await put("/api/me/preferences", json={"colour": "red"})) == ["body.colour"]
    repeated = {"camera_order": [camera, camera]}
    assert _invalid(await put("/api/me/preferences", json=repeated)) == ["body.camera_order"]
    too_many = {"camera_order": list(range(1, 502))}
    assert _invalid(await put("/api/me/preferences", json=too_many)) == ["body.camera_order"]
    assert _invalid(await put("/api/me/preferences", json={"camera_order": [0]})) == [
        "body.camera_order.0"
    ]
    unknown = await put("/api/me/preferences", json={"camera_order": [camera, 9999]})
    assert _invalid(unknown) == ["body.camera_order"]
    assert "9999" in unknown.text
    assert _invalid(await put("/api/me/preferences", json={"view": "camera:1"})) == ["body.view"]
    # Nothing was saved by the refused writes.
    assert (await client.get("/api/me/preferences")).json()["layout"] == "4"


async def test_two_writers_at_once_leave_one_of_their_preferences_whole(
    app: FastAPI, client: httpx.AsyncClient, add_camera: AddCamera
) -> None:
    cameras = [(await add_camera(enabled=False))["id"] for _ in range(3)]
    writes = [
        {"layout": "1", "camera_order": cameras, "view": None},
        {"layout": "16", "camera_order": cameras[::-1], "view": "user:1"},
    ]
    async with signed_in(app, "admin") as other:
        for _ in range(5):
            answers = await asyncio.gather(
                client.put("/api/me/preferences", json=writes[0]),
                other.put("/api/me/preferences", json=writes[1]),
            )
            assert [answer.status_code for answer in answers] == [200, 200]
            assert (await client.get("/api/me/preferences")).json() in writes


async def test_views_are_saved_changed_and_deleted(
    client: httpx.AsyncClient, add_camera: AddCamera
) -> None:
    first, second = (await add_camera(enabled=False))["id"], (await add_camera(enabled=False))["id"]
    created = await client.post(
        "/api/me/views", json={"name": "Gates", "layout": "4", "camera_ids": [second, first]}
    )
    assert created.status_code == 201, created.text
    view = created.json()
    assert view == {
        "id": view["id"],
        "kind": "user",
        "name": "Gates",
        "layout": "4",
        "camera_ids": [second, first],
    }
    changed = await client.patch(f"/api/me/views/{view['id']}", json={"camera_ids": [first]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["camera_ids"] == [first]
    assert changed.json()["name"] == "Gates"
    mine = [v for v in (await client.get("/api/me/views")).json() if v["kind"] == "user"]
    assert mine == [changed.json()]

    assert _invalid(await client.post("/api/me/views", json={"name": "x", "camera_ids": []})) == [
        "body.camera_ids"
    ]
    nameless = await client.post("/api/me/views", json={"name": " ", "camera_ids": [first]})
    assert _invalid(nameless) == ["body.name"]
    null = await client.patch(f"/api/me/views/{view['id']}", json={"name": None})
    assert _invalid(null) == ["body.name"]
    unknown = await client.patch(f"/api/me/views/{view['id']}", json={"camera_ids": [9999]})
    assert _invalid(unknown) == ["body.camera_ids"]

    assert (await client.delete(f"/api/me/views/{view['id']}")).status_code == 204
    gone = await client.delete(f"/api/me/views/{view['id']}")
    assert gone.status_code == 404
    assert gone.json()["type"] == "urn:vigil:problem:view-not-found"
    assert [v for v in (await client.get("/api/me/views")).json() if v["kind"] == "user"] == []


async def test_camera_groups_are_views_showing_only_what_each_person_may_see(
    app: FastAPI, client: httpx.AsyncClient, add_camera: AddCamera, services: Services
) -> None:
    hall, gate, office = [(await add_camera(enabled=False))["id"] for _ in range(3)]
    building = await client.post(
        "/api/camera-groups", json={"name": "Main building", "camera_ids": [office, hall, gate]}
    )
    assert building.status_code == 201, building.text
    viewer = await make_user(services, "parent", "viewer")
    await grant(services, viewer.org_id, [hall, gate], {Permission.VIEW_LIVE}, viewer.id)

    async with signed_in(app, "parent") as http:
        views = (await http.get("/api/me/views")).json()
        named = {v["name"]: v for v in views}
        assert named["Main building"] == {
            "id": building.json()["id"],
            "kind": "group",
            "name": "Main building",
            "layout": "fit",
            "camera_ids": [hall, gate],
        }
        assert all(office not in v["camera_ids"] for v in views)
        # A view of cameras the viewer cannot see cannot be saved, nor the admin's changed.
        refused = await http.post("/api/me/views", json={"name": "All", "camera_ids": [office]})
        assert _invalid(refused) == ["body.camera_ids"]
        assert "office" not in refused.text.lower()
        admins = await client.post("/api/me/views", json={"name": "Office", "camera_ids": [office]})
        hidden = await http.delete(f"/api/me/views/{admins.json()['id']}")
        assert hidden.status_code == 404
        # The viewer's own view and preferences are theirs alone.
        own = await http.post("/api/me/views", json={"name": "Mine", "camera_ids": [gate]})
        assert own.status_code == 201, own.text
        await http.put("/api/me/preferences", json={"layout": "1", "camera_order": [gate, hall]})
    assert own.json()["id"] not in [
        v["id"] for v in (await client.get("/api/me/views")).json() if v["kind"] == "user"
    ]
    assert (await client.get("/api/me/preferences")).json()["layout"] == "4"

    # A camera taken away disappears from the viewer's saved order and views.
    await client.delete(f"/api/cameras/{gate}")
    async with signed_in(app, "parent") as http:
        assert (await http.get("/api/me/preferences")).json()["camera_order"] == [hall]
        views = {v["name"]: v for v in (await http.get("/api/me/views")).json()}
        assert views["Mine"]["camera_ids"] == []
        assert views["Main building"]["camera_ids"] == [hall]


async def test_api_keys_cannot_read_or_change_preferences(
    client: httpx.AsyncClient, services: Services, admin: User, app: FastAPI
) -> None:
    key = await api_key(services, admin, ["cameras:read"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        http.headers["Authorization"] = f"Bearer {key}"
        assert (await http.get("/api/me/preferences")).status_code == 403
        assert (await http.get("/api/me/views")).status_code == 403
