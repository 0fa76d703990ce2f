"""Library search: results with filters and facets, and suggestions while words are typed."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from vigil.api.deps import ServicesDep
from vigil.api.library_http import Member, item_files, item_out
from vigil.api.library_schemas import (
    ItemKind,
    ItemSuggestion,
    NamedSuggestion,
    SearchFacetsOut,
    SearchNamesOut,
    SearchOut,
    SuggestionsOut,
    ValueSuggestion,
)
from vigil.api.problems import problem_responses
from vigil.api.security import signed_query
from vigil.api.types import (
    CameraId,
    Cursor,
    GroupId,
    Instant,
    Label,
    LibraryEventId,
    SearchWords,
    Tag,
    UserId,
)
from vigil.auth.tokens import MediaKind
from vigil.library.suggest import suggest
from vigil.store.models import MediaItem

router = APIRouter(prefix="/library", tags=["library"])

_MAX_FILTERS = 50  # values of one repeated search filter


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
    camera_id: Annotated[list[CameraId], Query(max_length=_MAX_FILTERS)] = [],  # noqa: B006
    label: Annotated[list[Label], Query(max_length=_MAX_FILTERS)] = [],  # noqa: B006
    group_id: Annotated[GroupId | None, Query(description="shared with this group")] = None,
    since: Instant | None = None,
    until: Instant | None = None,
    sort: Literal["relevance", "newest", "oldest"] = "relevance",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Cursor | None = None,
) -> SearchOut:
    """Search titles, descriptions, tags, event and camera names and detection labels, with
    filters and facet counts; only what you may see."""
    library = services.library
    viewer = await library.viewer(principal)
    page = await library.search.search(
        viewer.query(
            q,
            kinds=tuple(kind),
            tags=tuple(tag),
            event_ids=tuple(event_id),
            uploader_ids=tuple(uploader_id),
            camera_ids=tuple(camera_id),
            labels=tuple(label),
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
    # Names for what is shown by id: the facets' (of items the caller sees), and for those
    # who see the whole library the filters' too; of this organisation only.
    whole = viewer.groups is None
    events = await library.store.event_names([*facets.events, *(event_id if whole else ())])
    cameras = await library.store.camera_names(
        principal.org_id, [*facets.cameras, *(camera_id if whole else ())]
    )
    return SearchOut(
        items=[item_out(request, item) for item in found],
        total=page.total,
        exact=page.exact,
        facets=SearchFacetsOut(
            kinds={str(k): v for k, v in facets.kinds.items()},
            tags={str(k): v for k, v in facets.tags.items()},
            events={str(k): v for k, v in facets.events.items()},
            uploaders={str(k): v for k, v in facets.uploaders.items()},
            cameras={str(k): v for k, v in facets.cameras.items()},
            labels={str(k): v for k, v in facets.labels.items()},
        ),
        names=SearchNamesOut(
            events={str(k): e.name for k, e in events.items() if e.org_id == principal.org_id},
            cameras={str(k): name for k, name in cameras.items()},
        ),
        next_cursor=page.next_cursor,
    )


def _thumb(request: Request, item: MediaItem) -> str | None:
    files = item_files(request, item, signed_query(request, MediaKind.LIBRARY, item.id))
    return files.thumb if files is not None else None


@router.get("/search/suggest", responses=problem_responses(401, 403, 422))
async def suggestions(
    principal: Member,
    request: Request,
    services: ServicesDep,
    q: Annotated[SearchWords, Query(description="the words typed so far")] = "",
    limit: Annotated[int, Query(ge=1, le=20, description="of each kind")] = 5,
) -> SuggestionsOut:
    """What the words typed so far could mean: tags, detection labels, library events,
    cameras and items whose names they begin, with how many items each finds; only what you
    may see."""
    library = services.library
    found = await suggest(library, await library.viewer(principal), q, limit)

    return SuggestionsOut(
        tags=[ValueSuggestion(value=v, count=n) for v, n in found.tags],
        labels=[ValueSuggestion(value=v, count=n) for v, n in found.labels],
        events=[NamedSuggestion(id=i, name=name, count=n) for i, name, n in found.events],
        cameras=[NamedSuggestion(id=i, name=name, count=n) for i, name, n in found.cameras],
        items=[
            ItemSuggestion(
                id=item.id,
                title=item.title,
                kind=item.kind,
                event_id=item.event_id,
                thumb=_thumb(request, item),
            )
            for item in found.items
        ],
    )
