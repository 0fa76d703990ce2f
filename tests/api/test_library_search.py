"""Library search through the API: camera and detection label filters and facets, the names
that go with facets, and suggestions while a search is typed; only what the caller may see."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.api.conftest import Json
from tests.api.test_library import classes, parent_3a, photo, uploaded  # noqa: F401 - fixtures
from tests.conftest import TEST_ORG
from tests.library.media_samples import rotated_jpeg
from vigil.app import Services
from vigil.auth.principal import Via
from vigil.library.service import NewItem
from vigil.store.cameras import CameraFields
from vigil.store.models import LibraryEvent, User
from vigil.timeutil import now_ms


async def snapshot(
    services: Services, admin: User, picture: bytes, camera_id: int, title: str, labels: list[str]
) -> int:
    """A camera's picture saved into the library (as the Events page saves a snapshot)."""
    library = services.library
    principal = await services.auth.user_principal(admin.id, Via.SESSION)
    assert principal is not None
    item = await library.save_picture(
        await library.viewer(principal),
        picture,
        NewItem(
            source="snapshot",
            filename=f"{title}.jpg",
            mime="image/jpeg",
            title=title,
            labels=labels,
            camera_id=camera_id,
        ),
    )
    await library.idle()
    return item.id


async def search(http: httpx.AsyncClient, **params: object) -> Json:
    answer = await http.get("/api/library/search", params=params)
    assert answer.status_code == 200, answer.text
    result: Json = answer.json()
    return result


async def test_cameras_and_labels_narrow_a_search_and_are_counted_with_their_names(
    client: httpx.AsyncClient, services: Services, admin: User, tmp_path: Path
) -> None:
    # Three different pictures: the library keeps one item per file.
    photos = [
        rotated_jpeg(tmp_path / f"{n}.jpg", offset=f"+0{n}:00").read_bytes() for n in (1, 2, 3)
    ]
    gate = await services.cameras.create(
        CameraFields(name="Front gate", main_url="rtsp://127.0.0.1:9/a", enabled=False),
        org_id=TEST_ORG,
    )
    yard = await services.cameras.create(
        CameraFields(name="Yard", main_url="rtsp://127.0.0.1:9/b", enabled=False),
        org_id=TEST_ORG,
    )
    await snapshot(services, admin, photos[0], gate.id, "Postman", ["person"])
    await snapshot(services, admin, photos[1], yard.id, "Fox at night", ["fox", "person"])
    await uploaded(client, services, photos[2], title="Fox drawing", filename="drawing.jpg")

    everything = await search(client)
    assert everything["facets"]["cameras"] == {str(gate.id): 1, str(yard.id): 1}
    assert everything["facets"]["labels"] == {"person": 2, "fox": 1}
    assert everything["names"]["cameras"] == {str(gate.id): "Front gate", str(yard.id): "Yard"}

    assert sorted(i["title"] for i in (await search(client, q="fox"))["items"]) == [
        "Fox at night", "Fox drawing",
    ]  # fmt: skip
    by_label = await search(client, label="fox")
    assert [i["title"] for i in by_label["items"]] == ["Fox at night"]
    assert by_label["facets"]["cameras"] == {str(yard.id): 1}
    both = await search(client, label=["person", "fox"])
    assert both["total"] == 1
    by_camera = await search(client, camera_id=gate.id, sort="newest")
    assert [i["title"] for i in by_camera["items"]] == ["Postman"]
    assert by_camera["facets"]["labels"] == {"person": 1}
    # A filter naming another school's camera or event finds nothing and names nothing.
    other_org = await services.auth.users.create_org("Other school")
    theirs = await services.cameras.create(
        CameraFields(name="Their secret camera", main_url="rtsp://127.0.0.1:9/c", enabled=False),
        org_id=other_org.id,
    )
    event = LibraryEvent(
        org_id=other_org.id, name="Their secret event", start_ms=now_ms(), group_ids=[],
        created_at=now_ms(), updated_at=now_ms(),
    )  # fmt: skip
    await services.library.store.add(event)
    foreign = await search(client, camera_id=theirs.id, event_id=event.id)
    assert foreign["items"] == []
    assert foreign["names"] == {"events": {}, "cameras": {}}
    bad = await client.get("/api/library/search", params={"label": "x\x00y"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["location"] == "query.label.0"


async def test_suggestions_name_tags_events_cameras_labels_and_items_the_caller_may_see(
    client: httpx.AsyncClient,
    parent_3a: httpx.AsyncClient,  # noqa: F811
    services: Services,
    classes: dict[str, int],  # noqa: F811
    photo: bytes,  # noqa: F811
) -> None:
    async def event(name: str, group: str) -> int:
        answer = await client.post(
            "/api/library/events",
            json={"name": name, "start": "2026-05-01T09:00:00Z", "group_ids": [classes[group]]},
        )
        assert answer.status_code == 201, answer.text
        return int(answer.json()["id"])

    sports = await event("Sports Day 2026", "3A")
    bee = await event("Spelling bee", "3B")
    spring = await event("Spring fair", "3A")  # no items
    relay = await uploaded(
        client, services, photo, title="Relay start", tags="sprint,athletics",
        event_id=str(sports),
    )  # fmt: skip

    async def suggest(http: httpx.AsyncClient, q: str) -> Json:
        answer = await http.get("/api/library/search/suggest", params={"q": q})
        assert answer.status_code == 200, answer.text
        result: Json = answer.json()
        return result

    found = await suggest(client, "sp")
    assert found["tags"] == [{"value": "sprint", "count": 1}]
    assert [(e["name"], e["count"]) for e in found["events"]] == [
        ("Sports Day 2026", 1), ("Spelling bee", 0), ("Spring fair", 0),
    ]  # fmt: skip
    assert [i["title"] for i in found["items"]] == ["Relay start"]
    assert found["items"][0]["event_id"] == sports
    thumb = await client.get(found["items"][0]["thumb"])
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/jpeg"
    # Every word typed begins a word of the name, the last one too.
    found = await suggest(client, "sports da")
    assert [e["id"] for e in found["events"]] == [sports]
    assert found["tags"] == []
    assert (await suggest(client, "athl"))["tags"] == [{"value": "athletics", "count": 1}]
    assert await suggest(client, "  ") == {
        "tags": [], "labels": [], "events": [], "cameras": [], "items": [],
    }  # fmt: skip

    # A parent of 3A: their class's events and items only; a filter naming another class's
    # event finds nothing and names nothing.
    found = await suggest(parent_3a, "sp")
    assert [e["id"] for e in found["events"]] == [sports, spring]
    assert [i["id"] for i in found["items"]] == [relay["id"]]
    hidden = await search(parent_3a, event_id=bee)
    assert (hidden["items"], hidden["names"]["events"]) == ([], {})
    assert (await search(parent_3a, event_id=sports))["names"]["events"] == {
        str(sports): "Sports Day 2026"
    }
