"""Events reach MQTT as a node reports them: new, update, end, and the best snapshot."""

from __future__ import annotations

import json
import logging
from typing import Any

import cv2
import numpy as np
import pytest

from tests.conftest import TEST_ORG
from tests.mqtt.conftest import Listener, listening
from vigil.app import Services
from vigil.link.messages import BoxAt, EventKind, EventRecord, EventSnapshot, EventStage
from vigil.mqtt.settings import MqttSettings
from vigil.store.cameras import CameraFields
from vigil.timeutil import iso

START = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def write_snapshot(services: Services, key: str, shade: int) -> None:
    """A real JPEG where the node keeps snapshots."""
    assert services.node is not None
    path = services.node.layout.root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, jpeg = cv2.imencode(".jpg", np.full((120, 160, 3), shade, np.uint8))
    assert ok
    path.write_bytes(jpeg.tobytes())


def record(camera_id: int, stage: EventStage, last: int, **changes: Any) -> EventRecord:
    fields: dict[str, Any] = {
        "uid": "ev-1",
        "camera_id": camera_id,
        "stage": stage,
        "kind": EventKind.OBJECT,
        "label": "person",
        "score": 0.6,
        "start_ms": START,
        "last_ms": START + last,
    }
    return EventRecord(**{**fields, **changes})


def snapshot(key: str, at: int, score: float) -> EventSnapshot:
    box = BoxAt(time_ms=START + at, x1=0.2, y1=0.2, x2=0.5, y2=0.8)
    return EventSnapshot(path=key, time_ms=START + at, score=score, box=box)


def events(listener: Listener, settings: MqttSettings) -> list[dict[str, Any]]:
    return [json.loads(p) for p in listener.on(f"{settings.topic_prefix}/events")]


async def test_an_event_is_told_as_it_opens_changes_and_ends_with_its_best_snapshot(
    mqtt_services: Services, mqtt_settings: MqttSettings, listener: Listener
) -> None:
    services = mqtt_services
    assert services.node is not None
    prefix = mqtt_settings.topic_prefix
    camera = await services.cameras.create(
        CameraFields("Front door", "rtsp://127.0.0.1:9/x", enabled=False), TEST_ORG
    )
    key = f"{camera.id}_front_door"
    first, better = f"{camera.id}/events/a.jpg", f"{camera.id}/events/b.jpg"
    write_snapshot(services, first, 60)
    write_snapshot(services, better, 200)
    node = services.node.name

    opened = record(camera.id, EventStage.NEW, 0, snapshot=snapshot(first, 0, 0.6))
    await services.nodes.events_reported(node, [opened])
    # Seen better: a higher score, a zone entered and a better picture.
    improved = {"score": 0.9, "zones": ["porch"], "snapshot": snapshot(better, 800, 0.9)}
    await services.nodes.events_reported(
        node, [record(camera.id, EventStage.UPDATE, 1000, **improved)]
    )
    # Still there, nothing better: an update, but no new picture.
    await services.nodes.events_reported(
        node, [record(camera.id, EventStage.UPDATE, 2000, **improved)]
    )
    ended = record(camera.id, EventStage.END, 3000, end_ms=START + 3000, **improved)
    await services.nodes.events_reported(node, [ended, ended])  # a repeat changes nothing

    await listener.wait_for(f"{prefix}/events", lambda m: json.loads(m.payload)["type"] == "end")
    told = events(listener, mqtt_settings)
    assert [m["type"] for m in told] == ["new", "update", "update", "end"]
    new = told[0]["after"]
    assert new == {
        "id": new["id"],
        "camera": "Front door",
        "camera_id": camera.id,
        "kind": "object",
        "label": "person",
        "score": 0.6,
        "zones": [],
        "start": "2026-01-01T00:00:00.000Z",
        "end": None,
        "last": "2026-01-01T00:00:00.000Z",
        "snapshot": True,
        "reviewed": False,
        "protected": False,
    }
    assert told[0]["before"] == new
    assert (await services.events.store.get(new["id"])).uid == "ev-1"
    assert told[1]["before"] == new
    assert (told[1]["after"]["score"], told[1]["after"]["zones"]) == (0.9, ["porch"])
    assert told[3]["before"] == told[2]["after"]
    assert told[3]["after"]["end"] == iso(START + 3000)
    assert {m["after"]["id"] for m in told} == {new["id"]}

    # Two pictures: the first, then the better one; each a JPEG with the box drawn.
    pictures = listener.on(f"{prefix}/{key}/person/snapshot")
    assert len(pictures) == 2
    shades = []
    for picture in pictures:
        decoded = cv2.imdecode(np.frombuffer(picture, np.uint8), cv2.IMREAD_COLOR)
        assert decoded is not None
        image = decoded.astype(np.float64)
        assert image.shape == (120, 160, 3)
        shades.append(int(np.median(image)))
        assert np.ptp(image) > 100  # a plain grey picture, but for the box drawn on it
    assert shades[0] < 100 < shades[1]
    # The last picture stays on the broker for whoever subscribes later.
    async with listening(mqtt_settings) as later:
        kept = await later.wait_for(f"{prefix}/{key}/person/snapshot", lambda m: m.retain)
        assert kept.payload == pictures[1]
    # Events are not retained: a newcomer does not see an old event as a new one.
    assert f"{prefix}/events" not in {m.topic for m in later.messages}


async def test_an_event_without_a_readable_snapshot_is_told_without_a_picture(
    mqtt_services: Services,
    mqtt_settings: MqttSettings,
    listener: Listener,
    caplog: pytest.LogCaptureFixture,
) -> None:
    services = mqtt_services
    assert services.node is not None
    prefix = mqtt_settings.topic_prefix
    camera = await services.cameras.create(
        CameraFields("Gate", "rtsp://127.0.0.1:9/x", enabled=False), TEST_ORG
    )
    # A snapshot the node named but never wrote, and a motion event without any.
    lost = record(camera.id, EventStage.NEW, 0, snapshot=snapshot("gone/a.jpg", 0, 0.6))
    motion = record(
        camera.id,
        EventStage.END,
        500,
        uid="ev-2",
        kind=EventKind.MOTION,
        label="motion",
        end_ms=START + 500,
    )
    await services.nodes.events_reported(services.node.name, [lost, motion])
    await listener.wait_for(f"{prefix}/events", lambda m: json.loads(m.payload)["type"] == "end")
    told = events(listener, mqtt_settings)
    assert [(m["type"], m["after"]["label"]) for m in told] == [
        ("new", "person"),
        ("end", "motion"),
    ]
    assert told[1]["after"]["snapshot"] is False
    assert not any(m.topic.endswith("/snapshot") for m in listener.messages)
    assert any(
        r.levelno == logging.DEBUG and "no snapshot for MQTT" in r.getMessage()
        for r in caplog.records
    )
