"""`vigil serve` with [mqtt] on: cameras reach Home Assistant, their switch answers commands."""

from __future__ import annotations

import asyncio
import json

from tests.conftest import TEST_ORG
from tests.mqtt.conftest import Listener, configs, free_port, listening
from tests.mqtt.test_discovery import schema_problems
from vigil.app import Services, start_services, stop_services
from vigil.mqtt.settings import MqttSettings
from vigil.mqtt.topics import slug
from vigil.settings import Settings
from vigil.store.audit import AuditFilter
from vigil.store.cameras import CameraFields


async def test_a_camera_is_announced_reports_status_and_obeys_its_recording_switch(
    mqtt_services: Services, mqtt_settings: MqttSettings, listener: Listener
) -> None:
    services = mqtt_services
    prefix = mqtt_settings.topic_prefix
    await listener.wait_for(f"{prefix}/available", lambda m: m.payload == b"online")
    # Nobody listens on this port: the camera goes from connecting to failing, and says so.
    url = f"rtsp://127.0.0.1:{free_port()}/stream"
    camera = await services.cameras.create(CameraFields("Front door", url), TEST_ORG)
    key = f"{camera.id}_front_door"

    recording_config = f"{mqtt_settings.discovery_prefix}/switch/{slug(mqtt_settings.client_id)}"
    recording_config += f"/{key}_recordings/config"
    await listener.wait_for(recording_config, lambda m: m.payload != b"")
    # Home Assistant starting later finds it: it is retained.
    async with listening(mqtt_settings) as later:
        seen = await later.wait_for(recording_config, lambda m: m.retain)
    payload = json.loads(seen.payload)
    assert payload["command_topic"] == f"{prefix}/{key}/recordings/set"
    assert payload["device"]["name"] == "Front door"
    announced = configs(listener, mqtt_settings, key)
    # A recording switch and a status sensor; no detection, so nothing of it.
    assert sorted(t.split("/")[1] for t in announced) == ["sensor", "switch"]
    for topic, body in announced.items():
        assert schema_problems(topic, json.loads(body)) == []
    assert not any("detect" in t or "motion" in t for t in announced)

    state = f"{prefix}/{key}/recordings/state"
    await listener.wait_for(state, lambda m: m.payload == b"ON")
    status = f"{prefix}/{key}/status"
    # It says why it is down. A refusal comes within milliseconds: "connecting" is seen
    # first only if the camera was announced before it, and never after it.
    failed = await listener.wait_for(status, lambda m: m.payload not in (b"connecting", b"offline"))
    assert failed.payload == b"error"
    said = [m.payload for m in listener.messages if m.topic == status]
    assert b"connecting" not in said[said.index(b"error") :]

    # Home Assistant turns recording off.
    await listener.client.publish(f"{prefix}/{key}/recordings/set", "OFF", qos=1)
    await listener.wait_for(state, lambda m: m.payload == b"OFF")
    async with asyncio.timeout(20):
        while (await services.cameras.store.get(camera.id)).recording:
            await asyncio.sleep(0.05)
    entries = await services.auth.audit.query(TEST_ORG, AuditFilter(actions=["camera.update"]))
    assert [(e.username, e.target, e.detail) for e in entries] == [
        ("mqtt", f"camera:{camera.id}", {"fields": ["recording"], "via": "mqtt"})
    ]

    # A renamed camera is announced under its new name; a deleted one disappears.
    await services.cameras.update(camera.id, {"name": "Porch"})
    renamed = f"{mqtt_settings.discovery_prefix}/switch/{slug(mqtt_settings.client_id)}"
    renamed += f"/{camera.id}_porch_recordings/config"
    await listener.wait_for(renamed, lambda m: m.payload != b"")
    await listener.wait_for(recording_config, lambda m: m.payload == b"")
    await services.cameras.delete(camera.id)
    gone = list(configs(listener, mqtt_settings, f"{camera.id}_porch"))
    assert len(gone) == 2
    for topic in gone:
        await listener.wait_for(topic, lambda m: m.payload == b"")
    await listener.wait_for(f"{prefix}/{camera.id}_porch/status", lambda m: m.payload == b"")
    # Empty retained messages remove the retained ones: nothing is left for a newcomer.
    async with listening(mqtt_settings) as later:
        await later.wait_for(f"{prefix}/available", lambda m: m.retain)
        await asyncio.sleep(0.3)  # the other retained messages, were there any
        assert [m.topic for m in later.messages] == [f"{prefix}/available"]

    await stop_services(services)
    services.mqtt = None
    await listener.wait_for(f"{prefix}/available", lambda m: m.payload == b"offline")


async def test_cameras_of_two_organisations_with_one_name_stay_apart(
    mqtt_services: Services, mqtt_settings: MqttSettings, listener: Listener
) -> None:
    services = mqtt_services
    other = await services.auth.users.create_org("Other school")
    url = f"rtsp://127.0.0.1:{free_port()}/stream"
    first = await services.cameras.create(CameraFields("Gate", url, enabled=False), TEST_ORG)
    second = await services.cameras.create(CameraFields("Gate", url, enabled=False), other.id)
    for camera in (first, second):
        topic = f"{mqtt_settings.topic_prefix}/{camera.id}_gate/recordings/state"
        await listener.wait_for(topic, lambda m: m.payload == b"ON")
    ids = {
        json.loads(m.payload)["unique_id"]
        for m in listener.messages
        if m.topic.startswith(mqtt_settings.discovery_prefix) and m.payload
    }
    assert len(ids) == 4  # two cameras, each a switch and a status sensor


async def test_serve_starts_and_stops_while_the_broker_is_away(
    settings: Settings, mqtt_settings: MqttSettings
) -> None:
    settings.mqtt = mqtt_settings.model_copy(update={"port": free_port()})
    async with asyncio.timeout(30):
        services = await start_services(settings)
        await services.auth.users.create_org("Test school")
        camera = await services.cameras.create(
            CameraFields("Gate", "rtsp://127.0.0.1:9/x", enabled=False), TEST_ORG
        )
        assert (await services.cameras.store.get(camera.id)).name == "Gate"
        assert services.mqtt is not None
        assert not services.mqtt.connected.is_set()
        await stop_services(services)
