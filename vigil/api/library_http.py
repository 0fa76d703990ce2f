"""What the library's routers share (``routers/library.py``, ``library_search.py``,
``library_shares.py``): who may call them, an item as the API answers it, and a file sent
with byte ranges."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Header, Request
from fastapi.responses import StreamingResponse

from vigil.api.library_schemas import ItemFiles, ItemOut
from vigil.api.routers import API_PREFIX
from vigil.api.security import admin, member, signed_query
from vigil.auth.errors import Forbidden
from vigil.auth.permissions import Role, Scope
from vigil.auth.principal import Principal
from vigil.auth.tokens import MediaKind
from vigil.library.service import LibraryService, web_key
from vigil.store.library import ItemNotFound
from vigil.store.models import MediaItem


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
FILE_RESPONSE: dict[str, Any] = {"description": "the file; Range requests get 206"}


def item_files(request: Request, item: MediaItem, query: str) -> ItemFiles | None:
    """Links to a ready item's files, each with ``query`` (a signed link's) appended."""
    if item.status != "ready":
        return None
    root = f"{request.scope.get('root_path', '')}{API_PREFIX}/library/items/{item.id}/files"

    def url(variant: str, key: str | None) -> str | None:
        return f"{root}/{variant}{query}" if key else None

    return ItemFiles(
        original=f"{root}/original{query}",
        web=url("web", web_key(item)),
        poster=url("poster", item.poster_key),
        thumb=url("thumb", item.thumb_key),
    )


def item_out(request: Request, item: MediaItem) -> ItemOut:
    """``item`` for the caller, its files as links signed for them."""
    return ItemOut.build(
        item, item_files(request, item, signed_query(request, MediaKind.LIBRARY, item.id))
    )


def _key(item: MediaItem, variant: str) -> str | None:
    return {
        "original": item.key,
        "web": web_key(item),
        "poster": item.poster_key,
        "thumb": item.thumb_key,
    }[variant]


async def send_file(
    library: LibraryService, item: MediaItem, variant: str, range_: str | None
) -> StreamingResponse:
    """One of ``item``'s files, whole or the first byte range asked for (206; 416 outside it);
    the original as a download under the name it was uploaded with."""
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
    # The web file of a picture or playable video is its original, shown inline.
    mime = item.mime if key == item.key else "video/mp4" if variant == "web" else "image/jpeg"
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
        # Closed at once when the client goes away mid-file, not when collected.
        async with contextlib.aclosing(blobs.read_range(key, start, end + 1)) as chunks:
            async for chunk in chunks:
                yield chunk

    return StreamingResponse(body(), status_code=status, media_type=mime, headers=headers)
