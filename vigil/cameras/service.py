"""Adding, changing and removing cameras; every change reaches the camera's node at once."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from vigil.link.messages import SourceProbe
from vigil.nodes.registry import NodeRegistry
from vigil.store.cameras import CameraFields, CameraStore
from vigil.store.models import Camera

log = logging.getLogger(__name__)


class CameraService:
    def __init__(
        self,
        store: CameraStore,
        nodes: NodeRegistry,
        default_node: str,
    ) -> None:
        self.store = store
        self._nodes = nodes
        self._default_node = default_node
        # Told after a camera is added, changed or deleted (e.g. to re-announce cameras).
        self.on_change: Callable[[], Awaitable[None]] | None = None

    async def _place(self) -> str:
        """The node a new camera goes to: the default one if it is connected, else the
        connected node with the fewest cameras; UnknownNode if none is."""
        connected = self._nodes.nodes()
        if self._default_node in connected or not connected:
            return self._default_node
        counts = Counter(camera.node for camera in await self.store.list())
        return min(sorted(connected), key=lambda name: counts[name])

    async def create(self, fields: CameraFields, org_id: int) -> Camera:
        name = await self._place()
        node = self._nodes.node(name)  # UnknownNode before anything is stored
        camera = await self.store.create(fields, node=name, org_id=org_id)
        await node.apply_camera(self.store.config(camera))
        await self._changed()
        return camera

    async def update(self, camera_id: int, changes: dict[str, Any]) -> Camera:
        node = self._nodes.node((await self.store.get(camera_id)).node)
        camera = await self.store.update(camera_id, changes)
        await node.apply_camera(self.store.config(camera))
        await self._changed()
        return camera

    async def move(self, camera_id: int, node: str) -> Camera:
        """Record the camera on ``node`` from now on (its node is dead: failover); what it
        recorded elsewhere stays indexed there."""
        target = self._nodes.node(node)  # UnknownNode before anything is stored
        camera = await self.store.update(camera_id, {"node": node})
        await target.apply_camera(self.store.config(camera))
        self._nodes.forget(camera_id)  # its old node's last word on it
        await self._changed()
        return camera

    async def probe(
        self,
        url: str,
        username: str | None,
        password: str | None,
        timeout_seconds: float,
        node: str | None = None,
    ) -> SourceProbe:
        """What the stream at ``url`` sends, as ``node`` (default: where a new camera goes)
        sees it; ``ProbeFailed`` says why it cannot be opened."""
        target = self._nodes.node(node or await self._place())
        return await target.probe_source(url, username, password, timeout_seconds)

    async def delete(self, camera_id: int) -> None:
        """Delete a camera and its footage; refused while any of it is protected."""
        camera = await self.store.delete(camera_id)
        await self._nodes.node(camera.node).remove_camera(camera_id, delete_footage=True)
        self._nodes.forget(camera_id)  # after the node's last report on it
        await self._changed()

    async def _changed(self) -> None:
        if self.on_change is None:
            return
        try:
            await self.on_change()
        except Exception:
            # The change is stored and applied: a failing listener must not fail the caller.
            log.exception("camera change listener failed")
