"""At start-up, make the index and the disk agree for one camera."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from vigil.link.messages import SegmentRecord
from vigil.link.protocol import AppSide
from vigil.node.layout import RecordingsLayout, start_from_key
from vigil.node.outbox import Outbox
from vigil.node.probe import UnreadableSegment, probe_segment

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Reconciled:
    indexed: int
    dropped_rows: int
    removed_files: int


async def reconcile_camera(
    camera_id: int, node: str, layout: RecordingsLayout, app: AppSide, outbox: Outbox
) -> Reconciled:
    """Index files that have no row; drop rows that have no file; remove unreadable files."""
    known = await app.indexed_paths(node, camera_id)
    on_disk = {layout.key(p): p for p in layout.segments_on_disk(camera_id)}
    missing_rows = sorted(set(on_disk) - known)
    records: list[SegmentRecord] = []
    removed = 0
    for key in missing_rows:
        start_ms = start_from_key(key)
        try:
            if start_ms is None:
                raise UnreadableSegment(f"{key}: name is not a start time")
            info = await asyncio.to_thread(probe_segment, on_disk[key])
        except UnreadableSegment as exc:
            log.warning("camera %s: removing unreadable file %s", camera_id, exc)
            on_disk[key].unlink(missing_ok=True)
            removed += 1
            continue
        records.append(info.record(camera_id, key, start_ms, start_ms + max(info.duration_ms, 1)))
    if records:
        outbox.recorded(records)
    gone = sorted(known - set(on_disk))
    if gone:
        outbox.removed(gone)
    if records or gone or removed:
        log.info(
            "camera %s: indexed %d files found on disk, dropped %d rows without files",
            camera_id,
            len(records),
            len(gone),
        )
    return Reconciled(len(records), len(gone), removed)
