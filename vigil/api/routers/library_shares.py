"""Sharing the library: share links (made, listed, revoked by editors) and what a link shows
to someone without an account (the groups to share with: ``GET /library/groups``).

Once a link's password has been given, the file links it answers carry a signature (``sig``)
bound to the link and the item, for a few hours: a video player or a download cannot send a
password header, and should not make each of its range requests guess the password again.
The link is still checked on every request, so a revoked or expired link stops its files at
once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from vigil.api.deps import ServicesDep
from vigil.api.library_http import FILE_RESPONSE, Editor, RangeHeader, send_file
from vigil.api.library_schemas import (
    ItemFiles,
    ShareCreate,
    SharedItemOut,
    SharedOut,
    ShareOut,
    Variant,
)
from vigil.api.problems import problem_responses
from vigil.api.routers import API_PREFIX
from vigil.api.security import actor_of, client_ip
from vigil.api.types import ItemId, LibraryEventId, ShareId, Token
from vigil.app import Services
from vigil.auth.tokens import BadSignature, MediaKind
from vigil.library.service import ShareRefused, web_key
from vigil.store.library import ItemNotFound
from vigil.store.models import MediaItem, ShareLink

router = APIRouter(prefix="/library", tags=["library"])
public = APIRouter(prefix="/share", tags=["library"])

SHARE_PAGE = "/s"  # the web page for a link's recipient (vigil.web.share_page)
MEDIA_SECONDS = 4 * 3600  # how long a shared file's signed link works

PasswordHeader = Annotated[str | None, Header(alias="share-password", max_length=200)]
Signature = Annotated[
    str | None,
    Query(
        max_length=200,
        pattern=r"^[A-Za-z0-9_.=-]+$",
        description="the signature of a file link that GET /share/{token} gave",
    ),
]


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


@router.post("/shares", status_code=201, responses=problem_responses(401, 403, 404, 422))
async def create_share(
    body: ShareCreate, principal: Editor, request: Request, services: ServicesDep
) -> ShareOut:
    """A link to an item or a library event for people without an account, with an expiry
    and an optional password; its addresses are shown once."""
    library = services.library
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
    root = request.scope.get("root_path", "")
    out.url = f"{root}{API_PREFIX}/share/{new.token}"
    out.page_url = f"{root}{SHARE_PAGE}/{new.token}"
    return out


@router.get("/shares", responses=problem_responses(401, 403, 422))
async def list_shares(
    principal: Editor,
    services: ServicesDep,
    item_id: Annotated[ItemId | None, Query(description="the links of this item")] = None,
    event_id: Annotated[
        LibraryEventId | None, Query(description="the links of this library event")
    ] = None,
) -> list[ShareOut]:
    """The organisation's share links, newest first, with their views (never their
    addresses: only their hashes are kept)."""
    links = await services.library.store.shares(principal.org_id, item_id, event_id)
    return [_share_out(link) for link in links]


@router.delete("/shares/{share_id}", status_code=204, responses=problem_responses(401, 403, 404))
async def revoke_share(
    share_id: ShareId,
    principal: Editor,
    request: Request,
    services: ServicesDep,
) -> Response:
    await services.library.store.update_share(principal.org_id, share_id, revoked=True)
    await services.auth.audit.record(
        actor_of(request, principal), "library.share.revoke", target=f"share:{share_id}"
    )
    return Response(status_code=204)


def _shared_files(services: Services, root: str, link: ShareLink, item: MediaItem) -> ItemFiles:
    sig = services.auth.signer.sign(link.id, MediaKind.SHARE, item.id, ttl_seconds=MEDIA_SECONDS)
    base = f"{root}/{item.id}"
    query = f"?sig={sig}"
    return ItemFiles(
        original=f"{base}/original{query}",
        web=f"{base}/web{query}" if web_key(item) else None,
        poster=f"{base}/poster{query}" if item.poster_key else None,
        thumb=f"{base}/thumb{query}" if item.thumb_key else None,
    )


@public.get("/{token}", responses=problem_responses(401, 404, 410, 422, 429))
async def open_share(
    token: Token, request: Request, services: ServicesDep, password: PasswordHeader = None
) -> SharedOut:
    """What a share link shows (no account needed; a password in ``Share-Password`` if it has
    one). Every opening is counted and audited."""
    library = services.library
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
        kind="item" if link.item_id is not None else "event",
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
                files=_shared_files(services, root, link, i),
            )
            for i in items
        ],
    )


async def _signed_link(services: Services, token: str, sig: str, item_id: int) -> ShareLink:
    """The link, if it still works and ``sig`` is its signature for this item."""
    link = await services.library.live_share(token)
    try:
        grant = services.auth.signer.verify(sig)
    except (BadSignature, ValueError):
        grant = None
    if grant is None or (grant.kind, grant.user_id, grant.target) != (
        MediaKind.SHARE,
        link.id,
        item_id,
    ):
        raise ShareRefused(
            "This file link is no longer valid: open the share link again.", needs_password=True
        )
    return link


@public.get(
    "/{token}/items/{item_id}/{variant}",
    response_class=StreamingResponse,
    responses={
        200: FILE_RESPONSE,
        206: FILE_RESPONSE,
        **problem_responses(401, 404, 410, 422, 429),
    },
)
async def shared_file(
    token: Token,
    item_id: ItemId,
    variant: Variant,
    request: Request,
    services: ServicesDep,
    password: PasswordHeader = None,
    sig: Signature = None,
    range_: RangeHeader = None,
) -> StreamingResponse:
    """A shared item's file: with the link's ``sig`` (as ``GET /share/{token}`` gives it) or
    its password in ``Share-Password``. Range requests get 206."""
    library = services.library
    if sig is not None:
        link = await _signed_link(services, token, sig, item_id)
    else:
        link = await library.open_share(token, password, client_ip(request))
    item = next((i for i in await library.shared_items(link) if i.id == item_id), None)
    if item is None:
        raise ItemNotFound(item_id)
    response = await send_file(library, item, variant, range_)
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
