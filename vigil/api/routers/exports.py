"""Exports: cut a time range of cameras into MP4 files with a chain-of-custody manifest."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vigil.api.deps import ServicesDep
from vigil.api.problems import problem, problem_responses
from vigil.api.routers import API_PREFIX
from vigil.api.security import actor_of, check_scope, identify, member, signed_query
from vigil.api.types import CameraId, ExportId, Filename, Instant, LongName, Timestamp
from vigil.app import Services
from vigil.auth.errors import Forbidden, NotAuthenticated
from vigil.auth.permissions import Permission, Scope
from vigil.auth.principal import Principal
from vigil.auth.tokens import MediaKind
from vigil.exports.manifest import MANIFEST
from vigil.exports.service import (
    MAX_RANGE_MS,
    ExportFileNotFound,
    ExportRequest,
    ExportStatus,
    NoFootage,
)
from vigil.store.cameras import CameraNotFound
from vigil.store.exports import ExportNotFound
from vigil.store.models import Export

log = logging.getLogger(__name__)

router = APIRouter(prefix="/exports", tags=["exports"])

_MAX_CAMERAS = 16
_LIST_LIMIT = 500
_MP4 = {"content": {"video/mp4": {}}, "description": "the file; Range requests get 206"}


Exporter = Annotated[Principal, Depends(member(Scope.EXPORTS))]


class ExportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    camera_ids: list[CameraId] = Field(
        min_length=1, max_length=_MAX_CAMERAS, description="one MP4 per camera"
    )
    start: Instant
    end: Instant
    burn_in: bool = Field(
        default=False, description="draw the camera name and UTC time on each frame (re-encodes)"
    )
    title: LongName | None = None

    @model_validator(mode="after")
    def _check(self) -> ExportCreate:
        if len(set(self.camera_ids)) != len(self.camera_ids):
            raise ValueError("camera_ids lists a camera twice")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.end - self.start > MAX_RANGE_MS:
            raise ValueError(f"range longer than {MAX_RANGE_MS // 3_600_000} hours")
        return self


class ExportFileOut(BaseModel):
    camera_id: int
    camera_name: str
    name: str
    size: int
    sha256: str
    first_instant: str = Field(description="UTC instant of the file's first frame")
    last_instant: str = Field(description="UTC instant where the file's last frame ends")
    url: str


class ExportOut(BaseModel):
    id: int
    title: str | None
    camera_ids: list[int]
    start: Timestamp
    end: Timestamp
    burn_in: bool
    status: ExportStatus
    progress: float = Field(ge=0, le=1)
    error: str | None = Field(description="why it failed, in words")
    requested_by: str
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None
    files: list[ExportFileOut]
    manifest_url: str | None


def _url(request: Request, export_id: int, name: str, link: str) -> str:
    root = request.scope.get("root_path", "")
    return f"{root}{API_PREFIX}/exports/{export_id}/files/{name}{link}"


def _out(request: Request, export: Export) -> ExportOut:
    done = export.status == "done"
    files: list[dict[str, Any]] = export.files if done else []
    link = signed_query(request, MediaKind.EXPORT, export.id) if done else ""
    return ExportOut(
        id=export.id,
        title=export.title,
        camera_ids=list(export.camera_ids),
        start=export.start_ms,
        end=export.end_ms,
        burn_in=export.burn_in,
        status=export.status,
        progress=export.progress,
        error=export.error,
        requested_by=export.requested_by,
        created_at=export.created_at,
        started_at=export.started_at,
        finished_at=export.finished_at,
        files=[ExportFileOut(**f, url=_url(request, export.id, f["name"], link)) for f in files],
        manifest_url=f"{API_PREFIX}/exports/{export.id}/manifest{link}" if done else None,
    )


def _not_found(request: Request, exc: ExportNotFound | ExportFileNotFound) -> JSONResponse:
    if isinstance(exc, ExportFileNotFound):
        return problem(request, 404, "No such file in this export.", slug="export-file-not-found")
    return problem(request, 404, str(exc), slug="export-not-found", export_id=exc.export_id)


async def _visible(services: Services, principal: Principal, export_id: int) -> Export:
    """The export if the caller may see it (admins: the organisation's; others: their
    own); otherwise ExportNotFound, exactly as if there were none."""
    export = await services.exports.store.get(export_id)
    if export.org_id != principal.org_id or not (
        principal.is_admin or export.requested_by_id == principal.user_id
    ):
        raise ExportNotFound(export_id)
    return export


@router.post(
    "",
    status_code=202,
    response_model=ExportOut,
    responses=problem_responses(401, 403, 404, 422),
)
async def create_export(
    body: ExportCreate,
    principal: Exporter,
    request: Request,
    response: Response,
    services: ServicesDep,
) -> ExportOut | JSONResponse:
    """Start an export: one MP4 per camera over [start, end), as a background job. You need
    the export permission on every camera in it."""
    allowed = await services.auth.camera_permissions(principal)
    for camera_id in body.camera_ids:
        if camera_id not in allowed:
            detail = f"No camera with id {camera_id}."
            return problem(request, 404, detail, slug="camera-not-found", camera_id=camera_id)
        if Permission.EXPORT not in allowed[camera_id]:
            raise Forbidden(f"You may not export camera {camera_id}.", slug="missing-permission")
    try:
        export = await services.exports.create(
            ExportRequest(
                camera_ids=body.camera_ids,
                start_ms=body.start,
                end_ms=body.end,
                burn_in=body.burn_in,
                title=body.title or None,
                org_id=principal.org_id,
                requested_by=principal.username,
                requested_by_id=principal.user_id,
            )
        )
    except CameraNotFound as exc:
        return problem(request, 404, str(exc), slug="camera-not-found", camera_id=exc.camera_id)
    except NoFootage as exc:
        detail = str(exc)
        return problem(
            request,
            404,
            f"{detail[0].upper()}{detail[1:]}.",
            slug="no-footage",
            camera_ids=exc.camera_ids,
        )
    await services.auth.audit.record(
        actor_of(request),
        "export.create",
        target=f"export:{export.id}",
        camera_ids=list(body.camera_ids),
        start=export.start_ms,
        end=export.end_ms,
    )
    response.headers["Location"] = f"{API_PREFIX}/exports/{export.id}"
    return _out(request, export)


@router.get("", responses=problem_responses(401, 403))
async def list_exports(
    principal: Exporter,
    request: Request,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=_LIST_LIMIT)] = 100,
) -> list[ExportOut]:
    """Exports, newest first: all of the organisation's for admins, your own otherwise."""
    mine = None if principal.is_admin else principal.user_id
    exports = await services.exports.store.newest(limit, principal.org_id, mine)
    return [_out(request, e) for e in exports]


@router.get(
    "/{export_id}", response_model=ExportOut, responses=problem_responses(401, 403, 404, 422)
)
async def get_export(
    export_id: ExportId, principal: Exporter, request: Request, services: ServicesDep
) -> ExportOut | JSONResponse:
    """Status, progress (0 to 1), the error in words if it failed, the files once done."""
    try:
        return _out(request, await _visible(services, principal, export_id))
    except ExportNotFound as exc:
        return _not_found(request, exc)


@router.get(
    "/{export_id}/files/{name}",
    response_class=FileResponse,
    responses={200: _MP4, **problem_responses(401, 403, 404, 422)},
)
async def download_export_file(
    export_id: ExportId, name: Filename, request: Request, services: ServicesDep
) -> Response:
    """A file of a finished export: an MP4, ``manifest.json``, ``manifest.json.sha256`` or
    ``SHA256SUMS``. Anything else is 404. Takes a signed link (``?token=``) too."""
    principal = await identify(request, services, MediaKind.EXPORT)
    if principal is None:
        raise NotAuthenticated
    check_scope(principal, Scope.EXPORTS)
    try:
        export = await _visible(services, principal, export_id)
        path = services.exports.file(export, name)
    except (ExportNotFound, ExportFileNotFound) as exc:
        return _not_found(request, exc)
    if "range" not in request.headers:
        await services.auth.audit.record(
            actor_of(request), "export.download", target=f"export:{export_id}", file=name
        )
    media = "video/mp4" if name.endswith(".mp4") else "text/plain"
    if name == MANIFEST:
        media = "application/json"
    return FileResponse(path, media_type=media, filename=name)


@router.get("/{export_id}/manifest", responses=problem_responses(401, 403, 404, 422))
async def get_manifest(export_id: ExportId, request: Request, services: ServicesDep) -> Response:
    """The manifest of a finished export, byte for byte as written (so its SHA-256 holds)."""
    return await download_export_file(export_id, MANIFEST, request, services)


@router.delete("/{export_id}", status_code=204, responses=problem_responses(401, 403, 404, 422))
async def delete_export(
    export_id: ExportId, principal: Exporter, request: Request, services: ServicesDep
) -> Response:
    """Delete an export and its files (yours, or any of the organisation's for admins); one
    still running is cancelled first."""
    try:
        await _visible(services, principal, export_id)
        await services.exports.delete(export_id)
    except ExportNotFound as exc:
        return _not_found(request, exc)
    await services.auth.audit.record(
        actor_of(request), "export.delete", target=f"export:{export_id}"
    )
    return Response(status_code=204)
