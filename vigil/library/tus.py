"""Resumable uploads: the tus 1.0.0 protocol (https://tus.io/protocols/resumable-upload)
with its creation, creation-with-upload, termination, checksum and expiration extensions.

An upload is a row (:class:`~vigil.store.models.Upload`) and a data file named by its id in
one folder. A PATCH streams its body to the file in constant memory; when the connection
breaks, the bytes that arrived stay and HEAD reports them, so a client resumes where it
stopped. The file is the truth about the offset: the row is updated at the end of every
PATCH (and when its body breaks off), and whoever reads the offset trusts the file's size
when the row lags (after a crash).

Content, not names: once the first :data:`~vigil.library.sniff.HEAD_BYTES` bytes are in, they
are sniffed, and anything but a picture or a video ends the upload there. The last byte hands
the file to the :class:`UploadSink` (the library), which makes an item of it.

This module knows of HTTP only its errors (:class:`TusError`) and a client that went away
(Starlette's ``ClientDisconnect``); the router maps requests to these calls.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import logging
import os
import re
import secrets
from collections.abc import AsyncIterable, Callable
from dataclasses import dataclass, field
from io import FileIO
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import delete, select
from starlette.requests import ClientDisconnect

from vigil.auth.principal import Principal
from vigil.library.sniff import HEAD_BYTES, Sniffed, sniff
from vigil.store.database import Database
from vigil.store.models import MediaItem, Upload
from vigil.timeutil import now_ms

log = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,creation-with-upload,termination,checksum,expiration"
OFFSET_OCTET_STREAM = "application/offset+octet-stream"
CHECKSUMS: dict[str, Callable[[], Any]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "md5": hashlib.md5,
}
CHECKSUM_MISMATCH = 460  # tus: "Checksum Mismatch"

DEFAULT_MAX_SIZE = 20 << 30
DEFAULT_LIFETIME_MS = 24 * 3_600_000  # an upload untouched this long is swept away
DEFAULT_IDLE_SECONDS = 60.0  # a PATCH body that stalls this long ends as if cut
_ID = re.compile(r"[0-9a-f]{32}")
_WRITE_BATCH = 1 << 20  # bytes gathered before one write to the file
_HASH_BLOCK = 1 << 20
_SETTLE_SECONDS = 5.0  # how long HEAD waits for a PATCH still under way to end


class TusError(Exception):
    """A request the protocol refuses: ``status``, a sentence, a problem slug, extras."""

    def __init__(
        self,
        status: int,
        detail: str,
        slug: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extras: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug
        self.title = title
        self.headers = headers or {}
        self.extras = extras


class UploadSink(Protocol):
    """Where uploads come from and go to: the library (``LibraryService``)."""

    async def admit(self, principal: Principal, length: int, meta: dict[str, str]) -> None:
        """Before any byte is stored: raise if this user may not upload ``length`` bytes
        (``QuotaExceeded``: 413 with the bytes left; ``UploadRefused``: its status)."""

    async def upload_complete(
        self, principal: Principal, upload: Upload, path: Path, sha256: str, mime: str
    ) -> tuple[MediaItem, bool]:
        """Take the finished file at ``path``: the item, and whether the library had it
        already. Move (or copy) the file before returning: whatever is left at ``path``
        afterwards is deleted."""


@dataclass(frozen=True, slots=True)
class Checksum:
    """An ``Upload-Checksum`` header: the algorithm and the digest of this PATCH's body."""

    algorithm: str
    digest: bytes


@dataclass(frozen=True, slots=True)
class Written:
    """What a PATCH achieved: the offset now, and the item once the upload is complete."""

    offset: int
    item_id: int | None = None
    duplicate: bool = False


def parse_length(value: str | None, header: str) -> int:
    """A non-negative integer header (``Upload-Length``, ``Upload-Offset``)."""
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 19:
        raise TusError(400, f"{header} must be a non-negative integer.", "invalid-header")
    return int(value)


def parse_metadata(header: str | None) -> dict[str, str]:
    """``Upload-Metadata``: ``key base64(value)`` pairs, comma separated, decoded (400 for a
    value that is not base64 of UTF-8 text). Uppy and tus-js-client send the file's name as
    ``name``: it stands in for a missing ``filename``. The values are the caller's to check:
    they are text from outside (the API refuses control characters, NUL included)."""
    meta: dict[str, str] = {}
    for pair in (header or "").split(","):
        if not pair.strip():
            continue
        key, _, encoded = pair.strip().partition(" ")
        try:
            value = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            detail = f"Upload-Metadata: the value of {key[:50]!r} is not base64 of UTF-8 text."
            raise TusError(400, detail, "invalid-metadata") from None
        meta[key] = value
    if "name" in meta:
        meta.setdefault("filename", meta.pop("name"))
    return meta


def encode_metadata(meta: dict[str, str]) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())


def parse_checksum(header: str | None) -> Checksum | None:
    """``Upload-Checksum: <algorithm> <base64 digest>``; None when absent."""
    if header is None:
        return None
    algorithm, _, encoded = header.strip().partition(" ")
    if algorithm not in CHECKSUMS:
        supported = ", ".join(CHECKSUMS)
        detail = f"Upload-Checksum: {algorithm!r} is not supported (use {supported})."
        raise TusError(400, detail, "unsupported-checksum")
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        raise TusError(
            400, "Upload-Checksum: the digest is not base64.", "invalid-header"
        ) from None
    if len(digest) != CHECKSUMS[algorithm]().digest_size:
        detail = f"Upload-Checksum: that is not a {algorithm} digest."
        raise TusError(400, detail, "invalid-header")
    return Checksum(algorithm, digest)


def _not_found() -> TusError:
    return TusError(404, "No upload with this id.", "upload-not-found")


class Uploads:
    """The uploads under way, in ``folder`` and the ``uploads`` table. One process serves
    them: a PATCH holds its upload until it ends (another one meanwhile gets 423)."""

    def __init__(
        self,
        db: Database,
        folder: Path,
        *,
        max_size: int = DEFAULT_MAX_SIZE,
        lifetime_ms: int = DEFAULT_LIFETIME_MS,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.db = db
        self.folder = folder
        self.max_size = max_size
        self.lifetime_ms = lifetime_ms
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._writing: dict[str, asyncio.Event] = {}  # upload id: set when its PATCH ends
        # The SHA-256 of each upload's file so far, fed as its bytes are written: the last
        # byte needs no second read of the whole file. Lost (a restart, a rewind past it),
        # the file is read once at the end instead.
        self._hashes: dict[str, _RunningHash] = {}

    def path(self, upload: Upload) -> Path:
        assert _ID.fullmatch(upload.id), "upload ids are 32 hex digits"
        return self.folder / upload.id

    # -- creation, lookup, termination
    async def create(
        self, principal: Principal, length: int, meta: dict[str, str], sink: UploadSink
    ) -> Upload:
        """A new, empty upload of ``length`` bytes, if the server and the sink take it."""
        if length > self.max_size:
            raise TusError(
                413,
                f"The upload is {length} bytes but this server takes at most "
                f"{self.max_size} bytes per file.",
                "upload-too-large",
                max_bytes=self.max_size,
            )
        if length == 0:
            raise TusError(415, "This file is empty, not a picture or a video.", "not-media")
        await sink.admit(principal, length, meta)
        now = self._clock()
        upload = Upload(
            id=secrets.token_hex(16),
            org_id=principal.org_id,
            user_id=principal.user_id,
            length=length,
            offset=0,
            meta=meta,
            item_id=None,
            created_at=now,
            expires_at=now + self.lifetime_ms,
        )
        path = self.path(upload)
        await asyncio.to_thread(self.folder.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(path.touch, exist_ok=False)
        try:
            async with self.db.write() as session:
                session.add(upload)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return upload

    async def find(self, principal: Principal, upload_id: str) -> Upload:
        """The caller's own upload: anyone else's, even an admin's colleague's, is 404."""
        if not _ID.fullmatch(upload_id):
            raise _not_found()
        async with self.db.read() as session:
            upload = await session.get(Upload, upload_id)
        if (
            upload is None
            or upload.org_id != principal.org_id
            or upload.user_id != principal.user_id
        ):
            raise _not_found()
        if upload.expires_at <= self._clock() and upload.id not in self._writing:
            raise TusError(410, "This upload has expired; start it again.", "upload-expired")
        return upload

    async def terminate(self, upload: Upload) -> None:
        """Delete the upload and its bytes (tus termination)."""
        self._check_unlocked(upload)
        await self._forget(upload.id)

    async def _forget(self, upload_id: str) -> None:
        self._hashes.pop(upload_id, None)
        async with self.db.write() as session:
            await session.execute(delete(Upload).where(Upload.id == upload_id))
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread((self.folder / upload_id).unlink)

    def _check_unlocked(self, upload: Upload) -> None:
        if upload.id in self._writing:
            raise TusError(
                423,
                "Another request is sending this upload's bytes; try again when it ends.",
                "upload-locked",
                title="Locked",
            )

    # -- the offset
    async def status(self, upload: Upload) -> Upload:
        """The upload as it stands, its offset the bytes in its file (for HEAD). A PATCH
        still under way is given a moment to end first: a client resuming after a cut may
        ask before the server has seen its old request break off."""
        done = self._writing.get(upload.id)
        if done is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_SETTLE_SECONDS):
                    await done.wait()
            if upload.id in self._writing:
                upload.offset = await asyncio.to_thread(_file_size, self.path(upload))
                return upload
        upload = await self._reload(upload)
        await self._settle(upload)
        return upload

    async def _reload(self, upload: Upload) -> Upload:
        async with self.db.read() as session:
            fresh = await session.get(Upload, upload.id)
        if fresh is None:
            raise _not_found()
        return fresh

    async def _settle(self, upload: Upload) -> int:
        """The bytes in the file, with the row brought in line when it lags behind them."""
        if upload.item_id is not None:
            return upload.length
        size = await asyncio.to_thread(self._size, upload)
        if size != upload.offset:
            log.info(
                "upload %s: the file holds %d bytes, the row said %d",
                upload.id,
                size,
                upload.offset,
            )
            await self._save(upload, size)
        return size

    def _size(self, upload: Upload) -> int:
        path = self.path(upload)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            path.touch()  # the bytes are lost: the client starts again from 0
            return 0
        if size > upload.length:
            os.truncate(path, upload.length)
            return upload.length
        return size

    async def _save(self, upload: Upload, offset: int, **values: Any) -> None:
        upload.offset = offset
        upload.expires_at = self._clock() + self.lifetime_ms
        for key, value in values.items():
            setattr(upload, key, value)
        async with self.db.write() as session:
            row = await session.get(Upload, upload.id)
            if row is not None:
                row.offset = upload.offset
                row.expires_at = upload.expires_at
                for key, value in values.items():
                    setattr(row, key, value)

    # -- PATCH
    async def write(
        self,
        principal: Principal,
        upload: Upload,
        offset: int,
        body: AsyncIterable[bytes],
        checksum: Checksum | None,
        sink: UploadSink,
    ) -> Written:
        """Append ``body`` at ``offset``; on the last byte, hand the file to ``sink``."""
        self._check_unlocked(upload)
        done = self._writing[upload.id] = asyncio.Event()
        try:
            # The row as it is now that this request holds the upload.
            upload = await self._reload(upload)
            current = await self._settle(upload)
            if offset != current:
                raise TusError(
                    409,
                    f"Upload-Offset is {offset} but the upload is at {current}: ask with HEAD "
                    "and resume from there.",
                    "offset-mismatch",
                    upload_offset=current,
                )
            if upload.item_id is not None:
                return Written(upload.length, upload.item_id)
            end = await self._receive(upload, offset, body, checksum)
            if end < upload.length:
                return Written(end)
            return await self._finish(principal, upload, sink)
        finally:
            del self._writing[upload.id]
            done.set()

    async def _receive(
        self, upload: Upload, start: int, body: AsyncIterable[bytes], checksum: Checksum | None
    ) -> int:
        """Stream ``body`` into the file from ``start``; the new offset, durable and saved.

        Without a checksum, what reached the file stays even if the body breaks off; with
        one, the body counts only whole and matching (else the file goes back to ``start``).
        """
        hasher = CHECKSUMS[checksum.algorithm]() if checksum is not None else None
        file = await asyncio.to_thread(self.path(upload).open, "r+b", buffering=0)
        try:
            ended, overflow = await self._stream(upload, file, start, body, hasher)
        except NotMedia:
            raise
        except BaseException:
            if hasher is not None:
                await self._rewind(upload, file, start)
            raise
        finally:
            await asyncio.to_thread(_sync_and_close, file)
        if overflow:
            await self._rewind(upload, None, start)
            raise TusError(
                413,
                f"The body goes past the upload's length ({upload.length} bytes); "
                "it was discarded.",
                "body-too-long",
            )
        digest = hasher.digest() if hasher is not None else None
        if checksum is not None and not (ended and digest == checksum.digest):
            await self._rewind(upload, None, start)
            if ended:
                raise TusError(
                    CHECKSUM_MISMATCH,
                    f"The body's {checksum.algorithm} checksum does not match Upload-Checksum; "
                    "its bytes were discarded.",
                    "checksum-mismatch",
                    title="Checksum Mismatch",
                )
            return start
        size = await asyncio.to_thread(self._size, upload)
        await self._save(upload, size)
        return size

    async def _stream(
        self,
        upload: Upload,
        file: FileIO,
        start: int,
        body: AsyncIterable[bytes],
        hasher: Any,
    ) -> tuple[bool, bool]:
        """Copy the body to ``file`` at ``start``: (whether it ended, whether it overflowed).
        A body cut off or stalled ends early; its bytes so far are written.

        A batch is written (and hashed) in a thread while the next one is received."""
        sniff_at = min(HEAD_BYTES, upload.length)  # the content is judged once this is in
        judged = start >= sniff_at
        running = self._hashes.get(upload.id)
        if running is None or running.offset != start:
            running = _RunningHash() if start == 0 else None
        if running is None:
            self._hashes.pop(upload.id, None)
        else:
            self._hashes[upload.id] = running
        digests = [d for d in (hasher, running.digest if running else None) if d is not None]
        writer = _Writer(file, start, digests, running)
        pending = bytearray()
        chunks = aiter(body)
        try:
            while True:
                async with asyncio.timeout(self.idle_seconds):
                    chunk = await anext(chunks, None)
                if chunk is None:
                    return True, False
                if writer.end + len(pending) + len(chunk) > upload.length:
                    pending.clear()
                    return False, True
                pending += chunk
                if len(pending) >= _WRITE_BATCH or (
                    not judged and writer.end + len(pending) >= sniff_at
                ):
                    await writer.send(pending)
                    pending = bytearray()
                if not judged and writer.end >= sniff_at:
                    judged = True
                    await writer.drain()
                    await self._judge(upload, file, sniff_at)
        except (ClientDisconnect, TimeoutError):
            log.info(
                "upload %s: the body broke off at byte %d", upload.id, writer.end + len(pending)
            )
            return False, False
        finally:
            await writer.send(pending)
            await writer.drain()

    async def _judge(self, upload: Upload, file: FileIO, head_size: int) -> None:
        """Pictures and videos only: anything else ends the upload, bytes and all."""
        head = await asyncio.to_thread(os.pread, file.fileno(), head_size, 0)
        found = sniff(head)
        if not found.accepted:
            log.info("upload %s refused: %s", upload.id, found.refusal())
            await self._forget(upload.id)
            raise NotMedia(found)

    async def _rewind(self, upload: Upload, file: FileIO | None, start: int) -> None:
        """Drop what this PATCH wrote: the upload is back at ``start``."""
        running = self._hashes.get(upload.id)
        if running is not None and running.offset > start:
            del self._hashes[upload.id]  # a digest cannot be taken back

        def truncate() -> None:
            if file is not None and not file.closed:
                os.ftruncate(file.fileno(), start)
                return
            with self.path(upload).open("r+b") as reopened:
                os.ftruncate(reopened.fileno(), start)
                os.fsync(reopened.fileno())

        await asyncio.to_thread(truncate)
        await self._save(upload, start)

    async def _finish(self, principal: Principal, upload: Upload, sink: UploadSink) -> Written:
        """The last byte is in: hash the file and let the library take it."""
        path = self.path(upload)
        running = self._hashes.pop(upload.id, None)
        if running is not None and running.offset == upload.length:
            head = await asyncio.to_thread(_head, path)
            sha256 = running.digest.hexdigest()
        else:
            log.info("upload %s: reading the file back for its SHA-256", upload.id)
            head, sha256 = await asyncio.to_thread(_head_and_sha256, path)
        item, duplicate = await sink.upload_complete(
            principal, upload, path, sha256, sniff(head).mime
        )
        await self._save(upload, upload.length, item_id=item.id)
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(path.unlink)
        log.info("upload %s complete: item %s%s", upload.id, item.id, " (a duplicate)" * duplicate)
        return Written(upload.length, item.id, duplicate)

    # -- expiry
    async def sweep(self) -> int:
        """Delete expired uploads with their bytes, and files no upload owns any more (their
        user or organisation was deleted); how many went. Run it now and then."""
        now = self._clock()
        async with self.db.read() as session:
            expired = list(await session.scalars(select(Upload.id).where(Upload.expires_at <= now)))
            known = set(await session.scalars(select(Upload.id)))
        gone = 0
        for upload_id in expired:
            if upload_id not in self._writing:
                await self._forget(upload_id)
                gone += 1
        cutoff = now - self.lifetime_ms
        busy = known | set(self._writing)
        gone += await asyncio.to_thread(_remove_orphans, self.folder, busy, cutoff)
        return gone


class NotMedia(TusError):
    """The first bytes are not a picture's or a video's: the upload is gone (415)."""

    def __init__(self, found: Sniffed) -> None:
        refusal = found.refusal()
        super().__init__(
            415,
            f"{refusal[0].upper()}{refusal[1:]}.",
            "not-media",
            title="Not a picture or a video",
            detected_type=found.mime,
        )


@dataclass
class _RunningHash:
    """The SHA-256 of an upload's first ``offset`` bytes."""

    digest: Any = field(default_factory=hashlib.sha256)
    offset: int = 0


class _Writer:
    """Writes batches to ``file`` from ``at`` in a thread, each fed to ``digests`` too, one
    batch at a time: the caller receives the next batch meanwhile. ``end`` counts what was
    handed over; :meth:`drain` waits until it is all in the file."""

    def __init__(
        self, file: FileIO, at: int, digests: list[Any], running: _RunningHash | None
    ) -> None:
        self._file = file
        self._digests = digests
        self._running = running
        self._busy: asyncio.Future[None] | None = None
        self.end = at
        file.seek(at)

    async def send(self, batch: bytearray) -> None:
        """Hand ``batch`` over (it is the writer's from now on) once the one before is in."""
        if not batch:
            return
        await self.drain()
        self.end += len(batch)
        self._busy = asyncio.ensure_future(asyncio.to_thread(self._write, batch))

    async def drain(self) -> None:
        if self._busy is not None:
            busy, self._busy = self._busy, None
            await busy

    def _write(self, data: bytearray) -> None:
        at = self._file.tell()
        view = memoryview(data)
        while view:
            written = self._file.write(view)
            view = view[written or 0 :]
        _start_writeback(self._file.fileno(), at, len(data))
        for digest in self._digests:  # hashlib lets go of the GIL for blocks this size
            digest.update(data)
        if self._running is not None:
            self._running.offset += len(data)


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Have the kernel start writing ``length`` bytes from ``offset`` to the disk now, not
    wait: the fsync that ends a PATCH then finds most of them there. (Linux's
    ``POSIX_FADV_DONTNEED`` starts writeback of dirty pages; without it a 64 MiB PATCH
    waited some 0.15 s in its fsync while the client sent nothing.)"""
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)


def _sync_and_close(file: FileIO) -> None:
    if not file.closed:
        os.fsync(file.fileno())
        file.close()


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _head(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(HEAD_BYTES)


def _head_and_sha256(path: Path) -> tuple[bytes, str]:
    """The first bytes to sniff, and the SHA-256 of the whole file, read block by block."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        head = file.read(HEAD_BYTES)
        digest.update(head)
        while block := file.read(_HASH_BLOCK):
            digest.update(block)
    return head, digest.hexdigest()


def _remove_orphans(folder: Path, known: set[str], cutoff_ms: int) -> int:
    removed = 0
    with contextlib.suppress(FileNotFoundError), os.scandir(folder) as entries:
        for entry in entries:
            if entry.name in known or not _ID.fullmatch(entry.name):
                continue
            if entry.stat().st_mtime_ns // 1_000_000 <= cutoff_ms:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                removed += 1
    return removed
