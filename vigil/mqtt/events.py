"""Events on MQTT: every stored change on ``<prefix>/events``, the best snapshots retained."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from vigil.events.service import EventService, NoSnapshot
from vigil.link.messages import EventStage
from vigil.mqtt.publisher import EventKind, MqttPublisher
from vigil.store.models import Event
from vigil.timeutil import iso

log = logging.getLogger(__name__)

# camera id -> (topic level, name) of the camera, None when it no longer exists.
CameraLookup = Callable[[int], Awaitable[tuple[str, str] | None]]

_KINDS: dict[EventStage, EventKind] = {
    EventStage.NEW: "new",
    EventStage.UPDATE: "update",
    EventStage.END: "end",
}


def event_payload(event: Event, camera_name: str) -> dict[str, Any]:
    """An event as MQTT tells it: the fields a subscriber acts on, times as ISO 8601 UTC."""
    return {
        "id": event.id,
        "camera": camera_name,
        "camera_id": event.camera_id,
        "kind": event.kind,
        "label": event.label,
        "score": event.score,
        "zones": list(event.zones),
        "start": iso(event.start_ms),
        "end": None if event.end_ms is None else iso(event.end_ms),
        "last": iso(event.last_ms),
        "snapshot": event.snapshot_path is not None,
        "reviewed": event.reviewed,
        "protected": event.protected,
    }


class EventRelay:
    """Tells the broker about each event change: an ``EventService`` listener."""

    def __init__(
        self, publisher: MqttPublisher, events: EventService, camera: CameraLookup
    ) -> None:
        self._publisher = publisher
        self._events = events
        self._camera = camera
        # Per open event: what was last told (the next message's "before") and which
        # snapshot went out, so an update sends a picture only when it is a better one.
        self._told: dict[int, dict[str, Any]] = {}
        self._pictures: dict[int, tuple[str, int | None]] = {}

    async def event_changed(self, event: Event, stage: EventStage) -> None:
        found = await self._camera(event.camera_id)
        if found is None:
            return  # the camera was deleted meanwhile: nobody subscribes to it any more
        key, name = found
        after = event_payload(event, name)
        before = self._told.pop(event.id, None)
        if stage is not EventStage.END:
            self._told[event.id] = after
        self._publisher.publish_event(_KINDS[stage], after, before)
        await self._send_snapshot(event, key, ended=stage is EventStage.END)

    async def _send_snapshot(self, event: Event, key: str, *, ended: bool) -> None:
        picture = (event.snapshot_path, event.snapshot_ms) if event.snapshot_path else None
        sent = self._pictures.pop(event.id, None) if ended else self._pictures.get(event.id)
        if picture is None or picture == sent:
            return
        try:
            jpeg = await self._events.snapshot(event, with_box=True)
        except NoSnapshot as e:
            log.debug("event %s: no snapshot for MQTT: %s", event.id, e)
            return
        if not ended:
            self._pictures[event.id] = picture
        self._publisher.publish_snapshot(key, event.label, jpeg)
