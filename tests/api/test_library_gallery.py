"""What the library pages read beyond the library's own API tests: each event's counts and
cover, the groups a person may name, the file a browser shows (a view, not a download) and
a whole event as one ZIP."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.api.test_library import uploaded
from tests.backends import SQLITE_ONLY
from tests.conftest import TEST_ORG
from tests.library.media_samples import faststart_mp4, rotated_jpeg, slow_start_mp4
from tests.people import make_user, signed_in
from vigil.app import Services
from vigil.library.media import probe
from vigil.store.models import UserGroup


@pytest.fixture
async def classes(services: Services) -> dict[str, int]:
    """Classes 3A (with a parent) and 3B."""
    parent = await make_user(services, "parent-3a", "viewer")
    ids = {}
    for name, members in (("3A", [parent.id]), ("3B", [])):
        group = UserGroup(org_id=TEST_ORG, name=name, user_ids=members)
        await services.auth.access.add(group)
        ids[name] = group.id
    return ids


@pytest.fixture
async def parent(app: FastAPI, classes: dict[str, int]) -> AsyncIterator[httpx.AsyncClient]:
    async with signed_in(app, "parent-3a") as http:
        yield http


async def _event(client: httpx.AsyncClient, name: str, group_ids: list[int]) -> int:
    answer = await client.post(
        "/api/library/events",
        json={"name": name, "start": "2026-05-01T09:00:00Z", "group_ids": group_ids},
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


async def test_events_carry_their_counts_and_cover_and_a_parent_sees_only_their_classes(
    client: httpx.AsyncClient,
    parent: httpx.AsyncClient,
    services: Services,
    classes: dict[str, int],
    tmp_path: Path,
) -> None:
    both = await _event(client, "Sports day", [classes["3A"], classes["3B"]])
    empty = await _event(client, "Open day", [classes["3A"]])
    first = await uploaded(
        client, services, rotated_jpeg(tmp_path / "a.jpg").read_bytes(), event_id=str(both)
    )
    video = await uploaded(
        client, services, slow_start_mp4(tmp_path / "v.mp4").read_bytes(), event_id=str(both)
    )
    assert (first["status"], video["status"]) == ("ready", "ready")

    events = {e["id"]: e for e in (await client.get("/api/library/events")).json()}
    assert events[both]["counts"] == {"image": 1, "video": 1}
    assert events[both]["cover"]["item_id"] == video["id"]  # the newest
    cover = await client.get(events[both]["cover"]["thumb"])
    assert cover.status_code == 200
    assert cover.headers["content-type"] == "image/jpeg"
    assert events[empty]["counts"] == {}
    assert events[empty]["cover"] is None
    assert events[both]["group_ids"] == [classes["3A"], classes["3B"]]
    one = (await client.get(f"/api/library/events/{both}")).json()
    assert one["counts"] == {"image": 1, "video": 1}
    renamed = await client.patch(f"/api/library/events/{both}", json={"name": "Sports day!"})
    assert renamed.json()["counts"] == {"image": 1, "video": 1}

    # A parent of 3A: the event, with only their own class named; only their class to name.
    seen = {e["id"]: e for e in (await parent.get("/api/library/events")).json()}
    assert seen[both]["group_ids"] == [classes["3A"]]
    assert seen[both]["counts"] == {"image": 1, "video": 1}
    assert (await parent.get(seen[both]["cover"]["thumb"])).status_code == 200
    mine = (await parent.get("/api/library/groups")).json()
    assert mine == [{"id": classes["3A"], "name": "3A"}]
    everyone = (await client.get("/api/library/groups")).json()
    assert everyone == [{"id": classes["3A"], "name": "3A"}, {"id": classes["3B"], "name": "3B"}]


@SQLITE_ONLY  # files and their counting, not the database
async def test_the_web_file_of_a_picture_or_playable_video_is_its_original_counted_as_a_view(
    client: httpx.AsyncClient, services: Services, tmp_path: Path
) -> None:
    photo = rotated_jpeg(tmp_path / "a.jpg").read_bytes()
    item = await uploaded(client, services, photo)
    shown = await client.get(item["files"]["web"])
    assert shown.status_code == 200
    assert shown.content == photo
    assert shown.headers["content-type"] == "image/jpeg"
    assert "content-disposition" not in shown.headers  # shown, not saved
    after = (await client.get(f"/api/library/items/{item['id']}")).json()
    assert (after["views"], after["downloads"]) == (1, 0)

    # A faststart H.264 MP4 plays as it is: no copy is made, the web link is the original.
    fast = faststart_mp4(tmp_path / "fast.mp4")
    assert probe(fast).web_playable
    video = await uploaded(client, services, fast.read_bytes())
    played = await client.get(video["files"]["web"], headers={"Range": "bytes=0-99"})
    assert played.status_code == 206
    assert played.content == fast.read_bytes()[:100]
    # A video that needed a copy plays the copy.
    slow = await uploaded(client, services, slow_start_mp4(tmp_path / "slow.mp4").read_bytes())
    assert slow["files"]["web"].split("?")[0].endswith("/files/web")
    copy = await client.get(slow["files"]["web"])
    assert copy.content != (tmp_path / "slow.mp4").read_bytes()


@SQLITE_ONLY  # the archive, not the database
async def test_a_whole_event_downloads_as_one_zip_of_its_originals(
    client: httpx.AsyncClient,
    parent: httpx.AsyncClient,
    services: Services,
    classes: dict[str, int],
    tmp_path: Path,
) -> None:
    ours = await _event(client, "Trip", [classes["3A"]])
    theirs = await _event(client, "Other trip", [classes["3B"]])
    files = [
        rotated_jpeg(tmp_path / "a.jpg", offset=None).read_bytes(),
        rotated_jpeg(tmp_path / "b.jpg", offset="+01:00").read_bytes(),
    ]
    for data in files:
        await uploaded(client, services, data, filename="IMG_0001.JPG", event_id=str(ours))

    answer = await parent.get(f"/api/library/events/{ours}/download")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert answer.headers["content-disposition"] == "attachment; filename*=UTF-8''Trip.zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    assert archive.testzip() is None
    names = archive.namelist()
    assert sorted(names) == ["IMG_0001 (2).JPG", "IMG_0001.JPG"]
    got = sorted(hashlib.sha256(archive.read(n)).hexdigest() for n in names)
    assert got == sorted(hashlib.sha256(d).hexdigest() for d in files)
    items = (await client.get("/api/library/search", params={"event_id": ours})).json()["items"]
    assert [i["downloads"] for i in items] == [1, 1]

    hidden = await parent.get(f"/api/library/events/{theirs}/download")
    assert hidden.status_code == 404
    assert hidden.json()["type"] == "urn:vigil:problem:library-event-not-found"
