"""Detection over MQTT: motion and counts as the node sees them, the detection switch, and
the Home Assistant entities that come and go with detection."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from tests.conftest import TEST_ORG
from tests.mqtt.conftest import Listener, configs, listening
from tests.mqtt.test_discovery import schema_problems
from vigil.app import Services
from vigil.detect.settings import DetectionSettings
from vigil.link.messages import CameraActivity
from vigil.mqtt.settings import MqttSettings
from vigil.mqtt.topics import slug
from vigil.store.audit import AuditFilter
from vigil.store.cameras import CameraFields, detection_of
from vigil.store.models import Camera

URL = "rtsp://127.0.0.1:9/stream"  # the cameras are disabled: nothing connects


async def add_camera(
    services: Services, name: str, detection: DetectionSettings | None = None
) -> Camera:
    fields = CameraFields(name, URL, enabled=False, detection=detection)
    return await services.cameras.create(fields, TEST_ORG)


def things(listener: Listener, settings: MqttSettings, key: str) -> dict[str, str]:
    """The entities announced for a camera now: ``{"<component>/<thing>": topic}``."""
    found = {}
    for topic, payload in configs(listener, settings, key).items():
        if payload:
            component, object_id = topic.split("/")[1], topic.split("/")[3]
            found[f"{component}/{object_id.removeprefix(f'{key}_')}"] = topic
    return found


async def test_motion_and_counts_follow_what_the_camera_sees_and_repeat_nothing(
    mqtt_services: Services, mqtt_settings: MqttSettings, listener: Listener
) -> None:
    services = mqtt_services
    assert services.node is not None
    prefix = mqtt_settings.topic_prefix
    camera = await add_camera(services, "Yard", DetectionSettings(labels={"person", "car"}))
    key = f"{camera.id}_yard"
    motion, person, car = (f"{prefix}/{key}/{x}" for x in ("motion", "person", "car"))
    # Known at once: no motion, nothing in sight.
    await listener.wait_for(person, lambda m: m.payload == b"0")
    assert (listener.on(motion), listener.on(car)) == ([b"OFF"], [b"0"])
    node = services.node.name

    async def sees(moving: bool, **objects: int) -> None:
        activity = CameraActivity(camera_id=camera.id, time_ms=0, motion=moving, objects=objects)
        await services.nodes.camera_activity(node, activity)

    await sees(True, person=2, dog=1)  # a dog: not one of the camera's labels
    await listener.wait_for(person, lambda m: m.payload == b"2")
    await sees(True, person=2, dog=1)  # nothing changed
    await add_camera(services, "Drive")  # cameras announced again: states not repeated
    await sees(True, person=1)
    await listener.wait_for(person, lambda m: m.payload == b"1")
    await sees(False)
    await listener.wait_for(motion, lambda m: m.payload == b"OFF" and len(listener.on(motion)) > 1)
    await listener.wait_for(person, lambda m: listener.on(person)[-1:] == [b"0"])
    assert listener.on(motion) == [b"OFF", b"ON", b"OFF"]
    assert listener.on(person) == [b"0", b"2", b"1", b"0"]
    assert listener.on(car) == [b"0"]
    assert not any(m.topic.endswith("/dog") for m in listener.messages)
    # Retained: Home Assistant starting now knows the yard is quiet.
    async with listening(mqtt_settings) as later:
        assert (await later.wait_for(motion, lambda m: m.retain)).payload == b"OFF"
        assert (await later.wait_for(person, lambda m: m.retain)).payload == b"0"


async def test_a_detecting_camera_gets_motion_counts_and_a_switch_and_others_none(
    mqtt_services: Services, mqtt_settings: MqttSettings, listener: Listener
) -> None:
    services = mqtt_services
    prefix = mqtt_settings.topic_prefix
    detecting = await add_camera(services, "Yard", DetectionSettings(labels={"person", "car"}))
    plain = await add_camera(services, "Hall")
    motion_only = await add_camera(services, "Shed", DetectionSettings(object_detection=False))
    for camera in (detecting, plain, motion_only):
        state = f"{prefix}/{camera.id}_{slug(camera.name)}/recordings/state"
        await listener.wait_for(state)
    yard = things(listener, mqtt_settings, f"{detecting.id}_yard")
    assert sorted(yard) == [
        "binary_sensor/motion",
        "camera/car_snapshot",
        "camera/person_snapshot",
        "sensor/car_count",
        "sensor/person_count",
        "sensor/status",
        "switch/detect",
        "switch/recordings",
    ]
    announced = configs(listener, mqtt_settings, f"{detecting.id}_yard")
    for topic, body in announced.items():
        assert schema_problems(topic, json.loads(body)) == []
    payloads = {thing: json.loads(announced[topic]) for thing, topic in yard.items()}
    assert payloads["binary_sensor/motion"]["device_class"] == "motion"
    assert payloads["binary_sensor/motion"]["state_topic"] == f"{prefix}/{detecting.id}_yard/motion"
    count = payloads["sensor/person_count"]
    assert count["state_topic"] == f"{prefix}/{detecting.id}_yard/person"
    assert count["state_class"] == "measurement"
    switch = payloads["switch/detect"]
    assert switch["command_topic"] == f"{prefix}/{detecting.id}_yard/detect/set"
    assert switch["state_topic"] == f"{prefix}/{detecting.id}_yard/detect/state"
    await listener.wait_for(switch["state_topic"], lambda m: m.payload == b"ON")

    # No detection: a status and a recording switch, nothing of detection.
    assert sorted(things(listener, mqtt_settings, f"{plain.id}_hall")) == [
        "sensor/status",
        "switch/recordings",
    ]
    assert listener.on(f"{prefix}/{plain.id}_hall/detect/state") == []
    assert listener.on(f"{prefix}/{plain.id}_hall/motion") == []
    # Motion only: a motion sensor and the switch, no counts of objects it never looks for.
    assert sorted(things(listener, mqtt_settings, f"{motion_only.id}_shed")) == [
        "binary_sensor/motion",
        "sensor/status",
        "switch/detect",
        "switch/recordings",
    ]


async def command_seen(caplog: pytest.LogCaptureFixture, text: str) -> None:
    async with asyncio.timeout(20):
        while not any(text in r.getMessage() for r in caplog.records):
            await asyncio.sleep(0.02)


async def test_the_detection_switch_turns_detection_off_and_on_audited(
    mqtt_services: Services,
    mqtt_settings: MqttSettings,
    listener: Listener,
    caplog: pytest.LogCaptureFixture,
) -> None:
    services = mqtt_services
    store = services.cameras.store
    prefix = mqtt_settings.topic_prefix
    settings = DetectionSettings(labels={"person"}, fps=3)
    camera = await add_camera(services, "Yard", settings)
    key = f"{camera.id}_yard"
    state, command = f"{prefix}/{key}/detect/state", f"{prefix}/{key}/detect/set"
    await listener.wait_for(f"{prefix}/{key}/person", lambda m: m.payload == b"0")
    await listener.wait_for(state, lambda m: m.payload == b"ON")
    detection_things = ["binary_sensor/motion", "camera/person_snapshot", "sensor/person_count"]

    # Someone is in the yard as detection goes off.
    assert services.node is not None
    activity = CameraActivity(camera_id=camera.id, time_ms=0, motion=True, objects={"person": 1})
    await services.nodes.camera_activity(services.node.name, activity)
    await listener.wait_for(f"{prefix}/{key}/person", lambda m: m.payload == b"1")

    # Off: stored, the node's camera config has no detect stream, the sensors go away.
    await listener.client.publish(command, "OFF", qos=1)
    await listener.wait_for(state, lambda m: m.payload == b"OFF")
    stored = await store.get(camera.id)
    assert detection_of(stored) == settings.model_copy(update={"enabled": False})
    assert store.config(stored).detect is None
    for thing in detection_things:
        await listener.wait_for(
            f"{mqtt_settings.discovery_prefix}/{thing.split('/')[0]}/"
            f"{slug(mqtt_settings.client_id)}/{key}_{thing.split('/')[1]}/config",
            lambda m: m.payload == b"",
        )
    assert sorted(things(listener, mqtt_settings, key)) == [
        "sensor/status",
        "switch/detect",  # stays, so detection can be switched on again
        "switch/recordings",
    ]
    await listener.wait_for(f"{prefix}/{key}/motion", lambda m: m.payload == b"")
    await listener.wait_for(f"{prefix}/{key}/person", lambda m: m.payload == b"")

    # On again: the same settings, detecting, the sensors back with fresh states (not the
    # person seen before detection went off).
    await listener.client.publish(command, "ON", qos=1)
    await listener.wait_for(state, lambda _: listener.on(state)[-2:] == [b"ON", b"ON"])
    stored = await store.get(camera.id)
    assert detection_of(stored) == settings
    assert store.config(stored).detect is not None
    motion = f"{prefix}/{key}/motion"
    await listener.wait_for(motion, lambda _: listener.on(motion) == [b"OFF", b"ON", b"", b"OFF"])
    person = f"{prefix}/{key}/person"
    await listener.wait_for(person, lambda _: listener.on(person) == [b"0", b"1", b"", b"0"])
    assert sorted(things(listener, mqtt_settings, key)) == sorted(
        [*detection_things, "sensor/status", "switch/detect", "switch/recordings"]
    )

    # A camera that never detected: ON gives it the default settings.
    plain = await add_camera(services, "Hall")
    hall = f"{prefix}/{plain.id}_hall/detect"
    await listener.client.publish(f"{hall}/set", "ON", qos=1)
    # Told twice: with the cameras announced again, and as the command's answer.
    await listener.wait_for(f"{hall}/state", lambda _: listener.on(f"{hall}/state") == [b"ON"] * 2)
    assert detection_of(await store.get(plain.id)) == DetectionSettings()

    entries = await services.auth.audit.query(TEST_ORG, AuditFilter(actions=["camera.update"]))
    assert sorted((e.username, e.target, e.detail) for e in entries) == sorted(
        [("mqtt", f"camera:{camera.id}", {"fields": ["detection"], "via": "mqtt"})] * 2
        + [("mqtt", f"camera:{plain.id}", {"fields": ["detection"], "via": "mqtt"})]
    )

    # Nonsense is logged and changes nothing.
    before = await store.get(camera.id)
    await asyncio.sleep(0.3)  # anything still on its way has arrived
    messages = len(listener.messages)
    await listener.client.publish(command, "maybe", qos=1)
    await command_seen(caplog, f"ignored 'maybe' on {command}")
    after = await store.get(camera.id)
    assert (after.detection, after.updated_at) == (before.detection, before.updated_at)
    await asyncio.sleep(0.2)
    assert [m.topic for m in listener.messages[messages:]] == [command]  # only our own
    audited = await services.auth.audit.query(TEST_ORG, AuditFilter(actions=["camera.update"]))
    assert len(audited) == len(entries)
    assert any(r.levelno == logging.INFO for r in caplog.records if "maybe" in r.getMessage())
