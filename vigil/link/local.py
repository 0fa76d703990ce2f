"""The link inside one process: the node calls the application side directly."""

from __future__ import annotations

from vigil.link.messages import (
    CameraActivity,
    CameraConfig,
    CameraStatus,
    EventRecord,
    MotionSpan,
    SegmentRecord,
    StoredSegment,
)
from vigil.link.protocol import AppSide


class LocalLink:
    """An :class:`AppSide` that forwards to the in-process application server.

    Messages are copied through their serialised form, as they would be over a network, so
    nothing in the single-box mode depends on sharing objects across the boundary.
    """

    def __init__(self, app: AppSide) -> None:
        self._app = app

    async def camera_configs(self, node: str) -> list[CameraConfig]:
        return [
            CameraConfig.model_validate(c.model_dump())
            for c in await self._app.camera_configs(node)
        ]

    async def segments_recorded(self, node: str, segments: list[SegmentRecord]) -> None:
        await self._app.segments_recorded(node, [SegmentRecord(**s.model_dump()) for s in segments])

    async def segments_removed(self, node: str, paths: list[str]) -> None:
        await self._app.segments_removed(node, list(paths))

    async def report_status(self, node: str, status: CameraStatus) -> None:
        await self._app.report_status(node, CameraStatus(**status.model_dump()))

    async def indexed_paths(self, node: str, camera_id: int) -> set[str]:
        return set(await self._app.indexed_paths(node, camera_id))

    async def oldest_segments(
        self,
        node: str,
        camera_id: int | None,
        before_ms: int | None,
        limit: int,
        keep_events_after_ms: int | None = None,
    ) -> list[StoredSegment]:
        return list(
            await self._app.oldest_segments(node, camera_id, before_ms, limit, keep_events_after_ms)
        )

    async def camera_bytes(self, node: str, camera_id: int) -> int:
        return await self._app.camera_bytes(node, camera_id)

    async def events_reported(self, node: str, events: list[EventRecord]) -> None:
        await self._app.events_reported(node, [EventRecord(**e.model_dump()) for e in events])

    async def events_interrupted(self, node: str, before_ms: int) -> None:
        await self._app.events_interrupted(node, before_ms)

    async def motion_reported(self, node: str, spans: list[MotionSpan]) -> None:
        await self._app.motion_reported(node, [MotionSpan(**s.model_dump()) for s in spans])

    async def camera_activity(self, node: str, activity: CameraActivity) -> None:
        await self._app.camera_activity(node, CameraActivity(**activity.model_dump()))
