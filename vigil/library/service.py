"""The media library: library events, items, who sees them, uploads admitted against the
plan's quota, processing in the background, share links, usage and analytics.

Who sees what. Admins and operators see all of their organisation's library; a viewer
(a parent, a student) sees an item when it is shared with one of their user groups (the
item's own ``group_ids``, or those of the library event it belongs to) or when they
uploaded it. Only admins and operators change the library; a viewer gets 404 for what they
may not see, exactly as for what does not exist.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from vigil.auth import passwords
from vigil.auth.errors import Throttled
from vigil.auth.permissions import Role
from vigil.auth.principal import Principal
from vigil.auth.throttle import Throttle
from vigil.auth.tokens import new_token, token_hash
from vigil.exports.manifest import sha256_file
from vigil.library import media
from vigil.library.search import SearchIndex, SearchQuery
from vigil.library.storage import BlobStore, Lifecycle, LocalStore, Tiered
from vigil.library.zipstream import Entry
from vigil.settings import AuthSettings
from vigil.store.database import DatabaseUnavailable
from vigil.store.library import (
    EventSummary,
    ItemNotFound,
    LibraryEventNotFound,
    LibraryStore,
    Usage,
)
from vigil.store.models import LibraryEvent, MediaItem, ShareLink, Upload, UserGroup
from vigil.tasks import cancel, every
from vigil.timeutil import now_ms

log = logging.getLogger(__name__)
_DAY_MS = 86_400_000
# An instance processing an item says so every _BEAT_S; an item whose processor has been
# silent for _ABANDONED_MS lost its instance, and any instance takes it up; each looks for
# such items every _SWEEP_S.
_BEAT_S = 10.0
_ABANDONED_MS = 60_000
_SWEEP_S = 30.0

ItemListener = Callable[[MediaItem, LibraryEvent | None], Awaitable[None]]


class QuotaExceeded(Exception):
    """An upload larger than what the organisation's plan has left."""

    def __init__(self, needed: int, remaining: int) -> None:
        super().__init__(
            f"the upload is {needed} bytes but only {max(remaining, 0)} bytes are left in your plan"
        )
        self.needed = needed
        self.remaining = max(remaining, 0)


class PlanLimit(Exception):
    """One more camera or user than the organisation's plan allows."""

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(f"your plan allows {limit} {what}; remove one or change the plan")
        self.what = what
        self.limit = limit


class UploadRefused(Exception):
    def __init__(self, reason: str, status: int = 422) -> None:
        super().__init__(reason)
        self.status = status


class LibraryForbidden(Exception):
    """The caller may see this but not change it."""


class ShareRefused(Exception):
    """A share link that has expired, been revoked, or wants a password it did not get."""

    def __init__(self, reason: str, needs_password: bool = False, gone: str = "expired") -> None:
        super().__init__(reason)
        self.needs_password = needs_password
        self.gone = gone  # why a link no longer works: "expired" or "withdrawn"


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: ``groups`` None means the whole organisation's library."""

    principal: Principal
    groups: frozenset[int] | None

    @property
    def org_id(self) -> int:
        return self.principal.org_id

    @property
    def may_edit(self) -> bool:
        return self.principal.role in (Role.ADMIN, Role.OPERATOR)

    def query(self, text: str = "", **filters: Any) -> SearchQuery:
        """A search of what this viewer may see."""
        return SearchQuery(
            org_id=self.org_id,
            text=text,
            group_ids=set(self.groups) if self.groups is not None else None,
            viewer_id=self.principal.user_id,
            **filters,
        )


@dataclass(frozen=True, slots=True)
class NewItem:
    """What a new item is, before its file is looked at (processing fills in the rest)."""

    source: str  # upload | export | clip | snapshot
    filename: str
    mime: str
    title: str | None = None
    description: str | None = None
    tags: Sequence[str] = ()
    labels: Sequence[str] = ()
    event_id: int | None = None
    camera_id: int | None = None
    captured_at: int | None = None


@dataclass(frozen=True, slots=True)
class NewShare:
    link: ShareLink
    token: str  # shown once


def item_keys(item: MediaItem) -> list[str]:
    """Every file an item has in its store."""
    return [k for k in (item.key, item.web_key, item.poster_key, item.thumb_key) if k]


def web_key(item: MediaItem) -> str | None:
    """The file a browser shows or plays: a video's web copy, or the original when browsers
    take it as it is (a web-playable video, a JPEG, PNG, WebP or GIF picture); None until the
    item is ready, and for a picture browsers do not show (TIFF, AVIF: its thumbnail then)."""
    if item.status != "ready":
        return None
    if item.web_key:
        return item.web_key
    if item.kind == "video" or item.mime in media.WEB_IMAGE_FORMATS.values():
        return item.key  # processing makes a web copy of any video that does not play as is
    return None


def safe_filename(name: str) -> str:
    """The last part of a client's file name, without anything that could act as a path."""
    leaf = PurePosixPath(name.replace("\\", "/").replace("\x00", "")).name
    cleaned = "".join(c for c in leaf if c.isprintable()).strip(". ")
    return cleaned[:200] or "upload"


class LibraryService:
    def __init__(
        self,
        store: LibraryStore,
        stores: Tiered,
        search: SearchIndex,
        work_dir: Path,
        camera_names: Callable[[int], Awaitable[str | None]],
        lifecycle: Lifecycle | None = None,
        share_guesses: Throttle | None = None,
        runner: str | None = None,
    ) -> None:
        """``runner`` names this application instance in the items it processes; it should
        stay the same across restarts (by default: the host's name), so that a restarted
        instance takes up its own half-done items at once."""
        self.store = store
        # Guesses at share links' passwords: per link, per address and in all.
        self.share_guesses = share_guesses or Throttle.of_guesses_at("link", AuthSettings())
        self.stores = stores
        self.lifecycle = lifecycle
        self.search = search
        self._work = work_dir
        self._camera_names = camera_names
        self.listeners: list[ItemListener] = []  # new items, e.g. for notifications
        self.runner = runner or socket.gethostname()
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._queued: set[int] = set()
        self._processing: int | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._writes: set[asyncio.Future[MediaItem]] = set()  # progress being written

    # -- life cycle
    async def start(self) -> None:
        """Process what an earlier run (or an instance that died) left half done, then
        whatever comes."""
        self._work.mkdir(parents=True, exist_ok=True)
        await self._sweep()
        self._tasks = [
            asyncio.create_task(self._worker(), name="library-processing"),
            asyncio.create_task(self._beating(), name="library-processing-beat"),
            asyncio.create_task(
                every(_SWEEP_S, self._sweep, log, "library processing sweep"),
                name="library-processing-sweep",
            ),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            await cancel(task)
        self._tasks = []
        await self.stores.close()

    async def idle(self) -> None:
        """Wait until every queued item is processed (for tests and shutdown)."""
        await self._queue.join()

    # -- who sees what
    async def viewer(self, principal: Principal) -> Viewer:
        if principal.role in (Role.ADMIN, Role.OPERATOR):
            return Viewer(principal, None)
        groups = await self.store.groups_of(principal.org_id, principal.user_id)
        return Viewer(principal, frozenset(groups))

    @staticmethod
    def sees_event(viewer: Viewer, event: LibraryEvent) -> bool:
        if event.org_id != viewer.org_id:
            return False
        return viewer.groups is None or bool(viewer.groups.intersection(event.group_ids))

    @staticmethod
    def sees_item(viewer: Viewer, item: MediaItem, event: LibraryEvent | None) -> bool:
        if item.org_id != viewer.org_id:
            return False
        if viewer.groups is None or item.uploaded_by_id == viewer.principal.user_id:
            return True
        shared = set(item.group_ids) | set(event.group_ids if event is not None else ())
        return bool(viewer.groups.intersection(shared))

    @staticmethod
    def require_edit(viewer: Viewer) -> None:
        if not viewer.may_edit:
            raise LibraryForbidden("Only admins and operators change the library.")

    # -- library events
    async def events(self, viewer: Viewer, archived: bool | None) -> list[LibraryEvent]:
        events = await self.store.events(viewer.org_id, archived)
        return [e for e in events if self.sees_event(viewer, e)]

    async def event(self, viewer: Viewer, event_id: int) -> LibraryEvent:
        event = await self.store.event(viewer.org_id, event_id)
        if not self.sees_event(viewer, event):
            raise LibraryEventNotFound(event_id)
        return event

    async def summaries(self, events: Sequence[LibraryEvent]) -> dict[int, EventSummary]:
        """Each event's ready items by kind and its cover. Whoever sees an event sees all of
        its items (they are shared with the event's groups), so one summary suits everyone."""
        return await self.store.event_summaries([e.id for e in events])

    async def groups(self, viewer: Viewer) -> list[UserGroup]:
        """The user groups (classes) the viewer may name: all of the organisation's for those
        who share the library with them, a viewer's own for a viewer."""
        groups = await self.store.user_groups(viewer.org_id)
        return groups if viewer.groups is None else [g for g in groups if g.id in viewer.groups]

    async def event_files(self, viewer: Viewer, event_id: int) -> tuple[LibraryEvent, list[Entry]]:
        """An event's ready items with the stores holding their originals, oldest first: what
        downloading the whole event sends."""
        event = await self.event(viewer, event_id)
        items = await self.store.items_of(viewer.org_id, event_id)
        ready = [i for i in reversed(items) if i.status == "ready"]
        return event, [Entry(i, self.blobs_of(i)) for i in ready]

    async def create_event(self, viewer: Viewer, values: dict[str, Any]) -> LibraryEvent:
        self.require_edit(viewer)
        await self._check_groups(viewer.org_id, values.get("group_ids", []))
        now = now_ms()
        event = LibraryEvent(
            org_id=viewer.org_id,
            created_by_id=viewer.principal.user_id,
            archived=False,
            created_at=now,
            updated_at=now,
            **values,
        )
        await self.store.add(event)
        return event

    async def update_event(
        self, viewer: Viewer, event_id: int, changes: dict[str, Any]
    ) -> LibraryEvent:
        await self.event(viewer, event_id)
        self.require_edit(viewer)
        if "group_ids" in changes:
            await self._check_groups(viewer.org_id, changes["group_ids"])
        event = await self.store.update_event(viewer.org_id, event_id, changes)
        if "name" in changes or "group_ids" in changes:
            await self.search.reindex_event(event)
        return event

    async def _check_groups(self, org_id: int, group_ids: Sequence[int]) -> None:
        unknown = set(group_ids) - await self.store.group_ids(org_id)
        if unknown:
            raise UploadRefused(f"no user groups {sorted(unknown)}", status=422)

    # -- items
    async def item(self, viewer: Viewer, item_id: int) -> tuple[MediaItem, LibraryEvent | None]:
        item, event = await self.store.item_and_event(viewer.org_id, item_id)
        if not self.sees_item(viewer, item, event):
            raise ItemNotFound(item_id)
        return item, event

    async def update_item(self, viewer: Viewer, item_id: int, changes: dict[str, Any]) -> MediaItem:
        await self.item(viewer, item_id)
        self.require_edit(viewer)
        if changes.get("event_id") is not None:
            await self.store.event(viewer.org_id, changes["event_id"])
        if "group_ids" in changes:
            await self._check_groups(viewer.org_id, changes["group_ids"])
        item = await self.store.update_item(item_id, **changes)
        await self._index(item)
        return item

    async def delete_item(self, viewer: Viewer, item_id: int) -> MediaItem:
        item, _ = await self.item(viewer, item_id)
        self.require_edit(viewer)
        await self.store.delete_item(item.id)
        await self.search.remove(item.id)
        blobs = self.blobs_of(item)
        for key in item_keys(item):
            await blobs.delete(key)
        return item

    def blobs_of(self, item: MediaItem) -> BlobStore:
        """The store an item's files are in (hot, or cold after a lifecycle move)."""
        return self.stores.for_item(item)

    async def count(self, item: MediaItem, what: str) -> None:
        """A view or download of ``item``; counted for analytics."""
        await self.store.count(item.org_id, item.id, what)

    async def _index(self, item: MediaItem) -> None:
        event_name = None
        if item.event_id is not None:
            event = (await self.store.event_names([item.event_id])).get(item.event_id)
            event_name = event.name if event is not None else None
        camera = await self._camera_names(item.camera_id) if item.camera_id else None
        await self.search.upsert(item, event_name, camera)

    # -- uploads
    async def remaining(self, org_id: int) -> int | None:
        """Bytes the plan has left (None: no limit)."""
        plan = await self.store.plan_of(org_id)
        if plan is None or plan.storage_bytes is None:
            return None
        used = (await self.store.usage(org_id)).total_bytes
        return plan.storage_bytes - used - await self.store.pending_upload_bytes(org_id)

    async def check_room_for(self, org_id: int, what: str) -> None:
        """Before adding a camera or a user: raise PlanLimit if the plan is full."""
        plan = await self.store.plan_of(org_id)
        if plan is None:
            return
        if what == "cameras":
            limit, count = plan.max_cameras, await self.store.cameras_count(org_id)
        else:
            limit, count = plan.max_users, await self.store.users_count(org_id)
        if limit is not None and count >= limit:
            raise PlanLimit(what, limit)

    async def admit(self, principal: Principal, length: int, meta: dict[str, str]) -> None:
        """Before any byte is stored: may this user upload this much here?"""
        viewer = await self.viewer(principal)
        self.require_edit(viewer)
        remaining = await self.remaining(principal.org_id)
        if remaining is not None and length > remaining:
            raise QuotaExceeded(length, remaining)
        if event_id := meta.get("event_id"):
            try:
                await self.event(viewer, int(event_id))
            except (ValueError, LibraryEventNotFound):
                raise UploadRefused(f"no library event {event_id!r}", status=422) from None

    async def upload_complete(
        self, principal: Principal, upload: Upload, path: Path, sha256: str, mime: str
    ) -> tuple[MediaItem, bool]:
        """Take a finished upload: an item (and whether it was already in the library)."""
        duplicate = await self.store.by_hash(principal.org_id, sha256)
        if duplicate is not None:
            path.unlink(missing_ok=True)
            return duplicate, True
        meta = upload.meta
        event_id = int(meta["event_id"]) if meta.get("event_id", "").isdigit() else None
        tags = [t.strip()[:50] for t in meta.get("tags", "").split(",") if t.strip()][:50]
        item = await self.add_file(
            principal,
            path,
            NewItem(
                source="upload",
                filename=meta.get("filename", "upload"),
                title=meta.get("title"),
                description=meta.get("description") or None,
                tags=tags,
                event_id=event_id,
                mime=mime,
            ),
            sha256=sha256,
        )
        return item, False

    async def add_file(
        self, principal: Principal, path: Path, new: NewItem, sha256: str | None = None
    ) -> MediaItem:
        """Put a file into the library as a new item (moved from ``path``), index it, queue
        its processing and announce it."""
        if sha256 is None:
            sha256 = await asyncio.to_thread(sha256_file, path)
        filename = safe_filename(new.filename)
        camera_id = new.camera_id
        if camera_id is not None and await self._camera_names(camera_id) is None:
            # Deleted since the footage was taken (an export outlives its camera): the item
            # keeps no camera, as if the camera had been deleted after the item was saved.
            camera_id = None
        now = now_ms()
        item = MediaItem(
            org_id=principal.org_id,
            event_id=new.event_id,
            kind="video" if new.mime.startswith("video/") else "image",
            source=new.source,
            title=(new.title or filename)[:200],
            description=new.description,
            tags=list(new.tags),
            labels=list(new.labels),
            camera_id=camera_id,
            captured_at=new.captured_at or now,
            uploaded_by_id=principal.user_id,
            uploader=principal.username,
            group_ids=[],
            filename=filename,
            mime=new.mime,
            size=path.stat().st_size,
            sha256=sha256,
            status="processing",
            progress=0.0,
            runner=self.runner,  # this instance's from the start: its file is not in yet
            beat_at=now,
            storage=self.stores.hot.name,
            key="",
            stored_bytes=0,
            views=0,
            downloads=0,
            created_at=now,
            updated_at=now,
        )
        await self.store.add(item)
        key = f"{principal.org_id}/{item.id}/original{PurePosixPath(filename).suffix.lower()[:10]}"
        size = await self.stores.hot.take_file(key, path)
        item = await self.store.update_item(item.id, key=key, stored_bytes=size)
        await self._index(item)
        self._enqueue(item.id)
        await self._announce(item)
        return item

    async def save_picture(self, viewer: Viewer, jpeg: bytes, new: NewItem) -> MediaItem:
        """A picture from a camera (an event's snapshot) saved into the library."""
        self.require_edit(viewer)
        if new.event_id is not None:
            await self.event(viewer, new.event_id)
        path = self._work / f"saved-{now_ms()}-{id(jpeg)}.jpg"
        await asyncio.to_thread(path.write_bytes, jpeg)
        return await self.add_file(viewer.principal, path, new)

    async def save_copy(self, viewer: Viewer, source: Path, new: NewItem) -> MediaItem:
        """A copy of a file Vigil made (an export's MP4) saved into the library."""
        self.require_edit(viewer)
        if new.event_id is not None:
            await self.event(viewer, new.event_id)
        path = self._work / f"saved-{now_ms()}-{source.name}"
        await asyncio.to_thread(shutil.copyfile, source, path)
        return await self.add_file(viewer.principal, path, new)

    async def _announce(self, item: MediaItem) -> None:
        event = None
        if item.event_id is not None:
            event = (await self.store.event_names([item.event_id])).get(item.event_id)
        for listener in self.listeners:
            try:
                await listener(item, event)
            except Exception:
                log.exception("library item listener failed")

    # -- processing
    def _enqueue(self, item_id: int) -> None:
        if item_id not in self._queued and item_id != self._processing:
            self._queued.add(item_id)
            self._queue.put_nowait(item_id)

    async def _worker(self) -> None:
        while True:
            item_id = await self._queue.get()
            self._queued.discard(item_id)
            self._processing = item_id
            try:
                if await self.store.claim(item_id, self.runner, now_ms() - _ABANDONED_MS):
                    await self._process(item_id)
            except Exception:
                log.exception("library item %s: processing failed", item_id)
            finally:
                self._processing = None
                self._queue.task_done()

    async def _beating(self) -> None:
        while True:
            await asyncio.sleep(_BEAT_S)
            if self._processing is not None:
                try:
                    await self.store.beat([self._processing], self.runner)
                except DatabaseUnavailable as exc:
                    log.warning("library item %s: processing, not said: %s", self._processing, exc)

    async def _sweep(self) -> None:
        """Queue the items to process that nobody processes: those of an instance that
        died (or of this one before it restarted), and any this one missed."""
        for item_id in await self.store.unclaimed(self.runner, now_ms() - _ABANDONED_MS):
            self._enqueue(item_id)

    async def _process(self, item_id: int) -> None:
        item = (await self.store.items([item_id])).get(item_id)
        if item is None or item.status != "processing":
            return
        folder = Path(tempfile.mkdtemp(prefix=f"item-{item_id}-", dir=self._work))
        try:
            blobs = self.blobs_of(item)
            if isinstance(blobs, LocalStore):
                source = blobs.path(item.key)  # read in place: processing only reads it
            else:
                source = folder / ("original" + PurePosixPath(item.key).suffix)
                await blobs.download_to(item.key, source)
            try:
                values = await self._derive(item, source, folder)
            except media.MediaError as e:
                log.warning("library item %s: %s", item_id, e)
                await self.store.update_item(item_id, status="failed", error=str(e))
                return
            item = await self.store.update_item(item_id, status="ready", progress=1.0, **values)
            await self._index(item)
        finally:
            await asyncio.to_thread(shutil.rmtree, folder, True)

    async def _derive(self, item: MediaItem, source: Path, folder: Path) -> dict[str, Any]:
        """Probe, make it web-playable if it is not, and make its pictures."""
        info = await asyncio.to_thread(media.probe, source)
        prefix = f"{item.org_id}/{item.id}"
        values: dict[str, Any] = {
            "width": info.width,
            "height": info.height,
            "duration_ms": info.duration_ms,
            "mime": info.mime,
            "kind": info.kind,
        }
        if info.captured_ms is not None:
            values["captured_at"] = info.captured_ms
        stored = item.stored_bytes
        picture = source
        blobs = self.blobs_of(item)
        if info.kind == "video":
            if not info.web_playable:
                web = folder / "web.mp4"
                loop = asyncio.get_running_loop()

                def progress(fraction: float) -> None:
                    loop.call_soon_threadsafe(self._progress, item.id, fraction)

                await asyncio.to_thread(media.transcode_for_web, source, web, progress=progress)
                values["web_key"] = f"{prefix}/web.mp4"
                stored += await blobs.put_file(values["web_key"], web)
            poster = folder / "poster.jpg"
            await asyncio.to_thread(media.video_poster, source, poster)
            values["poster_key"] = f"{prefix}/poster.jpg"
            stored += await blobs.put_file(values["poster_key"], poster)
            picture = poster
        thumb = folder / "thumb.jpg"
        await asyncio.to_thread(media.thumbnail, picture, thumb)
        values["thumb_key"] = f"{prefix}/thumb.jpg"
        stored += await blobs.put_file(values["thumb_key"], thumb)
        values["stored_bytes"] = stored
        return values

    def _progress(self, item_id: int, fraction: float) -> None:
        # Progress is a hint: written without waiting, at most a few times a second.
        task = asyncio.ensure_future(
            self.store.update_item(item_id, progress=round(min(fraction, 0.99), 3))
        )
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    # -- lifecycle
    async def move_cold(self) -> int:
        """Move items older than the lifecycle's age to the cold store; how many moved.
        They stay viewable: reads go to whichever store an item is in."""
        lifecycle = self.lifecycle
        if lifecycle is None:
            return 0
        moved = 0
        cutoff = lifecycle.cutoff_ms(now_ms())
        for item in await self.store.due_to_move(lifecycle.hot.name, cutoff):

            async def recorded(item_id: int = item.id) -> None:
                await self.store.update_item(item_id, storage=lifecycle.cold.name)

            await lifecycle.move_item(item_keys(item), on_copied=recorded)
            moved += 1
        return moved

    # -- sharing
    async def create_share(
        self,
        viewer: Viewer,
        *,
        item_id: int | None,
        event_id: int | None,
        days: float,
        password: str | None,
    ) -> NewShare:
        self.require_edit(viewer)
        if item_id is not None:
            await self.item(viewer, item_id)
        if event_id is not None:
            await self.event(viewer, event_id)
        token = new_token()
        link = ShareLink(
            org_id=viewer.org_id,
            item_id=item_id,
            event_id=event_id,
            token_hash=token_hash(token),
            password_hash=await passwords.hash_password_async(password) if password else None,
            expires_at=now_ms() + round(days * _DAY_MS),
            created_by_id=viewer.principal.user_id,
            created_at=now_ms(),
            views=0,
            revoked=False,
        )
        await self.store.add(link)
        return NewShare(link, token)

    async def live_share(self, token: str) -> ShareLink:
        """The link a visitor holds, if it still works (its password not asked: for media
        links signed once the password was given)."""
        link = await self.store.share(token_hash(token))  # ShareNotFound: 404
        if link.revoked:
            raise ShareRefused(
                "This share link was withdrawn by the person who shared it.", gone="withdrawn"
            )
        if link.expires_at <= now_ms():
            raise ShareRefused("This share link has expired.")
        return link

    async def open_share(
        self, token: str, password: str | None, address: str | None = None
    ) -> ShareLink:
        """The link a visitor holds, if it still works and its password (if any) is right.
        Each password tried is counted first (Throttled while the link or ``address`` is
        held back)."""
        link = await self.live_share(token)
        if link.password_hash is not None:
            if not password:
                raise ShareRefused("This share link needs its password.", needs_password=True)
            try:
                attempt = self.share_guesses.attempt(link=str(link.id), address=address)
            except Throttled as exc:
                raise Throttled(exc.retry_after, "Too many wrong passwords for this link") from None
            if not await passwords.verify_password_async(link.password_hash, password):
                raise ShareRefused("Wrong password for this share link.", needs_password=True)
            attempt.succeeded()
        return link

    async def shared_items(self, link: ShareLink) -> list[MediaItem]:
        if link.item_id is not None:
            item = (await self.store.items([link.item_id])).get(link.item_id)
            return [item] if item is not None and item.status == "ready" else []
        assert link.event_id is not None
        items = await self.store.items_of(link.org_id, link.event_id)
        return [i for i in items if i.status == "ready"]

    # -- usage
    async def usage(self, org_id: int) -> Usage:
        return await self.store.usage(org_id)

    async def sample_usage(self) -> None:
        """Note every organisation's usage now (for its history)."""
        now = now_ms()
        for org_id in await self.store.org_ids():
            await self.store.sample_usage(org_id, await self.store.usage(org_id), now)
