"""Detection events: list and search them, look at one, its picture, clip it, review it,
keep it (with its footage), delete it.

An event is seen by whoever may view the recordings of its camera; to anyone else (another
organisation, a camera not granted, or granted for live view only) it does not exist.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.requests import HTTPConnection

from vigil.api.deps import ServicesDep
from vigil.api.event_schemas import (
    BadCursor,
    BoxAtOut,
    BoxOut,
    ClipCreate,
    EventChange,
    EventLinks,
    EventOut,
    EventPage,
    EventSummary,
    SnapshotOut,
    decode_cursor,
    encode_cursor,
)
from vigil.api.problems import problem, problem_responses
from vigil.api.routers import API_PREFIX
from vigil.api.routers.exports import ExportOut
from vigil.api.routers.exports import _out as export_out
from vigil.api.routers.recordings import _invalid
from vigil.api.schemas import IntervalOut
from vigil.api.security import actor_of, check_scope, identify, member, signed_query
from vigil.api.types import CameraId, Cursor, EventId, Instant, Label, Name
from vigil.app import Services
from vigil.auth.errors import Forbidden, NotAuthenticated
from vigil.auth.permissions import Permission, Scope
from vigil.auth.principal import Principal
from vigil.auth.tokens import MediaKind
from vigil.exports.service import MAX_RANGE_MS, ExportRequest, NoFootage
from vigil.link.messages import EventKind
from vigil.store.cameras import CameraNotFound
from vigil.store.events import EventFilter, EventNotFound, footage_window
from vigil.store.models import Camera, Event
from vigil.timeutil import iso, now_ms

log = logging.getLogger(__name__)

router = APIRouter(prefix="/events", tags=["events"])

_LIST_LIMIT = 500
_MAX_FILTERS = 100  # values of one repeated filter
_JPEG = {"content": {"image/jpeg": {}}, "description": "a JPEG image"}

Viewer = Annotated[Principal, Depends(member(Scope.RECORDINGS))]


@dataclass(frozen=True, slots=True)
class SeenEvent:
    """An event the caller may see, its camera, and what the caller may do on that camera."""

    principal: Principal
    event: Event
    camera: Camera
    allowed: frozenset[Permission]


async def _seen(services: Services, principal: Principal, event: Event) -> SeenEvent:
    """``event`` if the caller may view its camera's recordings; EventNotFound otherwise,
    exactly as if there were none."""
    allowed = (await services.auth.camera_permissions(principal)).get(event.camera_id)
    if event.org_id != principal.org_id or not allowed or Permission.VIEW_RECORDINGS not in allowed:
        raise EventNotFound(event.id)
    try:
        camera = await services.cameras.store.get(event.camera_id)
    except CameraNotFound:  # deleted a moment ago: its events go with it
        raise EventNotFound(event.id) from None
    return SeenEvent(principal, event, camera, frozenset(allowed))


def _require(seen: SeenEvent, permission: Permission) -> None:
    if permission not in seen.allowed:
        raise Forbidden(
            f"You may not {permission.value.replace('_', ' ')} on camera {seen.camera.id}.",
            slug="missing-permission",
        )


def event_access(permission: Permission, scope: Scope) -> Callable[..., Awaitable[SeenEvent]]:
    """The path's event, if the caller may ``permission`` on its camera (and use ``scope``)."""

    async def dependency(
        event_id: EventId, connection: HTTPConnection, services: ServicesDep
    ) -> SeenEvent:
        principal = await identify(connection, services)
        if principal is None:
            raise NotAuthenticated
        check_scope(principal, scope)
        seen = await _seen(services, principal, await services.events.store.get(event_id))
        _require(seen, permission)
        return seen

    return dependency


SeeEvent = Annotated[SeenEvent, Depends(event_access(Permission.VIEW_RECORDINGS, Scope.RECORDINGS))]
ClipEvent = Annotated[SeenEvent, Depends(event_access(Permission.EXPORT, Scope.EXPORTS))]
DeleteEvent = Annotated[SeenEvent, Depends(event_access(Permission.CONFIGURE, Scope.CAMERAS_WRITE))]


# -- answers
def _root(request: Request) -> str:
    return f"{request.scope.get('root_path', '')}{API_PREFIX}"


def _box(values: list[float] | None) -> BoxOut | None:
    if not values:
        return None
    x1, y1, x2, y2 = values
    return BoxOut(x1=x1, y1=y1, x2=x2, y2=y2)


def _summary_fields(
    request: Request, event: Event, camera_name: str, link: str, now: int
) -> dict[str, Any]:
    """The fields lists and details share; ``link`` is a signed query for the camera."""
    snapshot = None
    if event.snapshot_path is not None:
        url = f"{_root(request)}/events/{event.id}/snapshot.jpg{link}"
        snapshot = SnapshotOut(
            time=event.snapshot_ms if event.snapshot_ms is not None else event.start_ms,
            box=_box(event.snapshot_box),
            url=url,
            clean_url=f"{url}&box=false",
        )
    until = event.end_ms if event.end_ms is not None else max(now, event.last_ms)
    return {
        "id": event.id,
        "camera_id": event.camera_id,
        "camera_name": camera_name,
        "kind": EventKind(event.kind),
        "label": event.label,
        "score": event.score,
        "zones": list(event.zones),
        "start": event.start_ms,
        "end": event.end_ms,
        "in_progress": event.end_ms is None,
        "duration_seconds": max(until - event.start_ms, 0) / 1000,
        "snapshot": snapshot,
        "reviewed": event.reviewed,
        "protected": event.protected,
    }


def _details(request: Request, seen: SeenEvent) -> EventOut:
    event = seen.event
    link = signed_query(request, MediaKind.RECORDINGS, event.camera_id)
    start, end = footage_window(event)
    start = max(start, 0)
    vod = (
        f"{_root(request)}/cameras/{event.camera_id}/vod.m3u8{link}"
        f"&start={iso(start)}&end={iso(end)}"
    )
    return EventOut(
        **_summary_fields(request, event, seen.camera.name, link, now_ms()),
        boxes=[
            BoxAtOut(time=round(t), x1=x1, y1=y1, x2=x2, y2=y2) for t, x1, y1, x2, y2 in event.boxes
        ],
        footage=IntervalOut(start=start, end=end),
        links=EventLinks(vod_url=vod),
    )


# -- routes
@router.get("", responses=problem_responses(401, 403, 404, 422))
async def list_events(
    principal: Viewer,
    request: Request,
    services: ServicesDep,
    camera_id: Annotated[
        list[CameraId] | None,
        Query(max_length=_MAX_FILTERS, description="only these cameras (repeat for more)"),
    ] = None,
    label: Annotated[
        list[Label] | None,
        Query(max_length=_MAX_FILTERS, description="only these labels (repeat for more)"),
    ] = None,
    zone: Annotated[Name | None, Query(description="only events in this zone")] = None,
    kind: Annotated[EventKind | None, Query(description="object or motion")] = None,
    start: Annotated[Instant | None, Query(description="events still going on at or after")] = None,
    end: Annotated[Instant | None, Query(description="events that started before")] = None,
    min_score: Annotated[float | None, Query(ge=0, le=1, description="best score at least")] = None,
    reviewed: bool | None = None,
    protected: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=_LIST_LIMIT)] = 100,
    cursor: Cursor | None = None,
) -> EventPage:
    """Events of the cameras whose recordings you may view, newest first, a page at a time.
    Naming a camera you may not use at all is 404 ``camera-not-found`` (as for exports)."""
    allowed = await services.auth.camera_permissions(principal)
    visible = {cid for cid, perms in allowed.items() if Permission.VIEW_RECORDINGS in perms}
    for cid in camera_id or ():
        if cid not in allowed:
            raise CameraNotFound(cid)
        if cid not in visible:
            raise Forbidden(
                f"You may not view recordings on camera {cid}.", slug="missing-permission"
            )
    if start is not None and end is not None and end <= start:
        raise _invalid("end", "end must be after start")
    try:
        before = decode_cursor(cursor) if cursor is not None else None
    except BadCursor as e:
        raise _invalid("cursor", str(e)) from None
    cameras = set(camera_id) if camera_id else visible
    if not cameras:
        return EventPage(events=[], next_cursor=None)
    found = await services.events.store.find(
        EventFilter(
            org_id=principal.org_id,
            camera_ids=sorted(cameras),
            labels=tuple(label or ()),
            zone=zone,
            kind=kind.value if kind is not None else None,
            since_ms=start,
            until_ms=end,
            min_score=min_score,
            reviewed=reviewed,
            protected=protected,
            before=before,
            limit=limit + 1,  # one more tells whether there is a next page
        )
    )
    page, more = found[:limit], len(found) > limit
    names = {c.id: c.name for c in await services.cameras.store.list(org_id=principal.org_id)}
    links: dict[int, str] = {}
    now = now_ms()
    events = []
    for event in page:
        if event.camera_id not in links:
            links[event.camera_id] = signed_query(request, MediaKind.RECORDINGS, event.camera_id)
        fields = _summary_fields(
            request, event, names.get(event.camera_id, ""), links[event.camera_id], now
        )
        events.append(EventSummary(**fields))
    last = page[-1] if more else None
    return EventPage(
        events=events,
        next_cursor=encode_cursor(last.start_ms, last.id) if last is not None else None,
    )


@router.get("/{event_id}", responses=problem_responses(401, 403, 404, 422))
async def get_event(seen: SeeEvent, request: Request) -> EventOut:
    """One event: its path (boxes), its picture, the footage around it and a link to play it."""
    return _details(request, seen)


@router.get(
    "/{event_id}/snapshot.jpg",
    response_class=Response,
    responses={200: _JPEG, **problem_responses(401, 403, 404, 422, 503)},
)
async def event_snapshot(
    event_id: EventId,
    request: Request,
    services: ServicesDep,
    box: Annotated[bool, Query(description="draw the object's box and label")] = True,
) -> Response:
    """The event's best picture as JPEG. Takes the signed link of the event's camera
    (``?token=``, as in the event's ``snapshot.url``) as well as a session or key."""
    try:
        event: Event | None = await services.events.store.get(event_id)
    except EventNotFound:
        event = None
    # The link is signed for the event's camera: checked against the camera of the event the
    # path names, so a link for one camera opens no other camera's events.
    target = event.camera_id if event is not None else None
    principal = await identify(request, services, MediaKind.RECORDINGS, target)
    if principal is None:
        raise NotAuthenticated
    check_scope(principal, Scope.RECORDINGS)
    if event is None:
        raise EventNotFound(event_id)
    seen = await _seen(services, principal, event)
    jpeg = await services.events.snapshot(seen.event, box)  # NoSnapshot: 404
    # An open event's best picture can still change.
    cache = "private, no-cache" if event.end_ms is None else "private, max-age=3600"
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": cache})


@router.post(
    "/{event_id}/clip",
    status_code=202,
    response_model=ExportOut,
    responses=problem_responses(400, 401, 403, 404, 422),
)
async def clip_event(
    seen: ClipEvent,
    request: Request,
    response: Response,
    services: ServicesDep,
    body: Annotated[ClipCreate | None, Body()] = None,
) -> ExportOut | JSONResponse:
    """Export the event's footage (the event widened by its pre and post buffers; an event
    still going on: until now) as an export of its camera, answered like ``POST /exports``."""
    event, principal = seen.event, seen.principal
    start = max(event.start_ms - event.pre_ms, 0)
    end = event.end_ms + event.post_ms if event.end_ms is not None else now_ms()
    end = max(end, start + 1)
    if end - start > MAX_RANGE_MS:
        hours = MAX_RANGE_MS // 3_600_000
        return problem(
            request,
            422,
            f"The event's footage is longer than an export may be ({hours} h): "
            "export a part of it with POST /api/exports.",
            slug="clip-too-long",
        )
    title = body.title if body is not None and body.title else None
    if title is None:
        title = f"{event.label} on {seen.camera.name} at {iso(event.start_ms)}"[:200]
    try:
        export = await services.exports.create(
            ExportRequest(
                camera_ids=[event.camera_id],
                start_ms=start,
                end_ms=end,
                burn_in=False,
                title=title,
                org_id=principal.org_id,
                requested_by=principal.username,
                requested_by_id=principal.user_id,
            )
        )
    except NoFootage as exc:
        return problem(
            request,
            404,
            f"No footage of this event's camera from {iso(start)} to {iso(end)}.",
            slug="no-footage",
            camera_ids=exc.camera_ids,
        )
    await services.auth.audit.record(
        actor_of(request),
        "export.create",
        target=f"export:{export.id}",
        camera_ids=[event.camera_id],
        start=export.start_ms,
        end=export.end_ms,
        event=event.id,
    )
    response.headers["Location"] = f"{API_PREFIX}/exports/{export.id}"
    return export_out(request, export)


@router.patch("/{event_id}", responses=problem_responses(400, 401, 403, 404, 422))
async def change_event(
    seen: SeeEvent, body: EventChange, request: Request, services: ServicesDep
) -> EventOut:
    """Mark the event reviewed (or not), protect it (or release it). Protecting needs the
    export permission and protects the segments of its footage too; releasing releases them,
    except those the footage of another protected event of the camera overlaps."""
    event = seen.event
    if body.protected is not None:
        check_scope(seen.principal, Scope.CAMERAS_WRITE)
        _require(seen, Permission.EXPORT)
    event = await services.events.store.set_flags(
        event.id, reviewed=body.reviewed, protected=body.protected
    )
    if body.reviewed is not None:
        await services.auth.audit.record(
            actor_of(request), "event.review", target=f"event:{event.id}", reviewed=body.reviewed
        )
    if body.protected is not None:
        count = await _protect_footage(services, event, body.protected)
        await services.auth.audit.record(
            actor_of(request),
            "event.protect" if body.protected else "event.unprotect",
            target=f"event:{event.id}",
            segments=count,
        )
        log.info("event %s: protected=%s (%d segments)", event.id, body.protected, count)
    return _details(request, SeenEvent(seen.principal, event, seen.camera, seen.allowed))


# Buffers are at most 300 s (DetectionSettings): windows overlapping a range start this
# much before it at the earliest.
_MAX_BUFFER_MS = 300_000


async def _protect_footage(services: Services, event: Event, protected: bool) -> int:
    """Protect or release the segments of the event's footage window; how many. Releasing
    keeps those of the camera's other protected events protected (segments protected by hand
    over the same time are released: protect them again, or protect an event instead)."""
    start, end = footage_window(event)
    count = await services.segments.set_protected(event.camera_id, start, end, protected)
    if protected:
        return count
    others = await services.events.store.find(
        EventFilter(
            org_id=event.org_id,
            camera_ids=[event.camera_id],
            since_ms=start - _MAX_BUFFER_MS,
            until_ms=end + _MAX_BUFFER_MS,
            protected=True,
            limit=_LIST_LIMIT,
        )
    )
    for other in others:
        other_start, other_end = footage_window(other)
        if other.id != event.id and other_start < end and other_end > start:
            await services.segments.set_protected(event.camera_id, other_start, other_end, True)
    return count


@router.delete("/{event_id}", status_code=204, responses=problem_responses(401, 403, 404, 409, 422))
async def delete_event(seen: DeleteEvent, request: Request, services: ServicesDep) -> Response:
    """Delete the event and its picture (204), not its footage; 409 while it is protected."""
    await services.events.delete(seen.event.id)  # EventProtected: 409
    await services.auth.audit.record(
        actor_of(request), "event.delete", target=f"event:{seen.event.id}"
    )
    return Response(status_code=204)
