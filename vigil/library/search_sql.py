"""Library search as SQL, per backend: the statements of a search, and the index's writes.

Statements are assembled from the templates and fixed fragments here; every value a user gives
is a bound parameter (FTS5 and tsquery expressions too). See :mod:`vigil.library.search`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from vigil.library.search_text import (
    TEXT_COLUMNS,
    SearchDocument,
    TextQuery,
    fts5_any,
    fts5_expression,
    tag_token,
    tsquery,
)
from vigil.store.database import Database

if TYPE_CHECKING:
    from vigil.library.search import SearchQuery

Key = tuple[float, int, int]  # score, position, item id

ZERO = "CAST(0 AS REAL)"
WINDOW = (
    "WITH hits AS MATERIALIZED (SELECT d.item_id AS item_id, {position} AS pos,"
    " {score} AS score, d.kind AS kind, d.event_id AS event_id, d.uploader_id AS uploader_id,"
    " d.camera_id AS camera_id, d.tags AS tags, d.labels AS labels {from_where}"
    " ORDER BY {window_order} LIMIT {window})"
    " SELECT 'c' AS dim, CAST(NULL AS TEXT) AS value, count(*) AS n, {zero} AS score FROM hits"
)
RELEVANCE_PAGE = (
    " UNION ALL SELECT 'h', CAST(item_id AS TEXT), pos, score FROM (SELECT item_id, pos,"
    " score FROM hits WHERE {keyset} ORDER BY score DESC, pos DESC, item_id DESC"
    " LIMIT {limit}) AS page"
)
RELEVANCE_AFTER = (
    "(score, pos, item_id) < (COALESCE((SELECT score FROM hits WHERE pos = {p}"
    " AND item_id = {i}), CAST({s} AS REAL)), CAST({p} AS BIGINT), CAST({i} AS BIGINT))"
)
FACETS = (
    " UNION ALL SELECT 'k', kind, count(*), {zero} FROM hits GROUP BY kind"
    " UNION ALL SELECT 'e', CAST(event_id AS TEXT), count(*), {zero} FROM hits"
    " WHERE event_id IS NOT NULL GROUP BY event_id"
    " UNION ALL SELECT 'u', CAST(uploader_id AS TEXT), count(*), {zero} FROM hits"
    " WHERE uploader_id IS NOT NULL GROUP BY uploader_id"
    " UNION ALL SELECT 'm', CAST(camera_id AS TEXT), count(*), {zero} FROM hits"
    " WHERE camera_id IS NOT NULL GROUP BY camera_id"
    " UNION ALL SELECT * FROM (SELECT 't', t.value, count(*) AS n, {zero} FROM hits,"
    " {each_tag} GROUP BY t.value ORDER BY n DESC, t.value LIMIT {top}) AS top_tags"
    " UNION ALL SELECT * FROM (SELECT 'l', l.value, count(*) AS n, {zero} FROM hits,"
    " {each_label} GROUP BY l.value ORDER BY n DESC, l.value LIMIT {top}) AS top_labels"
)
DATE_PAGE = "SELECT d.item_id, {position} {from_where} AND {keyset} ORDER BY {order} LIMIT {limit}"


def window_statement(
    backend: Backend,
    sql: Sql,
    source: Source,
    window: int,
    after: Key | None,
    limit: int | None,
    facet_limit: int | None,
) -> str:
    """One statement over the first ``window`` hits in the index's order: their count, the
    facets (unless ``facet_limit`` is None), and the page ranked by relevance (unless
    ``limit`` is None)."""
    statement = WINDOW
    keyset = "1 = 1"
    if limit is not None:
        statement += RELEVANCE_PAGE
        if after is not None:
            # The previous page's last item as it ranks now (bm25 moves with every write), or
            # as it did if it is gone.
            score, position, item_id = after
            keyset = RELEVANCE_AFTER.format(
                p=sql.bind(position), i=sql.bind(item_id), s=sql.bind(score)
            )
    if facet_limit is not None:
        statement += FACETS
    return statement.format(
        position=source.position,
        score=source.score,
        from_where=source.from_where,
        window_order=source.window_order,
        window=int(window),
        keyset=keyset,
        limit=int(limit or 0),
        each_tag=backend.each_tag,
        each_label=backend.each_label,
        top=max(0, min(int(facet_limit or 0), 1000)),
        zero=ZERO,
    )


def date_page_statement(sql: Sql, source: Source, ascending: bool, after: Key | None,
                        limit: int) -> str:  # fmt: skip
    """A page of hits in date order after the cursor's key."""
    return DATE_PAGE.format(
        position=source.position,
        from_where=source.from_where,
        keyset=source.after(sql, after, ascending) if after is not None else "1 = 1",
        order=source.order(ascending),
        limit=int(limit),
    )


class Sql:
    """WHERE conditions and their bound parameters."""

    def __init__(self) -> None:
        self.where: list[str] = []
        self.params: dict[str, Any] = {}

    def bind(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"


@dataclass(frozen=True, slots=True)
class Source:
    """The hits of a search: ``from_where`` ("FROM ... WHERE ..."), and SQL for their
    position (newest first is descending), their score, the order that the index reads
    cheapest (the window's), the date order and its keyset."""

    from_where: str
    position: str
    score: str
    window_order: str
    order: Callable[[bool], str]
    after: Callable[[Sql, Key, bool], str]


class Backend(ABC):
    each_tag: str  # FROM item: one row per tag of a hit, the tag as t.value
    each_label: str  # the same for detection labels, as l.value

    @abstractmethod
    async def source(
        self, s: AsyncSession, sql: Sql, q: SearchQuery, terms: TextQuery, relevance: bool
    ) -> Source:
        """The hits of ``q``; binds its values in ``sql``."""

    @abstractmethod
    async def write(self, s: AsyncSession, docs: list[SearchDocument], fresh: bool) -> None:
        """Store ``docs``, replacing what was indexed for them (``fresh``: nothing was);
        items deleted meanwhile are skipped."""

    @abstractmethod
    async def delete(self, s: AsyncSession, item_ids: list[int]) -> None: ...

    @abstractmethod
    async def clear(self, s: AsyncSession, org_id: int | None) -> None: ...

    @abstractmethod
    async def tidy(self, db: Database) -> None:
        """After a rebuild."""


_ITEM_EXISTS = "WHERE EXISTS (SELECT 1 FROM media_items WHERE id = :item_id)"
_DOC_COLUMNS = (
    "org_id, kind, event_id, uploader_id, captured_at, tags, group_ids, camera_id, labels"
)
_BM25 = "-bm25(media_search, 10.0, 2.0, 4.0, 4.0, 2.0, 4.0, 0.0)"  # TEXT_COLUMNS, scope
_HAS_LABEL = "EXISTS (SELECT 1 FROM json_each(d.labels) WHERE value = {value})"
_POSITION_SHIFT = 1 << 20
_TIME_LIMIT = 1 << 42  # ms either side of 1970 a position keeps apart (139 years)


def _position(captured_at: int, item_id: int = 0) -> int:
    """SQLite rowid of an item: capture time, then (mostly) id; unique, see _positions."""
    ms = max(-_TIME_LIMIT, min(captured_at, _TIME_LIMIT - 1))
    return ms * _POSITION_SHIFT + item_id % _POSITION_SHIFT


class SQLiteBackend(Backend):
    each_tag = "json_each(hits.tags) AS t"
    each_label = "json_each(hits.labels) AS l"

    async def source(
        self, s: AsyncSession, sql: Sql, q: SearchQuery, terms: TextQuery, relevance: bool
    ) -> Source:
        # Filter tokens narrow inside the index. Not the organisation's when it is alone
        # (the embedded default), nor the kind (half the library): bm25 reads every row of
        # every token of a query once, to weigh it.
        scope = [f'"o{int(q.org_id)}"'] if await self._others(s, q.org_id) else []
        if q.event_ids:
            scope.append(fts5_any(f"e{int(e)}" for e in q.event_ids))
        if q.uploader_ids:
            scope.append(fts5_any(f"u{int(u)}" for u in q.uploader_ids))
        if q.group_id is not None:
            scope.append(f'"g{int(q.group_id)}"')
        if q.group_ids is not None:
            seen = [f"g{int(g)}" for g in sorted(q.group_ids)]
            seen += [f"u{int(q.viewer_id)}"] if q.viewer_id is not None else []
            scope.append(fts5_any(seen))
        scope += [f'"{tag_token(t)}"' for t in q.tags]
        match = ["{scope} : (" + " AND ".join(scope) + ")"] if scope else []
        if terms:
            match.append(fts5_expression(terms, TEXT_COLUMNS))
        # With no MATCH, the documents' own index on positions serves.
        position = "media_search.rowid" if match else "d.sk"
        where = sql.where
        if match:
            sql.params["match"] = " AND ".join(match)
            where += ["media_search MATCH :match", "d.sk = media_search.rowid"]
        where.append(f"d.org_id = {sql.bind(q.org_id)}")
        if q.kinds:
            where.append(f"d.kind IN ({', '.join(sql.bind(k) for k in q.kinds)})")
        # Cameras and labels are rare (camera clips and snapshots): filtered in SQL.
        if q.camera_ids:
            where.append(f"d.camera_id IN ({', '.join(sql.bind(int(c)) for c in q.camera_ids)})")
        for label in q.labels:
            where.append(_HAS_LABEL.format(value=sql.bind(label)))
        if q.since_ms is not None:
            where.append(f"{position} >= {sql.bind(_position(q.since_ms))}")
            where.append(f"d.captured_at >= {sql.bind(q.since_ms)}")
        if q.until_ms is not None:
            where.append(f"{position} < {sql.bind(_position(q.until_ms))}")
            where.append(f"d.captured_at < {sql.bind(q.until_ms)}")
        # CROSS JOIN: SQLite reads the FTS5 index first, in rowid (time) order.
        tables = (
            "media_search CROSS JOIN media_search_docs AS d" if match else "media_search_docs AS d"
        )
        return Source(
            from_where=f"FROM {tables} WHERE {' AND '.join(where)}",
            position=position,
            score=_BM25 if relevance and terms else ZERO,
            window_order=f"{position} DESC",
            order=lambda ascending: f"{position} {'ASC' if ascending else 'DESC'}",
            after=lambda sql, key, ascending: (
                f"{position} {'>' if ascending else '<'} {sql.bind(key[1])}"
            ),
        )

    @staticmethod
    async def _others(s: AsyncSession, org_id: int) -> bool:
        """Whether another organisation has items indexed (two index probes)."""
        found = await s.scalar(
            text(
                "SELECT EXISTS (SELECT 1 FROM media_search_docs WHERE org_id < :org)"
                " OR EXISTS (SELECT 1 FROM media_search_docs WHERE org_id > :org)"
            ),
            {"org": org_id},
        )
        return bool(found)

    async def write(self, s: AsyncSession, docs: list[SearchDocument], fresh: bool) -> None:
        if not docs:
            return
        if not fresh:
            await self.delete(s, [d.item_id for d in docs])
        positions = await self._positions(s, docs)
        # FTS5 writes out what it holds whenever a rowid comes below the one before.
        docs = sorted(docs, key=lambda d: positions[d.item_id])
        # Straight to the driver: a rebuild writes a million rows, and the guard that skips
        # items deleted meanwhile is needed only outside one (which read them just now).
        guard = "" if fresh else " WHERE EXISTS (SELECT 1 FROM media_items WHERE id = ?)"
        conn = await s.connection()
        await conn.exec_driver_sql(
            f"INSERT INTO media_search (rowid, {', '.join(TEXT_COLUMNS)}, scope)"
            f" SELECT {', '.join('?' * (len(TEXT_COLUMNS) + 2))}{guard}",
            [
                (positions[d.item_id], *(d.column_text(c) for c in TEXT_COLUMNS), d.scope())
                + (() if fresh else (d.item_id,))
                for d in docs
            ],
        )
        await conn.exec_driver_sql(
            f"INSERT INTO media_search_docs (item_id, sk, {_DOC_COLUMNS})"
            f" SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?{guard}",
            [
                (
                    d.item_id,
                    positions[d.item_id],
                    d.org_id,
                    d.kind,
                    d.event_id,
                    d.uploader_id,
                    d.captured_at,
                    json.dumps(d.tags),
                    json.dumps(d.group_ids),
                    d.camera_id,
                    json.dumps(d.labels),
                )
                + (() if fresh else (d.item_id,))
                for d in docs
            ],
        )

    @staticmethod
    async def _positions(s: AsyncSession, docs: list[SearchDocument]) -> dict[int, int]:
        """A free position for each item: the next one up when two items share their time
        to the ms and their ids mod 2^20 (rare)."""
        wanted = {d.item_id: _position(d.captured_at, d.item_id) for d in docs}
        found: dict[int, int] = {}
        used: set[int] = set()
        taken = text("SELECT sk FROM media_search_docs WHERE sk IN :sks").bindparams(
            bindparam("sks", expanding=True)
        )
        while wanted:
            busy = set((await s.scalars(taken, {"sks": list(wanted.values())})).all()) | used
            later: dict[int, int] = {}
            for item_id, position in wanted.items():
                if position in busy:
                    later[item_id] = position + 1
                else:
                    found[item_id] = position
                    used.add(position)
            wanted = later
        return found

    async def delete(self, s: AsyncSession, item_ids: list[int]) -> None:
        # A trigger deletes the FTS5 row with the document (and so does a cascade).
        await s.execute(
            text("DELETE FROM media_search_docs WHERE item_id = :item_id"),
            [{"item_id": i} for i in item_ids],
        )

    async def clear(self, s: AsyncSession, org_id: int | None) -> None:
        # Merging segments as they come slows a bulk load down; tidy() merges them all.
        await s.execute(
            text("INSERT INTO media_search (media_search, rank) VALUES ('automerge', 0)")
        )
        if org_id is None:
            await s.execute(text("DELETE FROM media_search_docs"))
        else:
            await s.execute(
                text("DELETE FROM media_search_docs WHERE org_id = :org"), {"org": org_id}
            )

    async def tidy(self, db: Database) -> None:
        async with db.write() as s:
            await s.execute(text("INSERT INTO media_search (media_search) VALUES ('optimize')"))
            await s.execute(
                text("INSERT INTO media_search (media_search, rank) VALUES ('automerge', 4)")
            )


class PostgresBackend(Backend):
    each_tag = "unnest(hits.tags) AS t(value)"
    each_label = "unnest(hits.labels) AS l(value)"

    async def source(
        self, s: AsyncSession, sql: Sql, q: SearchQuery, terms: TextQuery, relevance: bool
    ) -> Source:
        where = sql.where
        where.append(f"d.org_id = {sql.bind(q.org_id)}")
        if q.kinds:
            where.append(f"d.kind = ANY(CAST({sql.bind(list(q.kinds))} AS text[]))")
        if q.event_ids:
            where.append(f"d.event_id = ANY(CAST({sql.bind(_ints(q.event_ids))} AS integer[]))")
        if q.uploader_ids:
            ids = sql.bind(_ints(q.uploader_ids))
            where.append(f"d.uploader_id = ANY(CAST({ids} AS integer[]))")
        if q.tags:
            where.append(f"d.tags @> CAST({sql.bind(list(q.tags))} AS text[])")
        if q.camera_ids:
            ids = sql.bind(_ints(q.camera_ids))
            where.append(f"d.camera_id = ANY(CAST({ids} AS integer[]))")
        if q.labels:
            where.append(f"d.labels @> CAST({sql.bind(list(q.labels))} AS text[])")
        if q.group_id is not None:
            where.append(f"d.group_ids @> CAST({sql.bind([int(q.group_id)])} AS integer[])")
        if q.group_ids is not None:
            seen = f"d.group_ids && CAST({sql.bind(_ints(sorted(q.group_ids)))} AS integer[])"
            if q.viewer_id is not None:
                seen += f" OR d.uploader_id = {sql.bind(q.viewer_id)}"
            where.append(f"({seen})")
        if q.since_ms is not None:
            where.append(f"d.captured_at >= {sql.bind(q.since_ms)}")
        if q.until_ms is not None:
            where.append(f"d.captured_at < {sql.bind(q.until_ms)}")
        score = ZERO
        if terms:
            sql.params["tsquery"] = tsquery(terms)
            where.append("d.document @@ CAST(:tsquery AS tsquery)")
            if relevance:
                score = "CAST(ts_rank_cd(d.document, CAST(:tsquery AS tsquery)) AS REAL)"
        return Source(
            from_where=f"FROM media_search AS d WHERE {' AND '.join(where)}",
            position="d.captured_at",
            score=score,
            # The most recently added: the heap's own order, so the window reads few pages.
            window_order="d.item_id DESC",
            order=lambda ascending: ", ".join(
                f"d.{c} {'ASC' if ascending else 'DESC'}" for c in ("captured_at", "item_id")
            ),
            after=lambda sql, key, ascending: (
                f"(d.captured_at, d.item_id) {'>' if ascending else '<'}"
                f" (CAST({sql.bind(key[1])} AS BIGINT), CAST({sql.bind(key[2])} AS BIGINT))"
            ),
        )

    async def write(self, s: AsyncSession, docs: list[SearchDocument], fresh: bool) -> None:
        if not docs:
            return
        await s.execute(
            text(
                f"INSERT INTO media_search (item_id, {_DOC_COLUMNS}, document) SELECT :item_id,"
                " :org_id, :kind, :event_id, :uploader_id, :captured_at, CAST(:tags AS text[]),"
                " CAST(:group_ids AS integer[]), :camera_id, CAST(:labels AS text[]),"
                " CAST(:document AS tsvector)"
                f" {_ITEM_EXISTS} ON CONFLICT (item_id) DO UPDATE SET org_id = EXCLUDED.org_id,"
                " kind = EXCLUDED.kind, event_id = EXCLUDED.event_id,"
                " uploader_id = EXCLUDED.uploader_id, captured_at = EXCLUDED.captured_at,"
                " tags = EXCLUDED.tags, group_ids = EXCLUDED.group_ids,"
                " camera_id = EXCLUDED.camera_id, labels = EXCLUDED.labels,"
                " document = EXCLUDED.document"
            ),
            [
                {
                    "item_id": d.item_id,
                    "org_id": d.org_id,
                    "kind": d.kind,
                    "event_id": d.event_id,
                    "uploader_id": d.uploader_id,
                    "captured_at": d.captured_at,
                    "tags": list(d.tags),
                    "group_ids": list(d.group_ids),
                    "camera_id": d.camera_id,
                    "labels": list(d.labels),
                    "document": d.tsvector(),
                }
                for d in docs
            ],
        )

    async def delete(self, s: AsyncSession, item_ids: list[int]) -> None:
        await s.execute(
            text("DELETE FROM media_search WHERE item_id = :item_id"),
            [{"item_id": i} for i in item_ids],
        )

    async def clear(self, s: AsyncSession, org_id: int | None) -> None:
        if org_id is None:
            await s.execute(text("DELETE FROM media_search"))
        else:
            await s.execute(text("DELETE FROM media_search WHERE org_id = :org"), {"org": org_id})

    async def tidy(self, db: Database) -> None:
        """Statistics for the planner, which picks between the GIN and date indexes."""
        async with db.engine.connect() as conn:
            await conn.execute(text("ANALYZE media_search"))
            await conn.commit()


def _ints(values: Iterable[int]) -> list[int]:
    return [int(v) for v in values]
