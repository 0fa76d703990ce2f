"""Adding, changing and removing cameras; every change reaches the camera's node at once."""

from __future__ import annotations

from typing import Any

from vigil.nodes.registry import NodeRegistry
from vigil.store.cameras import CameraFields, CameraStore
from vigil.store.models import Camera
from vigil.store.segments import SegmentIndex


class CameraHasProtectedFootage(Exception):
    def __init__(self, camera_id: int, count: int) -> None:
        super().__init__(
            f"camera {camera_id} has {count} protected segments; release them before deleting"
        )
        self.camera_id = camera_id
        self.count = count


class CameraService:
    def __init__(
        self,
        store: CameraStore,
        segments: SegmentIndex,
        nodes: NodeRegistry,
        default_node: str,
    ) -> None:
        self.store = store
        self._segments = segments
        self._nodes = nodes
        self._default_node = default_node

    async def create(self, fields: CameraFields) -> Camera:
        camera = await self.store.create(fields, node=self._default_node)
        await self._nodes.node(camera.node).apply_camera(self.store.config(camera))
        return camera

    async def update(self, camera_id: int, changes: dict[str, Any]) -> Camera:
        camera = await self.store.update(camera_id, changes)
        await self._nodes.node(camera.node).apply_camera(self.store.config(camera))
        return camera

    async def delete(self, camera_id: int) -> None:
        """Delete a camera and its footage; refused while any of it is protected."""
        camera = await self.store.get(camera_id)
        protected = await self._segments.protected_count(camera_id)
        if protected:
            raise CameraHasProtectedFootage(camera_id, protected)
        await self.store.delete(camera_id)
        self._nodes.forget(camera_id)
        await self._nodes.node(camera.node).remove_camera(camera_id, delete_footage=True)
