"""The application server's side of the link: answers nodes, remembers their cameras' status."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar, cast

from vigil.link.messages import (
    CameraActivity,
    CameraConfig,
    CameraState,
    CameraStatus,
    EventRecord,
    MotionSpan,
    SegmentRecord,
    StoredSegment,
)
from vigil.link.protocol import LinkUnavailable, NodeSide
from vigil.store.cameras import CameraNotFound, CameraStore
from vigil.store.database import DatabaseUnavailable
from vigil.store.segments import SegmentIndex

log = logging.getLogger(__name__)


class EventSink(Protocol):
    """Where a node's events, motion and activity go (see ``vigil.events.service``)."""

    async def reported(self, node: str, events: list[EventRecord]) -> None: ...

    async def motion(self, node: str, spans: list[MotionSpan]) -> None: ...

    async def interrupted(self, node: str, before_ms: int) -> None: ...

    async def activity(self, node: str, activity: CameraActivity) -> None: ...


_Method = TypeVar("_Method", bound=Callable[..., Awaitable[Any]])


class UnknownNode(Exception):
    def __init__(self, node: str) -> None:
        super().__init__(f"no media node named {node!r} is connected")
        self.node = node


def _app_side(method: _Method) -> _Method:
    """The application side is unavailable to nodes while its database is."""

    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        except DatabaseUnavailable as exc:
            raise LinkUnavailable(str(exc)) from exc

    return cast(_Method, call)


class NodeRegistry:
    """Implements :class:`vigil.link.protocol.AppSide` over the database."""

    def __init__(self, cameras: CameraStore, segments: SegmentIndex) -> None:
        self._cameras = cameras
        self._segments = segments
        self._nodes: dict[str, NodeSide] = {}
        self._status: dict[int, CameraStatus] = {}
        # Told when a camera's state changes (not on every report), e.g. to publish it.
        self.on_status: Callable[[int, CameraState], Awaitable[None]] | None = None
        self.events: EventSink | None = None  # None: events are dropped (no one stores them)

    # -- nodes, as the application server uses them
    def attach(self, name: str, node: NodeSide) -> None:
        self._nodes[name] = node

    def detach(self, name: str) -> None:
        self._nodes.pop(name, None)

    def node(self, name: str) -> NodeSide:
        try:
            return self._nodes[name]
        except KeyError:
            raise UnknownNode(name) from None

    def nodes(self) -> dict[str, NodeSide]:
        return dict(self._nodes)

    def status(self, camera_id: int, enabled: bool = True) -> CameraStatus:
        """What the camera's node last said; before it has said anything, an enabled camera
        is connecting (it was just added, or its node is starting) and a disabled one is
        disabled."""
        known = self._status.get(camera_id)
        if known is not None:
            return known
        state = CameraState.CONNECTING if enabled else CameraState.DISABLED
        return CameraStatus(camera_id=camera_id, state=state)

    def forget(self, camera_id: int) -> None:
        self._status.pop(camera_id, None)

    # -- AppSide: the node's calls. With the database away they raise LinkUnavailable, and
    # the node keeps what it has (outbox, retention postponed) until it is back.
    @_app_side
    async def camera_configs(self, node: str) -> list[CameraConfig]:
        return [self._cameras.config(c) for c in await self._cameras.list(node=node)]

    @_app_side
    async def segments_recorded(self, node: str, segments: list[SegmentRecord]) -> None:
        added = await self._segments.add(node, segments)
        # A camera deleted while its segment was in flight: the file goes, not an orphan row.
        if added.orphans and node in self._nodes:
            await self._nodes[node].delete_files(added.orphans)

    @_app_side
    async def segments_removed(self, node: str, paths: list[str]) -> None:
        await self._segments.remove(paths)

    async def report_status(self, node: str, status: CameraStatus) -> None:
        previous = self._status.get(status.camera_id)
        changed = previous is None or previous.state != status.state
        if changed and not await self._holds(node, status.camera_id):
            return  # a camera handed over: the old node's last words on it
        self._status[status.camera_id] = status
        if changed:
            log.info(
                "camera %s: %s%s",
                status.camera_id,
                status.state.value,
                f" ({status.last_error})" if status.last_error else "",
            )
            if self.on_status is not None:
                try:
                    await self.on_status(status.camera_id, status.state)
                except Exception:
                    # The node's report is taken either way; a listener's failure is ours.
                    log.exception("camera status listener failed")

    async def _holds(self, node: str, camera_id: int) -> bool:
        """Whether the camera is ``node``'s now (yes, if the database cannot say)."""
        try:
            return (await self._cameras.get(camera_id)).node == node
        except (CameraNotFound, DatabaseUnavailable):
            return True

    @_app_side
    async def indexed_paths(self, node: str, camera_id: int) -> set[str]:
        return await self._segments.paths(node, camera_id)

    @_app_side
    async def oldest_segments(
        self,
        node: str,
        camera_id: int | None,
        before_ms: int | None,
        limit: int,
        keep_events_after_ms: int | None = None,
    ) -> list[StoredSegment]:
        return await self._segments.oldest(node, camera_id, before_ms, limit, keep_events_after_ms)

    @_app_side
    async def camera_bytes(self, node: str, camera_id: int) -> int:
        return sum(u.bytes for u in await self._segments.usage(camera_id))

    @_app_side
    async def events_reported(self, node: str, events: list[EventRecord]) -> None:
        if self.events is not None:
            await self.events.reported(node, events)

    @_app_side
    async def events_interrupted(self, node: str, before_ms: int) -> None:
        if self.events is not None:
            await self.events.interrupted(node, before_ms)

    @_app_side
    async def motion_reported(self, node: str, spans: list[MotionSpan]) -> None:
        if self.events is not None:
            await self.events.motion(node, spans)

    @_app_side
    async def camera_activity(self, node: str, activity: CameraActivity) -> None:
        if self.events is not None:
            await self.events.activity(node, activity)
