"""Whether the server is up and can reach its database, which version it runs, and (for
admins) how its media nodes, cameras and detection are doing."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import Field

from vigil import __version__
from vigil.api.deps import ServicesDep
from vigil.api.problems import problem_responses
from vigil.api.schemas import Health, Output
from vigil.api.security import admin
from vigil.app import Services
from vigil.auth.permissions import Scope
from vigil.auth.principal import Principal
from vigil.link.messages import CameraState
from vigil.link.protocol import LinkUnavailable
from vigil.store.database import DatabaseUnavailable

router = APIRouter(tags=["system"])

# A health check answers quickly even when the database does not.
_CHECK_SECONDS = 3.0


class NodeDisk(Output):
    total_bytes: int
    used_bytes: int
    free_bytes: int


class NodeOut(Output):
    name: str
    connected: bool = Field(description="the node is attached to this server now")
    draining: bool = Field(
        description="its cameras are moving off it and it takes no new ones (vigil nodes drain)"
    )
    cameras: int = Field(description="the organisation's cameras assigned to it")
    disk: NodeDisk | None = Field(description="its recordings storage; null while away")
    detector: str | None = Field(
        description="the object detector it runs (ssd, hog, onnx, remote); null if unknown"
    )
    detector_workers: int | None


class SystemOut(Output):
    version: str
    database: Literal["ok", "unavailable"]
    nodes: list[NodeOut] = Field(description="by name")
    camera_states: dict[CameraState, int] = Field(
        description="how many of the organisation's cameras are in each state"
    )
    detection: dict[str, int] = Field(
        description="cameras by detection state: off, starting, running, motion_only"
    )
    detection_errors: list[str] = Field(
        description="why cameras detect motion only or fail to detect, each reason once"
    )
    detector_errors: int = Field(description="frames whose object detection failed, all cameras")
    detect_frames_dropped: int = Field(description="frames detection had no time for")


async def _database(services: Services) -> Literal["ok", "unavailable"]:
    try:
        await asyncio.wait_for(services.db.check(), _CHECK_SECONDS)
    except (DatabaseUnavailable, TimeoutError):
        return "unavailable"
    return "ok"


@router.get("/health", responses={503: {"model": Health, "description": "database unavailable"}})
async def health(response: Response, services: ServicesDep) -> Health:
    """200 while the server runs and reaches its database; 503, saying so, while it cannot
    (cameras keep recording meanwhile). For load balancers and monitoring."""
    if await _database(services) == "unavailable":
        response.status_code = 503
        return Health(status="unavailable", database="unavailable", version=__version__)
    return Health(status="ok", database="ok", version=__version__)


@router.get("/system", responses=problem_responses(401, 403))
async def system(
    principal: Annotated[Principal, Depends(admin(Scope.CAMERAS_READ))], services: ServicesDep
) -> SystemOut:
    """The server's state for its admins: the database, each media node (its cameras, its
    recordings disk and its object detector), and the organisation's cameras by state and
    by detection state."""
    database = await _database(services)
    cameras = await services.cameras.store.list(org_id=principal.org_id)
    attached = services.nodes.nodes()
    local = services.settings.node
    per_node = Counter(camera.node for camera in cameras)
    try:
        draining = await services.cameras.node_store.draining()
    except DatabaseUnavailable:
        draining = set()
    nodes = []
    for name in sorted(set(attached) | set(per_node)):
        node = attached.get(name)
        disk = None
        if node is not None:
            try:
                total, used, free = await node.disk_usage()
            except (OSError, LinkUnavailable):  # storage unmounted, node away: unknown
                pass
            else:
                disk = NodeDisk(total_bytes=total, used_bytes=used, free_bytes=free)
        ours = node is not None and name == local.name
        nodes.append(
            NodeOut(
                name=name,
                connected=node is not None,
                draining=name in draining,
                cameras=per_node[name],
                disk=disk,
                detector=local.detector if ours else None,
                detector_workers=local.detector_workers if ours else None,
            )
        )
    statuses = [services.nodes.status(camera.id, camera.enabled) for camera in cameras]
    states = Counter(status.state for status in statuses)
    return SystemOut(
        version=__version__,
        database=database,
        nodes=nodes,
        camera_states={state: states[state] for state in CameraState},
        detection=dict(Counter(status.detection for status in statuses)),
        detection_errors=sorted({s.detection_error for s in statuses if s.detection_error}),
        detector_errors=sum(status.detector_errors for status in statuses),
        detect_frames_dropped=sum(status.detect_frames_dropped for status in statuses),
    )
