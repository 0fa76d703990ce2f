"""Retention on a node: age and size limits per camera, a free-space floor for the disk.

Oldest unprotected footage goes first; a camera's newest segment and the one being written
(not yet indexed) are never candidates. Files are deleted first and their rows after, through
the outbox, so a crash in between leaves only rows that the next reconcile drops.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from vigil.link.messages import CameraConfig, RecordMode, StoredSegment
from vigil.link.protocol import AppSide
from vigil.node.layout import RecordingsLayout, UnsafePath, remove_segment_file
from vigil.node.outbox import Outbox
from vigil.timeutil import now_ms

log = logging.getLogger(__name__)
_BATCH = 200
_DAY_MS = 86_400_000
# Events-only cameras keep this much more than the pre-buffer: an event opens only once its
# object qualifies (a zone's minimum time, a few frames to be sure), after it was first seen.
EVENTS_ONLY_MARGIN_MS = 30_000


@dataclass(slots=True)
class RetentionReport:
    by_mode: int = 0  # events-only cameras: footage around no event
    by_age: int = 0
    by_size: int = 0
    by_free_space: int = 0
    bytes_freed: int = 0
    floor_unreachable: bool = False


class Retention:
    def __init__(
        self,
        node: str,
        app: AppSide,
        outbox: Outbox,
        layout: RecordingsLayout,
        min_free_bytes: int,
        free_bytes: Callable[[], int] | None = None,
    ) -> None:
        self._node = node
        self._app = app
        self._outbox = outbox
        self._layout = layout
        self.min_free_bytes = min_free_bytes
        self._free_bytes = free_bytes or (lambda: shutil.disk_usage(layout.root).free)

    async def run(self, cameras: Iterable[CameraConfig]) -> RetentionReport:
        """One pass over every rule. Returns what was deleted."""
        report = RetentionReport()
        if not await self._outbox.flush():
            return report  # the index is not reachable: judge nothing on stale rows
        for camera in cameras:
            # Footage around events is kept for the event retention (None: no age limit).
            keep_events_after = 0
            if camera.event_retention_days is not None:
                keep_events_after = now_ms() - round(camera.event_retention_days * _DAY_MS)
            if camera.record_mode is RecordMode.EVENTS:
                # Only footage around events is wanted. What is newer than the pre-buffer
                # and a margin may still become the start of one.
                pre = camera.detection.pre_seconds if camera.detection is not None else 0.0
                cutoff = now_ms() - round(pre * 1000) - EVENTS_ONLY_MARGIN_MS
                report.by_mode += await self._delete_while(
                    camera.id, cutoff, lambda _: True, report, keep_events_after
                )
            if camera.retention_days is not None:
                cutoff = now_ms() - round(camera.retention_days * _DAY_MS)
                report.by_age += await self._delete_while(
                    camera.id, cutoff, lambda _: True, report, keep_events_after
                )
            if camera.retention_max_bytes is not None:
                excess = await self._app.camera_bytes(self._node, camera.id)
                excess -= camera.retention_max_bytes

                def over_cap(seg: StoredSegment) -> bool:
                    nonlocal excess
                    if excess <= 0:
                        return False
                    excess -= seg.size
                    return True

                report.by_size += await self._delete_while(camera.id, None, over_cap, report)
        if self.min_free_bytes:
            free = self._free_bytes()
            if free < self.min_free_bytes:
                report.by_free_space = await self._delete_while(
                    None, None, lambda _: self._free_bytes() < self.min_free_bytes, report
                )
                report.floor_unreachable = self._free_bytes() < self.min_free_bytes
                if report.floor_unreachable:
                    log.warning(
                        "free space is below the floor of %d bytes and nothing more may be "
                        "deleted (only protected or newest footage is left)",
                        self.min_free_bytes,
                    )
        return report

    async def _delete_while(
        self,
        camera_id: int | None,
        before_ms: int | None,
        wanted: Callable[[StoredSegment], bool],
        report: RetentionReport,
        keep_events_after_ms: int | None = None,
    ) -> int:
        deleted = 0
        while True:
            batch = await self._app.oldest_segments(
                self._node, camera_id, before_ms, _BATCH, keep_events_after_ms
            )
            chosen: list[StoredSegment] = []
            for seg in batch:
                if not wanted(seg):
                    break
                self._unlink(seg.path)
                chosen.append(seg)
            if chosen:
                self._outbox.removed([s.path for s in chosen])
                deleted += len(chosen)
                report.bytes_freed += sum(s.size for s in chosen)
                if not await self._outbox.flush():
                    break
            if len(chosen) < len(batch) or len(batch) < _BATCH:
                break
        return deleted

    def _unlink(self, key: str) -> None:
        try:
            path = self._layout.path(key)
        except UnsafePath:
            log.error("refusing to delete a path outside the recordings folder: %r", key)
            return
        remove_segment_file(path, self._layout.root)
