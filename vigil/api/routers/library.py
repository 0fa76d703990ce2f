"""The media library: library events, items, search, files, share links, usage, analytics."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from vigil.api.deps import ServicesDep
from vigil.api.library_schemas import (
    AnalyticsOut,
    ItemFiles,
    ItemKind,
    ItemOut,
    ItemUpdate,
    LibraryEventCreate,
    LibraryEventOut,
    LibraryEventUpdate,
    SaveEvent,
    SaveExport,
    SearchFacetsOut,
    SearchOut,
    ShareCreate,
    SharedItemOut,
    SharedOut,
    ShareOut,
    UsageOut,
    UsageSampleOut,
    Variant,
)
from vigil.api.problems import problem_responses
from vigil.api.routers import API_PREFIX
from vigil.api.security import (
    actor_of,
    admin,
    check_scope,
    client_ip,
    identify,
    member,
    signed_query,
)
from vigil.api.types import (
    Cursor,
    GroupId,
    Instant,
    ItemId,
    LibraryEventId,
    SearchWords,
    ShareId,
    Tag,
    Token,
    UserId,
)
from vigil.app import Services
from vigil.auth.errors import Forbidden, NotAuthenticated
from vigil.auth.permissions import Permission, Role, Scope
from vigil.auth.principal import Principal
from vigil.auth.tokens import MediaKind
from vigil.exports.service import ExportFileNotFound
from vigil.library.search import SearchQuery
from vigil.library.service import LibraryService, NewItem
from vigil.store.events import EventNotFound
from vigil.store.exports import ExportNotFound
from vigil.store.library import ItemNotFound
from vigil.store.models import MediaItem, ShareLink
from vigil.timeutil import iso

log = logging.getLogger(__name__)

router = APIRouter(prefix="/library", tags=["library"])
shares = APIRouter(prefix="/share", tags=["library"])


async def _editor(principal: Annotated[Principal, Depends(member(Scope.LIBRARY))]) -> Principal:
    """Admins and operators (teachers) change the library; viewers only look."""
    if principal.role not in (Role.ADMIN, Role.OPERATOR):
        raise Forbidden("Only admins and operators change the library.", "library-read-only")
    return principal


Member = Annotated[Principal, Depends(member(Scope.LIBRARY))]
Editor = Annotated[Principal, Depends(_editor)]
Admin = Annotated[Principal, Depends(admin(Scope.LIBRARY))]
# A byte range, as media players send it.
RangeHeader = Annotated[str | None, Header(alias="range", max_length=200)]
_FILE = {"description": "the file; Range requests get 206"}
_MAX_FILTERS = 50  # values of one repeated search filter
_CHUNK = 1 << 20


def _library(services: Services) -> LibraryService:
    return services.library


def _files(request: Request, item: MediaItem, query: str) -> ItemFiles | None:
    if item.status != "ready":
        return None
    root = f"{request.scope.get('root_path', '')}{API_PREFIX}/library/items/{item.id}/files"

    def url(variant: str, key: str | None) -> str | None:
        return f"{root}/{variant}{query}" if key else None

    return ItemFiles(
        original=f"{root}/original{query}",
        web=url("web", item.web_key),
        poster=url("poster", item.poster_key),
        thumb=url("thumb", item.thumb_key),
    )


def _item_out(request: Request, item: MediaItem) -> ItemOut:
    return ItemOut.build(
        item, _files(request, item, signed_query(request, MediaKind.LIBRARY, item.id))
    )


# -- library events
@router.get("/events", responses=problem_responses(401, 403))
async def list_events(
    principal: Member,
    services: ServicesDep,
    archived: Annotated[bool | None, Query(description="default: both")] = None,
) -> list[LibraryEventOut]:
    """Library events you may see, newest first."""
    viewer = await _library(services).viewer(principal)
    return [LibraryEventOut.build(e) for e in await _library(services).events(viewer, archived)]


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
    library_event_id: LibraryEventId, principal: Member, services: ServicesDep
) -> LibraryEventOut:
    library = _library(services)
    viewer = await library.viewer(principal)
    return LibraryEventOut.build(await library.event(viewer, library_event_id))


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
    return LibraryEventOut.build(event)


# -- items
@router.get("/search", responses=problem_responses(401, 403, 422))
async def search(
    principal: Member,
    request: Request,
    services: ServicesDep,
    q: Annotated[SearchWords, Query(description="words; the last may be a prefix")] = "",
    kind: Annotated[list[ItemKind], Query(max_length=2)] = [],  # noqa: B006
    tag: Annotated[list[Tag], Query(max_length=_MAX_FILTERS)] = [],  # noqa: B006
    event_id: Annotated[list[LibraryEventId], Query(max_length=_MAX_FILTERS)] = [],  # noqa: B006
    uploader_id: Annotated[list[UserId], Query(max_length=_MAX_FILTERS)] = [],  # noqa: B006
    group_id: Annotated[GroupId | None, Query(description="shared with this group")] = None,
    since: Instant | None = None,
    until: Instant | None = None,
    sort: Literal["relevance", "newest", "oldest"] = "relevance",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Cursor | None = None,
) -> SearchOut:
    """Search titles, descriptions, tags, event and camera names and detection labels, with
    filters and facet counts; only what you may see."""
    library = _library(services)
    viewer = await library.viewer(principal)
    page = await library.search.search(
        SearchQuery(
            org_id=principal.org_id,
            text=q,
            kinds=tuple(kind),
            tags=tuple(tag),
            event_ids=tuple(event_id),
            uploader_ids=tuple(uploader_id),
            group_ids=set(viewer.groups) if viewer.groups is not None else None,
            viewer_id=principal.user_id,
            group_id=group_id,
            since_ms=since,
            until_ms=until,
            sort=sort,
            limit=limit,
            cursor=cursor,
        )
    )
    items = await library.store.items([hit.item_id for hit in page.hits])
    found = [items[h.item_id] for h in page.hits if h.item_id in items]
    facets = page.facets
    return SearchOut(
        items=[_item_out(request, item) for item in found],
        total=page.total,
        exact=page.exact,
        facets=SearchFacetsOut(
            kinds={str(k): v for k, v in facets.kinds.items()},
            tags={str(k): v for k, v in facets.tags.items()},
            events={str(k): v for k, v in facets.events.items()},
            uploaders={str(k): v for k, v in facets.uploaders.items()},
        ),
        next_cursor=page.next_cursor,
    )


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
    return _item_out(request, item)


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
    return _item_out(request, item)


@router.get("/items/{item_id}", responses=problem_responses(401, 403, 404, 422))
async def get_item(
    item_id: ItemId, principal: Member, request: Request, services: ServicesDep
) -> ItemOut:
    library = _library(services)
    item, _ = await library.item(await library.viewer(principal), item_id)
    return _item_out(request, item)


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
    return _item_out(request, item)


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


def _key(item: MediaItem, variant: str) -> str | None:
    return {
        "original": item.key,
        "web": item.web_key,
        "poster": item.poster_key,
        "thumb": item.thumb_key,
    }[variant]


async def _send(
    request: Request, library: LibraryService, item: MediaItem, variant: str, range_: str | None
) -> StreamingResponse:
    key = _key(item, variant)
    if item.status != "ready" or not key:
        raise ItemNotFound(item.id)
    blobs = library.blobs_of(item)
    size = await blobs.size(key)
    start, end = 0, size - 1
    status = 200
    if range_ and range_.startswith("bytes="):
        first, _, last = range_[6:].split(",")[0].partition("-")
        try:
            if first:
                start, end = int(first), min(int(last), size - 1) if last else size - 1
            else:
                start, end = max(0, size - int(last)), size - 1
        except ValueError:
            start, end = 0, size - 1
        else:
            if start > end or start >= size:
                return StreamingResponse(
                    iter(()), status_code=416, headers={"Content-Range": f"bytes */{size}"}
                )
            status = 206
    mime = {"poster": "image/jpeg", "thumb": "image/jpeg", "web": "video/mp4"}.get(
        variant, item.mime
    )
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(end - start + 1),
        "Cache-Control": "private, max-age=300",
    }
    if status == 206:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    if variant == "original":
        headers["Content-Disposition"] = (
            f"attachment; filename*=UTF-8''{quote(item.filename, safe='')}"
        )

    async def body() -> AsyncIterator[bytes]:
        async for chunk in blobs.read_range(key, start, end + 1):
            yield chunk

    return StreamingResponse(body(), status_code=status, media_type=mime, headers=headers)


@router.get(
    "/items/{item_id}/files/{variant}",
    response_class=StreamingResponse,
    responses={200: _FILE, 206: _FILE, **problem_responses(401, 403, 404, 422)},
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
    response = await _send(request, library, item, variant, range_)
    if variant in ("original", "web") and not range_:
        what = "downloads" if variant == "original" else "views"
        await library.count(item, what)
        await services.auth.audit.record(
            actor_of(request, principal),
            "library.item.download" if variant == "original" else "library.item.view",
            target=f"library-item:{item.id}",
        )
    return response


# -- share links
@router.post("/shares", status_code=201, responses=problem_responses(401, 403, 404, 422))
async def create_share(
    body: ShareCreate, principal: Editor, request: Request, services: ServicesDep
) -> ShareOut:
    """A link to an item or a library event for people without an account, with an expiry
    and an optional password; its URL is shown once."""
    library = _library(services)
    new = await library.create_share(
        await library.viewer(principal),
        item_id=body.item_id,
        event_id=body.event_id,
        days=body.days,
        password=body.password.get_secret_value() if body.password is not None else None,
    )
    await services.auth.audit.record(
        actor_of(request, principal),
        "library.share.create",
        target=f"share:{new.link.id}",
        item_id=body.item_id,
        event_id=body.event_id,
    )
    out = _share_out(new.link)
    out.url = f"{request.scope.get('root_path', '')}{API_PREFIX}/share/{new.token}"
    return out


def _share_out(link: ShareLink) -> ShareOut:
    return ShareOut(
        id=link.id,
        item_id=link.item_id,
        event_id=link.event_id,
        expires_at=link.expires_at,
        has_password=link.password_hash is not None,
        views=link.views,
        revoked=link.revoked,
        created_at=link.created_at,
    )


@router.get("/shares", responses=problem_responses(401, 403))
async def list_shares(principal: Editor, services: ServicesDep) -> list[ShareOut]:
    library = _library(services)
    return [_share_out(link) for link in await library.store.shares(principal.org_id)]


@router.delete("/shares/{share_id}", status_code=204, responses=problem_responses(401, 403, 404))
async def revoke_share(
    share_id: ShareId,
    principal: Editor,
    request: Request,
    services: ServicesDep,
) -> Response:
    library = _library(services)
    await library.store.update_share(principal.org_id, share_id, revoked=True)
    await services.auth.audit.record(
        actor_of(request, principal), "library.share.revoke", target=f"share:{share_id}"
    )
    return Response(status_code=204)


PasswordHeader = Annotated[str | None, Header(alias="share-password", max_length=200)]


@shares.get("/{token}", responses=problem_responses(401, 404))
async def open_share(
    token: Token, request: Request, services: ServicesDep, password: PasswordHeader = None
) -> SharedOut:
    """What a share link shows (no account needed; a password in ``Share-Password`` if it has
    one). Every opening is counted and audited."""
    library = _library(services)
    link = await library.open_share(token, password, client_ip(request))
    await library.store.share_viewed(link.id)
    items = await library.shared_items(link)
    await services.auth.audit.record(
        actor_of(request), "library.share.open", org_id=link.org_id, target=f"share:{link.id}"
    )
    title = items[0].title if link.item_id is not None and items else ""
    if link.event_id is not None:
        title = (await library.store.event(link.org_id, link.event_id)).name
    root = f"{request.scope.get('root_path', '')}{API_PREFIX}/share/{token}/items"
    return SharedOut(
        title=title,
        expires_at=link.expires_at,
        items=[
            SharedItemOut(
                id=i.id,
                kind=i.kind,
                title=i.title,
                description=i.description,
                captured_at=i.captured_at,
                width=i.width,
                height=i.height,
                duration_seconds=i.duration_ms / 1000 if i.duration_ms is not None else None,
                files=ItemFiles(
                    original=f"{root}/{i.id}/original",
                    web=f"{root}/{i.id}/web" if i.web_key else None,
                    poster=f"{root}/{i.id}/poster" if i.poster_key else None,
                    thumb=f"{root}/{i.id}/thumb" if i.thumb_key else None,
                ),
            )
            for i in items
        ],
    )


@shares.get(
    "/{token}/items/{item_id}/{variant}",
    response_class=StreamingResponse,
    responses={200: _FILE, 206: _FILE, **problem_responses(401, 404, 422)},
)
async def shared_file(
    token: Token,
    item_id: ItemId,
    variant: Variant,
    request: Request,
    services: ServicesDep,
    password: PasswordHeader = None,
    range_: RangeHeader = None,
) -> StreamingResponse:
    library = _library(services)
    link = await library.open_share(token, password, client_ip(request))
    item = next((i for i in await library.shared_items(link) if i.id == item_id), None)
    if item is None:
        raise ItemNotFound(item_id)
    response = await _send(request, library, item, variant, range_)
    if variant in ("original", "web") and not range_:
        await library.count(item, "downloads" if variant == "original" else "views")
        await services.auth.audit.record(
            actor_of(request),
            "library.share.download" if variant == "original" else "library.share.view",
            org_id=link.org_id,
            target=f"library-item:{item.id}",
            share=link.id,
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
        most_viewed=[_item_out(request, i) for i in await store.most_viewed(org, 20)],
        uploads_per_event=[
            {"event_id": k, "items": n, "bytes": b}
            for k, n, b in await store.uploads_by(org, "event_id")
        ],
        uploads_per_uploader=[
            {"user_id": k, "items": n, "bytes": b}
            for k, n, b in await store.uploads_by(org, "uploaded_by_id")
        ],
    )
