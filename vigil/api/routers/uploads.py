"""Uploads to the library over tus 1.0.0: any standard tus client resumes after a cut.

``POST /api/uploads`` creates an upload (``Upload-Length``, ``Upload-Metadata``), ``PATCH``
sends bytes from ``Upload-Offset``, ``HEAD`` says where it stands, ``DELETE`` drops it,
``OPTIONS`` names what the server supports. Admins and operators upload, with a session
(and the CSRF header, like any write) or an API key with the ``library`` scope; an upload is
its creator's alone: anyone else meets 404.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from email.utils import format_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.requests import HTTPConnection

from vigil.api.deps import get_services
from vigil.api.library_schemas import UploadMetadata
from vigil.api.problems import Problem, invalid_input, problem, problem_responses
from vigil.api.routers import API_PREFIX
from vigil.api.security import member
from vigil.api.types import UploadId
from vigil.auth.errors import Forbidden
from vigil.auth.permissions import Role
from vigil.auth.permissions import Scope as KeyScope
from vigil.auth.principal import Principal
from vigil.library.tus import (
    CHECKSUMS,
    OFFSET_OCTET_STREAM,
    TUS_EXTENSIONS,
    TUS_VERSION,
    TusError,
    Uploads,
    UploadSink,
    Written,
    encode_metadata,
    parse_checksum,
    parse_length,
    parse_metadata,
)
from vigil.store.models import Upload
from vigil.timeutil import ms_to_datetime

log = logging.getLogger(__name__)


class TusRoute(APIRoute):
    """A route speaking tus: every answer says ``Tus-Resumable``, errors included. So the
    app's problem handlers (401, 403...) run here rather than outside the route, and a
    :class:`TusError` becomes a problem response."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def tus_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except TusError as e:
                extras = {"title": e.title, "headers": e.headers, **e.extras}
                response = problem(request, e.status, e.detail, slug=e.slug, **extras)
            except Exception as e:
                answer = _problem_handler(request, e)
                if answer is None:
                    raise
                response = await answer(request, e)
            response.headers["Tus-Resumable"] = TUS_VERSION
            return response

        return tus_handler


def _problem_handler(request: Request, exc: Exception) -> Callable[..., Any] | None:
    """The app's handler for ``exc``; None for the catch-all (the server logs those)."""
    handlers = request.app.exception_handlers
    for kind in type(exc).__mro__:
        if kind is Exception:
            return None
        if kind in handlers:
            handler: Callable[..., Any] = handlers[kind]
            return handler
    return None


router = APIRouter(prefix="/uploads", tags=["uploads"], route_class=TusRoute)


async def _uploader(
    principal: Annotated[Principal, Depends(member(KeyScope.LIBRARY))],
) -> Principal:
    if principal.role is Role.VIEWER:
        raise Forbidden("Only admins and operators upload to the library.", "library-read-only")
    return principal


Uploader = Annotated[Principal, Depends(_uploader)]


def get_uploads(connection: HTTPConnection) -> Uploads:
    """The uploads of this server: the services' own once they hold one, else one kept
    with the app (built on first use, over ``<data_dir>/uploads``)."""
    services = get_services(connection)
    wired = getattr(services, "uploads", None)
    if isinstance(wired, Uploads):
        return wired
    state = connection.app.state
    if not isinstance(getattr(state, "uploads", None), Uploads):
        settings = services.settings
        state.uploads = Uploads(
            services.db,
            settings.data_dir / "uploads",
            max_size=settings.library.max_upload_bytes,
            lifetime_ms=round(settings.library.upload_expiry_hours * 3_600_000),
        )
    uploads: Uploads = state.uploads
    return uploads


def get_sink(connection: HTTPConnection) -> UploadSink | None:
    """The library that takes finished uploads; None while the server runs without one."""
    sink: UploadSink | None = getattr(get_services(connection), "library", None)
    return sink


UploadsDep = Annotated[Uploads, Depends(get_uploads)]
SinkDep = Annotated[UploadSink | None, Depends(get_sink)]


def _schema_problem(description: str) -> dict[str, Any]:
    schema = Problem.model_json_schema()
    return {"description": description, "content": {"application/problem+json": {"schema": schema}}}


_TUS_PROBLEMS: dict[int | str, dict[str, Any]] = {
    412: _schema_problem("No `Tus-Resumable: 1.0.0` header"),
    423: _schema_problem("Another request is sending this upload's bytes"),
    460: _schema_problem("The body does not match `Upload-Checksum`; its bytes were discarded"),
    503: _schema_problem("The library is not available"),
}


def _responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    responses = problem_responses(*(s for s in statuses if s not in _TUS_PROBLEMS))
    responses.update((s, _TUS_PROBLEMS[s]) for s in statuses if s in _TUS_PROBLEMS)
    return responses


def _check_version(request: Request) -> None:
    if request.headers.get("tus-resumable") != TUS_VERSION:
        raise TusError(
            412,
            f"Send 'Tus-Resumable: {TUS_VERSION}': the only tus version this server speaks.",
            "tus-version",
            headers={"Tus-Version": TUS_VERSION},
        )


def _library(sink: UploadSink | None) -> UploadSink:
    if sink is None:
        raise TusError(503, "The library is not available.", "library-unavailable")
    return sink


def _metadata(header: str | None) -> dict[str, str]:
    """The upload's metadata, checked like any other input (422 naming the key)."""
    try:
        return UploadMetadata.of(parse_metadata(header)).stored()
    except ValidationError as exc:
        raise invalid_input(exc, "header", "Upload-Metadata") from None


def _expires(upload: Upload) -> str:
    return format_datetime(ms_to_datetime(upload.expires_at), usegmt=True)


def _written_headers(upload: Upload, written: Written) -> dict[str, str]:
    headers = {"Upload-Offset": str(written.offset), "Upload-Expires": _expires(upload)}
    if written.item_id is not None:
        headers["Vigil-Item"] = str(written.item_id)
    if written.duplicate:
        headers["Vigil-Duplicate"] = "true"
    return headers


def _is_body(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip() == OFFSET_OCTET_STREAM


def _check_room(request: Request, upload: Upload, offset: int) -> None:
    """Refuse a declared body longer than what the upload has left, before reading it."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and offset + int(declared) > upload.length:
        raise TusError(
            413,
            f"The body goes past the upload's length ({upload.length} bytes).",
            "body-too-long",
        )


_HEADERS = {"description": "the answer is in its headers (tus)"}


@router.options("", status_code=204, response_class=Response, responses={204: _HEADERS})
async def tus_options(uploads: UploadsDep) -> Response:
    """What this server speaks: tus version, extensions, largest file, checksums."""
    return Response(
        status_code=204,
        headers={
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": TUS_EXTENSIONS,
            "Tus-Max-Size": str(uploads.max_size),
            "Tus-Checksum-Algorithm": ",".join(CHECKSUMS),
        },
    )


@router.post(
    "",
    status_code=201,
    response_class=Response,
    responses={201: _HEADERS, **_responses(400, 401, 403, 412, 413, 415, 422, 460, 503)},
)
async def create_upload(
    principal: Uploader, request: Request, uploads: UploadsDep, sink: SinkDep
) -> Response:
    """Start an upload of ``Upload-Length`` bytes; ``Upload-Metadata`` may name its
    ``filename``, ``title``, ``description``, ``tags`` (comma separated) and ``event_id``.
    Refused up front (413, with ``remaining_bytes``) when the plan has no room for it. A body
    of type ``application/offset+octet-stream`` is its first bytes (creation-with-upload)."""
    _check_version(request)
    if "upload-defer-length" in request.headers:
        raise TusError(
            400, "Declare Upload-Length: deferred lengths are not supported.", "deferred-length"
        )
    length = parse_length(request.headers.get("upload-length"), "Upload-Length")
    meta = _metadata(request.headers.get("upload-metadata"))
    checksum = parse_checksum(request.headers.get("upload-checksum"))
    library = _library(sink)
    upload = await uploads.create(principal, length, meta, library)
    root = request.scope.get("root_path", "")
    headers = {"Location": f"{root}{API_PREFIX}/uploads/{upload.id}"}
    if _is_body(request):
        _check_room(request, upload, 0)
        written = await uploads.write(principal, upload, 0, request.stream(), checksum, library)
        headers |= _written_headers(upload, written)
    else:
        headers["Upload-Expires"] = _expires(upload)
    log.info("upload %s: %d bytes, by user %d", upload.id, length, principal.user_id)
    return Response(status_code=201, headers=headers)


@router.head(
    "/{upload_id}",
    response_class=Response,
    responses={200: _HEADERS, **_responses(401, 403, 404, 410, 412)},
)
async def upload_status(
    upload_id: UploadId, principal: Uploader, request: Request, uploads: UploadsDep
) -> Response:
    """Where the upload stands: ``Upload-Offset`` is where to resume."""
    upload = await uploads.find(principal, upload_id)
    _check_version(request)
    upload = await uploads.status(upload)
    headers = {
        "Upload-Offset": str(upload.offset),
        "Upload-Length": str(upload.length),
        "Upload-Expires": _expires(upload),
        "Cache-Control": "no-store",
    }
    if upload.meta:
        headers["Upload-Metadata"] = encode_metadata(upload.meta)
    if upload.item_id is not None:
        headers["Vigil-Item"] = str(upload.item_id)
    return Response(status_code=200, headers=headers)


@router.patch(
    "/{upload_id}",
    status_code=204,
    response_class=Response,
    responses={
        204: _HEADERS,
        **_responses(400, 401, 403, 404, 409, 410, 412, 413, 415, 423, 460, 503),
    },
)
async def send_bytes(
    upload_id: UploadId, principal: Uploader, request: Request, uploads: UploadsDep, sink: SinkDep
) -> Response:
    """Bytes of the upload from ``Upload-Offset`` (which must be where it stands: 409
    otherwise), as ``application/offset+octet-stream``, with an optional
    ``Upload-Checksum`` (sha1, sha256, md5). On the last byte the file becomes a library
    item: ``Vigil-Item`` names it (``Vigil-Duplicate: true`` when the library had it)."""
    upload = await uploads.find(principal, upload_id)
    _check_version(request)
    if not _is_body(request):
        raise TusError(
            415, f"Send the bytes as Content-Type: {OFFSET_OCTET_STREAM}.", "content-type"
        )
    offset = parse_length(request.headers.get("upload-offset"), "Upload-Offset")
    checksum = parse_checksum(request.headers.get("upload-checksum"))
    _check_room(request, upload, offset)
    library = _library(sink)
    written = await uploads.write(principal, upload, offset, request.stream(), checksum, library)
    return Response(status_code=204, headers=_written_headers(upload, written))


@router.delete(
    "/{upload_id}",
    status_code=204,
    response_class=Response,
    responses=_responses(401, 403, 404, 410, 412, 423),
)
async def terminate_upload(
    upload_id: UploadId, principal: Uploader, request: Request, uploads: UploadsDep
) -> Response:
    """Drop the upload and the bytes it received (tus termination)."""
    upload = await uploads.find(principal, upload_id)
    _check_version(request)
    await uploads.terminate(upload)
    return Response(status_code=204)
