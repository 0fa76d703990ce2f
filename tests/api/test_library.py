"""The media library through the API: library events, uploads processed into items, search
with filters and facets, who sees what, quotas, share links, files on S3 and after a
lifecycle move, usage and analytics."""

from __future__ import annotations

import asyncio
import base64
import csv
import hashlib
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from tests.api.conftest import Json
from tests.conftest import TEST_ORG, SecretWatch
from tests.library.conftest import S3Server, s3_server  # noqa: F401 - the fixture
from tests.library.media_samples import phone_video, rotated_jpeg, slow_start_mp4
from tests.people import make_user, signed_in
from vigil.app import Services
from vigil.library.storage import StorageSettings
from vigil.link.messages import EventKind, EventRecord, EventSnapshot, EventStage
from vigil.settings import Settings
from vigil.store.cameras import CameraFields
from vigil.store.models import Export, Plan, UserGroup
from vigil.timeutil import now_ms

TUS = {"Tus-Resumable": "1.0.0"}


def metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


async def upload(http: httpx.AsyncClient, data: bytes, **meta: str) -> httpx.Response:
    """A whole upload in one PATCH, as a tus client does it with a large chunk size."""
    created = await http.post(
        "/api/uploads",
        headers={**TUS, "Upload-Length": str(len(data)), "Upload-Metadata": metadata(**meta)},
    )
    if created.status_code != 201:
        return created
    return await http.patch(
        created.headers["location"],
        content=data,
        headers={**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )


async def uploaded(http: httpx.AsyncClient, services: Services, data: bytes, **meta: str) -> Json:
    answer = await upload(http, data, **meta)
    assert answer.status_code == 204, answer.text
    await services.library.idle()
    item = await http.get(f"/api/library/items/{answer.headers['vigil-item']}")
    assert item.status_code == 200, item.text
    result: Json = item.json()
    return result


async def finished_export(
    services: Services, camera_id: int, title: str, name: str, tmp_path: Path
) -> Export:
    """A done export of one camera holding one short video, as the export machinery leaves it."""
    export = await services.exports.store.create(
        Export(
            org_id=TEST_ORG, title=title, camera_ids=[camera_id], start_ms=now_ms(),
            end_ms=now_ms() + 2000, burn_in=False, status="done", progress=1.0,
            requested_by="admin", requested_by_id=None, created_at=now_ms(),
            files=[{"name": name, "camera_id": camera_id}],
        )
    )  # fmt: skip
    folder = services.exports.folder(export.id)
    folder.mkdir(parents=True)
    (folder / name).write_bytes(slow_start_mp4(tmp_path / "clip.mp4").read_bytes())
    return export


@pytest.fixture
def photo(tmp_path: Path) -> bytes:
    return rotated_jpeg(tmp_path / "photo.jpg").read_bytes()


@pytest.fixture
async def classes(services: Services) -> dict[str, int]:
    """Two classes with a parent each: 3A and 3B."""
    ids = {}
    for name in ("3A", "3B"):
        parent = await make_user(services, f"parent-{name.lower()}", "viewer")
        group = UserGroup(org_id=TEST_ORG, name=name, user_ids=[parent.id])
        await services.auth.access.add(group)
        ids[name] = group.id
    return ids


@pytest.fixture
async def parent_3a(app: FastAPI, classes: dict[str, int]) -> AsyncIterator[httpx.AsyncClient]:
    async with signed_in(app, "parent-3a") as http:
        yield http


async def test_a_photo_uploaded_to_an_event_is_found_by_tag_event_and_words(
    client: httpx.AsyncClient, services: Services, photo: bytes, classes: dict[str, int]
) -> None:
    event = await client.post(
        "/api/library/events",
        json={
            "name": "Spring concert",
            "description": "The choir and the band",
            "place": "Main hall",
            "start": "2026-04-01T18:00:00Z",
            "group_ids": [classes["3A"]],
        },
    )
    assert event.status_code == 201, event.text
    event_id = event.json()["id"]
    item = await uploaded(
        client,
        services,
        photo,
        filename="IMG_0001.jpg",
        title="Choir on stage",
        description="The youngest singers in red jumpers",
        tags="choir,music",
        event_id=str(event_id),
    )
    assert item["status"] == "ready", item
    assert (item["width"], item["height"]) == (300, 400)  # upright, as the EXIF says
    assert item["event_id"] == event_id
    assert item["sha256"] == hashlib.sha256(photo).hexdigest()
    thumb = await client.get(item["files"]["thumb"])
    assert thumb.status_code == 200
    assert Image.open(io.BytesIO(thumb.content)).size == (240, 320)

    for words in ("choir", "spring concert", "jumpers", "sing"):
        found = (await client.get("/api/library/search", params={"q": words})).json()
        assert [i["id"] for i in found["items"]] == [item["id"]], words
    found = (await client.get("/api/library/search", params={"tag": "music"})).json()
    assert found["total"] == 1
    assert found["facets"]["kinds"] == {"image": 1}
    assert found["facets"]["tags"] == {"choir": 1, "music": 1}
    assert found["facets"]["events"] == {str(event_id): 1}
    nothing = (await client.get("/api/library/search", params={"q": "football"})).json()
    assert nothing["items"] == []
    assert found["exact"] is True
    bad = await client.get("/api/library/search", params={"q": "choir", "cursor": "bogus"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["location"] == "query.cursor"

    # The same photo again is a duplicate: the same item, nothing stored twice.
    again = await upload(client, photo, filename="copy.jpg")
    assert again.status_code == 204
    assert again.headers["vigil-item"] == str(item["id"])
    assert again.headers["vigil-duplicate"] == "true"


async def test_a_parent_sees_only_what_is_shared_with_their_class(
    client: httpx.AsyncClient,
    parent_3a: httpx.AsyncClient,
    services: Services,
    classes: dict[str, int],
    tmp_path: Path,
) -> None:
    async def event(name: str, group: str) -> int:
        answer = await client.post(
            "/api/library/events",
            json={"name": name, "start": "2026-05-01T09:00:00Z", "group_ids": [classes[group]]},
        )
        return int(answer.json()["id"])

    ours, theirs = await event("Sports day 3A", "3A"), await event("Sports day 3B", "3B")
    mine = await uploaded(
        client, services, rotated_jpeg(tmp_path / "a.jpg", offset=None).read_bytes(),
        title="Relay", tags="sport", event_id=str(ours),
    )  # fmt: skip
    other = await uploaded(
        client, services, rotated_jpeg(tmp_path / "b.jpg", offset="+01:00").read_bytes(),
        title="Relay too", tags="sport", event_id=str(theirs),
    )  # fmt: skip

    seen = (await parent_3a.get("/api/library/search", params={"q": "relay"})).json()
    assert [i["id"] for i in seen["items"]] == [mine["id"]]
    assert seen["total"] == 1
    events = (await parent_3a.get("/api/library/events")).json()
    assert [e["id"] for e in events] == [ours]
    hidden = await parent_3a.get(f"/api/library/items/{other['id']}")
    assert hidden.status_code == 404
    assert hidden.json()["type"] == "urn:vigil:problem:item-not-found"
    assert (await parent_3a.get(f"/api/library/events/{theirs}")).status_code == 404
    # Parents look; they do not change the library.
    edit = await parent_3a.patch(f"/api/library/items/{mine['id']}", json={"title": "x"})
    assert edit.status_code == 403
    refused = await upload(parent_3a, b"\xff\xd8\xff" + b"0" * 100, filename="x.jpg")
    assert refused.status_code == 403
    # Sharing the other item with 3A makes it appear for them.
    await client.patch(f"/api/library/items/{other['id']}", json={"group_ids": [classes["3A"]]})
    seen = (await parent_3a.get("/api/library/search", params={"q": "relay"})).json()
    assert sorted(i["id"] for i in seen["items"]) == sorted([mine["id"], other["id"]])


async def test_over_quota_disguised_and_corrupt_uploads_are_refused_with_reasons(
    client: httpx.AsyncClient, services: Services, photo: bytes, tmp_path: Path
) -> None:
    plan = Plan(name="Small", storage_bytes=len(photo) * 3, created_at=now_ms())
    await services.library.store.add(plan)
    await services.library.store.set_plan(TEST_ORG, plan.id)
    stored_before = sorted(p.name for p in (services.settings.data_dir / "uploads").glob("*"))

    big = await client.post(
        "/api/uploads",
        headers={**TUS, "Upload-Length": str(len(photo) * 10), "Upload-Metadata": ""},
    )
    assert big.status_code == 413, big.text
    body = big.json()
    assert body["remaining_bytes"] == len(photo) * 3
    assert f"only {len(photo) * 3} bytes are left" in body["detail"]
    after = sorted(p.name for p in (services.settings.data_dir / "uploads").glob("*"))
    assert after == stored_before
    # An upload under way counts: two started together cannot jointly exceed the plan.
    size = {**TUS, "Upload-Length": str(len(photo) * 2), "Upload-Metadata": ""}
    pending = await client.post("/api/uploads", headers=size)
    assert pending.status_code == 201
    second = await client.post("/api/uploads", headers=size)
    assert second.status_code == 413
    assert second.json()["remaining_bytes"] == len(photo)
    assert (await client.delete(pending.headers["location"], headers=TUS)).status_code == 204

    pdf = b"%PDF-1.7\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 200
    disguised = await upload(client, pdf, filename="holiday.mp4")
    assert disguised.status_code == 415
    assert "PDF" in disguised.json()["detail"]

    good = await uploaded(client, services, photo, filename="good.jpg")
    video = phone_video(tmp_path / "phone.mov").read_bytes()
    await services.library.store.set_plan(TEST_ORG, None)
    broken = await upload(client, video[: len(video) // 2], filename="cut.mov")
    assert broken.status_code == 204
    await services.library.idle()
    item = (await client.get(f"/api/library/items/{broken.headers['vigil-item']}")).json()
    assert item["status"] == "failed"
    assert "cut short" in item["error"]
    assert item["files"] is None
    # The rest of the library is unaffected.
    still = (await client.get(f"/api/library/items/{good['id']}")).json()
    assert still["status"] == "ready"


async def test_share_passwords_are_guessed_at_no_faster_than_sign_in_passwords(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    services: Services,
    settings: Settings,
    photo: bytes,
) -> None:
    """Each password tried on a share link is counted before it is checked: guesses sent
    all at once get 429 past the free ones, and the right password then waits too. A
    short password is refused when the link is made."""
    item = await uploaded(client, services, photo, title="Sports day")
    for nothing in ({}, {"days": 1}, {"item_id": item["id"], "event_id": 1}):
        refused = await client.post("/api/library/shares", json=nothing)
        assert refused.status_code == 422, nothing
        assert "exactly one of item_id and event_id" in refused.text
    short = await client.post(
        "/api/library/shares", json={"item_id": item["id"], "days": 1, "password": "1234"}
    )
    assert short.status_code == 422
    assert "password" in short.json()["errors"][0]["location"]
    made = await client.post(
        "/api/library/shares",
        json={"item_id": item["id"], "days": 1, "password": "long enough 42"},
    )
    assert made.status_code == 201, made.text
    url = made.json()["url"]

    async def guess(password: str) -> httpx.Response:
        return await anonymous.get(url, headers={"Share-Password": password})

    answers = await asyncio.gather(*(guess(f"guess-{i:04d}") for i in range(20)))
    free = settings.auth.free_login_failures
    assert sorted(a.status_code for a in answers) == [401] * free + [429] * (20 - free)
    held = await guess("long enough 42")
    assert held.status_code == 429
    assert int(held.headers["Retry-After"]) >= 1
    assert held.json()["type"] == "urn:vigil:problem:throttled"


async def test_share_links_expire_ask_for_their_password_and_count_views(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    services: Services,
    photo: bytes,
) -> None:
    item = await uploaded(client, services, photo, title="Prize giving")
    made = await client.post(
        "/api/library/shares", json={"item_id": item["id"], "days": 1, "password": "open sesame"}
    )
    assert made.status_code == 201, made.text
    url = made.json()["url"]
    assert (await anonymous.get(url)).status_code == 401
    assert (await anonymous.get(url, headers={"Share-Password": "wrong"})).status_code == 401
    shared = await anonymous.get(url, headers={"Share-Password": "open sesame"})
    assert shared.status_code == 200, shared.text
    (entry,) = shared.json()["items"]
    assert entry["title"] == "Prize giving"
    original = await anonymous.get(
        entry["files"]["original"], headers={"Share-Password": "open sesame"}
    )
    assert original.content == photo
    part = await anonymous.get(
        entry["files"]["original"],
        headers={"Share-Password": "open sesame", "Range": "bytes=0-99"},
    )
    assert part.status_code == 206
    assert part.content == photo[:100]
    assert (await client.get(f"/api/library/items/{item['id']}")).json()["downloads"] == 1
    links = (await client.get("/api/library/shares")).json()
    assert links[0]["views"] == 1
    audit = (await client.get("/api/audit", params={"action": "library.share.download"})).json()
    assert len(audit["entries"]) == 1

    revoked = await client.delete(f"/api/library/shares/{links[0]['id']}")
    assert revoked.status_code == 204
    gone = await anonymous.get(url, headers={"Share-Password": "open sesame"})
    assert gone.status_code == 410
    assert (await anonymous.get("/api/share/" + "x" * 43)).status_code == 404


async def test_usage_history_and_analytics(
    client: httpx.AsyncClient, services: Services, photo: bytes
) -> None:
    item = await uploaded(client, services, photo, title="Assembly")
    await client.get(item["files"]["original"])
    usage = (await client.get("/api/library/usage")).json()
    assert usage["by_kind"]["image"] == usage["library_bytes"] > len(photo)
    assert usage["limit_bytes"] is None
    await services.library.sample_usage()
    history = (await client.get("/api/library/usage/history")).json()
    assert history[-1]["library_bytes"] == usage["library_bytes"]
    text = (await client.get("/api/library/usage/history.csv")).text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["at", "library_bytes", "recordings_bytes"]
    assert int(rows[-1][1]) == usage["library_bytes"]
    report = (await client.get("/api/library/analytics")).json()
    assert report["uploads_per_uploader"][0]["items"] == 1
    assert report["storage"][-1]["library_bytes"] == usage["library_bytes"]


@pytest.fixture
def s3_settings(settings: Settings, s3_server: S3Server, tmp_path: Path) -> Settings:  # noqa: F811
    hot = s3_server.settings(prefix=f"t{now_ms()}", create_bucket=True).model_dump()
    settings.library.storage = StorageSettings(
        **hot,
        cold={"backend": "local", "root": tmp_path / "cold"},
        cold_after_days=1,
    )
    return settings


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_items_on_s3_and_after_a_lifecycle_move_are_viewable(
    s3_settings: Settings,
    services: Services,
    app: FastAPI,
    admin: Any,
    secret_watch: SecretWatch,
    photo: bytes,
) -> None:
    async with signed_in(app, admin.username, watch=secret_watch) as client:
        item = await uploaded(client, services, photo, title="Science fair")
        assert (await client.get(item["files"]["original"])).content == photo
        stored = await services.library.store.item(TEST_ORG, item["id"])
        assert stored.storage == "s3"
        # A day and more later, the item moves to the cold store and still opens.
        await services.library.store.update_item(item["id"], created_at=now_ms() - 2 * 86_400_000)
        assert await services.library.move_cold() == 1
        moved = await services.library.store.item(TEST_ORG, item["id"])
        assert moved.storage == "local-cold"
        assert (await client.get(item["files"]["original"])).content == photo
        thumb = await client.get(item["files"]["thumb"])
        assert thumb.headers["content-type"] == "image/jpeg"
        assert not await services.library.stores.open("s3").exists(moved.key)


async def test_a_detection_snapshot_and_an_export_are_saved_into_the_library_and_announced(
    client: httpx.AsyncClient, services: Services, tmp_path: Path
) -> None:
    announced: list[tuple[int, int | None]] = []

    async def listener(item: Any, event: Any) -> None:
        announced.append((item.id, event.id if event is not None else None))

    services.library.listeners.append(listener)
    trip = await client.post(
        "/api/library/events", json={"name": "School trip", "start": "2026-06-01T08:00:00Z"}
    )
    trip_id = trip.json()["id"]
    camera = await services.cameras.create(
        CameraFields(name="Gate", main_url="rtsp://127.0.0.1:9/x", enabled=False), TEST_ORG
    )
    assert services.node is not None
    key = f"events/{camera.id}/2026-06-01/saved.jpg"
    picture = rotated_jpeg(tmp_path / "snap.jpg", offset=None).read_bytes()
    (services.node.layout.root / key).parent.mkdir(parents=True)
    (services.node.layout.root / key).write_bytes(picture)
    await services.nodes.events_reported(
        "local",
        [EventRecord(
            uid="saved", camera_id=camera.id, stage=EventStage.END, kind=EventKind.OBJECT,
            label="dog", score=0.8, start_ms=now_ms() - 5000, end_ms=now_ms(),
            last_ms=now_ms(), snapshot=EventSnapshot(path=key, time_ms=now_ms() - 4000, score=0.8),
        )],
    )  # fmt: skip
    [event] = (await client.get("/api/events")).json()["events"]
    saved = await client.post(
        "/api/library/items/from-event", json={"event_id": event["id"], "library_event_id": trip_id}
    )
    assert saved.status_code == 201, saved.text
    await services.library.idle()
    item = (await client.get(f"/api/library/items/{saved.json()['id']}")).json()
    assert (item["source"], item["labels"], item["camera_id"]) == ("snapshot", ["dog"], camera.id)
    assert item["status"] == "ready"
    found = (await client.get("/api/library/search", params={"q": "dog gate"})).json()
    assert [i["id"] for i in found["items"]] == [item["id"]]

    export = await finished_export(services, camera.id, "Gate at noon", "gate.mp4", tmp_path)
    folder = services.exports.folder(export.id)
    saved = await client.post("/api/library/items/from-export", json={"export_id": export.id})
    assert saved.status_code == 201, saved.text
    await services.library.idle()
    clip = (await client.get(f"/api/library/items/{saved.json()['id']}")).json()
    assert (clip["kind"], clip["source"], clip["status"]) == ("video", "export", "ready")
    assert clip["title"] == "Gate at noon"
    assert (folder / "gate.mp4").exists()  # the export itself stays as it was
    assert announced == [(item["id"], trip_id), (clip["id"], None)]
    missing = await client.post("/api/library/items/from-export", json={"export_id": 999})
    assert missing.status_code == 404


async def test_an_export_of_a_deleted_camera_is_saved_into_the_library_without_its_camera(
    client: httpx.AsyncClient, services: Services, tmp_path: Path
) -> None:
    # Found by the API fuzz run: the item referred to the deleted camera, a 500.
    camera = await services.cameras.create(
        CameraFields(name="Gone", main_url="rtsp://127.0.0.1:9/x", enabled=False), TEST_ORG
    )
    export = await finished_export(services, camera.id, "Before it went", "gone.mp4", tmp_path)
    assert (await client.delete(f"/api/cameras/{camera.id}")).status_code == 204

    saved = await client.post("/api/library/items/from-export", json={"export_id": export.id})
    assert saved.status_code == 201, saved.text
    assert saved.json()["camera_id"] is None
    assert saved.json()["title"] == "Before it went"


async def test_a_plan_bounds_cameras_and_users(
    client: httpx.AsyncClient, services: Services
) -> None:
    plan = Plan(name="Tiny", max_cameras=1, max_users=1, created_at=now_ms())
    await services.library.store.add(plan)
    await services.library.store.set_plan(TEST_ORG, plan.id)
    camera = {"main_url": "rtsp://127.0.0.1:9/x", "enabled": False}
    assert (await client.post("/api/cameras", json={"name": "One", **camera})).status_code == 201
    second = await client.post("/api/cameras", json={"name": "Two", **camera})
    assert second.status_code == 409
    assert second.json()["type"] == "urn:vigil:problem:plan-limit"
    assert second.json()["limit"] == 1
    person = await client.post("/api/users", json={"username": "newcomer", "role": "viewer"})
    assert person.status_code == 409  # the admin alone fills a one-user plan
    assert "allows 1 users" in person.json()["detail"]
    cameras = (await client.get("/api/cameras")).json()
    assert [c["name"] for c in cameras] == ["One"]
