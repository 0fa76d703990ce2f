"""Home Assistant MQTT discovery: each camera becomes a device with its sensors and switches.

Topics and keys follow https://www.home-assistant.io/integrations/mqtt/ (discovery) and the
per-platform pages (binary_sensor.mqtt, sensor.mqtt, switch.mqtt, camera.mqtt). Full key
names are used, no abbreviations, so the payloads read as documented.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from vigil.mqtt.topics import OFF, OFFLINE, ON, ONLINE, SWITCHES, Switch, Topics, slug

MANUFACTURER = "Vigil"


@dataclass(frozen=True, slots=True)
class CameraDevice:
    """What discovery needs to know about a camera."""

    name: str
    labels: tuple[str, ...] = ("person",)
    model: str = "IP camera"
    id: str = ""  # a stable identifier (e.g. the camera's id); the name's slug if empty
    key: str = ""  # the topic level where names may collide (e.g. "3 Front door"); else the name
    motion: bool = True  # announce the motion sensor
    switches: tuple[Switch, ...] = SWITCHES
    status: bool = False  # announce a sensor for the camera's connection state

    @property
    def slug(self) -> str:
        return slug(self.key or self.name)


@dataclass(frozen=True, slots=True)
class DiscoveryMessage:
    """One retained config message: where it goes and its JSON payload."""

    topic: str
    payload: dict[str, Any]


def _device(camera: CameraDevice, node_id: str, sw_version: str) -> dict[str, Any]:
    return {
        "identifiers": [f"{node_id}_{slug(camera.id or camera.name)}"],
        "name": camera.name,
        "manufacturer": MANUFACTURER,
        "model": camera.model,
        "sw_version": sw_version,
    }


def discovery_messages(
    cameras: Iterable[CameraDevice],
    topics: Topics,
    *,
    discovery_prefix: str = "homeassistant",
    node_id: str = "vigil",
    sw_version: str = "",
) -> list[DiscoveryMessage]:
    """Config messages for every camera's motion, per-label counts, switches and snapshots."""
    return [
        message
        for camera in cameras
        for message in camera_messages(camera, topics, discovery_prefix, slug(node_id), sw_version)
    ]


def camera_messages(
    camera: CameraDevice, topics: Topics, discovery_prefix: str, node: str, sw_version: str
) -> list[DiscoveryMessage]:
    """One camera's config messages; ``node`` is the discovery topic's node_id level."""
    cam = camera.slug
    common: dict[str, Any] = {
        "availability_topic": topics.available,
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "device": _device(camera, node, sw_version),
        "origin": {"name": MANUFACTURER, "sw_version": sw_version},
    }

    def config(component: str, thing: str, **keys: Any) -> DiscoveryMessage:
        object_id = f"{cam}_{thing}"
        payload = {"unique_id": f"{node}_{object_id}", **common, **keys}
        return DiscoveryMessage(
            f"{discovery_prefix}/{component}/{node}/{object_id}/config", payload
        )

    messages = []
    if camera.motion:
        messages.append(
            config(
                "binary_sensor",
                "motion",
                name="Motion",
                state_topic=topics.motion(cam),
                device_class="motion",
                payload_on=ON,
                payload_off=OFF,
            )
        )
    if camera.status:
        messages.append(
            config(
                "sensor", "status", name="Status", state_topic=topics.status(cam), icon="mdi:cctv"
            )
        )
    for label in camera.labels:
        title = label.capitalize()
        messages.append(
            config(
                "sensor",
                f"{slug(label)}_count",
                name=f"{title} count",
                state_topic=topics.label(cam, label),
                state_class="measurement",
                icon="mdi:counter",
            )
        )
        messages.append(
            config(
                "camera",
                f"{slug(label)}_snapshot",
                name=f"{title} snapshot",
                topic=topics.snapshot(cam, label),
            )
        )
    for what in camera.switches:
        messages.append(
            config(
                "switch",
                what,
                name="Detection" if what == "detect" else "Recording",
                command_topic=topics.command(cam, what),
                state_topic=topics.state(cam, what),
                payload_on=ON,
                payload_off=OFF,
                icon="mdi:motion-sensor" if what == "detect" else "mdi:record-rec",
            )
        )
    return messages
