"""Adding, changing and removing cameras; every change reaches the camera's node at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from vigil.link.messages import SourceProbe
from vigil.link.protocol import LinkUnavailable
from vigil.nodes.registry import NodeRegistry, UnknownNode
from vigil.store.cameras import CameraFields, CameraStore
from vigil.store.models import Camera
from vigil.store.nodes import NodeStore

log = logging.getLogger(__name__)


class CameraService:
    def __init__(
        self,
        store: CameraStore,
        nodes: NodeRegistry,
        default_node: str,
        node_store: NodeStore,
    ) -> None:
        self.store = store
        self.node_store = node_store
        self._nodes = nodes
        self._default_node = default_node
        # Told after a camera is added, changed or deleted (e.g. to re-announce cameras).
        self.on_change: Callable[[], Awaitable[None]] | None = None
        # Told of each camera's node and assignment when it is placed or moves (the fence).
        self.on_assign: Callable[[int, str, int], Awaitable[None]] | None = None

    async def _place(self, pinned: str | None = None) -> str:
        """The node a new camera goes to: the one it is pinned to, else the default one, if
        connected and not draining; else the connected node taking cameras that has the
        fewest; UnknownNode if no node is connected."""
        draining = await self.node_store.draining()
        taking = [name for name in self._nodes.nodes() if name not in draining]
        for wanted in (pinned, self._default_node):
            if wanted in taking or (wanted is not None and not self._nodes.nodes()):
                return wanted
        if not taking:  # every connected node is draining: one of them, until one is not
            taking = list(self._nodes.nodes()) or [self._default_node]
        counts = Counter(camera.node for camera in await self.store.list())
        return min(sorted(taking), key=lambda name: counts[name])

    async def knows_node(self, name: str) -> bool:
        """Whether ``name`` is a node connected now, or one recording cameras."""
        return name in self._nodes.nodes() or bool(await self.store.list(node=name))

    async def create(self, fields: CameraFields, org_id: int) -> Camera:
        name = await self._place(fields.pinned_node)
        node = self._nodes.node(name)  # UnknownNode before anything is stored
        camera = await self.store.create(fields, node=name, org_id=org_id)
        await self._assigned(camera)
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
        """Record the camera on ``node`` from now on, at once (its node is dead: failover);
        what it recorded elsewhere stays indexed there."""
        target = self._nodes.node(node)  # UnknownNode before anything is stored
        camera = await self._assign(camera_id, node)
        await target.apply_camera(self.store.config(camera))
        self._nodes.forget(camera_id)  # its old node's last word on it
        await self._changed()
        return camera

    async def hand_over(
        self,
        camera_id: int,
        node: str,
        newest: Callable[[str, int], Awaitable[int | None]],
        timeout_seconds: float,
    ) -> bool:
        """Move the camera to ``node``, which is alive, making before breaking: its old
        node records on until the new one has a segment of it indexed (``newest(node,
        camera)``: when its newest there ends), so the footage has no gap. If the new node
        records nothing within ``timeout_seconds`` (it cannot reach the camera), the camera
        goes back to where it was; returns whether it moved."""
        before = await self.store.get(camera_id)
        source, target = before.node, self._nodes.node(node)
        records = before.enabled and before.recording
        was = await newest(node, camera_id)  # the new node may have recorded it before
        camera = await self._assign(camera_id, node)
        await target.apply_camera(self.store.config(camera))
        if records:
            deadline = asyncio.get_running_loop().time() + timeout_seconds
            while (now := await newest(node, camera_id)) is None or now == was:
                if asyncio.get_running_loop().time() > deadline:
                    log.error(
                        "camera %s: node %s recorded nothing of it in %.0f s; it stays on %s",
                        camera_id, node, timeout_seconds, source,
                    )  # fmt: skip
                    camera = await self._assign(camera_id, source)
                    with contextlib.suppress(UnknownNode, LinkUnavailable):
                        await self._nodes.node(source).apply_camera(self.store.config(camera))
                    with contextlib.suppress(LinkUnavailable):  # gone: the leader stops it
                        await target.remove_camera(camera_id, delete_footage=False)
                    return False
                await asyncio.sleep(0.5)
        try:
            await self._nodes.node(source).remove_camera(camera_id, delete_footage=False)
        except (UnknownNode, LinkUnavailable) as exc:
            # Gone meanwhile: it stops the camera when it is back (it is no longer its).
            log.warning("camera %s: old node %s not told to stop: %s", camera_id, source, exc)
        await self._changed()
        return True

    async def stop_on(self, node: str, camera_id: int) -> None:
        """Tell ``node`` to stop recording a camera that is no longer its own (its footage
        stays, indexed as that node's)."""
        await self._nodes.node(node).remove_camera(camera_id, delete_footage=False)

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

    async def _assign(self, camera_id: int, node: str) -> Camera:
        return await self._assigned(await self.store.assign(camera_id, node))

    async def _assigned(self, camera: Camera) -> Camera:
        if self.on_assign is not None:
            await self.on_assign(camera.id, camera.node, camera.assignment)
        return camera

    async def _changed(self) -> None:
        if self.on_change is None:
            return
        try:
            await self.on_change()
        except Exception:
            # The change is stored and applied: a failing listener must not fail the caller.
            log.exception("camera change listener failed")
