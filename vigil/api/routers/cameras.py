"""Cameras: add, list, change, remove; each change reaches the camera's node at once."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response

from vigil.api.deps import CameraDep, CameraId, ServicesDep
from vigil.api.problems import problem_responses
from vigil.api.schemas import CameraCreate, CameraOut, CameraStatusOut, CameraUpdate
from vigil.app import Services
from vigil.store.models import Camera
from vigil.timeutil import now_ms

log = logging.getLogger(__name__)

router = APIRouter(prefix="/cameras", tags=["cameras"])


def _status(services: Services, camera_id: int) -> CameraStatusOut:
    return CameraStatusOut.build(services.nodes.status(camera_id), now_ms())


def _out(services: Services, camera: Camera) -> CameraOut:
    return CameraOut.build(camera, _status(services, camera.id))


@router.get("")
async def list_cameras(services: ServicesDep) -> list[CameraOut]:
    """Every camera, oldest first, with its current status."""
    return [_out(services, camera) for camera in await services.cameras.store.list()]


@router.post("", status_code=201, responses=problem_responses(400, 409, 422, 503))
async def create_camera(
    body: CameraCreate, request: Request, response: Response, services: ServicesDep
) -> CameraOut:
    """Add a camera; it starts recording at once if enabled."""
    camera = await services.cameras.create(body.fields(services.settings.cameras))
    log.info("camera %s (%s) added", camera.id, camera.name)
    response.headers["Location"] = str(request.url_for("get_camera", camera_id=camera.id))
    return _out(services, camera)


@router.get("/{camera_id}", name="get_camera", responses=problem_responses(404, 422))
async def get_camera(camera: CameraDep, services: ServicesDep) -> CameraOut:
    return _out(services, camera)


@router.patch("/{camera_id}", responses=problem_responses(400, 404, 409, 422, 503))
async def update_camera(
    camera_id: CameraId, body: CameraUpdate, services: ServicesDep
) -> CameraOut:
    """Change the fields given; null clears an optional one (``password: null`` removes it)."""
    changes = body.changes()
    camera = await services.cameras.update(camera_id, changes)
    log.info("camera %s (%s) changed: %s", camera.id, camera.name, ", ".join(sorted(changes)))
    return _out(services, camera)


@router.delete("/{camera_id}", status_code=204, responses=problem_responses(404, 409, 422, 503))
async def delete_camera(camera_id: CameraId, services: ServicesDep) -> Response:
    """Remove a camera with all its recordings; refused while any of them is protected."""
    await services.cameras.delete(camera_id)
    log.info("camera %s deleted with its recordings", camera_id)
    return Response(status_code=204)


@router.get("/{camera_id}/status", responses=problem_responses(404, 422))
async def camera_status(camera: CameraDep, services: ServicesDep) -> CameraStatusOut:
    """What the camera's node reports: connection state, stream details, last error."""
    return _status(services, camera.id)
