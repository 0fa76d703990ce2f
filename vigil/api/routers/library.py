"""The media library: library events, items and their files, usage, analytics (search:
``library_search``; share links: ``library_shares``)."""

from __future__ import annotations

import csv
import io
import logging
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from vigil.api.deps import ServicesDep
from vigil.api.library_http import (
    FILE_RESPONSE,
    Admin,
    Editor,
    Member,
    RangeHeader,
    item_out,
    send_file,
)
from vigil.api.library_schemas import (
    AnalyticsOut,
    EventCover,
    ItemOut,
    ItemUpdate,
    LibraryEventCreate,
    LibraryEventOut,
    LibraryEventUpdate,
    LibraryGroupOut,
    SaveEvent,
    SaveExport,
    UsageOut,
    UsageSampleOut,
    Variant,
)
from vigil.api.problems import problem_responses
from vigil.api.routers import API_PREFIX
from vigil.api.security import actor_of, check_scope, identify, signed_query
from vigil.api.types import Instant, ItemId, LibraryEventId
from vigil.app import Services
from vigil.auth.errors import NotAuthenticated
from vigil.auth.permissions import Permission, Scope
from vigil.auth.tokens import MediaKind
from vigil.exports.service import ExportFileNotFound
from vigil.library.service import LibraryService, NewItem, Viewer
from vigil.library.zipstream import zip_items
from vigil.store.events import EventNotFound
from vigil.store.exports import ExportNotFound
from vigil.store.models import LibraryEvent, MediaItem
from vigil.timeutil import iso

log = logging.getLogger(__name__)

router = APIRouter(prefix="/library", tags=["library"])


def _library(services: Services) -> LibraryService:
    return services.library


# -- library events
async def _events_out(
    request: Request, library: LibraryService, viewer: Viewer, events: list[LibraryEvent]
) -> list[LibraryEventOut]:
    """Events as their cards show them: counts, cover, only the viewer's own groups."""
    summaries = await library.summaries(events)
    out = []
    for event in events:
        summary = summaries.get(event.id)
        cover = None
        if summary is not None and summary.cover is not None:
            item = summary.cover
            query = signed_query(request, MediaKind.LIBRARY, item.id)
            root = f"{request.scope.get('root_path', '')}{API_PREFIX}/library/items/{item.id}"
            cover = EventCover(item_id=item.id, thumb=f"{root}/files/thumb{query}")
        out.append(LibraryEventOut.build(event, summary, cover, viewer.groups))
    return out


@router.get("/events", responses=problem_responses(401, 403))
async def list_events(
    principal: Member,
    request: Request,
    services: ServicesDep,
    archived: Annotated[bool | None, Query(description="default: both")] = None,
) -> list[LibraryEventOut]:
    """Library events you may see, newest first, each with its ready items counted by kind
    and a cover picture."""
    library = _library(services)
    viewer = await library.viewer(principal)
    return await _events_out(request, library, viewer, await library.events(viewer, archived))


@router.get("/groups", responses=problem_responses(401, 403))
async def list_groups(principal: Member, services: ServicesDep) -> list[LibraryGroupOut]:
    """The user groups (classes) by name: for admins and operators all of the organisation's,
    the groups they may share items, events and links with (``group_ids``); for a viewer
    only their own. Names only: who is in a class is for admins (``/user-groups``)."""
    library = _library(services)
    groups = await library.groups(await library.viewer(principal))
    return [LibraryGroupOut(id=g.id, name=g.name) for g in groups]


@router.post("/events", status_code=201, responses=problem_responses(401, 403, 422))
async def create_event(
    body: LibraryEventCreate, principal: Editor, request: Request, services: ServicesDep
) -> LibraryEventOut:
    """A new occasion (admins and operators)."""
    library = _library(services)
    event = await library.create_event(await library.viewer(principal), body.values())
    await services.auth.audit.record(
        actor_of(request, principal), "library.event.create", target=f"library-event:{event.id}"
    )
    return LibraryEventOut.build(event)


@router.get("/events/{library_event_id}", responses=problem_responses(401, 403, 404, 422))
async def get_event(
    library_event_id: LibraryEventId, principal: Member, request: Request, services: ServicesDep
) -> LibraryEventOut:
    library = _library(services)
    viewer = await library.viewer(principal)
    (out,) = await _events_out(
        request, library, viewer, [await library.event(viewer, library_event_id)]
    )
    return out


@router.patch("/events/{library_event_id}", responses=problem_responses(401, 403, 404, 422))
async def update_event(
    library_event_id: LibraryEventId,
    body: LibraryEventUpdate,
    principal: Editor,
    request: Request,
    services: ServicesDep,
) -> LibraryEventOut:
    """Change what is given; ``archived: true`` archives it (its items stay)."""
    library = _library(services)
    changes = body.changes()
    viewer = await library.viewer(principal)
    event = await library.update_event(viewer, library_event_id, changes)
    await services.auth.audit.record(
        actor_of(request, principal),
        "library.event.update",
        target=f"library-event:{event.id}",
        fields=sorted(changes),
    )
    (out,) = await _events_out(request, library, viewer, [event])
    return out


@router.get(
    "/events/{library_event_id}/download",
    response_class=StreamingResponse,
    responses={
        200: {"description": "a ZIP of the originals", "content": {"application/zip": {}}},
        **problem_responses(401, 403, 404, 422),
    },
)
async def download_event(
    library_event_id: LibraryEventId, principal: Member, request: Request, services: ServicesDep
) -> StreamingResponse:
    """Every ready item's original in one ZIP (stored, not compressed), made as it is sent;
    each item counts a download."""
    library = _library(services)
    viewer = await library.viewer(principal)
    event, entries = await library.event_files(viewer, library_event_id)
    await services.auth.audit.record(
        actor_of(request, principal),
        "library.event.download",
        target=f"library-event:{event.id}",
        items=len(entries),
    )

    async def counted(item: MediaItem) -> None:
        await library.count(item, "downloads")

    name = quote(f"{event.name}.zip", safe="")
    return StreamingResponse(
        zip_items(entries, counted),
        media_type="application/zip",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"},
    )


# -- items
@router.post("/items/from-event", status_code=201, responses=problem_responses(401, 403, 404, 422))
async def save_event_snapshot(
    body: SaveEvent, principal: Editor, request: Request, services: ServicesDep
) -> ItemOut:
    """Save a detection event's snapshot (clean) into the library, labelled with what the
    camera saw; needs view_recordings on the event's camera."""
    event = await services.events.store.get(body.event_id)
    allowed = (await services.auth.camera_permissions(principal)).get(event.camera_id, ())
    if event.org_id != principal.org_id or Permission.VIEW_RECORDINGS not in allowed:
        raise EventNotFound(body.event_id)
    jpeg = await services.events.snapshot(event, with_box=False)
    camera = await services.cameras.store.get(event.camera_id)
    library = _library(services)
    item = await library.save_picture(
        await library.viewer(principal),
        jpeg,
        NewItem(
            source="snapshot",
            filename=f"{camera.name} {iso(event.snapshot_ms or event.start_ms)}.jpg",
            mime="image/jpeg",
            title=body.title or f"{event.label} on {camera.name}",
            labels=[event.label],
            event_id=body.library_event_id,
            camera_id=event.camera_id,
            captured_at=event.snapshot_ms or event.start_ms,
        ),
    )
    await services.auth.audit.record(
        actor_of(request, principal),
        "library.item.save",
        target=f"library-item:{item.id}",
        detection_event=event.id,
    )
    return item_out(request, item)


@router.post("/items/from-export", status_code=201, responses=problem_responses(401, 403, 404, 422))
async def save_export(
    body: SaveExport, principal: Editor, request: Request, services: ServicesDep
) -> ItemOut:
    """Save a finished export's video (one of its files) into the library; the export must be
    yours (or, for admins, the organisation's)."""
    export = await services.exports.store.get(body.export_id)
    if export.org_id != principal.org_id or not (
        principal.is_admin or export.requested_by_id == principal.user_id
    ):
        raise ExportNotFound(body.export_id)
    files = export.files if export.status == "done" else []
    entry = next((f for f in files if body.name in (None, f["name"])), None)
    if entry is None:
        raise ExportFileNotFound(export.id, body.name or "video")
    path = services.exports.file(export, entry["name"])
    library = _library(services)
    item = await library.save_copy(
        await library.viewer(principal),
        path,
        NewItem(
            source="export",
            filename=entry["name"],
            mime="video/mp4",
            title=body.title or export.title or entry["name"],
            event_id=body.library_event_id,
            camera_id=entry.get("camera_id"),
            captured_at=export.start_ms,
        ),
    )
    await services.auth.audit.record(
        actor_of(request, principal),
        "library.item.save",
        target=f"library-item:{item.id}",
        export=export.id,
    )
    return item_out(request, item)


@router.get("/items/{item_id}", responses=problem_responses(401, 403, 404, 422))
async def get_item(
    item_id: ItemId, principal: Member, request: Request, services: ServicesDep
) -> ItemOut:
    library = _library(services)
    item, _ = await library.item(await library.viewer(principal), item_id)
    return item_out(request, item)


@router.patch("/items/{item_id}", responses=problem_responses(401, 403, 404, 422))
async def update_item(
    item_id: ItemId, body: ItemUpdate, principal: Editor, request: Request, services: ServicesDep
) -> ItemOut:
    """Edit, tag, share with groups or move to another library event."""
    library = _library(services)
    changes = body.changes()
    item = await library.update_item(await library.viewer(principal), item_id, changes)
    await services.auth.audit.record(
        actor_of(request, principal),
        "library.item.update",
        target=f"library-item:{item.id}",
        fields=sorted(changes),
    )
    return item_out(request, item)


@router.delete("/items/{item_id}", status_code=204, responses=problem_responses(401, 403, 404))
async def delete_item(
    item_id: ItemId, principal: Editor, request: Request, services: ServicesDep
) -> Response:
    library = _library(services)
    item = await library.delete_item(await library.viewer(principal), item_id)
    await services.auth.audit.record(
        actor_of(request, principal),
        "library.item.delete",
        target=f"library-item:{item.id}",
        title=item.title,
    )
    return Response(status_code=204)


@router.get(
    "/items/{item_id}/files/{variant}",
    response_class=StreamingResponse,
    responses={200: FILE_RESPONSE, 206: FILE_RESPONSE, **problem_responses(401, 403, 404, 422)},
)
async def item_file(
    item_id: ItemId,
    variant: Variant,
    request: Request,
    services: ServicesDep,
    range_: RangeHeader = None,
) -> StreamingResponse:
    """An item's file (original download, web copy, poster, thumbnail); signed links work
    without a session. Views of the web copy and downloads of the original are counted and
    audited."""
    principal = await identify(request, services, MediaKind.LIBRARY)
    if principal is None:
        raise NotAuthenticated
    check_scope(principal, Scope.LIBRARY)
    library = _library(services)
    item, _ = await library.item(await library.viewer(principal), item_id)
    response = await send_file(library, item, variant, range_)
    if variant in ("original", "web") and not range_:
        what = "downloads" if variant == "original" else "views"
        await library.count(item, what)
        await services.auth.audit.record(
            actor_of(request, principal),
            "library.item.download" if variant == "original" else "library.item.view",
            target=f"library-item:{item.id}",
        )
    return response


# -- usage and analytics
async def _usage(services: Services, org_id: int) -> UsageOut:
    library = _library(services)
    usage = await library.usage(org_id)
    plan = await library.store.plan_of(org_id)
    limit = plan.storage_bytes if plan is not None else None
    return UsageOut(
        library_bytes=usage.library_bytes,
        recordings_bytes=usage.recordings_bytes,
        total_bytes=usage.total_bytes,
        by_kind=usage.by_kind,
        plan=plan.name if plan is not None else None,
        limit_bytes=limit,
        remaining_bytes=max(limit - usage.total_bytes, 0) if limit is not None else None,
    )


@router.get("/usage", responses=problem_responses(401, 403))
async def usage(principal: Member, services: ServicesDep) -> UsageOut:
    """What the organisation stores now, by kind, against its plan."""
    return await _usage(services, principal.org_id)


@router.get("/usage/history", responses=problem_responses(401, 403, 422))
async def usage_history(
    principal: Admin,
    services: ServicesDep,
    since: Instant | None = None,
    until: Instant | None = None,
) -> list[UsageSampleOut]:
    samples = await _library(services).store.usage_history(principal.org_id, since, until)
    return [UsageSampleOut.build(s) for s in samples]


@router.get(
    "/usage/history.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **problem_responses(401, 403, 422)},
)
async def usage_history_csv(
    principal: Admin,
    services: ServicesDep,
    since: Instant | None = None,
    until: Instant | None = None,
) -> StreamingResponse:
    samples = await _library(services).store.usage_history(principal.org_id, since, until)
    kinds = sorted({k for s in samples for k in s.by_kind})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["at", "library_bytes", "recordings_bytes", *kinds])
    for s in samples:
        writer.writerow(
            [iso(s.at), s.library_bytes, s.recordings_bytes, *(s.by_kind.get(k, 0) for k in kinds)]
        )
    return StreamingResponse(
        iter([out.getvalue()]),
        media_type="text/csv",
        headers={"Content-Disposition": "attachment; filename=usage.csv"},
    )


@router.get("/analytics", responses=problem_responses(401, 403))
async def analytics(principal: Admin, request: Request, services: ServicesDep) -> AnalyticsOut:
    """For admins: storage over time, most viewed items, uploads per event and uploader."""
    store = _library(services).store
    org = principal.org_id
    history = await store.usage_history(org, None, None)
    return AnalyticsOut(
        storage=[UsageSampleOut.build(s) for s in history],
        most_viewed=[item_out(request, i) for i in await store.most_viewed(org, 20)],
        uploads_per_event=[
            {"event_id": k, "items": n, "bytes": b}
            for k, n, b in await store.uploads_by(org, "event_id")
        ],
        uploads_per_uploader=[
            {"user_id": k, "items": n, "bytes": b}
            for k, n, b in await store.uploads_by(org, "uploaded_by_id")
        ],
    )
