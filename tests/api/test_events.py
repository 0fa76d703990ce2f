"""Detection events through the API: lists and filters, details, pictures, clips, review,
protection, deletion, who sees what; motion on a camera's recordings.

Events come in exactly as a node reports them (``services.nodes.events_reported``), each
with a real JPEG snapshot on the node's disk.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from tests.api.conftest import HOUR, AddCamera
from tests.conftest import TEST_ORG, Seed
from tests.exports.conftest import wait_export
from tests.people import grant, make_user, signed_in
from vigil.app import Services
from vigil.auth.permissions import Permission
from vigil.link.messages import (
    BoxAt,
    EventKind,
    EventRecord,
    EventSnapshot,
    EventStage,
    MotionSpan,
)
from vigil.store.models import Event
from vigil.timeutil import iso, now_ms

PROBLEM = "application/problem+json"
WIDTH, HEIGHT = 720, 480
BOX = (0.25, 0.25, 0.75, 0.75)
_OPEN = -1  # end_ms for an event still going on


def picture() -> bytes:
    """A grey picture with a dark diagonal, as a camera's JPEG."""
    image = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)
    cv2.line(image, (0, 0), (WIDTH - 1, HEIGHT - 1), (40, 40, 40), 9)
    ok, jpeg = cv2.imencode(".jpg", image)
    assert ok
    return jpeg.tobytes()


def decode(jpeg: bytes) -> np.ndarray[Any, Any]:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a JPEG"
    return image


Report = Callable[..., Awaitable[Event]]


@dataclass
class Reported:
    events: dict[str, Event]


@pytest.fixture
def report(services: Services) -> Report:
    """Report an event as a node does; answers the event as stored."""
    seen = Reported({})

    async def listen(event: Event, stage: EventStage) -> None:
        seen.events[event.uid] = event

    services.events.listeners.append(listen)

    async def add(
        camera_id: int,
        start_ms: int,
        end_ms: int | None = None,
        *,
        label: str = "person",
        kind: EventKind = EventKind.OBJECT,
        score: float = 0.8,
        zones: tuple[str, ...] = (),
        pre_ms: int = 0,
        post_ms: int = 0,
        snapshot: bool = True,
        uid: str | None = None,
    ) -> Event:
        assert services.node is not None
        uid = uid or uuid.uuid4().hex
        end = start_ms + 3000 if end_ms is None else (None if end_ms == _OPEN else end_ms)
        boxes = [
            BoxAt(time_ms=start_ms, x1=0.1, y1=0.2, x2=0.3, y2=0.6),
            BoxAt(time_ms=start_ms + 500, x1=BOX[0], y1=BOX[1], x2=BOX[2], y2=BOX[3]),
        ]
        shot = None
        if snapshot:
            key = f"{camera_id}/events/{uid}.jpg"
            path = services.node.layout.root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(picture())
            box = boxes[1] if kind is EventKind.OBJECT else None
            shot = EventSnapshot(path=key, time_ms=start_ms + 500, score=score, box=box)
        record = EventRecord(
            uid=uid,
            camera_id=camera_id,
            stage=EventStage.NEW if end is None else EventStage.END,
            kind=kind,
            label=label if kind is EventKind.OBJECT else "motion",
            score=score,
            zones=list(zones),
            start_ms=start_ms,
            end_ms=end,
            last_ms=end if end is not None else start_ms + 500,
            pre_ms=pre_ms,
            post_ms=post_ms,
            boxes=boxes if kind is EventKind.OBJECT else [],
            snapshot=shot,
        )
        await services.nodes.events_reported(services.node.name, [record])
        return seen.events[uid]

    return add


@pytest.fixture
def base() -> int:
    """An instant two hours ago, on a whole second."""
    return (now_ms() - 2 * HOUR) // 1000 * 1000


async def ids(client: httpx.AsyncClient, **params: Any) -> list[int]:
    response = await client.get("/api/events", params=params)
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()["events"]]


def problem_type(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith(PROBLEM), response.text
    return str(response.json()["type"]).rsplit(":", 1)[-1]


# -- lists
async def test_list_is_newest_first_and_says_what_each_event_is(
    client: httpx.AsyncClient, add_camera: AddCamera, report: Report, base: int
) -> None:
    camera = await add_camera(enabled=False, name="Gate")
    first = await report(camera["id"], base, base + 4500, zones=("drive", "door"), score=0.91)
    second = await report(camera["id"], base + 10_000, _OPEN, label="car", score=0.6)
    motion = await report(camera["id"], base + 5000, kind=EventKind.MOTION, snapshot=False)
    response = await client.get("/api/events")
    assert response.status_code == 200
    page = response.json()
    assert [e["id"] for e in page["events"]] == [second.id, motion.id, first.id]
    assert page["next_cursor"] is None
    done = page["events"][2]
    assert done == {
        **done,
        "camera_id": camera["id"],
        "camera_name": "Gate",
        "kind": "object",
        "label": "person",
        "score": 0.91,
        "zones": ["drive", "door"],
        "start": iso(base),
        "end": iso(base + 4500),
        "in_progress": False,
        "duration_seconds": 4.5,
        "reviewed": False,
        "protected": False,
    }
    assert "boxes" not in done  # the path is in the details
    snapshot = done["snapshot"]
    assert snapshot["time"] == iso(base + 500)
    assert snapshot["box"] == dict(zip(("x1", "y1", "x2", "y2"), BOX, strict=True))
    assert snapshot["url"].startswith(f"/api/events/{first.id}/snapshot.jpg?token=")
    assert snapshot["clean_url"] == snapshot["url"] + "&box=false"
    going_on = page["events"][0]
    assert (going_on["end"], going_on["in_progress"], going_on["label"]) == (None, True, "car")
    assert going_on["duration_seconds"] >= 2 * 3600 - 10 - 1  # until now
    assert page["events"][1]["kind"] == "motion"
    assert page["events"][1]["label"] == "motion"
    assert page["events"][1]["snapshot"] is None


async def test_every_filter(
    client: httpx.AsyncClient, add_camera: AddCamera, report: Report, base: int
) -> None:
    gate = (await add_camera(enabled=False))["id"]
    yard = (await add_camera(enabled=False))["id"]
    person = await report(gate, base, base + 2000, zones=("door",), score=0.9)
    car = await report(gate, base + 10_000, base + 12_000, label="car", score=0.5)
    dog = await report(yard, base + 20_000, base + 22_000, label="dog", zones=("lawn", "door"))
    motion = await report(yard, base + 30_000, kind=EventKind.MOTION, score=0.3)
    going_on = await report(yard, base + 40_000, _OPEN, score=0.7)
    everything = [going_on.id, motion.id, dog.id, car.id, person.id]
    assert await ids(client) == everything

    assert await ids(client, camera_id=gate) == [car.id, person.id]
    assert await ids(client, camera_id=[gate, yard]) == everything
    assert await ids(client, label="car") == [car.id]
    assert await ids(client, label=["dog", "person"]) == [going_on.id, dog.id, person.id]
    assert await ids(client, label="bicycle") == []
    assert await ids(client, zone="door") == [dog.id, person.id]
    assert await ids(client, zone="lawn") == [dog.id]
    assert await ids(client, kind="motion") == [motion.id]
    assert await ids(client, kind="object") == [going_on.id, dog.id, car.id, person.id]
    assert await ids(client, min_score=0.85) == [person.id]
    assert await ids(client, min_score=0.8) == [dog.id, person.id]
    assert await ids(client, min_score=0.5) == [going_on.id, dog.id, car.id, person.id]
    assert await ids(client, min_score=0) == everything
    # start: still going on at or after; end: started before. Either form of instant.
    assert await ids(client, start=iso(base + 21_000)) == [going_on.id, motion.id, dog.id]
    assert await ids(client, end=iso(base + 10_000)) == [person.id]
    window = {"start": str((base + 1000) / 1000), "end": str((base + 20_001) / 1000)}
    assert await ids(client, **window) == [dog.id, car.id, person.id]
    assert await ids(client, start=iso(base + 3_600_000)) == [going_on.id]  # open: lasts

    patched = await client.patch(f"/api/events/{car.id}", json={"reviewed": True})
    assert patched.status_code == 200
    patched = await client.patch(f"/api/events/{dog.id}", json={"protected": True})
    assert patched.status_code == 200
    assert await ids(client, reviewed="true") == [car.id]
    assert await ids(client, reviewed="false") == [going_on.id, motion.id, dog.id, person.id]
    assert await ids(client, protected=True) == [dog.id]
    assert await ids(client, protected=False) == [going_on.id, motion.id, car.id, person.id]
    combined = {"camera_id": yard, "kind": "object", "zone": "door", "protected": True}
    assert await ids(client, **combined) == [dog.id]


async def test_cursor_pages_are_stable_without_duplicates(
    client: httpx.AsyncClient, add_camera: AddCamera, report: Report, base: int
) -> None:
    camera = (await add_camera(enabled=False))["id"]
    events = []
    for n in range(7):  # pairs starting at the same instant: the id breaks the tie
        events.append(await report(camera, base + (n // 2) * 1000, snapshot=False))
    newest_first = sorted(events, key=lambda e: (e.start_ms, e.id), reverse=True)
    assert await ids(client) == [e.id for e in newest_first]

    pages: list[list[int]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor is not None:
            params["cursor"] = cursor
        page = (await client.get("/api/events", params=params)).json()
        pages.append([e["id"] for e in page["events"]])
        if len(pages) == 1:
            # Something new arrives while paging: later pages do not shift.
            await report(camera, base + 60_000, snapshot=False)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == [e.id for e in newest_first]
    # Exactly a page's worth left: no empty page after it.
    last = (await client.get("/api/events", params={"limit": 8})).json()
    assert len(last["events"]) == 8
    assert last["next_cursor"] is None


# -- one event
async def test_details_of_an_event(
    client: httpx.AsyncClient, add_camera: AddCamera, report: Report, base: int
) -> None:
    camera = await add_camera(enabled=False, name="Porch")
    event = await report(camera["id"], base, base + 4000, pre_ms=5000, post_ms=3000)
    response = await client.get(f"/api/events/{event.id}")
    assert response.status_code == 200
    details = response.json()
    assert details["id"] == event.id
    assert details["camera_name"] == "Porch"
    assert (details["start"], details["end"]) == (iso(base), iso(base + 4000))
    assert details["duration_seconds"] == 4.0
    assert details["boxes"] == [
        {"time": iso(base), "x1": 0.1, "y1": 0.2, "x2": 0.3, "y2": 0.6},
        {"time": iso(base + 500), "x1": 0.25, "y1": 0.25, "x2": 0.75, "y2": 0.75},
    ]
    assert details["footage"] == {"start": iso(base - 5000), "end": iso(base + 7000)}
    vod = details["links"]["vod_url"]
    assert vod.startswith(f"/api/cameras/{camera['id']}/vod.m3u8?token=")
    assert vod.endswith(f"&start={iso(base - 5000)}&end={iso(base + 7000)}")
    assert details["snapshot"]["url"].startswith(f"/api/events/{event.id}/snapshot.jpg?token=")


async def test_an_event_going_on_has_no_end_and_its_footage_runs_past_now(
    client: httpx.AsyncClient, add_camera: AddCamera, report: Report
) -> None:
    camera = (await add_camera(enabled=False))["id"]
    start = now_ms() - 20_000
    event = await report(camera, start, _OPEN, pre_ms=2000, post_ms=4000)
    before = now_ms()
    details = (await client.get(f"/api/events/{event.id}")).json()
    assert (details["end"], details["in_progress"]) == (None, True)
    assert 20 <= details["duration_seconds"] < 30
    assert details["footage"]["start"] == iso(start - 2000)
    assert details["footage"]["end"] >= iso(before + 4000)


async def test_snapshot_with_and_without_the_box(
    client: httpx.AsyncClient, add_camera: AddCamera, report: Report, base: int
) -> None:
    camera = (await add_camera(enabled=False))["id"]
    event = await report(camera, base)
    boxed = await client.get(f"/api/events/{event.id}/snapshot.jpg")
    clean = await client.get(f"/api/events/{event.id}/snapshot.jpg", params={"box": "false"})
    for response in (boxed, clean):
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["cache-control"].startswith("private")
    assert clean.content == picture()  # the file as the node stored it
    assert boxed.content != clean.content
    drawn, plain = decode(boxed.content), decode(clean.content)
    assert drawn.shape == plain.shape == (HEIGHT, WIDTH, 3)
    # The box's left edge, halfway down: green where the clean picture is grey.
    x, y = round(BOX[0] * WIDTH), round((BOX[1] + BOX[3]) / 2 * HEIGHT)
    blue, green, red = (int(v) for v in drawn[y, x])
    assert (green > 180, green - red > 100, green - blue > 100) == (True, True, True), (
        blue,
        green,
        red,
    )
    assert abs(int(plain[y, x][1]) - 128) < 10
    # Far from the box nothing changed (beyond JPEG's noise).
    assert np.abs(drawn[:40, -40:].astype(int) - plain[:40, -40:].astype(int)).max() < 16


async def test_motion_events_and_missing_pictures(
    client: httpx.AsyncClient,
    services: Services,
    add_camera: AddCamera,
    report: Report,
    base: int,
) -> None:
    camera = (await add_camera(enabled=False))["id"]
    motion = await report(camera, base, kind=EventKind.MOTION)
    boxed = await client.get(f"/api/events/{motion.id}/snapshot.jpg")
    clean = await client.get(f"/api/events/{motion.id}/snapshot.jpg?box=false")
    assert boxed.status_code == clean.status_code == 200
    assert boxed.content == clean.content  # no box to draw
    none = await report(camera, base + 5000, snapshot=False)
    response = await client.get(f"/api/events/{none.id}/snapshot.jpg")
    assert (response.status_code, problem_type(response)) == (404, "snapshot-not-found")
    gone = await report(camera, base + 9000)
    assert gone.snapshot_path is not None
    assert services.node is not None
    (services.node.layout.root / gone.snapshot_path).unlink()
    response = await client.get(f"/api/events/{gone.id}/snapshot.jpg")
    assert (response.status_code, problem_type(response)) == (404, "snapshot-not-found")


async def test_signed_snapshot_links_work_without_a_cookie_and_only_for_their_camera(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    add_camera: AddCamera,
    report: Report,
    base: int,
) -> None:
    gate = (await add_camera(enabled=False))["id"]
    yard = (await add_camera(enabled=False))["id"]
    event = await report(gate, base)
    other = await report(yard, base)
    snapshot = (await client.get(f"/api/events/{event.id}")).json()["snapshot"]
    boxed = await anonymous.get(snapshot["url"])
    clean = await anonymous.get(snapshot["clean_url"])
    assert boxed.status_code == clean.status_code == 200
    assert clean.content == picture() != boxed.content

    token = snapshot["url"].split("?token=", 1)[1]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    refused = await anonymous.get(f"/api/events/{event.id}/snapshot.jpg?token={forged}")
    assert (refused.status_code, problem_type(refused)) == (401, "not-authenticated")
    # The gate's link opens no event of the yard, nor one that does not exist.
    elsewhere = await anonymous.get(f"/api/events/{other.id}/snapshot.jpg?token={token}")
    assert elsewhere.status_code == 401
    missing = await anonymous.get(f"/api/events/{other.id + 999}/snapshot.jpg?token={token}")
    assert missing.status_code == 401
    assert (await anonymous.get(f"/api/events/{event.id}/snapshot.jpg")).status_code == 401
    # The link is for pictures only, not the event's details.
    details = await anonymous.get(f"/api/events/{event.id}?token={token}")
    assert details.status_code == 401
    refusals = (await client.get("/api/audit", params={"action": "link.refused"})).json()
    assert len(refusals["entries"]) >= 2


# -- clips
async def test_a_clip_exports_the_footage_window(
    client: httpx.AsyncClient, add_camera: AddCamera, report: Report, seed: Seed, base: int
) -> None:
    camera = (await add_camera(enabled=False, name="Lobby"))["id"]
    await seed(camera, [(base - 4000, base - 2000), (base - 2000, base), (base, base + 2000)])
    event = await report(camera, base - 1000, base + 500, pre_ms=1500, post_ms=1000)
    response = await client.post(f"/api/events/{event.id}/clip")
    assert response.status_code == 202, response.text
    created = response.json()
    assert response.headers["location"] == f"/api/exports/{created['id']}"
    assert created["camera_ids"] == [camera]
    assert (created["start"], created["end"]) == (iso(base - 2500), iso(base + 1500))
    assert created["title"] == f"person on Lobby at {iso(base - 1000)}"
    assert created["status"] in ("queued", "running")
    done = await wait_export(client, created["id"])
    assert done["status"] == "done", done["error"]
    assert [f["camera_id"] for f in done["files"]] == [camera]
    entries = (await client.get("/api/audit", params={"action": "export.create"})).json()
    assert entries["entries"][0]["detail"]["event"] == event.id

    titled = await client.post(f"/api/events/{event.id}/clip", json={"title": "  Delivery "})
    assert titled.status_code == 202
    assert titled.json()["title"] == "Delivery"


async def test_a_clip_of_an_event_going_on_ends_now(
    client: httpx.AsyncClient, add_camera: AddCamera, report: Report, seed: Seed
) -> None:
    camera = (await add_camera(enabled=False))["id"]
    start = now_ms() // 1000 * 1000 - 6000
    await seed(camera, [(start - 2000, start), (start, start + 2000)])
    event = await report(camera, start, _OPEN, pre_ms=1000, post_ms=5000)
    before = now_ms()
    response = await client.post(f"/api/events/{event.id}/clip", json={})
    after = now_ms()
    assert response.status_code == 202, response.text
    created = response.json()
    assert created["start"] == iso(start - 1000)
    assert iso(before) <= created["end"] <= iso(after)


async def test_a_clip_without_footage_is_a_problem(
    client: httpx.AsyncClient, add_camera: AddCamera, report: Report, base: int
) -> None:
    camera = (await add_camera(enabled=False))["id"]
    event = await report(camera, base)
    response = await client.post(f"/api/events/{event.id}/clip")
    assert (response.status_code, problem_type(response)) == (404, "no-footage")
    assert response.json()["camera_ids"] == [camera]
    bad = await client.post(f"/api/events/{event.id}/clip", json={"title": "x", "start": 1})
    assert bad.status_code == 422


# -- review, protection, deletion
async def segments_protected(client: httpx.AsyncClient, camera: int, base: int) -> list[bool]:
    params = {"start": iso(base - 60_000), "end": iso(base + 60_000)}
    body = (await client.get(f"/api/cameras/{camera}/recordings", params=params)).json()
    return [s["protected"] for s in body["segments"]]


async def test_review_and_protect(
    client: httpx.AsyncClient, add_camera: AddCamera, report: Report, seed: Seed, base: int
) -> None:
    camera = (await add_camera(enabled=False))["id"]
    times = [(base + n * 2000, base + (n + 1) * 2000) for n in range(-3, 6)]  # -6 s to 12 s
    await seed(camera, times)
    # Footage windows: [-2 s, 4 s) and [3 s, 9 s): they share the segment at 2-4 s.
    first = await report(camera, base, base + 3000, pre_ms=2000, post_ms=1000)
    second = await report(camera, base + 4000, base + 8000, pre_ms=1000, post_ms=1000)

    response = await client.patch(f"/api/events/{first.id}", json={"reviewed": True})
    assert response.status_code == 200
    assert (response.json()["reviewed"], response.json()["protected"]) == (True, False)
    assert await segments_protected(client, camera, base) == [False] * 9

    response = await client.patch(f"/api/events/{first.id}", json={"protected": True})
    assert (response.json()["reviewed"], response.json()["protected"]) == (True, True)
    assert await segments_protected(client, camera, base) == [False] * 2 + [True] * 3 + [False] * 4
    await client.patch(f"/api/events/{second.id}", json={"protected": True, "reviewed": True})
    assert await segments_protected(client, camera, base) == [False] * 2 + [True] * 6 + [False]

    # Releasing the first keeps what the second still needs.
    response = await client.patch(f"/api/events/{first.id}", json={"protected": False})
    assert response.json()["protected"] is False
    assert await segments_protected(client, camera, base) == [False] * 4 + [True] * 4 + [False]
    await client.patch(f"/api/events/{second.id}", json={"protected": False, "reviewed": False})
    assert await segments_protected(client, camera, base) == [False] * 9
    assert (await client.get(f"/api/events/{second.id}")).json()["reviewed"] is False

    actions = ["event.review", "event.protect", "event.unprotect"]
    log = (await client.get("/api/audit", params={"action": actions})).json()["entries"]
    assert [(e["action"], e["target"]) for e in reversed(log)] == [
        ("event.review", f"event:{first.id}"),
        ("event.protect", f"event:{first.id}"),
        ("event.review", f"event:{second.id}"),
        ("event.protect", f"event:{second.id}"),
        ("event.unprotect", f"event:{first.id}"),
        ("event.review", f"event:{second.id}"),
        ("event.unprotect", f"event:{second.id}"),
    ]
    assert log[-2]["detail"]["segments"] == 3


async def test_delete_refused_while_protected_then_gone_with_its_picture(
    client: httpx.AsyncClient,
    services: Services,
    add_camera: AddCamera,
    report: Report,
    seed: Seed,
    base: int,
) -> None:
    camera = (await add_camera(enabled=False))["id"]
    await seed(camera, [(base, base + 2000)])
    event = await report(camera, base, base + 1000)
    assert services.node is not None
    assert event.snapshot_path is not None
    snapshot = services.node.layout.root / event.snapshot_path
    assert snapshot.is_file()
    await client.patch(f"/api/events/{event.id}", json={"protected": True})

    refused = await client.delete(f"/api/events/{event.id}")
    assert (refused.status_code, problem_type(refused)) == (409, "event-protected")
    assert snapshot.is_file()
    await client.patch(f"/api/events/{event.id}", json={"protected": False})
    response = await client.delete(f"/api/events/{event.id}")
    assert response.status_code == 204
    assert not snapshot.exists()
    gone = await client.get(f"/api/events/{event.id}")
    assert (gone.status_code, problem_type(gone)) == (404, "event-not-found")
    assert (await client.delete(f"/api/events/{event.id}")).status_code == 404
    assert len(await segments_protected(client, camera, base)) == 1  # the footage stays
    log = (await client.get("/api/audit", params={"action": "event.delete"})).json()
    assert [e["target"] for e in log["entries"]] == [f"event:{event.id}"]


# -- who sees what
async def test_viewers_see_only_events_of_cameras_whose_recordings_they_may_view(
    app: FastAPI,
    client: httpx.AsyncClient,
    services: Services,
    add_camera: AddCamera,
    report: Report,
    base: int,
) -> None:
    granted = (await add_camera(enabled=False))["id"]
    live_only = (await add_camera(enabled=False))["id"]
    hidden = (await add_camera(enabled=False))["id"]
    mine = await report(granted, base)
    live = await report(live_only, base + 1000)
    secret = await report(hidden, base + 2000)
    viewer = await make_user(services, "parent", "viewer")
    viewing = {Permission.VIEW_LIVE, Permission.VIEW_RECORDINGS}
    await grant(services, TEST_ORG, [granted], viewing, viewer.id)
    await grant(services, TEST_ORG, [live_only], {Permission.VIEW_LIVE}, viewer.id)
    async with signed_in(app, "parent") as http:
        assert await ids(http) == [mine.id]
        for event_id in (live.id, secret.id, secret.id + 1000):
            for path in ("", "/snapshot.jpg"):
                response = await http.get(f"/api/events/{event_id}{path}")
                assert (response.status_code, problem_type(response)) == (404, "event-not-found")
                assert response.json()["detail"] == f"No event with id {event_id}."
            patched = await http.patch(f"/api/events/{event_id}", json={"reviewed": True})
            assert patched.status_code == 404
        unknown = await http.get("/api/events", params={"camera_id": hidden})
        assert (unknown.status_code, problem_type(unknown)) == (404, "camera-not-found")
        refused = await http.get("/api/events", params={"camera_id": live_only})
        assert (refused.status_code, problem_type(refused)) == (403, "missing-permission")
        # On their own camera: review yes; protect, clip and delete no.
        reviewed = await http.patch(f"/api/events/{mine.id}", json={"reviewed": True})
        assert reviewed.status_code == 200
        for response in (
            await http.patch(f"/api/events/{mine.id}", json={"protected": True}),
            await http.patch(f"/api/events/{mine.id}", json={"reviewed": False, "protected": True}),
            await http.post(f"/api/events/{mine.id}/clip"),
            await http.delete(f"/api/events/{mine.id}"),
        ):
            assert (response.status_code, problem_type(response)) == (403, "missing-permission")
    after = (await client.get(f"/api/events/{mine.id}")).json()
    assert (after["reviewed"], after["protected"]) == (True, False)  # nothing half done


async def test_another_organisation_sees_none_of_them(
    app: FastAPI,
    client: httpx.AsyncClient,
    services: Services,
    add_camera: AddCamera,
    report: Report,
    base: int,
) -> None:
    camera = (await add_camera(enabled=False))["id"]
    event = await report(camera, base)
    other = await services.auth.users.create_org("Other school")
    await make_user(services, "elsewhere", "admin", org_id=other.id)
    async with signed_in(app, "elsewhere") as http:
        assert await ids(http) == []
        assert (await http.get(f"/api/events/{event.id}")).status_code == 404
        assert (await http.delete(f"/api/events/{event.id}")).status_code == 404
        response = await http.get("/api/events", params={"camera_id": camera})
        assert (response.status_code, problem_type(response)) == (404, "camera-not-found")
    assert (await client.get(f"/api/events/{event.id}")).status_code == 200


# -- bad input
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "animal"}, "query.kind"),
        ({"reviewed": "maybe"}, "query.reviewed"),
        ({"protected": "2"}, "query.protected"),
        ({"min_score": "2"}, "query.min_score"),
        ({"min_score": "-0.1"}, "query.min_score"),
        ({"min_score": "nan"}, "query.min_score"),
        ({"limit": "0"}, "query.limit"),
        ({"limit": "501"}, "query.limit"),
        ({"cursor": "not-a-cursor"}, "query.cursor"),
        ({"cursor": "MTIz"}, "query.cursor"),  # "123": no id
        ({"cursor": "x" * 300}, "query.cursor"),
        ({"camera_id": "0"}, "query.camera_id.0"),
        ({"camera_id": "two"}, "query.camera_id.0"),
        ({"start": "yesterday"}, "query.start"),
        ({"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "query.end"),
        ({"label": ""}, "query.label.0"),
        ({"zone": "z" * 101}, "query.zone"),
    ],
)
async def test_bad_filters_are_422_naming_the_field(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    response = await client.get("/api/events", params=params)
    assert (response.status_code, problem_type(response)) == (422, "invalid-request")
    assert [e["location"] for e in response.json()["errors"]] == [field]


async def test_bad_ids_and_bodies(
    client: httpx.AsyncClient, add_camera: AddCamera, report: Report, base: int
) -> None:
    camera = (await add_camera(enabled=False))["id"]
    event = await report(camera, base)
    for bad in ("0", "-1", "abc", str(2**63)):
        response = await client.get(f"/api/events/{bad}")
        assert (response.status_code, problem_type(response)) == (422, "invalid-request"), bad
    for missing in (event.id + 1, 2**63 - 1):
        response = await client.get(f"/api/events/{missing}")
        assert (response.status_code, problem_type(response)) == (404, "event-not-found")
    for body in ({}, {"reviewed": None}, {"reviewed": "yes"}, {"colour": "red"}, [True]):
        response = await client.patch(f"/api/events/{event.id}", json=body)
        assert response.status_code == 422, body
    response = await client.patch(f"/api/events/{event.id}", json={"seen": True})
    assert response.json()["errors"][0]["location"] == "body.seen"
    malformed = await client.patch(
        f"/api/events/{event.id}", content=b"{", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400


# -- motion on recordings
async def test_motion_spans_and_the_recordings_motion_filter(
    client: httpx.AsyncClient,
    services: Services,
    add_camera: AddCamera,
    seed: Seed,
    base: int,
) -> None:
    camera = (await add_camera(enabled=False))["id"]
    await seed(camera, [(base + n * 2000, base + (n + 1) * 2000) for n in range(5)])
    spans = [(base + 2500, base + 3000), (base + 7000, base + 12_000)]
    await services.events.store.add_motion(
        [MotionSpan(camera_id=camera, start_ms=a, end_ms=b) for a, b in spans]
    )
    # A segment indexed after the motion it shows is marked as it arrives.
    await services.events.store.add_motion(
        [MotionSpan(camera_id=camera, start_ms=base + 20_500, end_ms=base + 21_000)]
    )
    await seed(camera, [(base + 20_000, base + 22_000)])
    window = {"start": iso(base - 1000), "end": iso(base + 30_000)}

    response = await client.get(f"/api/cameras/{camera}/motion", params=window)
    assert response.status_code == 200
    assert response.json() == [
        {"start": iso(a), "end": iso(b)} for a, b in [*spans, (base + 20_500, base + 21_000)]
    ]
    narrow = {"start": iso(base + 8000), "end": iso(base + 9000)}
    narrowed = (await client.get(f"/api/cameras/{camera}/motion", params=narrow)).json()
    assert narrowed == [{"start": iso(base + 7000), "end": iso(base + 12_000)}]  # whole

    url = f"/api/cameras/{camera}/recordings"
    everything = (await client.get(url, params=window)).json()
    moving = (await client.get(url, params={**window, "motion": "true"})).json()
    still = (await client.get(url, params={**window, "motion": "false"})).json()
    assert [s["motion"] for s in everything["segments"]] == [
        False, True, False, True, True, True,
    ]  # fmt: skip
    assert [s["start"] for s in moving["segments"]] == [
        iso(base + 2000), iso(base + 6000), iso(base + 8000), iso(base + 20_000),
    ]  # fmt: skip
    assert [s["start"] for s in still["segments"]] == [iso(base), iso(base + 4000)]
    for answer in (moving, still):
        assert (answer["spans"], answer["gaps"]) == (everything["spans"], everything["gaps"])
    bad = await client.get(url, params={"motion": "sometimes"})
    assert bad.status_code == 422
    backwards = await client.get(
        f"/api/cameras/{camera}/motion", params={"start": iso(base), "end": iso(base)}
    )
    assert backwards.status_code == 422
