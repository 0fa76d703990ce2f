"""Cameras: add, list, change, remove; each change reaches the camera's node at once."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError

from vigil.api.deps import ServicesDep
from vigil.api.problems import problem_responses
from vigil.api.schemas import (
    CameraCreate,
    CameraOut,
    CameraStatusOut,
    CameraUpdate,
    check_record_mode,
)
from vigil.api.security import ConfigureCamera, SeeCamera, actor_of, admin, member
from vigil.app import Services
from vigil.auth.permissions import Scope
from vigil.auth.principal import Principal
from vigil.link.messages import RecordMode
from vigil.store.cameras import detection_of
from vigil.store.models import Camera
from vigil.store.users import SiteNotFound
from vigil.timeutil import now_ms

log = logging.getLogger(__name__)

router = APIRouter(prefix="/cameras", tags=["cameras"])


def _status(services: Services, camera_id: int) -> CameraStatusOut:
    return CameraStatusOut.build(services.nodes.status(camera_id), now_ms())


def _out(services: Services, camera: Camera) -> CameraOut:
    return CameraOut.build(camera, _status(services, camera.id))


async def _check_site(services: Services, org_id: int, site_id: int | None) -> None:
    """A camera goes only on a site of its own organisation (another's reads as unknown)."""
    if site_id is None:
        return
    try:
        await services.auth.users.site(org_id, site_id)
    except SiteNotFound:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", "site_id"), "msg": f"no site {site_id}"}]
        ) from None


Reader = Annotated[Principal, Depends(member(Scope.CAMERAS_READ))]
Admin = Annotated[Principal, Depends(admin(Scope.CAMERAS_WRITE))]


@router.get("", responses=problem_responses(401, 403))
async def list_cameras(principal: Reader, services: ServicesDep) -> list[CameraOut]:
    """The cameras you may use, oldest first, with their current status."""
    allowed = await services.auth.camera_permissions(principal)
    cameras = await services.cameras.store.list(org_id=principal.org_id)
    return [_out(services, camera) for camera in cameras if camera.id in allowed]


@router.post("", status_code=201, responses=problem_responses(400, 401, 403, 409, 422, 503))
async def create_camera(
    body: CameraCreate,
    principal: Admin,
    request: Request,
    response: Response,
    services: ServicesDep,
) -> CameraOut:
    """Add a camera (admins); it starts recording at once if enabled."""
    await _check_site(services, principal.org_id, body.site_id)
    await services.library.check_room_for(principal.org_id, "cameras")
    camera = await services.cameras.create(body.fields(services.settings.cameras), principal.org_id)
    services.auth.forget_access()
    await services.auth.audit.record(
        actor_of(request, principal),
        "camera.create",
        target=f"camera:{camera.id}",
        name=camera.name,
    )
    log.info("camera %s (%s) added", camera.id, camera.name)
    response.headers["Location"] = str(request.url_for("get_camera", camera_id=camera.id))
    return _out(services, camera)


@router.get("/{camera_id}", name="get_camera", responses=problem_responses(401, 403, 404, 422))
async def get_camera(camera: SeeCamera, services: ServicesDep) -> CameraOut:
    return _out(services, camera)


@router.patch("/{camera_id}", responses=problem_responses(400, 401, 403, 404, 409, 422, 503))
async def update_camera(
    camera: ConfigureCamera, body: CameraUpdate, request: Request, services: ServicesDep
) -> CameraOut:
    """Change the fields given; null clears an optional one (``password: null`` removes it)."""
    changes = body.changes()
    await _check_site(services, camera.org_id, changes.get("site_id"))
    mode = RecordMode(changes.get("record_mode", camera.record_mode))
    detection = changes["detection"] if "detection" in changes else detection_of(camera)
    try:
        check_record_mode(mode, detection)
    except ValueError as e:
        field = "detection" if "detection" in changes else "record_mode"
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body", field), "msg": str(e)}]
        ) from None
    camera = await services.cameras.update(camera.id, changes)
    await services.auth.audit.record(
        actor_of(request),
        "camera.update",
        target=f"camera:{camera.id}",
        fields=sorted(changes),
    )
    log.info("camera %s (%s) changed: %s", camera.id, camera.name, ", ".join(sorted(changes)))
    return _out(services, camera)


@router.delete(
    "/{camera_id}", status_code=204, responses=problem_responses(401, 403, 404, 409, 422, 503)
)
async def delete_camera(
    camera: ConfigureCamera, request: Request, services: ServicesDep
) -> Response:
    """Remove a camera with all its recordings; refused while any of them is protected."""
    await services.cameras.delete(camera.id)
    services.auth.forget_access()
    await services.auth.audit.record(
        actor_of(request),
        "camera.delete",
        target=f"camera:{camera.id}",
        name=camera.name,
    )
    log.info("camera %s deleted with its recordings", camera.id)
    return Response(status_code=204)


@router.get("/{camera_id}/status", responses=problem_responses(401, 403, 404, 422))
async def camera_status(camera: SeeCamera, services: ServicesDep) -> CameraStatusOut:
    """What the camera's node reports: connection state, stream details, last error."""
    return _status(services, camera.id)
