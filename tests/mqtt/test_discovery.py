"""Home Assistant discovery: each camera's configs, checked against the documented schema."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.mqtt.conftest import Listener, listening
from vigil.mqtt.discovery import CameraDevice, discovery_messages
from vigil.mqtt.publisher import MqttPublisher
from vigil.mqtt.settings import MqttSettings
from vigil.mqtt.topics import Topics

# What home-assistant.io documents for MQTT discovery (integrations/mqtt, and the
# binary_sensor.mqtt, sensor.mqtt, switch.mqtt and camera.mqtt pages): per component the
# required keys, the optional ones and their types. Unknown keys fail, so typos do too.
STR, BOOL, INT, MAP, LIST = str, bool, int, dict, list
COMMON: dict[str, Any] = {
    "availability": LIST,
    "availability_mode": STR,
    "availability_template": STR,
    "availability_topic": STR,
    "payload_available": STR,
    "payload_not_available": STR,
    "device": MAP,
    "origin": MAP,
    "enabled_by_default": BOOL,
    "encoding": STR,
    "entity_category": STR,
    "icon": STR,
    "json_attributes_template": STR,
    "json_attributes_topic": STR,
    "name": (STR, type(None)),
    "object_id": STR,
    "qos": INT,
    "unique_id": STR,
}
COMPONENTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    # component: (required keys, optional keys)
    "binary_sensor": (
        {"state_topic": STR},
        {
            "device_class": STR,
            "expire_after": INT,
            "force_update": BOOL,
            "off_delay": INT,
            "payload_off": STR,
            "payload_on": STR,
            "value_template": STR,
        },
    ),
    "sensor": (
        {"state_topic": STR},
        {
            "device_class": STR,
            "expire_after": INT,
            "force_update": BOOL,
            "state_class": STR,
            "suggested_display_precision": INT,
            "unit_of_measurement": STR,
            "value_template": STR,
        },
    ),
    "switch": (
        {"command_topic": STR},
        {
            "command_template": STR,
            "device_class": STR,
            "optimistic": BOOL,
            "payload_off": STR,
            "payload_on": STR,
            "retain": BOOL,
            "state_off": STR,
            "state_on": STR,
            "state_topic": STR,
            "value_template": STR,
        },
    ),
    "camera": ({"topic": STR}, {"image_encoding": STR}),
}
ENUMS = {
    ("binary_sensor", "device_class"): {"motion", "occupancy", "presence", "connectivity"},
    ("sensor", "state_class"): {"measurement", "measurement_angle", "total", "total_increasing"},
    ("camera", "image_encoding"): {"b64"},
}
DEVICE_KEYS = {
    "configuration_url": STR,
    "connections": LIST,
    "hw_version": STR,
    "identifiers": (LIST, STR),
    "manufacturer": STR,
    "model": STR,
    "model_id": STR,
    "name": STR,
    "serial_number": STR,
    "suggested_area": STR,
    "sw_version": STR,
    "via_device": STR,
}
ORIGIN_KEYS = {"name": STR, "sw_version": STR, "support_url": STR}
# The documented abbreviations, should a payload use them.
ABBREVIATIONS = {
    "avty_t": "availability_topic",
    "cmd_t": "command_topic",
    "dev": "device",
    "dev_cla": "device_class",
    "o": "origin",
    "pl_avail": "payload_available",
    "pl_not_avail": "payload_not_available",
    "pl_off": "payload_off",
    "pl_on": "payload_on",
    "stat_cla": "state_class",
    "stat_t": "state_topic",
    "uniq_id": "unique_id",
}
DEVICE_ABBREVIATIONS = {
    "ids": "identifiers",
    "mf": "manufacturer",
    "mdl": "model",
    "sw": "sw_version",
}
TOPIC = re.compile(r"^(?P<prefix>.+)/(?P<component>[a-z_]+)/[a-zA-Z0-9_-]+/[a-zA-Z0-9_-]+/config$")


def problems_in(values: dict[str, Any], allowed: dict[str, Any], where: str) -> list[str]:
    found = []
    for key, value in values.items():
        if key not in allowed:
            found.append(f"{where}: unknown key {key!r}")
        elif not isinstance(value, allowed[key]) or isinstance(value, bool) != (
            allowed[key] is BOOL
        ):
            found.append(f"{where}: {key} has the wrong type ({type(value).__name__})")
    return found


def schema_problems(topic: str, payload: dict[str, Any]) -> list[str]:
    """Everything in a discovery message that the documentation does not allow."""
    match = TOPIC.match(topic)
    if match is None:
        return [f"{topic}: not <prefix>/<component>/<node_id>/<object_id>/config"]
    component = match["component"]
    if component not in COMPONENTS:
        return [f"{topic}: unknown component {component}"]
    required, optional = COMPONENTS[component]
    payload = {ABBREVIATIONS.get(k, k): v for k, v in payload.items()}
    found = [f"{topic}: missing {key}" for key in required if key not in payload]
    found += problems_in(payload, {**COMMON, **required, **optional}, topic)
    for (enum_component, key), values in ENUMS.items():
        if enum_component == component and key in payload and payload[key] not in values:
            found.append(f"{topic}: {key} {payload[key]!r} is not one of {sorted(values)}")
    device = {DEVICE_ABBREVIATIONS.get(k, k): v for k, v in payload.get("device", {}).items()}
    if device:
        found += problems_in(device, DEVICE_KEYS, f"{topic} device")
        if not device.get("identifiers") and not device.get("connections"):
            found.append(f"{topic}: a device needs identifiers or connections")
        if "unique_id" not in payload:
            found.append(f"{topic}: a device only works with a unique_id")
    if "origin" in payload:
        found += problems_in(payload["origin"], ORIGIN_KEYS, f"{topic} origin")
        if "name" not in payload["origin"]:
            found.append(f"{topic}: origin needs a name")
    if "availability_topic" in payload and "availability" in payload:
        found.append(f"{topic}: availability and availability_topic together")
    return found


CAMERAS = [
    CameraDevice("Front door", labels=("person", "car"), id="1"),
    CameraDevice("Back yard", labels=("person", "dog"), id="2"),
]


def test_every_config_follows_the_documented_schema() -> None:
    messages = discovery_messages(CAMERAS, Topics("vigil"), sw_version="0.1.0")
    problems = [p for m in messages for p in schema_problems(m.topic, m.payload)]
    assert problems == []
    components = [TOPIC.match(m.topic)["component"] for m in messages]  # type: ignore[index]
    # Per camera: motion, two labels x (count + snapshot), detection and recording switches.
    assert sorted(components) == sorted(
        ["binary_sensor"] * 2 + ["sensor"] * 4 + ["camera"] * 4 + ["switch"] * 4
    )
    unique_ids = [m.payload["unique_id"] for m in messages]
    assert len(set(unique_ids)) == len(unique_ids)
    devices = {m.payload["device"]["name"]: m.payload["device"] for m in messages}
    assert devices["Front door"]["identifiers"] != devices["Back yard"]["identifiers"]
    assert devices["Front door"]["manufacturer"] == "Vigil"
    by_topic = {m.topic: m.payload for m in messages}
    motion = by_topic["homeassistant/binary_sensor/vigil/front_door_motion/config"]
    assert motion["state_topic"] == "vigil/front_door/motion"
    assert motion["device_class"] == "motion"
    assert motion["availability_topic"] == "vigil/available"
    detect = by_topic["homeassistant/switch/vigil/front_door_detect/config"]
    assert detect["command_topic"] == "vigil/front_door/detect/set"
    assert detect["state_topic"] == "vigil/front_door/detect/state"
    count = by_topic["homeassistant/sensor/vigil/back_yard_dog_count/config"]
    assert (count["state_topic"], count["state_class"]) == ("vigil/back_yard/dog", "measurement")
    snapshot = by_topic["homeassistant/camera/vigil/back_yard_dog_snapshot/config"]
    assert snapshot["topic"] == "vigil/back_yard/dog/snapshot"


def test_the_schema_check_catches_mistakes() -> None:
    good = discovery_messages(CAMERAS[:1], Topics("vigil"))[0]
    payload = dict(good.payload)
    del payload["state_topic"]
    payload["device_clas"] = "motion"
    payload["device"] = {"name": "x"}
    problems = schema_problems(good.topic, payload)
    assert any("missing state_topic" in p for p in problems)
    assert any("unknown key 'device_clas'" in p for p in problems)
    assert any("identifiers or connections" in p for p in problems)
    assert schema_problems("homeassistant/binary_sensor/a b/config", {}) != []


async def test_discovery_configs_are_retained_on_the_broker(
    mqtt_settings: MqttSettings, listener: Listener
) -> None:
    publisher = MqttPublisher(mqtt_settings, sw_version="0.1.0")
    publisher.announce(CAMERAS)
    await publisher.start()
    expected = discovery_messages(
        CAMERAS,
        publisher.topics,
        discovery_prefix=mqtt_settings.discovery_prefix,
        node_id=mqtt_settings.client_id,
        sw_version="0.1.0",
    )
    try:
        for message in expected:
            await listener.wait_for(message.topic)
        # Home Assistant starting later still finds them all: they are retained.
        async with listening(mqtt_settings) as later:
            for message in expected:
                seen = await later.wait_for(message.topic, lambda m: m.retain)
                payload = json.loads(seen.payload)
                assert schema_problems(seen.topic, payload) == []
                assert payload == message.payload
            available = await later.wait_for(publisher.topics.available, lambda m: m.retain)
            assert available.payload == b"online"
        # A camera taken away disappears from Home Assistant: its configs are emptied.
        publisher.announce(CAMERAS[:1])
        gone = [m.topic for m in expected if "back_yard" in m.topic]
        assert gone
        for topic in gone:
            await listener.wait_for(topic, lambda m: m.payload == b"")
        # Home Assistant restarting asks for discovery again with "online" on its status topic.
        count = len(listener.on(expected[0].topic))
        await listener.client.publish(f"{mqtt_settings.discovery_prefix}/status", "online")
        await listener.wait_for(
            expected[0].topic, lambda _: len(listener.on(expected[0].topic)) > count
        )
    finally:
        await publisher.stop()
