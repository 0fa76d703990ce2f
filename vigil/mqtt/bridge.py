"""What `vigil serve` publishes over MQTT: cameras, their status, detection and switches."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from vigil.cameras.service import CameraService
from vigil.detect.settings import DetectionSettings
from vigil.events.service import EventService
from vigil.link.messages import CameraActivity, CameraState
from vigil.mqtt.discovery import CameraDevice
from vigil.mqtt.events import EventRelay
from vigil.mqtt.publisher import Command, MqttPublisher
from vigil.mqtt.topics import Switch, slug
from vigil.nodes.registry import NodeRegistry
from vigil.store.audit import Actor, AuditLog
from vigil.store.cameras import CameraNotFound, detection_of
from vigil.store.models import Camera

log = logging.getLogger(__name__)


def camera_key(camera: Camera) -> str:
    """The camera's topic level: names are unique only within an organisation, ids everywhere."""
    return slug(f"{camera.id} {camera.name}")


def detected_labels(detection: DetectionSettings | None) -> tuple[str, ...] | None:
    """The labels a camera counts, sorted; None while its detection is off (or never set)."""
    if detection is None or not detection.enabled:
        return None
    return tuple(sorted(detection.labels)) if detection.object_detection else ()


@dataclass(slots=True)
class _Announced:
    """A camera as last announced, and the detection states its topics show."""

    key: str
    name: str
    labels: tuple[str, ...] | None  # None: detection off, no motion or count sensors
    motion: bool | None = None  # None: not published yet
    counts: dict[str, int] = field(default_factory=dict)


class MqttBridge:
    """Keeps the publisher in step with the cameras and events, and answers commands."""

    def __init__(
        self,
        publisher: MqttPublisher,
        cameras: CameraService,
        nodes: NodeRegistry,
        audit: AuditLog,
        events: EventService,
    ) -> None:
        self.publisher = publisher
        self._cameras = cameras
        self._nodes = nodes
        self._audit = audit
        self._events = events
        self._announced: dict[int, _Announced] = {}
        self.relay = EventRelay(publisher, events, self._camera_topic)
        # Changes in parallel: the last list read must be the last announced.
        self._announcing = asyncio.Lock()

    async def announce(self) -> None:
        """Announce every organisation's cameras with their status, switches and detection."""
        async with self._announcing:
            await self._announce()

    async def _announce(self) -> None:
        cameras = await self._cameras.store.list()
        before = self._announced
        self._announced = {}
        for camera in cameras:
            detection = detection_of(camera)
            now = _Announced(camera_key(camera), camera.name, detected_labels(detection))
            was = before.get(camera.id)
            if was is not None and was.key == now.key:
                now.motion, now.counts = was.motion, was.counts
                self._drop_detection(now, was.labels, now.labels)
            self._announced[camera.id] = now
        keys = {a.key for a in self._announced.values()}
        for key in sorted({a.key for a in before.values()} - keys):
            self.publisher.forget(key)
        self.publisher.announce(self._device(camera) for camera in cameras)
        for camera in cameras:
            announced = self._announced[camera.id]
            self.publisher.publish_switch(announced.key, "recordings", camera.recording)
            detection = detection_of(camera)
            if detection is not None:
                self.publisher.publish_switch(announced.key, "detect", detection.enabled)
            self.publisher.publish_status(
                announced.key, self._nodes.status(camera.id, camera.enabled).state.value
            )
            if announced.labels is not None:
                self._show(announced, self._seen(camera.id, before.get(camera.id)))

    def _seen(self, camera_id: int, was: _Announced | None) -> CameraActivity:
        """What a detecting camera's sensors show when announced: its last activity, unless
        detection was off until now (that activity is stale), else no motion and zeros."""
        seen = self._events.current_activity(camera_id)
        if seen is None or (was is not None and was.labels is None):
            return CameraActivity(camera_id=camera_id, time_ms=0, motion=False)
        return seen

    def _device(self, camera: Camera) -> CameraDevice:
        announced = self._announced[camera.id]
        detecting = announced.labels is not None
        # The detection switch stays while detection is off, so it can be switched on again.
        switches: tuple[Switch, ...] = (
            ("detect", "recordings") if camera.detection is not None else ("recordings",)
        )
        return CameraDevice(
            camera.name,
            labels=announced.labels or (),
            id=str(camera.id),
            key=announced.key,
            motion=detecting,
            switches=switches,
            status=True,
        )

    def _drop_detection(
        self, announced: _Announced, was: tuple[str, ...] | None, now: tuple[str, ...] | None
    ) -> None:
        """Empty the states of sensors no longer announced (detection off, labels dropped)."""
        gone = sorted(set(was or ()) - set(now or ()))
        motion_gone = was is not None and now is None
        if gone or motion_gone:
            self.publisher.clear_detection(announced.key, gone, motion=motion_gone)
        if motion_gone:
            announced.motion = None
        for label in gone:
            announced.counts.pop(label, None)

    async def status_changed(self, camera_id: int, state: CameraState) -> None:
        announced = self._announced.get(camera_id)
        if announced is not None:  # else the camera is being added: its announce sends it
            self.publisher.publish_status(announced.key, state.value)

    async def activity(self, activity: CameraActivity) -> None:
        """Motion and per-label counts as a node sees them, published when they change."""
        announced = self._announced.get(activity.camera_id)
        if announced is not None and announced.labels is not None:
            self._show(announced, activity)

    def _show(self, announced: _Announced, activity: CameraActivity) -> None:
        if announced.motion != activity.motion:
            announced.motion = activity.motion
            self.publisher.publish_motion(announced.key, activity.motion)
        for label in announced.labels or ():
            count = activity.objects.get(label, 0)
            if announced.counts.get(label) != count:
                announced.counts[label] = count
                self.publisher.publish_occupancy(announced.key, label, count)

    async def _camera_topic(self, camera_id: int) -> tuple[str, str] | None:
        announced = self._announced.get(camera_id)
        if announced is not None:
            return announced.key, announced.name
        try:  # added a moment ago: its announcement is still on its way
            camera = await self._cameras.store.get(camera_id)
        except CameraNotFound:
            return None
        return camera_key(camera), camera.name

    async def command(self, command: Command) -> bool | None:
        """Switch a camera's recording or detection; the state that holds now, None if unknown."""
        camera_id = next(
            (i for i, a in self._announced.items() if a.key == command.camera_slug), None
        )
        if camera_id is None:
            return None
        try:
            if command.what == "recordings":
                camera = await self._cameras.update(camera_id, {"recording": command.on})
                state = camera.recording
            else:
                camera = await self._cameras.store.get(camera_id)
                detection = detection_of(camera)
                if detection is None and not command.on:
                    return False  # never set: off already, nothing to store
                detection = (detection or DetectionSettings()).model_copy(
                    update={"enabled": command.on}
                )
                camera = await self._cameras.update(camera_id, {"detection": detection})
                state = detection.enabled
        except CameraNotFound:
            return None
        await self._audit.record(
            Actor(org_id=camera.org_id, username="mqtt"),
            "camera.update",
            target=f"camera:{camera.id}",
            fields=["recording" if command.what == "recordings" else "detection"],
            via="mqtt",
        )
        return state
