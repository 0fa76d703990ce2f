"""End to end: a simulated camera shows a person walking into a zone; Vigil records it,
detects them with the default model, opens and ends an event with the zone, a snapshot of
the right moment and the box where the person is, tells MQTT, and, in events-only mode,
keeps only the footage around the event."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiomqtt
import av
import httpx
import numpy as np
import pytest

from tests.api.conftest import Json
from tests.node.helpers import eventually, segments_of
from vigil.app import Services
from vigil.detect.types import Box
from vigil.node import retention
from vigil.settings import Settings
from vigil.sim.clips import ClipParams
from vigil.sim.framecode import read_frame_code
from vigil.sim.runner import SimulatedCameras
from vigil.sim.walker import walker_scene
from vigil.timeutil import now_ms, parse_instant

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

WALKER = {"width": 640, "height": 360, "fps": 10, "loop_seconds": 20}
WALK = {"walk_start": 4.0, "walk_end": 12.0}
DRIVEWAY = [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]  # the right half of the picture
MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883


@pytest.fixture(scope="module")
def walker_sim() -> Iterator[SimulatedCameras]:
    with SimulatedCameras(
        cameras=1, bitrate_kbps=600, audio=False, scene="walker", **WALKER, **WALK
    ) as cameras:
        yield cameras


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.node.detector_workers = 1
    settings.mqtt.enabled = True
    settings.mqtt.host = MQTT_HOST
    settings.mqtt.port = MQTT_PORT
    settings.mqtt.topic_prefix = f"vigil-e2e-{now_ms()}"
    settings.mqtt.client_id = settings.mqtt.topic_prefix
    settings.mqtt.discovery = False
    return settings


@pytest.fixture
async def mqtt_events(settings: Settings) -> AsyncIterator[list[Json]]:
    """Every message on the events topic, as it arrives."""
    received: list[Json] = []
    async with aiomqtt.Client(MQTT_HOST, MQTT_PORT) as client:
        await client.subscribe(f"{settings.mqtt.topic_prefix}/events")

        async def listen() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                received.append(json.loads(message.payload))

        task = asyncio.create_task(listen())
        try:
            yield received
        finally:
            task.cancel()


def frame_index(jpeg: bytes) -> int:
    """The frame number within the simulator's loop, read off the picture's frame code."""
    with av.open(__import__("io").BytesIO(jpeg)) as container:
        frame = next(container.decode(video=0))
    return read_frame_code(frame)


def decoded_size(jpeg: bytes) -> tuple[int, int]:
    with av.open(__import__("io").BytesIO(jpeg)) as container:
        frame = next(container.decode(video=0))
    return frame.width, frame.height


async def ended_event(client: httpx.AsyncClient, camera_id: int) -> Json:
    async def events() -> list[Json]:
        answer = await client.get("/api/events", params={"camera_id": camera_id})
        assert answer.status_code == 200, answer.text
        items: list[Json] = answer.json()["events"]
        return [e for e in items if e["end"] is not None and e["label"] == "person"]

    found = await eventually(events, bool, 60, "an ended person event")
    return found[-1]  # the oldest: a whole walk


async def test_a_person_walking_into_the_driveway_is_an_event(
    services: Services,
    client: httpx.AsyncClient,
    walker_sim: SimulatedCameras,
    mqtt_events: list[Json],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    detection: dict[str, Any] = {
        "labels": ["person"],
        "zones": [{"name": "driveway", "polygon": DRIVEWAY}],
        "pre_seconds": 1,
        "post_seconds": 1,
        "quiet_seconds": 1.5,
    }
    answer = await client.post(
        "/api/cameras",
        json={
            "name": "Drive",
            "main_url": walker_sim.urls[0],
            "segment_seconds": 2,
            "record_mode": "events",
            "detection": detection,
        },
    )
    assert answer.status_code == 201, answer.text
    camera = answer.json()
    assert camera["record_mode"] == "events"
    assert camera["detection"]["zones"][0]["name"] == "driveway"

    event = await ended_event(client, camera["id"])
    assert event["zones"] == ["driveway"]
    assert event["score"] >= 0.5
    assert parse_instant(event["start"]) < parse_instant(event["end"])
    status = (await client.get(f"/api/cameras/{camera['id']}/status")).json()
    assert status["detection"] == "running", status

    # The snapshot shows the walker at a moment of the walk, where its box says.
    details = (await client.get(f"/api/events/{event['id']}")).json()
    snapshot = details["snapshot"]
    assert snapshot is not None
    clean = await client.get(snapshot["clean_url"])
    boxed = await client.get(snapshot["url"])
    assert clean.status_code == boxed.status_code == 200
    assert clean.headers["content-type"] == "image/jpeg"
    assert decoded_size(clean.content) == decoded_size(boxed.content) == (320, 180)
    assert clean.content != boxed.content
    params = ClipParams(bitrate_kbps=600, audio=False, scene="walker", **WALKER, **WALK)
    index = frame_index(clean.content)
    truth = walker_scene(params).movers[0].box(index)
    assert truth is not None, f"the snapshot (frame {index}) shows no walker"
    seen = Box(*(snapshot["box"][k] for k in ("x1", "y1", "x2", "y2")))
    assert seen.iou(truth) >= 0.4, (index, seen, truth)
    # In the zone: the walker's feet (the box's bottom centre) are in the right half.
    assert (seen.x1 + seen.x2) / 2 >= 0.5

    # The same event reached MQTT: opened, then ended, with the zone.
    async def on_mqtt() -> list[Json]:
        return [m for m in mqtt_events if m["after"]["id"] == event["id"]]

    messages = await eventually(
        on_mqtt, lambda ms: any(m["type"] == "end" for m in ms), 10, "the event on MQTT"
    )
    assert messages[0]["type"] == "new"
    assert messages[-1]["after"]["label"] == "person"
    assert messages[-1]["after"]["zones"] == ["driveway"]

    # Events only: past the pre-buffer, footage around no event goes.
    monkeypatch.setattr(retention, "EVENTS_ONLY_MARGIN_MS", 0)
    node = services.node
    assert node is not None
    footage_end = parse_instant(details["footage"]["end"])
    await asyncio.sleep(max(0.0, (footage_end + 3000 - now_ms()) / 1000))
    before = await segments_of(services, camera["id"])
    report = await node.enforce_retention()
    assert report.by_mode > 0
    kept = await segments_of(services, camera["id"])
    # Recording goes on meanwhile: count what went of what was there.
    assert {s.id for s in before} - {s.id for s in kept}
    windows = []
    listed = (await client.get("/api/events", params={"camera_id": camera["id"]})).json()
    for item in listed["events"]:
        footage = (await client.get(f"/api/events/{item['id']}")).json()["footage"]
        windows.append((parse_instant(footage["start"]), parse_instant(footage["end"])))
    cutoff = now_ms() - 1000
    for seg in kept[:-1]:
        if seg.end_ms > cutoff:
            continue  # within the pre-buffer: may yet precede an event
        assert any(seg.start_ms < end and seg.end_ms > start for start, end in windows), seg
    # The event's own footage is all there.
    start = parse_instant(details["footage"]["start"])
    end = parse_instant(details["footage"]["end"])
    covered = [s for s in kept if s.start_ms < end and s.end_ms > start]
    assert covered
    assert covered[0].start_ms <= start + 2000
    assert covered[-1].end_ms >= end - 2000
    assert np.all(np.diff([s.start_ms for s in kept]) > 0)
