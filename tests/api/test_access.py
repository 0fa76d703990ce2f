"""Who may call what: every route in the OpenAPI schema, for every kind of caller, against
an explicit table. A route missing from the table fails the suite.

Callers: anonymous; a viewer and an operator of the test organisation (granted rights on its
camera); its admin; another organisation's admin; and API keys of the admin with every scope
and with none. Outcomes: A allowed (anything but 401/403, and no "not found" that hides a
thing), U 401, F 403, N 404 that hides (the same answer as for an id that does not exist).
"""

from __future__ import annotations

import functools
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from tests.backends import SQLITE_ONLY
from tests.conftest import TEST_ORG, Seed
from tests.people import PASSWORD, grant
from vigil.api.app import create_app
from vigil.app import Services
from vigil.auth import passwords
from vigil.auth.permissions import ALL_SCOPES, Permission, Role
from vigil.auth.principal import Principal, Via
from vigil.auth.tokens import new_api_key, token_hash
from vigil.exports.manifest import MANIFEST
from vigil.link.messages import BoxAt, EventKind, EventRecord, EventSnapshot, EventStage
from vigil.settings import Settings
from vigil.store.audit import Actor
from vigil.store.cameras import CameraFields
from vigil.store.events import EventFilter
from vigil.store.models import (
    Event,
    Export,
    Grant,
    LibraryEvent,
    MediaItem,
    ShareLink,
    Upload,
    User,
    UserGroup,
)
from vigil.store.preferences import PreferenceStore
from vigil.timeutil import iso, now_ms

ROLES = ("anonymous", "viewer", "operator", "admin", "other_admin", "key", "key_no_scope")

# One line per route: the outcome for each caller, in the order of ROLES.
#                                                            anon view oper admn othr key nokey
EXPECTED: dict[tuple[str, str], str] = {
    ("GET", "/api/health"):                                     "A A A A A A A",
    ("POST", "/api/auth/login"):                                "A A A A A A A",
    ("POST", "/api/auth/logout"):                               "U A A A A A A",
    ("GET", "/api/auth/setup"):                                 "A A A A A A A",
    ("POST", "/api/auth/setup"):                                "A A A A A A A",
    ("POST", "/api/auth/invitation"):                           "A A A A A A A",
    ("GET", "/api/me"):                                         "U A A A A A A",
    ("PATCH", "/api/me"):                                       "U A A A A F F",
    ("POST", "/api/me/password"):                               "U A A A A F F",
    ("GET", "/api/me/sessions"):                                "U A A A A F F",
    ("DELETE", "/api/me/sessions"):                             "U A A A A F F",
    ("DELETE", "/api/me/sessions/{session_id}"):                "U N N A N F F",
    ("GET", "/api/me/keys"):                                    "U A A A A F F",
    ("POST", "/api/me/keys"):                                   "U A A A A F F",
    ("DELETE", "/api/me/keys/{key_id}"):                        "U N N A N F F",
    ("GET", "/api/me/mfa"):                                     "U A A A A F F",
    ("POST", "/api/me/mfa/totp"):                               "U A A A A F F",
    ("POST", "/api/me/mfa/totp/confirm"):                       "U A A A A F F",
    ("POST", "/api/me/mfa/recovery-codes"):                     "U A A A A F F",
    ("POST", "/api/me/mfa/disable"):                            "U A A A A F F",
    ("GET", "/api/me/preferences"):                             "U A A A A F F",
    ("PUT", "/api/me/preferences"):                             "U A A A A F F",
    ("GET", "/api/me/views"):                                   "U A A A A F F",
    ("POST", "/api/me/views"):                                  "U A A A A F F",
    ("PATCH", "/api/me/views/{view_id}"):                       "U N N A N F F",
    ("DELETE", "/api/me/views/{view_id}"):                      "U N N A N F F",
    ("GET", "/api/users"):                                      "U F F A A A F",
    ("POST", "/api/users"):                                     "U F F A A A F",
    ("GET", "/api/users/{user_id}"):                            "U F F A N A F",
    ("PATCH", "/api/users/{user_id}"):                          "U F F A N A F",
    ("DELETE", "/api/users/{user_id}"):                         "U F F A N A F",
    ("POST", "/api/users/{user_id}/invitation"):                "U F F A N A F",
    ("DELETE", "/api/users/{user_id}/mfa"):                     "U F F A N A F",
    ("GET", "/api/users/{user_id}/sessions"):                   "U F F A N A F",
    ("DELETE", "/api/users/{user_id}/sessions"):                "U F F A N A F",
    ("GET", "/api/keys"):                                       "U F F A A A F",
    ("DELETE", "/api/keys/{key_id}"):                           "U F F A N A F",
    ("GET", "/api/audit"):                                      "U F F A A A F",
    ("GET", "/api/audit.csv"):                                  "U F F A A A F",
    ("GET", "/api/cameras"):                                    "U A A A A A F",
    ("POST", "/api/cameras"):                                   "U F F A A A F",
    ("POST", "/api/cameras/probe"):                             "U F F A A A F",
    ("POST", "/api/cameras/{camera_id}/probe"):                 "U F A A N A F",
    ("GET", "/api/cameras/{camera_id}"):                        "U A A A N A F",
    ("PATCH", "/api/cameras/{camera_id}"):                      "U F A A N A F",
    ("DELETE", "/api/cameras/{camera_id}"):                     "U F A A N A F",
    ("GET", "/api/cameras/{camera_id}/status"):                 "U A A A N A F",
    ("GET", "/api/cameras/{camera_id}/recordings"):             "U A A A N A F",
    ("GET", "/api/cameras/{camera_id}/segments/{segment_id}"):  "U A A A N A F",
    ("PATCH", "/api/cameras/{camera_id}/segments/{segment_id}"): "U F A A N A F",
    ("GET", "/api/cameras/{camera_id}/segments/{segment_id}/file"): "U A A A N A F",
    ("GET", "/api/cameras/{camera_id}/files/{path}"):           "U A A A N A F",
    ("POST", "/api/cameras/{camera_id}/recordings/protect"):    "U F A A N A F",
    ("POST", "/api/cameras/{camera_id}/recordings/unprotect"):  "U F A A N A F",
    ("GET", "/api/cameras/{camera_id}/vod.m3u8"):               "U A A A N A F",
    ("GET", "/api/cameras/{camera_id}/h264/{part}/{path}"):     "U A A A N A F",
    ("GET", "/api/cameras/{camera_id}/timeline"):               "U A A A N A F",
    ("GET", "/api/cameras/{camera_id}/segments/{segment_id}/preview.jpg"): "U A A A N A F",
    ("GET", "/api/cameras/{camera_id}/preview.jpg"):            "U A A A N A F",
    ("GET", "/api/cameras/{camera_id}/frame.jpg"):              "U A A A N A F",
    ("GET", "/api/cameras/{camera_id}/live/info"):              "U A A A N A F",
    ("GET", "/api/cameras/{camera_id}/snapshot.jpg"):           "U A A A N A F",
    ("GET", "/api/cameras/{camera_id}/live.m3u8"):              "U A A A N A F",
    ("GET", "/api/cameras/{camera_id}/live/init/{generation}.mp4"): "U A A A N A F",
    ("GET", "/api/cameras/{camera_id}/live/{sequence}.m4s"):    "U A A A N A F",
    ("GET", "/api/cameras/{camera_id}/storage"):                "U A A A N A F",
    ("GET", "/api/storage"):                                    "U F F A A A F",
    ("GET", "/api/system"):                                     "U F F A A A F",
    ("POST", "/api/exports"):                                   "U F A A N A F",
    ("GET", "/api/exports"):                                    "U A A A A A F",
    ("GET", "/api/exports/{export_id}"):                        "U N A A N A F",
    ("DELETE", "/api/exports/{export_id}"):                     "U N A A N A F",
    ("GET", "/api/exports/{export_id}/files/{name}"):           "U N A A N A F",
    ("GET", "/api/exports/{export_id}/manifest"):               "U N A A N A F",
    ("GET", "/api/cameras/{camera_id}/motion"):                 "U A A A N A F",
    ("GET", "/api/events"):                                     "U A A A A A F",
    ("GET", "/api/events/{event_id}"):                          "U A A A N A F",
    ("PATCH", "/api/events/{event_id}"):                        "U A A A N A F",
    ("DELETE", "/api/events/{event_id}"):                       "U F A A N A F",
    ("GET", "/api/events/{event_id}/snapshot.jpg"):             "U A A A N A F",
    ("POST", "/api/events/{event_id}/clip"):                    "U F A A N A F",
    ("GET", "/api/org"):                                        "U A A A A A A",
    ("PATCH", "/api/org"):                                      "U F F A A A F",
    ("GET", "/api/sites"):                                      "U A A A A A A",
    ("POST", "/api/sites"):                                     "U F F A A A F",
    ("GET", "/api/sites/{site_id}"):                            "U A A A N A A",
    ("PATCH", "/api/sites/{site_id}"):                          "U F F A N A F",
    ("DELETE", "/api/sites/{site_id}"):                         "U F F A N A F",
    ("GET", "/api/user-groups"):                                "U F F A A A F",
    ("POST", "/api/user-groups"):                               "U F F A A A F",
    ("GET", "/api/user-groups/{group_id}"):                     "U F F A N A F",
    ("PATCH", "/api/user-groups/{group_id}"):                   "U F F A N A F",
    ("DELETE", "/api/user-groups/{group_id}"):                  "U F F A N A F",
    ("GET", "/api/camera-groups"):                              "U F F A A A F",
    ("POST", "/api/camera-groups"):                             "U F F A A A F",
    ("GET", "/api/camera-groups/{group_id}"):                   "U F F A N A F",
    ("PATCH", "/api/camera-groups/{group_id}"):                 "U F F A N A F",
    ("DELETE", "/api/camera-groups/{group_id}"):                "U F F A N A F",
    ("GET", "/api/grants"):                                     "U F F A A A F",
    ("POST", "/api/grants"):                                    "U F F A A A F",
    ("GET", "/api/grants/{grant_id}"):                          "U F F A N A F",
    ("PATCH", "/api/grants/{grant_id}"):                        "U F F A N A F",
    ("DELETE", "/api/grants/{grant_id}"):                       "U F F A N A F",
    # tus uploads: operators and admins; an upload (the admin's here) is its creator's alone.
    ("OPTIONS", "/api/uploads"):                                "A A A A A A A",
    ("POST", "/api/uploads"):                                   "U F A A A A F",
    ("HEAD", "/api/uploads/{upload_id}"):                       "U F N A N A F",
    ("PATCH", "/api/uploads/{upload_id}"):                      "U F N A N A F",
    ("DELETE", "/api/uploads/{upload_id}"):                     "U F N A N A F",
    # The library: everyone of the organisation looks (viewers only at what is shared with
    # their groups); admins and operators change it; share links need no account.
    ("GET", "/api/library/events"):                             "U A A A A A F",
    ("POST", "/api/library/events"):                            "U F A A A A F",
    ("GET", "/api/library/events/{library_event_id}"):          "U N A A N A F",
    ("PATCH", "/api/library/events/{library_event_id}"):        "U F A A N A F",
    ("GET", "/api/library/events/{library_event_id}/download"): "U N A A N A F",
    ("GET", "/api/library/groups"):                             "U A A A A A F",
    ("GET", "/api/library/search"):                             "U A A A A A F",
    ("GET", "/api/library/search/suggest"):                     "U A A A A A F",
    ("POST", "/api/library/items/from-event"):                  "U F A A A A F",
    ("POST", "/api/library/items/from-export"):                 "U F A A A A F",
    ("GET", "/api/library/items/{item_id}"):                    "U N A A N A F",
    ("PATCH", "/api/library/items/{item_id}"):                  "U F A A N A F",
    ("DELETE", "/api/library/items/{item_id}"):                 "U F A A N A F",
    ("GET", "/api/library/items/{item_id}/files/{variant}"):    "U N A A N A F",
    ("POST", "/api/library/shares"):                            "U F A A A A F",
    ("GET", "/api/library/shares"):                             "U F A A A A F",
    ("DELETE", "/api/library/shares/{share_id}"):               "U F A A N A F",
    ("GET", "/api/library/usage"):                              "U A A A A A F",
    ("GET", "/api/library/usage/history"):                      "U F F A A A F",
    ("GET", "/api/library/usage/history.csv"):                  "U F F A A A F",
    ("GET", "/api/library/analytics"):                          "U F F A A A F",
    ("GET", "/api/share/{token}"):                              "A A A A A A A",
    ("GET", "/api/share/{token}/items/{item_id}/{variant}"):    "A A A A A A A",
}  # fmt: skip

# 404 answers that hide a thing (as opposed to "that file of yours is gone").
HIDING = {
    "camera-not-found",
    "export-not-found",
    "event-not-found",
    "user-not-found",
    "site-not-found",
    "user-group-not-found",
    "camera-group-not-found",
    "grant-not-found",
    "key-not-found",
    "session-not-found",
    "api-key-not-found",
    "upload-not-found",
    "item-not-found",
    "library-event-not-found",
    "share-not-found",
    "view-not-found",
}


@functools.cache
def _password_hash() -> str:
    return passwords.hash_password(PASSWORD)


@functools.cache
def _schema_routes() -> set[tuple[str, str]]:
    app = create_app(Settings(secret_key="x"))
    return {
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        for method in item
        if method in {"get", "head", "options", "post", "put", "patch", "delete"}
    }


def test_every_route_is_in_the_table() -> None:
    routes = _schema_routes()
    missing = sorted(routes - EXPECTED.keys())
    stale = sorted(EXPECTED.keys() - routes)
    assert not missing, f"routes without an access rule in EXPECTED: {missing}"
    assert not stale, f"EXPECTED names routes that no longer exist: {stale}"
    for route, row in EXPECTED.items():
        assert len(row.split()) == len(ROLES), route


@dataclass
class World:
    """The test organisation with its people, a camera with footage, an event, an export; another
    organisation's admin; a signed-in client per caller."""

    services: Services
    users: dict[str, User] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    export_range: tuple[int, int] = (0, 0)
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)


async def _user(services: Services, org_id: int, username: str, role: str) -> User:
    return await services.auth.users.create(org_id, username, role, _password_hash())


async def build_world(services: Services, settings: Settings, seed: Seed) -> World:
    world = World(services)
    other_org = await services.auth.users.create_org("Other school")
    for name, role in (("admin", "admin"), ("operator", "operator"), ("viewer", "viewer")):
        world.users[name] = await _user(services, TEST_ORG, name, role)
    world.users["other_admin"] = await _user(services, other_org.id, "other", "admin")
    camera = await services.cameras.create(
        CameraFields(name="Hall", main_url="rtsp://127.0.0.1:9/x", enabled=False), TEST_ORG
    )
    await services.cameras.create(
        CameraFields(name="Elsewhere", main_url="rtsp://127.0.0.1:9/y", enabled=False),
        other_org.id,
    )
    await grant(services, TEST_ORG, [camera.id], set(Permission), world.users["operator"].id)
    viewing = {Permission.VIEW_LIVE, Permission.VIEW_RECORDINGS}
    await grant(services, TEST_ORG, [camera.id], viewing, world.users["viewer"].id)
    start = now_ms() - 3_600_000
    [record, _] = await seed(camera.id, [(start, start + 2000), (start + 2000, start + 4000)])
    segment = await services.segments.by_path(camera.id, record.path)
    assert segment is not None
    world.export_range = (start, start + 4000)
    export = await services.exports.store.create(
        Export(
            org_id=TEST_ORG,
            title=None,
            camera_ids=[camera.id],
            start_ms=start,
            end_ms=start + 2000,
            burn_in=False,
            status="done",
            progress=1.0,
            requested_by="operator",
            requested_by_id=world.users["operator"].id,
            created_at=now_ms(),
            files=[],
        )
    )
    event = await _seed_event(services, camera.id, start + 1000)
    site = await services.auth.users.create_site(TEST_ORG, "Main building", None)
    teachers = await services.auth.access.add(
        UserGroup(org_id=TEST_ORG, name="Teachers", user_ids=[world.users["operator"].id])
    )
    [first_grant, *_] = await services.auth.access.of_org(Grant, TEST_ORG)
    # The admin's own session and key come first: ids 1, which no one else may touch.
    session = (await services.auth.start_session(world.users["admin"], Actor())).session
    key = await services.auth.keys.create(
        world.users["admin"].id, "backup", token_hash(new_api_key()), ["exports"], now_ms(), None
    )
    view = await PreferenceStore(services.db).add_view(
        world.users["admin"].id, "Gate", "4", [camera.id]
    )
    upload = await _seed_upload(services, settings, world.users["admin"])
    library_event, item, share, share_token = await _seed_library(services, world.users["admin"])
    folder = services.exports.folder(export.id)
    folder.mkdir(parents=True)
    (folder / MANIFEST).write_text("{}")
    world.params = {
        "camera_id": str(camera.id),
        "segment_id": str(segment.id),
        "path": record.path,
        "part": "init",
        "generation": "1",
        "sequence": "0",
        "export_id": str(export.id),
        "event_id": str(event.id),
        "name": MANIFEST,
        "site_id": str(site.id),
        # The first camera group (the operator's) has the same id as the user group.
        "group_id": str(teachers.id),
        "grant_id": str(first_grant.id),
        "user_id": str(world.users["viewer"].id),
        "session_id": str(session.id),
        "key_id": str(key.id),
        "view_id": str(view.id),
        "upload_id": upload.id,
        "library_event_id": str(library_event.id),
        "item_id": str(item.id),
        "variant": "thumb",
        "share_id": str(share.id),
        "token": share_token,
    }
    return world


async def _seed_library(
    services: Services, admin: User
) -> tuple[LibraryEvent, MediaItem, ShareLink, str]:
    """A library event shared with no group, a ready picture in it, and a share link."""
    library = services.library
    event = LibraryEvent(
        org_id=TEST_ORG, name="Open day", start_ms=now_ms(), group_ids=[], archived=False,
        created_at=now_ms(), updated_at=now_ms(),
    )  # fmt: skip
    await library.store.add(event)
    ok, jpeg = cv2.imencode(".jpg", np.full((90, 160, 3), 200, np.uint8))
    assert ok
    await library.stores.hot.put_bytes("1/access/thumb.jpg", jpeg.tobytes())
    item = MediaItem(
        org_id=TEST_ORG, event_id=event.id, kind="image", source="upload", title="Open day",
        tags=[], labels=[], captured_at=now_ms(), uploaded_by_id=admin.id, uploader="admin",
        group_ids=[], filename="a.jpg", mime="image/jpeg", size=len(jpeg), sha256="0" * 64,
        status="ready", progress=1.0, storage=library.stores.hot.name,
        key="1/access/thumb.jpg", thumb_key="1/access/thumb.jpg", stored_bytes=len(jpeg),
        views=0, downloads=0, created_at=now_ms(), updated_at=now_ms(),
    )  # fmt: skip
    await library.store.add(item)
    viewer = await library.viewer(
        Principal(admin.id, TEST_ORG, admin.username, Role.ADMIN, Via.SESSION)
    )
    share = await library.create_share(
        viewer, item_id=item.id, event_id=None, days=1, password=None
    )
    return event, item, share.link, share.token


async def _seed_upload(services: Services, settings: Settings, user: User) -> Upload:
    """A tus upload under way, as creating one leaves it: a row and an empty file."""
    upload = Upload(
        id=secrets.token_hex(16),
        org_id=user.org_id,
        user_id=user.id,
        length=1000,
        offset=0,
        meta={},
        created_at=now_ms(),
        expires_at=now_ms() + 3_600_000,
    )
    async with services.db.write() as session:
        session.add(upload)
    folder = settings.data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / upload.id).touch()
    return upload


async def _seed_event(services: Services, camera_id: int, start_ms: int) -> Event:
    """A person seen for a second inside the footage, with a real snapshot, as a node
    reports it."""
    assert services.node is not None
    key = f"{camera_id}/events/access.jpg"
    path = services.node.layout.root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, jpeg = cv2.imencode(".jpg", np.full((90, 160, 3), 128, np.uint8))
    assert ok
    path.write_bytes(jpeg.tobytes())
    box = BoxAt(time_ms=start_ms, x1=0.2, y1=0.2, x2=0.6, y2=0.9)
    await services.nodes.events_reported(
        services.node.name,
        [
            EventRecord(
                uid="access-event",
                camera_id=camera_id,
                stage=EventStage.END,
                kind=EventKind.OBJECT,
                label="person",
                score=0.9,
                start_ms=start_ms,
                end_ms=start_ms + 1000,
                last_ms=start_ms + 1000,
                boxes=[box],
                snapshot=EventSnapshot(path=key, time_ms=start_ms, score=0.9, box=box),
            )
        ],
    )
    [event] = await services.events.store.find(EventFilter(org_id=TEST_ORG))
    return event


async def _client(app: FastAPI, world: World, role: str) -> httpx.AsyncClient:
    services = world.services
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    if role in ("key", "key_no_scope"):
        key = new_api_key()
        scopes: list[str] = sorted(ALL_SCOPES) if role == "key" else []
        admin = world.users["admin"]
        await services.auth.keys.create(admin.id, role, token_hash(key), scopes, now_ms(), None)
        http.headers["Authorization"] = f"Bearer {key}"
    elif role != "anonymous":
        signed_in = await services.auth.start_session(world.users[role], Actor())
        http.cookies.set("vigil_session", signed_in.token)
        http.headers["X-CSRF-Token"] = signed_in.csrf
    return http


def _body(world: World, method: str, path: str) -> Any:
    if (method, path) == ("POST", "/api/exports"):
        start, end = world.export_range
        camera_ids = [int(world.params["camera_id"])]
        return {"camera_ids": camera_ids, "start": iso(start), "end": iso(end)}
    if method == "PATCH" and path.endswith(
        ("-groups/{group_id}", "/sites/{site_id}", "/views/{view_id}")
    ):
        return {"name": "Renamed"}  # valid: a caller from elsewhere must meet a 404, not a 422
    if method == "PATCH" and path.endswith("/users/{user_id}"):
        return {"display_name": "Renamed"}
    if method == "PATCH" and path.endswith("/grants/{grant_id}"):
        return {"permissions": ["view_live"]}
    if method == "PATCH" and path.startswith("/api/library/"):
        return {"description": "Renamed"}
    # Anything else: a body no route takes, so an allowed caller gets 422 and nothing changes.
    return {"access_check": True}


def _outcome(response: httpx.Response) -> str:
    if response.status_code == 401:
        return "U"
    if response.status_code == 403:
        return "F"
    if response.status_code == 404:
        kind = ""
        # A HEAD answer has no body to say which 404 it is: it reads as one that hides.
        if response.content and response.headers.get("content-type", "").startswith(
            "application/problem+json"
        ):
            kind = response.json()["type"].rsplit(":", 1)[-1]
        return "N" if kind in HIDING or kind in ("", "blank") else "A"
    return "A"


async def _call(app: FastAPI, world: World, role: str, method: str, path: str) -> str:
    url = path.format(**{k: v for k, v in world.params.items() if "{" + k + "}" in path})
    assert "{" not in url, f"no value for a parameter of {path}: add it to World.params"
    async with await _client(app, world, role) as http:
        content = None
        if method in ("POST", "PUT", "PATCH"):
            content = json.dumps(_body(world, method, path))
        response = await http.request(
            method, url, content=content, headers={"content-type": "application/json"}
        )
    return _outcome(response)


DELETES = sorted(route for route in EXPECTED if route[0] == "DELETE")


@SQLITE_ONLY
@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED.keys() - set(DELETES)))
async def test_access(
    method: str, path: str, settings: Settings, services: Services, seed: Seed
) -> None:
    app = create_app(settings, services)
    world = await build_world(services, settings, seed)
    got = [await _call(app, world, role, method, path) for role in ROLES]
    assert " ".join(got) == EXPECTED[(method, path)], dict(zip(ROLES, got, strict=True))


@SQLITE_ONLY
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path"), DELETES)
async def test_access_to_delete(
    method: str, path: str, role: str, settings: Settings, services: Services, seed: Seed
) -> None:
    """Each caller on a world of its own: an allowed deletion must not hide the thing from
    the next caller."""
    app = create_app(settings, services)
    world = await build_world(services, settings, seed)
    expected = EXPECTED[(method, path)].split()[ROLES.index(role)]
    assert await _call(app, world, role, method, path) == expected
