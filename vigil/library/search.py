"""Library search: one query interface over SQLite FTS5 and PostgreSQL full-text search.

A search document per media item holds its words (title, description, tags, event name,
camera name, detection labels; see :mod:`vigil.library.search_text`) and what filters and
facets need: organisation, kind, event, uploader, camera, capture time, tags, detection
labels, and the user groups that may see it (the item's own and its event's, denormalised so
that a parent's search needs no join). The library service keeps it in step with explicit
calls: :meth:`SearchIndex.upsert`, :meth:`~SearchIndex.remove`,
:meth:`~SearchIndex.reindex_event` (an event renamed or shared with other groups);
:meth:`~SearchIndex.rebuild` indexes a whole organisation or database again.
Items deleted from ``media_items`` leave the index with them (foreign key cascade).

- SQLite: the FTS5 table ``media_search`` (tokenizer unicode61 remove_diacritics 2, prefix
  indexes of 2 and 3 characters), ranked with bm25 (weights title 10; tags, event, labels 4;
  description, camera 2). Its rowid is the item's *position* (capture time in ms times 2^20,
  plus the item id mod 2^20), so the index itself yields hits newest first and a date range
  is a rowid range; its ``scope`` column holds filter tokens (organisation, event, uploader,
  groups, exact tags), so filters narrow inside the index (bm25 reads each query token's
  every row once, to weigh it: so the organisation's token is left out while it is alone,
  and the kind is filtered in SQL).
  ``media_search_docs`` holds the facet values and maps positions to items; a trigger
  deletes the words with the document.
- PostgreSQL: the table ``media_search`` with a ``tsvector`` of the same words, built here
  (weights A title; B tags, event, labels; C description, camera: ts_rank_cd's default
  weights 1, 0.4, 0.2, the same ratios), GIN indexes on it, the tags and the groups, b-trees
  on (org_id, captured_at, item_id), event and uploader; ranked with ``ts_rank_cd``.

Bounded work. A search reads at most ``window`` hits (default 1,000), the first in the order
its index reads cheapest: the most recently captured on SQLite (rowid order), the most recently
added on PostgreSQL (the table's own order; the same ones where items are added as they are
taken). With fewer hits, the total, the facets and the relevance ranking are exact; with more
(``SearchPage.exact`` False), they count and rank those (the total and each facet count are
then lower bounds) while date-sorted pages still reach every hit, newest or oldest first.
Facets count the hits with every filter applied, their own dimension too (drill-down); tags
and labels are the top ``facet_limit``.

Cursors are keysets: (position, id) for the date sorts, (score, position, id) for relevance. A
PostgreSQL score depends on the item and the query only, so pages stay exact while items are
added. bm25 also depends on the whole index (how rare each word is), so on SQLite every write
shifts every score a little: the next page starts from the score the previous page's last item
has *now*, which keeps the pages in order and without repeats unless two items' order itself
flips (near-ties).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from vigil.library.search_sql import (
    Backend,
    Key,
    PostgresBackend,
    Sql,
    SQLiteBackend,
    date_page_statement,
    window_statement,
)
from vigil.library.search_text import SearchDocument, parse
from vigil.store.database import Database
from vigil.store.models import Camera, LibraryEvent, MediaItem

Sort = Literal["relevance", "newest", "oldest"]
SORTS = ("relevance", "newest", "oldest")
DEFAULT_WINDOW = 1000
MAX_LIMIT = 500


class InvalidCursor(ValueError):
    """A cursor that is not one of ours, or belongs to another search."""


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """One search of one organisation's library. Filters all hold at once; within one, any
    value does (kinds, events, uploaders), except tags: an item must have every tag given."""

    org_id: int
    text: str = ""  # words; see vigil.library.search_text.parse
    kinds: Sequence[str] = ()
    tags: Sequence[str] = ()  # exact tags
    event_ids: Sequence[int] = ()
    uploader_ids: Sequence[int] = ()
    camera_ids: Sequence[int] = ()
    labels: Sequence[str] = ()  # exact detection labels, all of them
    # Who looks: None sees all of the organisation's library (admins, operators); a set sees
    # items shared with one of these groups (the item's or its event's) or uploaded by viewer.
    group_ids: set[int] | frozenset[int] | None = None
    viewer_id: int | None = None
    group_id: int | None = None  # filter: shared with this group
    since_ms: int | None = None  # captured at or after
    until_ms: int | None = None  # captured before
    sort: Sort | str = "relevance"  # no words: by date, newest first
    limit: int = 50
    cursor: str | None = None
    facets: bool = True
    facet_limit: int = 20  # tags in the tag facet, labels in the label facet

    def fingerprint(self) -> str:
        """What a cursor belongs to: everything but the page size and the cursor."""
        key = [
            self.org_id, self.text, sorted(self.kinds), sorted(self.tags),
            sorted(self.event_ids), sorted(self.uploader_ids), sorted(self.camera_ids),
            sorted(self.labels), None if self.group_ids is None else sorted(self.group_ids),
            self.viewer_id, self.group_id, self.since_ms, self.until_ms, self.sort,
        ]  # fmt: skip
        return hashlib.blake2b(json.dumps(key).encode(), digest_size=6).hexdigest()


@dataclass(frozen=True, slots=True)
class Hit:
    item_id: int
    score: float  # relevance, higher is better; 0 when sorted by date


@dataclass(frozen=True, slots=True)
class Facets:
    kinds: dict[str, int] = field(default_factory=dict)
    tags: dict[str, int] = field(default_factory=dict)
    events: dict[int, int] = field(default_factory=dict)  # items without one not counted
    uploaders: dict[int, int] = field(default_factory=dict)  # by user id; same
    cameras: dict[int, int] = field(default_factory=dict)  # by camera id; same
    labels: dict[str, int] = field(default_factory=dict)  # detection labels


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: list[Hit]
    total: int
    facets: Facets
    next_cursor: str | None
    # False: more hits than the window; total and facets count the newest (lower bounds).
    exact: bool = True


def _encode_cursor(fingerprint: str, key: Key) -> str:
    raw = json.dumps([fingerprint, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, fingerprint: str) -> Key:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        owner, score, position, item_id = json.loads(raw)
    except (ValueError, TypeError, binascii.Error):
        raise InvalidCursor("not a search cursor") from None
    numbers_ok = (
        type(score) in (int, float)
        and math.isfinite(score)
        and all(type(n) is int and abs(n) < 2**63 for n in (position, item_id))
    )
    if not numbers_ok:
        raise InvalidCursor("not a search cursor")
    if owner != fingerprint:
        raise InvalidCursor("the cursor belongs to another search")
    return float(score), position, item_id


class SearchIndex:
    """Search documents of media items, and searches over them."""

    def __init__(self, db: Database, window: int = DEFAULT_WINDOW) -> None:
        self._db = db
        self._backend: Backend = SQLiteBackend() if db.is_sqlite else PostgresBackend()
        self.window = max(1, window)

    # -- keeping it in step

    async def upsert(
        self,
        item: MediaItem,
        event_name: str | None,
        camera_name: str | None,
        *,
        session: AsyncSession | None = None,
    ) -> None:
        """Index ``item`` as it is now (its event's groups are read here). ``session``: in
        the caller's transaction (on SQLite, a write session must not open another)."""

        async def work(s: AsyncSession) -> None:
            groups: list[int] = []
            if item.event_id is not None:
                found = await s.scalar(
                    select(LibraryEvent.group_ids).where(LibraryEvent.id == item.event_id)
                )
                groups = list(found or ())
            doc = SearchDocument.of(item, event_name, camera_name, groups)
            await self._backend.write(s, [doc], fresh=False)

        await self._in(session, work)

    async def remove(self, item_id: int, *, session: AsyncSession | None = None) -> None:
        async def work(s: AsyncSession) -> None:
            await self._backend.delete(s, [item_id])

        await self._in(session, work)

    async def reindex_event(
        self, event: LibraryEvent, *, session: AsyncSession | None = None
    ) -> None:
        """Index the items of ``event`` again after its name or groups changed (as ``event``
        has them, committed or not)."""

        async def work(s: AsyncSession) -> None:
            docs = await _documents(s, MediaItem.event_id == event.id, event=event)
            await self._backend.write(s, docs, fresh=False)

        await self._in(session, work)

    async def rebuild(self, org_id: int | None = None, batch: int = 5000) -> int:
        """Index every item again (of one organisation, or all); how many were indexed. Runs
        in batches of their own transactions, so other writers are not held up for long."""
        async with self._db.write() as s:
            await self._backend.clear(s, org_id)
        done, after = 0, 0
        while True:
            async with self._db.write() as s:
                where = MediaItem.id > after
                if org_id is not None:
                    where = and_(where, MediaItem.org_id == org_id)
                docs = await _documents(s, where, limit=batch)
                await self._backend.write(s, docs, fresh=True)
            if not docs:
                break
            done += len(docs)
            after = docs[-1].item_id
        await self._backend.tidy(self._db)
        return done

    async def _in(
        self, session: AsyncSession | None, work: Callable[[AsyncSession], Awaitable[None]]
    ) -> None:
        if session is not None:
            await work(session)
            return
        async with self._db.write() as s:
            await work(s)

    # -- searching

    async def search(self, query: SearchQuery) -> SearchPage:
        """A page of hits, how many there are, and facet counts over them."""
        sort = query.sort if query.sort in SORTS else "relevance"
        terms = parse(query.text)
        if not terms and sort == "relevance":
            sort = "newest"
        fingerprint = query.fingerprint()
        after = _decode_cursor(query.cursor, fingerprint) if query.cursor else None
        query = _in_range(query)
        if query.group_ids is not None and not query.group_ids and query.viewer_id is None:
            return SearchPage([], 0, Facets(), None)  # may see nothing
        limit = max(1, min(query.limit, MAX_LIMIT))
        relevance = sort == "relevance"
        async with self._db.read() as s:
            sql = Sql()
            source = await self._backend.source(s, sql, query, terms, relevance)
            statement = window_statement(
                self._backend, sql, source, self.window, after,
                limit + 1 if relevance else None, query.facet_limit if query.facets else None,
            )  # fmt: skip
            counted, rows, facets = await _read_window(s, statement, sql.params)
            if not relevance:
                page = date_page_statement(sql, source, sort == "oldest", after, limit + 1)
                rows = [(int(i), int(p), 0.0) for i, p in await s.execute(text(page), sql.params)]
        hits = [Hit(item_id, score) for item_id, _, score in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            item_id, position, score = rows[limit - 1]
            next_cursor = _encode_cursor(fingerprint, (score, position, item_id))
        return SearchPage(hits, counted, facets, next_cursor, exact=counted < self.window)


_INT32 = 2**31 - 1
_TIME = 2**62


def _in_range(q: SearchQuery) -> SearchQuery:
    """Ids and times the columns can hold (ids outside never match: no item has id 0)."""

    def ids(values: Sequence[int]) -> tuple[int, ...]:
        return tuple(v if -_INT32 <= v <= _INT32 else 0 for v in values)

    def one(value: int | None) -> int | None:
        return None if value is None else ids([value])[0]

    def time(value: int | None) -> int | None:
        return None if value is None else max(-_TIME, min(value, _TIME))

    return replace(
        q,
        event_ids=ids(q.event_ids),
        uploader_ids=ids(q.uploader_ids),
        camera_ids=ids(q.camera_ids),
        group_ids=None if q.group_ids is None else frozenset(ids(sorted(q.group_ids))) - {0},
        group_id=one(q.group_id),
        viewer_id=one(q.viewer_id),
        since_ms=time(q.since_ms),
        until_ms=time(q.until_ms),
    )


async def _read_window(
    s: AsyncSession, statement: str, params: dict[str, Any]
) -> tuple[int, list[tuple[int, int, float]], Facets]:
    counted = 0
    rows: list[tuple[int, int, float]] = []
    facets = Facets()
    for dim, value, n, score in await s.execute(text(statement), params):
        if dim == "c":
            counted = int(n)
        elif dim == "h":
            rows.append((int(value), int(n), float(score)))
        elif dim == "k":
            facets.kinds[str(value)] = int(n)
        elif dim == "t":
            facets.tags[str(value)] = int(n)
        elif dim == "e":
            facets.events[int(value)] = int(n)
        elif dim == "u":
            facets.uploaders[int(value)] = int(n)
        elif dim == "m":
            facets.cameras[int(value)] = int(n)
        elif dim == "l":
            facets.labels[str(value)] = int(n)
    # A UNION ALL promises no order: the page's is restored here.
    rows.sort(key=lambda r: (r[2], r[1], r[0]), reverse=True)
    return counted, rows, facets


async def _documents(
    s: AsyncSession,
    where: ColumnElement[bool],
    event: LibraryEvent | None = None,
    limit: int | None = None,
) -> list[SearchDocument]:
    """Search documents of the items ``where`` selects, from the database (the columns
    needed only: a rebuild reads every item)."""
    m = MediaItem
    rows = await s.execute(
        select(
            m.id,
            m.org_id,
            m.kind,
            m.event_id,
            m.uploaded_by_id,
            m.captured_at,
            m.title,
            m.description,
            m.tags,
            m.labels,
            m.group_ids,
            m.camera_id,
            LibraryEvent.name,
            LibraryEvent.group_ids,
            Camera.name,
        )
        .outerjoin(LibraryEvent, LibraryEvent.id == m.event_id)
        .outerjoin(Camera, Camera.id == m.camera_id)
        .where(where)
        .order_by(m.id)
        .limit(limit)
    )
    docs = []
    for row in rows:
        (
            item_id, org_id, kind, event_id, uploader_id, captured_at, title, description,
            tags, labels, group_ids, camera_id, event_name, event_groups, camera_name,
        ) = row  # fmt: skip
        if event is not None:  # as the caller has it, maybe not yet committed
            event_name, event_groups = event.name, event.group_ids
        docs.append(
            SearchDocument.build(
                item_id,
                org_id,
                kind,
                event_id,
                uploader_id,
                captured_at,
                title,
                description,
                tags,
                labels,
                [*(group_ids or ()), *(event_groups or ())],
                event_name,
                camera_name,
                camera_id,
            )
        )
    return docs
