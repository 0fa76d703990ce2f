"""Cameras of a dead node record elsewhere: the leading application instance moves each
camera whose node is not alive to the live node with the most room.

The node that comes back learns it has lost them (they are no longer in its list) and stops
them; what it recorded before stays indexed as its own and plays from it.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping

from vigil.cameras.service import CameraService

log = logging.getLogger(__name__)


class Failover:
    """``alive()`` names the live nodes with their capacity (cameras each may record);
    ``leading()`` says whether this instance may move cameras now."""

    def __init__(
        self,
        cameras: CameraService,
        alive: Callable[[], Mapping[str, int]],
        leading: Callable[[], bool],
        dead_seconds: float,
    ) -> None:
        self._cameras = cameras
        self._alive = alive
        self._leading = leading
        self._dead = dead_seconds
        self._started = time.monotonic()

    async def check(self) -> int:
        """Move what should move now; how many cameras moved."""
        if not self._leading() or time.monotonic() - self._started < self._dead:
            return 0  # until then a node not yet seen may just not have beaten yet
        capacity = self._alive()
        if not capacity:
            return 0
        cameras = await self._cameras.store.list()
        load = Counter(camera.node for camera in cameras)
        moved = 0
        for camera in cameras:
            if camera.node in capacity:
                continue
            room = {name: capacity[name] - load[name] for name in capacity}
            target = max(sorted(room), key=lambda name: room[name])
            if room[target] <= 0:
                log.error(
                    "camera %s: its node %s is dead and no node has room", camera.id, camera.node
                )
                continue
            log.warning(
                "camera %s: node %s is dead, moving it to %s", camera.id, camera.node, target
            )
            await self._cameras.move(camera.id, target)
            load[camera.node] -= 1
            load[target] += 1
            moved += 1
        return moved
