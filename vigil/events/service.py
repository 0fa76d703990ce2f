"""Events on the application server: stored as nodes report them, told to listeners
(MQTT, later notifications), their snapshots read from the node, expired by retention."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from vigil.events.snapshots import BadSnapshot, draw_box
from vigil.link.messages import CameraActivity, EventRecord, EventStage, MotionSpan
from vigil.link.protocol import MediaNotFound, read_whole
from vigil.nodes.registry import NodeRegistry
from vigil.store.cameras import CameraStore
from vigil.store.events import EventStore, Reported
from vigil.store.models import Event
from vigil.timeutil import now_ms

log = logging.getLogger(__name__)
_DAY_MS = 86_400_000
SNAPSHOT_LIMIT = 16 << 20  # a JPEG larger than this is no snapshot of ours

EventListener = Callable[[Event, EventStage], Awaitable[None]]
ActivityListener = Callable[[CameraActivity], Awaitable[None]]


class NoSnapshot(Exception):
    def __init__(self, event_id: int, why: str = "the event has no snapshot") -> None:
        super().__init__(why)
        self.event_id = event_id


class EventService:
    """Implements the registry's ``EventSink``; the API and MQTT read through it."""

    def __init__(self, store: EventStore, nodes: NodeRegistry, cameras: CameraStore) -> None:
        self.store = store
        self._nodes = nodes
        self._cameras = cameras
        self.listeners: list[EventListener] = []
        self.activity_listeners: list[ActivityListener] = []
        self._activity: dict[int, CameraActivity] = {}

    # -- from nodes
    async def reported(self, node: str, events: list[EventRecord]) -> None:
        for item in await self.store.report(node, events):
            await self._tell(item)

    async def motion(self, node: str, spans: list[MotionSpan]) -> None:
        await self.store.add_motion(spans)

    async def interrupted(self, node: str, before_ms: int) -> None:
        for item in await self.store.end_interrupted(node, before_ms):
            await self._tell(item)

    async def activity(self, node: str, activity: CameraActivity) -> None:
        self._activity[activity.camera_id] = activity
        for listener in self.activity_listeners:
            try:
                await listener(activity)
            except Exception:
                log.exception("camera activity listener failed")

    def current_activity(self, camera_id: int) -> CameraActivity | None:
        """What the camera saw last (None before its first report)."""
        return self._activity.get(camera_id)

    def forget(self, camera_id: int) -> None:
        self._activity.pop(camera_id, None)

    async def _tell(self, item: Reported) -> None:
        for listener in self.listeners:
            try:
                await listener(item.event, item.stage)
            except Exception:
                # The event is stored either way; a listener's failure is its own.
                log.exception("event listener failed")

    # -- for the API
    async def snapshot(self, event: Event, with_box: bool) -> bytes:
        """The event's best picture as JPEG, with the object's box drawn if asked."""
        if event.snapshot_path is None:
            raise NoSnapshot(event.id)
        try:
            node = self._nodes.node(event.node)
            jpeg = await read_whole(node, event.snapshot_path, SNAPSHOT_LIMIT)
        except MediaNotFound as e:
            log.warning("event %s: snapshot unreadable: %s", event.id, e)
            raise NoSnapshot(event.id, "the snapshot file is missing") from None
        if not with_box or event.snapshot_box is None:
            return jpeg
        x1, y1, x2, y2 = event.snapshot_box
        caption = f"{event.label} {round(event.score * 100)}%"
        try:
            return await asyncio.to_thread(draw_box, jpeg, (x1, y1, x2, y2), caption)
        except BadSnapshot as e:
            raise NoSnapshot(event.id, str(e)) from None

    async def delete(self, event_id: int) -> Event:
        """Delete an event and its snapshot (not its footage); refused while protected."""
        event = await self.store.delete(event_id)
        await self._delete_snapshots([event])
        return event

    async def _delete_snapshots(self, events: list[Event]) -> None:
        by_node: dict[str, list[str]] = {}
        for event in events:
            if event.snapshot_path:
                by_node.setdefault(event.node, []).append(event.snapshot_path)
        for node, paths in by_node.items():
            try:
                await self._nodes.node(node).delete_files(paths)
            except Exception:
                log.warning("could not delete %d snapshots on node %s", len(paths), node)

    # -- retention
    async def expire(self) -> int:
        """Delete events older than their camera's event retention; how many went."""
        deleted = 0
        for camera in await self._cameras.list():
            if camera.event_retention_days is None:
                continue
            cutoff = now_ms() - round(camera.event_retention_days * _DAY_MS)
            while events := await self.store.ended_before(camera.id, cutoff):
                await self.store.delete_many([e.id for e in events])
                await self._delete_snapshots(events)
                deleted += len(events)
            keep_days = max(camera.event_retention_days, camera.retention_days or 0)
            if camera.retention_days is not None:
                await self.store.forget_motion(camera.id, now_ms() - round(keep_days * _DAY_MS))
        return deleted

    async def run_expiry(self, interval_seconds: float) -> None:
        """Expire events every ``interval_seconds`` until cancelled."""
        while True:
            await asyncio.sleep(interval_seconds)
            try:
                count = await self.expire()
                if count:
                    log.info("event retention deleted %d events", count)
            except Exception:
                log.exception("event retention pass failed")
