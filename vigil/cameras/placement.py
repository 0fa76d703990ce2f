"""Where cameras record, kept right by the leading application instance, checked every
second:

- a dead node's cameras move at once to the live node with the most room (failover: there
  is nothing left to hand over from);
- a draining node's cameras are handed over, a few at a time, to nodes taking cameras; the
  old node records on until the new one has recorded the camera, so there is no gap;
- a camera pinned to a node that is alive and not draining, but recording elsewhere (it
  moved off while its node was dead or draining), is handed back the same way.

A node that comes back from the dead takes nothing back by itself (unless a camera is
pinned to it): it learns it has lost its cameras and stops them, and what it recorded
before stays indexed as its own and plays from it. Should a node still record a camera
that is another's for longer than a stray beat can explain (a leader died in the middle
of a hand-over, a node cut off came back), the leader tells it to stop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Mapping

from vigil.cameras.service import CameraService
from vigil.store.models import Camera

log = logging.getLogger(__name__)


class Placement:
    """``alive()`` names the live nodes with their capacity (cameras each may record);
    ``leading()`` says whether this instance may move cameras now; ``newest(node, camera)``
    says when the camera's newest segment recorded on the node ends (for hand-overs)."""

    def __init__(
        self,
        cameras: CameraService,
        alive: Callable[[], Mapping[str, int]],
        leading: Callable[[], bool],
        newest: Callable[[str, int], Awaitable[int | None]],
        dead_seconds: float,
        recording: Callable[[], Mapping[str, Collection[int]]] = dict,
        handovers: int = 4,
        handover_seconds: float = 60.0,
        stray_seconds: float = 10.0,
    ) -> None:
        """``recording()`` names, for each live node, the cameras it says it records."""
        self._cameras = cameras
        self._alive = alive
        self._leading = leading
        self._newest = newest
        self._dead = dead_seconds
        self._started = time.monotonic()
        self._most_handovers = handovers
        self._handover_seconds = handover_seconds
        self._handing: dict[int, asyncio.Task[bool]] = {}  # camera id: its hand-over
        self._recording = recording
        self._stray_seconds = stray_seconds
        self._strays: dict[tuple[str, int], float] = {}  # (node, camera): first seen

    @property
    def handing_over(self) -> set[int]:
        return set(self._handing)

    async def stop(self) -> None:
        for task in self._handing.values():
            task.cancel()
        await asyncio.gather(*self._handing.values(), return_exceptions=True)

    async def check(self) -> int:
        """Move or start handing over what should move now; how many cameras."""
        if not self._leading() or time.monotonic() - self._started < self._dead:
            return 0  # until then a node not yet seen may just not have beaten yet
        capacity = self._alive()
        if not capacity:
            return 0
        draining = await self._cameras.node_store.draining()
        cameras = await self._cameras.store.list()
        await self._stop_strays({camera.id: camera.node for camera in cameras})
        load = Counter(camera.node for camera in cameras)
        taking = {name: room for name, room in capacity.items() if name not in draining}
        moved = 0
        for camera in cameras:
            if camera.id in self._handing:
                continue
            dead = camera.node not in capacity
            home = camera.pinned_node
            going_home = home is not None and home != camera.node and home in taking
            if not (dead or camera.node in draining or going_home):
                continue
            room = {name: taking[name] - load[name] for name in taking if name != camera.node}
            target = home if going_home or (dead and home in room) else _roomiest(room)
            if target is None or room.get(target, 0) <= 0:
                if dead or camera.node in draining:
                    log.error(
                        "camera %s: its node %s is %s and no node has room", camera.id,
                        camera.node, "dead" if dead else "draining",
                    )  # fmt: skip
                continue
            if dead:
                log.warning("camera %s: node %s is dead, moving it to %s", camera.id,
                            camera.node, target)  # fmt: skip
                await self._cameras.move(camera.id, target)
            elif len(self._handing) < self._most_handovers:
                why = f"{camera.node} is draining" if not going_home else "it is pinned there"
                self._hand_over(camera, target, why)
            else:
                continue
            load[camera.node] -= 1
            load[target] += 1
            moved += 1
        return moved

    async def _stop_strays(self, holders: Mapping[int, str]) -> None:
        """Tell each node recording a camera that is not its own (for ``stray_seconds``, so
        not a beat sent just before a hand-over ended) to stop it; its footage stays."""
        now = time.monotonic()
        seen = set()
        for node, camera_ids in self._recording().items():
            for camera_id in camera_ids:
                if camera_id in self._handing or holders.get(camera_id, node) == node:
                    continue
                seen.add((node, camera_id))
                since = self._strays.setdefault((node, camera_id), now)
                if now - since < self._stray_seconds:
                    continue
                log.warning("camera %s: node %s records it, but it is %s's: stopping it there",
                            camera_id, node, holders[camera_id])  # fmt: skip
                try:
                    await self._cameras.stop_on(node, camera_id)
                except Exception as exc:  # the next check tries again
                    log.warning("camera %s: node %s not told to stop: %s", camera_id, node, exc)
                    continue
                del self._strays[(node, camera_id)]
                seen.discard((node, camera_id))
        for gone in set(self._strays) - seen:
            del self._strays[gone]

    def _hand_over(self, camera: Camera, target: str, why: str) -> None:
        log.info("camera %s: handing it over from %s to %s (%s)", camera.id, camera.node,
                 target, why)  # fmt: skip
        task = asyncio.create_task(
            self._cameras.hand_over(camera.id, target, self._newest, self._handover_seconds),
            name=f"hand-over-{camera.id}",
        )
        self._handing[camera.id] = task
        task.add_done_callback(lambda done: self._handed(camera.id, done))

    def _handed(self, camera_id: int, task: asyncio.Task[bool]) -> None:
        self._handing.pop(camera_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("camera %s: hand-over failed: %s", camera_id, task.exception())


def _roomiest(room: Mapping[str, int]) -> str | None:
    """The node with the most room (by name among equals); None if there is none."""
    return max(sorted(room), key=lambda name: room[name]) if room else None
