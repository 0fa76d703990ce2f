"""Cameras: add, list, change, remove; each change reaches the camera's node at once."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.requests import HTTPConnection

from vigil.api.deps import ServicesDep
from vigil.api.problems import problem_responses
from vigil.api.schemas import (
    CameraCreate,
    CameraOut,
    CameraProbe,
    CameraStatusOut,
    CameraUpdate,
    StoredCameraProbe,
    check_record_mode,
)
from vigil.api.security import ConfigureCamera, SeeCamera, actor_of, admin, identify, member
from vigil.app import Services
from vigil.auth.errors import NotAuthenticated
from vigil.auth.permissions import Scope
from vigil.auth.principal import Principal
from vigil.link.messages import RecordMode, SourceProbe
from vigil.link.protocol import ProbeFailed
from vigil.store.audit import Actor
from vigil.store.cameras import detection_of
from vigil.store.models import Camera
from vigil.store.users import SiteNotFound
from vigil.timeutil import now_ms

log = logging.getLogger(__name__)

router = APIRouter(prefix="/cameras", tags=["cameras"])


def _status(services: Services, camera: Camera) -> CameraStatusOut:
    return CameraStatusOut.build(services.nodes.status(camera.id, camera.enabled), now_ms())


async def _out(services: Services, principal: Principal, camera: Camera) -> CameraOut:
    allowed = (await services.auth.camera_permissions(principal)).get(camera.id, frozenset())
    return CameraOut.build(camera, _status(services, camera), allowed)


async def _caller(connection: HTTPConnection, services: Services) -> Principal:
    """The caller a camera dependency has already let in."""
    principal = await identify(connection, services)
    if principal is None:  # the route's dependency has answered 401 already
        raise NotAuthenticated
    return principal


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


async def _check_node(services: Services, name: str | None) -> None:
    """A camera is pinned only to a node the installation knows (connected, or recording
    cameras): a misspelt name would otherwise pin it to nothing, silently."""
    if name is None or await services.cameras.knows_node(name):
        return
    msg = f"no media node named {name!r} is known (vigil nodes list shows them)"
    raise RequestValidationError(
        [{"type": "value_error", "loc": ("body", "pinned_node"), "msg": msg}]
    )


Reader = Annotated[Principal, Depends(member(Scope.CAMERAS_READ))]
Admin = Annotated[Principal, Depends(admin(Scope.CAMERAS_WRITE))]


@router.get("", responses=problem_responses(401, 403))
async def list_cameras(principal: Reader, services: ServicesDep) -> list[CameraOut]:
    """The cameras you may use, oldest first, with their current status."""
    allowed = await services.auth.camera_permissions(principal)
    cameras = await services.cameras.store.list(org_id=principal.org_id)
    return [
        CameraOut.build(camera, _status(services, camera), allowed[camera.id])
        for camera in cameras
        if camera.id in allowed
    ]


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
    await _check_node(services, body.pinned_node)
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
    return await _out(services, principal, camera)


PROBE_PROBLEMS = problem_responses(400, 401, 403, 404, 422, 502, 503, 504)


async def _probe(
    services: Services,
    actor: Actor,
    target: str | None,
    url: str,
    credentials: tuple[str | None, str | None],
    node: str | None = None,
) -> SourceProbe:
    """Test the stream and audit the attempt (the host only: the URL may name a user)."""
    username, password = credentials
    seconds = services.settings.node.connect_timeout_seconds
    try:
        found = await services.cameras.probe(url, username, password, seconds, node)
    except ProbeFailed as failed:
        await services.auth.audit.record(
            actor, "camera.probe", outcome="failure", target=target, reason=failed.kind.value
        )
        raise
    await services.auth.audit.record(actor, "camera.probe", target=target)
    return found


@router.post("/probe", responses=PROBE_PROBLEMS)
async def probe_new_camera(
    body: CameraProbe, principal: Admin, request: Request, services: ServicesDep
) -> SourceProbe:
    """Test a camera's stream before adding it (admins): what it sends (codecs, picture
    size, frame rate, audio), or a problem saying why it cannot be opened (502
    camera-unreachable, camera-refused, camera-unauthorised, camera-not-a-stream; 504
    camera-timeout)."""
    actor = actor_of(request, principal)
    return await _probe(services, actor, None, body.main_url, body.credentials())


@router.post("/{camera_id}/probe", responses=PROBE_PROBLEMS)
async def probe_camera(
    camera: ConfigureCamera,
    request: Request,
    services: ServicesDep,
    body: StoredCameraProbe | None = None,
) -> SourceProbe:
    """Test a stored camera's stream with its stored credentials, or another URL (say its sub
    stream) and credentials given in the body; answers as ``POST /api/cameras/probe``."""
    config = services.cameras.store.config(camera)
    url, username, password = config.main_url, config.username, config.password
    if body is not None:
        given = body.model_fields_set
        new_username, new_password = body.credentials()
        url = body.main_url or url
        username = new_username if "username" in given else username
        password = new_password if "password" in given else password
    target = f"camera:{camera.id}"
    credentials = (username or None, password)
    return await _probe(services, actor_of(request), target, url, credentials, camera.node)


@router.get("/{camera_id}", name="get_camera", responses=problem_responses(401, 403, 404, 422))
async def get_camera(camera: SeeCamera, request: Request, services: ServicesDep) -> CameraOut:
    return await _out(services, await _caller(request, services), camera)


@router.patch("/{camera_id}", responses=problem_responses(400, 401, 403, 404, 409, 422, 503))
async def update_camera(
    camera: ConfigureCamera, body: CameraUpdate, request: Request, services: ServicesDep
) -> CameraOut:
    """Change the fields given; null clears an optional one (``password: null`` removes it)."""
    changes = body.changes()
    await _check_site(services, camera.org_id, changes.get("site_id"))
    await _check_node(services, changes.get("pinned_node"))
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
    return await _out(services, await _caller(request, services), camera)


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
    return _status(services, camera)
