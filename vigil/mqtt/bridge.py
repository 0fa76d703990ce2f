"""What `vigil serve` publishes over MQTT today: cameras, their status and recording switch."""

from __future__ import annotations

import asyncio
import logging

from vigil.cameras.service import CameraService
from vigil.link.messages import CameraState
from vigil.mqtt.discovery import CameraDevice
from vigil.mqtt.publisher import Command, MqttPublisher
from vigil.mqtt.topics import slug
from vigil.nodes.registry import NodeRegistry
from vigil.store.audit import Actor, AuditLog
from vigil.store.cameras import CameraNotFound
from vigil.store.models import Camera

log = logging.getLogger(__name__)


def camera_key(camera: Camera) -> str:
    """The camera's topic level: names are unique only within an organisation, ids everywhere."""
    return slug(f"{camera.id} {camera.name}")


class MqttBridge:
    """Keeps the publisher in step with the cameras and answers commands from the broker.

    Detection is not wired to MQTT yet: no motion sensor, label sensors or detection switch
    are announced, and ``detect/set`` is ignored.
    """

    def __init__(
        self,
        publisher: MqttPublisher,
        cameras: CameraService,
        nodes: NodeRegistry,
        audit: AuditLog,
    ) -> None:
        self.publisher = publisher
        self._cameras = cameras
        self._nodes = nodes
        self._audit = audit
        self._keys: dict[int, str] = {}
        # Changes in parallel: the last list read must be the last announced.
        self._announcing = asyncio.Lock()

    async def announce(self) -> None:
        """Announce every organisation's cameras, with their recording switch and status."""
        async with self._announcing:
            await self._announce()

    async def _announce(self) -> None:
        cameras = await self._cameras.store.list()
        before = set(self._keys.values())
        self._keys = {camera.id: camera_key(camera) for camera in cameras}
        for key in sorted(before - set(self._keys.values())):
            self.publisher.forget(key)
        self.publisher.announce(
            CameraDevice(
                camera.name,
                labels=(),
                id=str(camera.id),
                key=self._keys[camera.id],
                motion=False,
                switches=("recordings",),
                status=True,
            )
            for camera in cameras
        )
        for camera in cameras:
            key = self._keys[camera.id]
            self.publisher.publish_switch(key, "recordings", camera.recording)
            self.publisher.publish_status(key, self._nodes.status(camera.id).state.value)

    async def status_changed(self, camera_id: int, state: CameraState) -> None:
        key = self._keys.get(camera_id)
        if key is not None:  # else the camera is being added: its announce sends the state
            self.publisher.publish_status(key, state.value)

    async def command(self, command: Command) -> bool | None:
        """Turn a camera's recording on or off; the state that holds now, None if unknown."""
        if command.what != "recordings":
            log.info(
                "MQTT: %s/%s ignored: detection is not wired yet", command.camera_slug, command.what
            )
            return None
        camera_id = next((i for i, k in self._keys.items() if k == command.camera_slug), None)
        if camera_id is None:
            return None
        try:
            camera = await self._cameras.update(camera_id, {"recording": command.on})
        except CameraNotFound:
            return None
        await self._audit.record(
            Actor(org_id=camera.org_id, username="mqtt"),
            "camera.update",
            target=f"camera:{camera.id}",
            fields=["recording"],
            via="mqtt",
        )
        return camera.recording
