"""Storage: how much each camera's footage takes, how fast it grows, how long the disk lasts."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends

from vigil.api.deps import ServicesDep
from vigil.api.problems import problem_responses
from vigil.api.schemas import CameraStorage, StorageOut
from vigil.api.security import StorageCamera, admin
from vigil.auth.permissions import Scope
from vigil.auth.principal import Principal
from vigil.link.protocol import LinkUnavailable, NodeSide
from vigil.store.segments import CameraUsage
from vigil.timeutil import now_ms

router = APIRouter(tags=["storage"])

# The recording rate is measured over the last day of footage (or all of it, if less).
RATE_WINDOW_MS = 86_400_000


def _summary(camera_id: int, usage: CameraUsage | None) -> CameraStorage:
    if usage is None:
        return CameraStorage(camera_id=camera_id, segments=0, bytes=0, oldest=None, newest=None)
    return CameraStorage(
        camera_id=camera_id,
        segments=usage.segments,
        bytes=usage.bytes,
        oldest=usage.oldest_ms,
        newest=usage.newest_ms,
    )


@router.get("/cameras/{camera_id}/storage", responses=problem_responses(401, 403, 404, 422))
async def camera_storage(camera: StorageCamera, services: ServicesDep) -> CameraStorage:
    """Segments and bytes a camera has recorded, and the range they cover."""
    usage = await services.segments.usage(camera.id)
    return _summary(camera.id, usage[0] if usage else None)


async def _disk(node: NodeSide) -> tuple[int, int, int] | None:
    """A node's (total, used, free), None while its storage or the node is away."""
    try:
        return await node.disk_usage()
    except (OSError, LinkUnavailable):
        return None


@router.get("/storage", responses=problem_responses(401, 403))
async def storage(
    principal: Annotated[Principal, Depends(admin(Scope.CAMERAS_READ))], services: ServicesDep
) -> StorageOut:
    """The recordings disk, the footage on it, the recording rate and the days it lasts
    (admins; the cameras listed are the organisation's, the disk is the node's)."""
    cameras = await services.cameras.store.list(org_id=principal.org_id)
    ours = {camera.id for camera in cameras}
    usage = {u.camera_id: u for u in await services.segments.usage() if u.camera_id in ours}
    disks = [
        disk
        for disk in await asyncio.gather(*(_disk(node) for node in services.nodes.nodes().values()))
        if disk is not None
    ]
    total: int | None = None
    used: int | None = None
    free: int | None = None
    if disks:
        total, used, free = (sum(column) for column in zip(*disks, strict=True))
    now = now_ms()
    oldest = min((u.oldest_ms for u in usage.values() if u.oldest_ms is not None), default=None)
    rate: float | None = None
    if oldest is not None:
        since = max(now - RATE_WINDOW_MS, oldest)
        if now > since:
            rate = await services.segments.bytes_since(since) * RATE_WINDOW_MS / (now - since)
    return StorageOut(
        total_bytes=total,
        used_bytes=used,
        free_bytes=free,
        recordings_bytes=sum(u.bytes for u in usage.values()),
        bytes_per_day=rate,
        days_left=free / rate if free is not None and rate else None,
        min_free_bytes=services.settings.retention.min_free_bytes,
        cameras=[_summary(camera.id, usage.get(camera.id)) for camera in cameras],
    )
