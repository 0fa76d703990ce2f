"""Vigil's MQTT topic layout, in one place for the publisher, discovery and documentation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Switch = Literal["detect", "recordings"]
SWITCHES: tuple[Switch, ...] = ("detect", "recordings")
ON, OFF = "ON", "OFF"
ONLINE, OFFLINE = "online", "offline"


def slug(name: str) -> str:
    """A topic- and id-safe form of a name: lower case ``[a-z0-9_]``, never empty."""
    text = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return text or "unnamed"


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic under one prefix, e.g. ``vigil/front_door/person/snapshot``."""

    prefix: str

    @property
    def available(self) -> str:
        return f"{self.prefix}/available"

    @property
    def events(self) -> str:
        return f"{self.prefix}/events"

    def camera(self, camera: str) -> str:
        return f"{self.prefix}/{camera}"

    def status(self, camera: str) -> str:
        return f"{self.prefix}/{camera}/status"

    def motion(self, camera: str) -> str:
        return f"{self.prefix}/{camera}/motion"

    def label(self, camera: str, label: str) -> str:
        """The occupancy count: how many objects of the label the camera sees now."""
        return f"{self.prefix}/{camera}/{slug(label)}"

    def snapshot(self, camera: str, label: str) -> str:
        return f"{self.prefix}/{camera}/{slug(label)}/snapshot"

    def command(self, camera: str, what: Switch) -> str:
        return f"{self.prefix}/{camera}/{what}/set"

    def state(self, camera: str, what: Switch) -> str:
        return f"{self.prefix}/{camera}/{what}/state"

    def parse_command(self, topic: str) -> tuple[str, Switch] | None:
        """``(camera slug, switch)`` for a command topic of ours, else None."""
        head, _, rest = topic.partition(f"{self.prefix}/")
        parts = rest.split("/")
        if head or len(parts) != 3 or parts[2] != "set":
            return None
        for what in SWITCHES:
            if parts[1] == what:
                return parts[0], what
        return None
