"""The media library as the application server stores it: library events, items, share
links, plans and usage. Visibility is decided by the service; this module only reads and
writes what it is told."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select, update

from vigil.store.database import Database
from vigil.store.models import (
    Camera,
    LibraryEvent,
    MediaItem,
    Org,
    Plan,
    Segment,
    ShareLink,
    Upload,
    UsageSample,
    User,
    UserGroup,
)
from vigil.timeutil import now_ms


def _unprocessed(runner: str, silent_before_ms: int) -> ColumnElement[bool]:
    """An item to process that no other instance is processing now."""
    return (
        MediaItem.runner.is_(None)
        | (MediaItem.runner == runner)
        | MediaItem.beat_at.is_(None)
        | (MediaItem.beat_at < silent_before_ms)
    )


class LibraryEventNotFound(Exception):
    def __init__(self, event_id: int) -> None:
        super().__init__(f"no library event with id {event_id}")
        self.event_id = event_id


class ItemNotFound(Exception):
    def __init__(self, item_id: int) -> None:
        super().__init__(f"no library item with id {item_id}")
        self.item_id = item_id


class ShareNotFound(Exception):
    def __init__(self) -> None:
        super().__init__("no such share link")


@dataclass(frozen=True, slots=True)
class EventSummary:
    """What a library event holds, for its card in a gallery: its ready items by kind and
    the newest of them that has a thumbnail (its cover)."""

    counts: dict[str, int]
    cover: MediaItem | None


@dataclass(frozen=True, slots=True)
class Usage:
    """An organisation's storage now, in bytes, by kind."""

    library_bytes: int
    recordings_bytes: int
    by_kind: dict[str, int]

    @property
    def total_bytes(self) -> int:
        return self.library_bytes + self.recordings_bytes


class LibraryStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- library events
    async def add(self, row: LibraryEvent | MediaItem | ShareLink | Plan) -> None:
        async with self._db.write() as session:
            session.add(row)

    async def event(self, org_id: int, event_id: int) -> LibraryEvent:
        async with self._db.read() as session:
            event = await session.get(LibraryEvent, event_id)
        if event is None or event.org_id != org_id:
            raise LibraryEventNotFound(event_id)
        return event

    async def events(self, org_id: int, archived: bool | None) -> list[LibraryEvent]:
        query = select(LibraryEvent).where(LibraryEvent.org_id == org_id)
        if archived is not None:
            query = query.where(LibraryEvent.archived == archived)
        query = query.order_by(LibraryEvent.start_ms.desc(), LibraryEvent.id.desc())
        async with self._db.read() as session:
            return list(await session.scalars(query))

    async def update_event(
        self, org_id: int, event_id: int, changes: dict[str, Any]
    ) -> LibraryEvent:
        async with self._db.write() as session:
            event = await session.get(LibraryEvent, event_id)
            if event is None or event.org_id != org_id:
                raise LibraryEventNotFound(event_id)
            for key, value in changes.items():
                setattr(event, key, value)
            event.updated_at = now_ms()
        return event

    async def event_names(self, event_ids: Sequence[int]) -> dict[int, LibraryEvent]:
        if not event_ids:
            return {}
        async with self._db.read() as session:
            rows = await session.scalars(
                select(LibraryEvent).where(LibraryEvent.id.in_(set(event_ids)))
            )
            return {e.id: e for e in rows}

    async def camera_names(self, org_id: int, camera_ids: Sequence[int]) -> dict[int, str]:
        """The names of those of ``camera_ids`` that are the organisation's cameras."""
        if not camera_ids:
            return {}
        query = select(Camera.id, Camera.name).where(
            Camera.org_id == org_id, Camera.id.in_(set(camera_ids))
        )
        async with self._db.read() as session:
            return {camera_id: name for camera_id, name in await session.execute(query)}

    async def event_summaries(self, event_ids: Sequence[int]) -> dict[int, EventSummary]:
        """Each event's ready items counted by kind, and its cover: two grouped reads over
        the items' event index, however many events."""
        ids = set(event_ids)
        if not ids:
            return {}
        ready = (MediaItem.event_id.in_(ids), MediaItem.status == "ready")
        counts: dict[int, dict[str, int]] = {i: {} for i in ids}
        newest = (
            select(func.max(MediaItem.id))
            .where(*ready, MediaItem.thumb_key.is_not(None))
            .group_by(MediaItem.event_id)
        )
        async with self._db.read() as session:
            rows = await session.execute(
                select(MediaItem.event_id, MediaItem.kind, func.count())
                .where(*ready)
                .group_by(MediaItem.event_id, MediaItem.kind)
            )
            for event_id, kind, count in rows:
                counts.setdefault(event_id or 0, {})[kind] = count
            found = await session.scalars(select(MediaItem).where(MediaItem.id.in_(newest)))
            covers = {i.event_id: i for i in found}
        return {i: EventSummary(counts[i], covers.get(i)) for i in ids}

    # -- items
    async def item(self, org_id: int, item_id: int) -> MediaItem:
        async with self._db.read() as session:
            item = await session.get(MediaItem, item_id)
        if item is None or item.org_id != org_id:
            raise ItemNotFound(item_id)
        return item

    async def item_and_event(
        self, org_id: int, item_id: int
    ) -> tuple[MediaItem, LibraryEvent | None]:
        """The item and the event it belongs to (None: in none), in one query: a thumbnail
        asked for 25 times as a page opens costs one read each."""
        query = (
            select(MediaItem, LibraryEvent)
            .outerjoin(LibraryEvent, LibraryEvent.id == MediaItem.event_id)
            .where(MediaItem.id == item_id)
        )
        async with self._db.read() as session:
            row = (await session.execute(query)).first()
        if row is None or row[0].org_id != org_id:
            raise ItemNotFound(item_id)
        return row[0], row[1]

    async def items(self, item_ids: Sequence[int]) -> dict[int, MediaItem]:
        if not item_ids:
            return {}
        async with self._db.read() as session:
            rows = await session.scalars(select(MediaItem).where(MediaItem.id.in_(set(item_ids))))
            return {i.id: i for i in rows}

    async def items_of(self, org_id: int, event_id: int | None = None) -> list[MediaItem]:
        query = select(MediaItem).where(MediaItem.org_id == org_id)
        if event_id is not None:
            query = query.where(MediaItem.event_id == event_id)
        query = query.order_by(MediaItem.captured_at.desc(), MediaItem.id.desc())
        async with self._db.read() as session:
            return list(await session.scalars(query))

    async def update_item(self, item_id: int, **values: Any) -> MediaItem:
        async with self._db.write() as session:
            item = await session.get(MediaItem, item_id)
            if item is None:
                raise ItemNotFound(item_id)
            for key, value in values.items():
                setattr(item, key, value)
            item.updated_at = now_ms()
        return item

    async def delete_item(self, item_id: int) -> None:
        async with self._db.write() as session:
            item = await session.get(MediaItem, item_id)
            if item is not None:
                await session.delete(item)

    async def by_hash(self, org_id: int, sha256: str) -> MediaItem | None:
        async with self._db.read() as session:
            return await session.scalar(
                select(MediaItem)
                .where(
                    MediaItem.org_id == org_id,
                    MediaItem.sha256 == sha256,
                    MediaItem.status != "failed",
                )
                .limit(1)
            )

    async def count(self, org_id: int, item_id: int, field: str) -> None:
        """Add one to an item's ``views`` or ``downloads``."""
        column = getattr(MediaItem, field)
        async with self._db.write() as session:
            await session.execute(
                update(MediaItem)
                .where(MediaItem.id == item_id, MediaItem.org_id == org_id)
                .values({field: column + 1})
            )

    async def due_to_move(
        self, store: str, created_before: int, limit: int = 500
    ) -> list[MediaItem]:
        """Ready items in ``store`` created before ``created_before``, oldest first."""
        query = (
            select(MediaItem)
            .where(
                MediaItem.storage == store,
                MediaItem.status == "ready",
                MediaItem.created_at < created_before,
            )
            .order_by(MediaItem.created_at)
            .limit(limit)
        )
        async with self._db.read() as session:
            return list(await session.scalars(query))

    async def claim(self, item_id: int, runner: str, silent_before_ms: int) -> bool:
        """Take an item to process for ``runner``: one nobody processes, ``runner``'s own
        (from before it restarted), or one whose processor fell silent before
        ``silent_before_ms``. One statement, so of several application instances at once
        exactly one gets it. Whether this one did."""
        free = _unprocessed(runner, silent_before_ms)
        async with self._db.write() as session:
            result = await session.execute(
                update(MediaItem)
                .where(MediaItem.id == item_id, MediaItem.status == "processing", free)
                .values(runner=runner, beat_at=now_ms())
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def beat(self, item_ids: Sequence[int], runner: str) -> None:
        """``runner`` is still processing these items."""
        if not item_ids:
            return
        async with self._db.write() as session:
            await session.execute(
                update(MediaItem)
                .where(MediaItem.id.in_(set(item_ids)), MediaItem.runner == runner)
                .values(beat_at=now_ms())
            )

    async def unclaimed(self, runner: str, silent_before_ms: int) -> list[int]:
        """Items to process that nobody is processing: as :meth:`claim` would take them."""
        free = _unprocessed(runner, silent_before_ms)
        query = (
            select(MediaItem.id)
            .where(MediaItem.status == "processing", free)
            .order_by(MediaItem.id)
        )
        async with self._db.read() as session:
            return list(await session.scalars(query))

    async def with_status(self, *statuses: str) -> list[MediaItem]:
        query = select(MediaItem).where(MediaItem.status.in_(statuses)).order_by(MediaItem.id)
        async with self._db.read() as session:
            return list(await session.scalars(query))

    # -- people
    async def groups_of(self, org_id: int, user_id: int) -> set[int]:
        """The user groups (classes) the user belongs to."""
        async with self._db.read() as session:
            groups = await session.scalars(select(UserGroup).where(UserGroup.org_id == org_id))
            return {g.id for g in groups if user_id in g.user_ids}

    async def user_groups(self, org_id: int) -> list[UserGroup]:
        """The organisation's user groups (classes), by name."""
        async with self._db.read() as session:
            query = select(UserGroup).where(UserGroup.org_id == org_id)
            return list(await session.scalars(query.order_by(UserGroup.name, UserGroup.id)))

    async def group_ids(self, org_id: int) -> set[int]:
        async with self._db.read() as session:
            return set(
                await session.scalars(select(UserGroup.id).where(UserGroup.org_id == org_id))
            )

    # -- share links
    async def share(self, token_hash: str) -> ShareLink:
        async with self._db.read() as session:
            link = await session.scalar(select(ShareLink).where(ShareLink.token_hash == token_hash))
        if link is None:
            raise ShareNotFound
        return link

    async def shares(
        self, org_id: int, item_id: int | None = None, event_id: int | None = None
    ) -> list[ShareLink]:
        """The organisation's share links, newest first; of one item or library event."""
        query = select(ShareLink).where(ShareLink.org_id == org_id).order_by(ShareLink.id.desc())
        if item_id is not None:
            query = query.where(ShareLink.item_id == item_id)
        if event_id is not None:
            query = query.where(ShareLink.event_id == event_id)
        async with self._db.read() as session:
            return list(await session.scalars(query))

    async def update_share(self, org_id: int, link_id: int, **values: Any) -> ShareLink:
        async with self._db.write() as session:
            link = await session.get(ShareLink, link_id)
            if link is None or link.org_id != org_id:
                raise ShareNotFound
            for key, value in values.items():
                setattr(link, key, value)
        return link

    async def share_viewed(self, link_id: int) -> None:
        async with self._db.write() as session:
            await session.execute(
                update(ShareLink).where(ShareLink.id == link_id).values(views=ShareLink.views + 1)
            )

    # -- plans and usage
    async def plan_of(self, org_id: int) -> Plan | None:
        async with self._db.read() as session:
            org = await session.get(Org, org_id)
            if org is None or org.plan_id is None:
                return None
            return await session.get(Plan, org.plan_id)

    async def plans(self) -> list[Plan]:
        async with self._db.read() as session:
            return list(await session.scalars(select(Plan).order_by(Plan.id)))

    async def set_plan(self, org_id: int, plan_id: int | None) -> None:
        async with self._db.write() as session:
            org = await session.get(Org, org_id)
            if org is not None:
                org.plan_id = plan_id

    async def usage(self, org_id: int) -> Usage:
        """What the organisation stores now: library files by kind, and recordings."""
        async with self._db.read() as session:
            rows = (
                await session.execute(
                    select(MediaItem.kind, MediaItem.source, func.sum(MediaItem.stored_bytes))
                    .where(MediaItem.org_id == org_id)
                    .group_by(MediaItem.kind, MediaItem.source)
                )
            ).all()
            recordings = await session.scalar(
                select(func.coalesce(func.sum(Segment.size), 0))
                .join(Camera, Camera.id == Segment.camera_id)
                .where(Camera.org_id == org_id)
            )
        by_kind: dict[str, int] = {}
        for kind, source, size in rows:
            name = kind if source == "upload" else source
            by_kind[name] = by_kind.get(name, 0) + int(size or 0)
        return Usage(sum(by_kind.values()), int(recordings or 0), by_kind)

    async def pending_upload_bytes(self, org_id: int) -> int:
        """Bytes promised to uploads under way (not finished yet): they count against the
        plan, so uploads started together cannot jointly exceed it."""
        async with self._db.read() as session:
            total = await session.scalar(
                select(func.coalesce(func.sum(Upload.length), 0)).where(
                    Upload.org_id == org_id, Upload.item_id.is_(None)
                )
            )
        return int(total or 0)

    async def cameras_count(self, org_id: int) -> int:
        async with self._db.read() as session:
            return int(
                await session.scalar(
                    select(func.count()).select_from(Camera).where(Camera.org_id == org_id)
                )
                or 0
            )

    async def users_count(self, org_id: int) -> int:
        async with self._db.read() as session:
            return int(
                await session.scalar(
                    select(func.count()).select_from(User).where(User.org_id == org_id)
                )
                or 0
            )

    async def sample_usage(self, org_id: int, usage: Usage, at: int) -> None:
        async with self._db.write() as session:
            session.add(
                UsageSample(
                    org_id=org_id,
                    at=at,
                    library_bytes=usage.library_bytes,
                    recordings_bytes=usage.recordings_bytes,
                    by_kind=usage.by_kind,
                )
            )

    async def usage_history(
        self, org_id: int, since_ms: int | None, until_ms: int | None
    ) -> list[UsageSample]:
        query = select(UsageSample).where(UsageSample.org_id == org_id)
        if since_ms is not None:
            query = query.where(UsageSample.at >= since_ms)
        if until_ms is not None:
            query = query.where(UsageSample.at < until_ms)
        async with self._db.read() as session:
            return list(await session.scalars(query.order_by(UsageSample.at)))

    async def org_ids(self) -> list[int]:
        async with self._db.read() as session:
            return list(await session.scalars(select(Org.id).order_by(Org.id)))

    # -- analytics
    async def most_viewed(self, org_id: int, limit: int) -> list[MediaItem]:
        query = (
            select(MediaItem)
            .where(MediaItem.org_id == org_id, MediaItem.views > 0)
            .order_by(MediaItem.views.desc(), MediaItem.id)
            .limit(limit)
        )
        async with self._db.read() as session:
            return list(await session.scalars(query))

    async def uploads_by(self, org_id: int, column: str) -> list[tuple[Any, int, int]]:
        """(event_id or uploaded_by_id, items, bytes) of uploaded items, most first."""
        key = getattr(MediaItem, column)
        query = (
            select(key, func.count(), func.coalesce(func.sum(MediaItem.size), 0))
            .where(MediaItem.org_id == org_id, MediaItem.source == "upload")
            .group_by(key)
            .order_by(func.count().desc())
        )
        async with self._db.read() as session:
            return [(k, int(n), int(b)) for k, n, b in (await session.execute(query)).all()]
