"""Every error as RFC 9457 problem details (``application/problem+json``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from vigil.api.headers import SECURITY_HEADERS
from vigil.api.security import actor_of
from vigil.auth.errors import (
    Conflict,
    Forbidden,
    LoginFailed,
    LoginThrottled,
    NotAuthenticated,
    Throttled,
)
from vigil.auth.passwords import WeakPassword
from vigil.events.service import NoSnapshot
from vigil.exports.service import ExportFileNotFound
from vigil.library.search import InvalidCursor
from vigil.library.service import (
    LibraryForbidden,
    PlanLimit,
    QuotaExceeded,
    ShareRefused,
    UploadRefused,
)
from vigil.link.messages import ProbeFailure
from vigil.link.protocol import LinkUnavailable, MediaNotFound, ProbeFailed
from vigil.node.layout import UnsafePath
from vigil.nodes.registry import UnknownNode
from vigil.store.access import GroupNotFound
from vigil.store.cameras import CameraHasProtectedFootage, CameraNotFound, DuplicateCameraName
from vigil.store.database import DatabaseUnavailable
from vigil.store.events import EventNotFound, EventProtected
from vigil.store.exports import ExportNotFound
from vigil.store.library import ItemNotFound, LibraryEventNotFound, ShareNotFound
from vigil.store.users import DuplicateName, SiteNotFound, UserNotFound

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """RFC 9457 problem details; some problems add members (``errors``, ``camera_id``...)."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


class ValidationProblem(BaseModel):
    location: str
    detail: str
    type: str


class RecordingNotFound(Exception):
    """No such recording for this camera (unknown id or path); says nothing more."""

    def __init__(self) -> None:
        super().__init__("no such recording for this camera")


def problem(
    request: HTTPConnection,
    status: int,
    detail: str | None = None,
    *,
    slug: str | None = None,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extras: Any,
) -> JSONResponse:
    """A problem response; ``slug`` names a Vigil problem type, else the status says it all."""
    body: dict[str, Any] = {
        "type": f"urn:vigil:problem:{slug}" if slug else "about:blank",
        "title": title or _phrase(status),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extras,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _location(loc: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in loc)


def invalid_input(exc: ValidationError, *where: str) -> RequestValidationError:
    """``exc`` as the request's validation error, its locations under ``where`` (``"header",
    "Upload-Metadata"``): answered like any invalid parameter, 422 naming the field."""
    return RequestValidationError(
        [{**error, "loc": (*where, *error["loc"])} for error in exc.errors(include_input=False)]
    )


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    # Never echo "input" or "ctx": the rejected body may hold a password.
    bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if bad_json is not None:
        reason = str((bad_json.get("ctx") or {}).get("error", "cannot be parsed"))
        position = bad_json["loc"][-1] if len(bad_json["loc"]) > 1 else None
        where = f" at character {position}" if isinstance(position, int) else ""
        return problem(
            request,
            400,
            f"The request body is not valid JSON: {reason}{where}.",
            slug="malformed-json",
            title="Malformed JSON body",
        )
    listed = [
        ValidationProblem(
            location=_location(e["loc"]),
            detail=e["msg"].removeprefix("Value error, "),
            type=e["type"],
        )
        for e in errors
    ]
    detail = "; ".join(f"{e.location}: {e.detail}" for e in listed)
    return problem(
        request,
        422,
        detail,
        slug="invalid-request",
        title="Invalid request",
        errors=[e.model_dump() for e in listed],
    )


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if exc.detail != _phrase(exc.status_code) else None
    if exc.status_code == 404 and detail is None:
        detail = "Nothing here: check the path."
    if exc.status_code == 405:
        detail = f"{request.method} is not allowed here."
    return problem(request, exc.status_code, detail, headers=exc.headers)


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, CameraNotFound):
        return problem(request, 404, str(exc), slug="camera-not-found", camera_id=exc.camera_id)
    # UnsafePath and unknown recordings alike: a prober learns nothing from the answer.
    return problem(request, 404, "No such recording for this camera.", slug="recording-not-found")


async def _event_problem(request: Request, exc: Exception) -> JSONResponse:
    # Unknown, another organisation's, or of a camera the caller may not view: the same.
    if isinstance(exc, EventNotFound):
        detail = f"No event with id {exc.event_id}."
        return problem(request, 404, detail, slug="event-not-found", event_id=exc.event_id)
    if isinstance(exc, EventProtected):
        detail = f"Event {exc.event_id} is protected; release it before deleting it."
        return problem(request, 409, detail, slug="event-protected", event_id=exc.event_id)
    assert isinstance(exc, NoSnapshot)
    return problem(request, 404, f"Event {exc.event_id}: {exc}.", slug="snapshot-not-found")


async def _invalid_cursor(request: Request, exc: Exception) -> JSONResponse:
    # A cursor is a query parameter like any other: the same 422 as for a malformed one.
    error = {"loc": ("query", "cursor"), "msg": f"{exc}; start again without it"}
    return await _validation(request, RequestValidationError([{**error, "type": "value_error"}]))


async def _export_problem(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, ExportFileNotFound):
        return problem(request, 404, "No such file in this export.", slug="export-file-not-found")
    assert isinstance(exc, ExportNotFound)
    return problem(request, 404, str(exc), slug="export-not-found", export_id=exc.export_id)


async def _library_problem(request: Request, exc: Exception) -> JSONResponse:
    # What a caller may not see reads exactly like what does not exist.
    if isinstance(exc, ItemNotFound):
        detail = f"No library item with id {exc.item_id}."
        return problem(request, 404, detail, slug="item-not-found", item_id=exc.item_id)
    if isinstance(exc, LibraryEventNotFound):
        detail = f"No library event with id {exc.event_id}."
        return problem(request, 404, detail, slug="library-event-not-found")
    if isinstance(exc, LibraryForbidden):
        return problem(request, 403, str(exc), slug="library-read-only")
    if isinstance(exc, QuotaExceeded):
        return problem(
            request,
            413,
            f"The upload is {exc.needed} bytes but only {exc.remaining} bytes are left in "
            "your plan.",
            slug="quota-exceeded",
            remaining_bytes=exc.remaining,
        )
    if isinstance(exc, PlanLimit):
        return problem(
            request, 409, f"Your plan allows {exc.limit} {exc.what}.", slug="plan-limit",
            limit=exc.limit,
        )  # fmt: skip
    if isinstance(exc, UploadRefused):
        return problem(request, exc.status, str(exc), slug="upload-refused")
    if isinstance(exc, ShareNotFound):
        return problem(request, 404, "No such share link.", slug="share-not-found")
    assert isinstance(exc, ShareRefused)
    if exc.needs_password:
        return problem(request, 401, str(exc), slug="share-password")
    return problem(request, 410, str(exc), slug="share-gone", reason=exc.gone)


async def _duplicate_name(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DuplicateCameraName)
    return problem(
        request,
        409,
        f"A camera named {exc.name!r} already exists (names ignore case).",
        slug="duplicate-camera-name",
    )


async def _protected(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, CameraHasProtectedFootage)
    return problem(
        request,
        409,
        f"The camera has {exc.count} protected segments; unprotect them before deleting it.",
        slug="camera-has-protected-footage",
        protected_segments=exc.count,
    )


async def _unknown_node(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UnknownNode)
    return problem(
        request,
        503,
        f"The media node {exc.node!r} is not connected; try again when it is.",
        slug="node-unavailable",
    )


async def _link_unavailable(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, LinkUnavailable)
    return problem(
        request,
        503,
        "The media node that holds this is not reachable now; try again when it is back.",
        slug="node-unavailable",
    )


_PROBE_TITLES = {
    ProbeFailure.UNREACHABLE: ("camera-unreachable", "Camera unreachable"),
    ProbeFailure.REFUSED: ("camera-refused", "Camera refused the stream"),
    ProbeFailure.TIMEOUT: ("camera-timeout", "Camera did not answer"),
    ProbeFailure.UNAUTHORISED: ("camera-unauthorised", "Camera refused the credentials"),
    ProbeFailure.NOT_A_STREAM: ("camera-not-a-stream", "Not a video stream"),
}


async def _probe_failed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProbeFailed)
    slug, title = _PROBE_TITLES[exc.kind]
    status = 504 if exc.kind is ProbeFailure.TIMEOUT else 502
    return problem(request, status, f"{exc}.", slug=slug, title=title, reason=exc.kind.value)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # Recording goes on meanwhile: the node keeps what it records until the database is back.
    return problem(
        request,
        503,
        "The database is unavailable; try again in a few seconds.",
        slug="database-unavailable",
        headers={"Retry-After": "5"},
    )


async def _not_authenticated(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotAuthenticated)
    return problem(
        request,
        401,
        exc.detail,
        slug="not-authenticated",
        headers={"WWW-Authenticate": 'Bearer realm="vigil"'},
    )


async def _forbidden(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Forbidden)
    await _audit_denied(request, exc.slug)
    return problem(request, 403, exc.detail, slug=exc.slug)


async def _audit_denied(request: Request, slug: str) -> None:
    """Someone signed in tried what they may not: the admins' log shows it."""
    if getattr(request.state, "principal", None) is None:
        return
    await request.app.state.services.auth.audit.record(
        actor_of(request),
        "access.denied",
        outcome="denied",
        reason=slug,
        method=request.method,
        path=request.url.path,
    )


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Conflict)
    return problem(request, 409, exc.detail, slug=exc.slug)


async def _login_failed(request: Request, exc: Exception) -> JSONResponse:
    return problem(
        request,
        401,
        "Wrong username, password or code.",
        slug="login-failed",
        title="Sign-in failed",
    )


async def _throttled(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Throttled)
    seconds = max(1, math.ceil(exc.retry_after))
    return problem(
        request,
        429,
        f"{exc.detail}: try again in {seconds} s.",
        slug="login-throttled" if isinstance(exc, LoginThrottled) else "throttled",
        headers={"Retry-After": str(seconds)},
        retry_after=seconds,
    )


async def _weak_password(request: Request, exc: Exception) -> JSONResponse:
    return problem(
        request,
        422,
        f"password: {exc}",
        slug="weak-password",
        title="Password too weak",
        errors=[{"location": "body.password", "detail": str(exc), "type": "weak_password"}],
    )


async def _duplicate(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DuplicateName)
    return problem(
        request,
        409,
        f"A {exc.kind} named {exc.name!r} already exists (names ignore case).",
        slug=f"duplicate-{exc.kind.replace(' ', '-')}-name",
    )


async def _unknown_thing(request: Request, exc: Exception) -> JSONResponse:
    # Unknown here and belonging to another organisation read the same.
    if isinstance(exc, UserNotFound):
        return problem(request, 404, str(exc), slug="user-not-found")
    if isinstance(exc, SiteNotFound):
        return problem(request, 404, str(exc), slug="site-not-found")
    assert isinstance(exc, GroupNotFound)
    return problem(request, 404, str(exc), slug=f"{exc.kind.replace(' ', '-')}-not-found")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Starlette logs the traceback and re-raises; the client learns nothing internal. This
    # answer comes from Starlette's outermost layer, outside the headers middleware.
    return problem(
        request,
        500,
        "An unexpected error occurred; it has been logged.",
        headers=SECURITY_HEADERS,
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(CameraNotFound, _not_found)
    app.add_exception_handler(UnsafePath, _not_found)
    app.add_exception_handler(RecordingNotFound, _not_found)
    app.add_exception_handler(MediaNotFound, _not_found)
    for event_problem in (EventNotFound, EventProtected, NoSnapshot):
        app.add_exception_handler(event_problem, _event_problem)
    app.add_exception_handler(InvalidCursor, _invalid_cursor)
    for export_problem in (ExportNotFound, ExportFileNotFound):
        app.add_exception_handler(export_problem, _export_problem)
    for library_problem in (
        ItemNotFound,
        LibraryEventNotFound,
        LibraryForbidden,
        QuotaExceeded,
        PlanLimit,
        UploadRefused,
        ShareNotFound,
        ShareRefused,
    ):
        app.add_exception_handler(library_problem, _library_problem)
    app.add_exception_handler(DuplicateCameraName, _duplicate_name)
    app.add_exception_handler(CameraHasProtectedFootage, _protected)
    app.add_exception_handler(UnknownNode, _unknown_node)
    app.add_exception_handler(LinkUnavailable, _link_unavailable)
    app.add_exception_handler(ProbeFailed, _probe_failed)
    app.add_exception_handler(DatabaseUnavailable, _database_unavailable)
    app.add_exception_handler(NotAuthenticated, _not_authenticated)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(Conflict, _conflict)
    app.add_exception_handler(LoginFailed, _login_failed)
    app.add_exception_handler(Throttled, _throttled)
    app.add_exception_handler(WeakPassword, _weak_password)
    app.add_exception_handler(DuplicateName, _duplicate)
    for exc in (UserNotFound, SiteNotFound, GroupNotFound):
        app.add_exception_handler(exc, _unknown_thing)
    app.add_exception_handler(Exception, _unexpected)


_DESCRIPTIONS = {
    400: "Malformed request body",
    401: "Not signed in, or the key or link is invalid",
    403: "Signed in, but not allowed to do this",
    404: "No such thing, or not yours to see",
    409: "Conflicts with the current state",
    410: "It existed but is gone (an expired share link)",
    413: "Too large: over the plan's storage or the server's limit",
    415: "Not a picture or a video (the detected type is named)",
    422: "Invalid request; `errors` lists each field with its location",
    429: "Too many failed sign-ins; `Retry-After` says when to try again",
    502: "The camera could not be opened: unreachable, refused, wrong credentials, no video",
    503: "The camera's media node is not connected",
    504: "The camera did not answer in time",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the problems a route can answer with."""
    schema = Problem.model_json_schema()
    return {
        status: {
            "description": _DESCRIPTIONS[status],
            "content": {PROBLEM_JSON: {"schema": schema}},
        }
        for status in statuses
    }
