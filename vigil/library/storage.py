"""Where library files live: a local folder or S3-compatible object storage, hot and cold.

Every backend speaks :class:`BlobStore`; items record the ``name`` of the store holding their
files, so :class:`Tiered` finds them wherever the :class:`Lifecycle` has moved them.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import math
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol

import aioboto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

log = logging.getLogger(__name__)

CHUNK = 1 << 20  # what read_range yields and downloads write at a time
PART = 8 << 20  # S3 multipart part size; files above it go up in parts
MAX_PARTS = 10_000  # S3's limit: beyond 80 GB parts grow so the count stays under it
MAX_KEY_BYTES = 1024  # S3's limit on a key, prefix included
DAY_MS = 86_400_000

# Error codes S3 servers answer for a missing object or bucket (HEAD has no body, hence "404").
MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


class StorageError(Exception):
    """A store could not do what was asked (unreachable, refused, inconsistent)."""


class UnsafeKey(StorageError, ValueError):
    """A key that could name something outside the store's root or prefix."""

    def __init__(self, key: object, reason: str) -> None:
        shown = key[:100] if isinstance(key, str) else key
        super().__init__(f"unsafe storage key {shown!r}: {reason}")
        self.reason = reason


class BlobNotFound(StorageError, KeyError):
    """No blob under this key."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return f"no stored file under {self.key!r}"


class UnknownStore(StorageError, LookupError):
    """An item names a store that is not configured (any more)."""


class CopyMismatch(StorageError):
    """A copy's size differs from its source's: the copy was removed, the source kept."""


def _unsafe(key: object) -> str | None:
    if not isinstance(key, str) or not key:
        return "empty"
    if "\x00" in key:
        return "contains a NUL character"
    if "\\" in key:
        return "contains a backslash"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in key):
        return "contains a control character"
    try:
        encoded = key.encode()
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    if len(encoded) > MAX_KEY_BYTES:
        return f"longer than {MAX_KEY_BYTES} bytes"
    if key.startswith("/"):
        return "is an absolute path"
    if any(part in ("", ".", "..") for part in key.split("/")):
        return "has an empty, '.' or '..' path segment"
    return None


def check_key(key: str) -> str:
    """``key`` itself when it is a plain relative POSIX path, else :class:`UnsafeKey`.

    Keys are built from user-supplied file names, so anything that a filesystem or an S3
    server could resolve outside the store (``..``, absolute paths, backslashes, NUL, empty
    segments) is refused rather than cleaned up: two keys must never alias one file.
    """
    reason = _unsafe(key)
    if reason is not None:
        raise UnsafeKey(key, reason)
    return key


def _check_range(start: int, end: int | None) -> None:
    if start < 0 or (end is not None and end < start):
        raise ValueError(f"bad byte range {start}..{end}")


# --- settings ---------------------------------------------------------------------------

STORE_NAME = r"^([a-z0-9][a-z0-9_-]{0,31})?$"  # fits MediaItem.storage (32)


class BackendSettings(BaseModel):
    """One store: a local folder or an S3 bucket (under an optional prefix)."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["local", "s3"] = "local"
    name: str = Field(
        default="",
        pattern=STORE_NAME,
        description="recorded on each item; empty: the backend (cold: backend + '-cold')",
    )
    root: Path | None = Field(
        default=None,
        description="local: the folder; empty: library (cold: library-cold) in data_dir",
    )
    endpoint_url: str | None = Field(default=None, description="s3: empty means AWS")
    bucket: str = ""
    region: str = "us-east-1"
    access_key: str = Field(default="", description="s3: empty: the usual AWS credential chain")
    secret_key: SecretStr = SecretStr("")
    prefix: str = Field(default="", description="s3: keys go under this folder of the bucket")
    create_bucket: bool = Field(default=False, description="s3: create the bucket if missing")
    path_style: bool = Field(
        default=True, description="s3: bucket in the path (most S3-compatible servers), not host"
    )

    @field_validator("prefix")
    @classmethod
    def _safe_prefix(cls, value: str) -> str:
        value = value.strip("/")
        if value:
            check_key(value)
        return value

    @model_validator(mode="after")
    def _complete(self) -> BackendSettings:
        if self.backend == "s3" and not self.bucket:
            raise ValueError("the s3 backend needs a bucket")
        return self


class StorageSettings(BackendSettings):
    """The hot store new items go to, and optionally a cold one older items move to."""

    cold: BackendSettings | None = None
    cold_after_days: float | None = Field(
        default=None, gt=0, description="items older than this move to the cold store"
    )

    @model_validator(mode="after")
    def _names(self) -> StorageSettings:
        self.name = self.name or self.backend
        if self.cold is not None:
            self.cold.name = self.cold.name or f"{self.cold.backend}-cold"
            if self.cold.name == self.name:
                raise ValueError(f"the hot and cold stores are both named {self.name!r}")
        elif self.cold_after_days is not None:
            raise ValueError("cold_after_days needs a cold store")
        return self


# --- the interface --------------------------------------------------------------------


class BlobStore(Protocol):
    """Files by key. Keys are relative POSIX paths (see :func:`check_key`)."""

    @property
    def name(self) -> str:
        """The store's name, recorded on items (``MediaItem.storage``)."""
        ...

    async def put_file(self, key: str, src: Path) -> int:
        """Store a copy of ``src`` in constant memory; returns its size."""
        ...

    async def take_file(self, key: str, src: Path) -> int:
        """Like :meth:`put_file`, but ``src`` is the caller's to give away: it is gone
        afterwards (a rename, where the store is a folder on the same disk)."""
        ...

    async def put_bytes(self, key: str, data: bytes) -> None:
        """Store small ``data`` (thumbnails, posters)."""
        ...

    async def size(self, key: str) -> int:
        """Size in bytes; :class:`BlobNotFound` when missing."""
        ...

    async def exists(self, key: str) -> bool: ...

    def read_range(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncGenerator[bytes, None]:
        """Bytes ``start`` up to ``end`` (exclusive, like a slice; None: to the end) in chunks.

        Past the end yields nothing. A missing key raises :class:`BlobNotFound` on the first
        iteration, so check ``size`` before sending response headers.
        """
        ...

    async def download_to(self, key: str, dst: Path) -> None:
        """Write the blob to ``dst`` atomically (a partial file never appears there)."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the blob; a missing one is not an error."""
        ...

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every blob in the folder ``prefix`` (not ``prefix`` + more letters)."""
        ...

    async def close(self) -> None: ...


# --- local folder ---------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_dirs(path: Path) -> None:
    """``mkdir -p`` that also fsyncs each new folder's parent, so the entry survives a crash."""
    missing: list[Path] = []
    while not path.is_dir():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir()
        _fsync_dir(folder.parent)


def _temp_beside(dst: Path) -> Path:
    # Same folder, so the rename is atomic; a fixed short name, so long names still fit.
    return dst.with_name(f".vigil-{secrets.token_hex(8)}.tmp")


def _is_temp(path: Path) -> bool:
    return path.name.startswith(".vigil-") and path.name.endswith(".tmp")


def _commit(tmp: Path, handle: BinaryIO, dst: Path) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
    os.replace(tmp, dst)
    _fsync_dir(dst.parent)


@contextlib.contextmanager
def _atomic_writer(dst: Path, lock: threading.Lock | None = None) -> Iterator[BinaryIO]:
    """A file that appears at ``dst``, fsynced, only when the block succeeds."""
    with lock or contextlib.nullcontext():
        _make_dirs(dst.parent)
        tmp = _temp_beside(dst)
        handle = tmp.open("xb")
    try:
        yield handle
        _commit(tmp, handle, dst)
    except BaseException:
        handle.close()
        tmp.unlink(missing_ok=True)
        raise


async def write_atomically(dst: Path, chunks: AsyncIterator[bytes]) -> int:
    """Write ``chunks`` to ``dst`` through a temporary file; returns the byte count."""
    await asyncio.to_thread(_make_dirs, dst.parent)
    tmp = _temp_beside(dst)
    handle = await asyncio.to_thread(tmp.open, "xb")
    written = 0
    try:
        async for chunk in chunks:
            written += await asyncio.to_thread(handle.write, chunk)
        await asyncio.to_thread(_commit, tmp, handle, dst)
    except BaseException:
        handle.close()
        tmp.unlink(missing_ok=True)
        raise
    return written


async def _open_in_thread(path: Path, key: str) -> BinaryIO:
    """The blob opened in a thread; closed there too if the caller is cancelled meanwhile (a
    viewer scrolling a thumbnail away): else the open file would wait for the collector."""
    opening = asyncio.ensure_future(asyncio.to_thread(_open_blob, path, key))
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        opening.add_done_callback(_close_opened)
        raise


def _close_opened(opening: asyncio.Future[BinaryIO]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        opening.result().close()


def _open_blob(path: Path, key: str) -> BinaryIO:
    try:
        return path.open("rb")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        raise BlobNotFound(key) from None


class LocalStore:
    """Files in a folder: atomic writes (temporary file, fsync, rename), empty folders pruned."""

    def __init__(self, root: Path, name: str = "local") -> None:
        self.root = root
        self.name = name
        # Folder creation and pruning must not interleave, or a put loses its fresh folder.
        self._folders = threading.Lock()

    def path(self, key: str) -> Path:
        """Where ``key`` lives on disk (always inside ``root``)."""
        return self.root.joinpath(*check_key(key).split("/"))

    async def put_file(self, key: str, src: Path) -> int:
        return await asyncio.to_thread(self._put_file, self.path(key), src)

    def _put_file(self, dst: Path, src: Path) -> int:
        with src.open("rb") as source, _atomic_writer(dst, self._folders) as target:
            shutil.copyfileobj(source, target, CHUNK)
            return target.tell()

    async def take_file(self, key: str, src: Path) -> int:
        return await asyncio.to_thread(self._take_file, self.path(key), src)

    def _take_file(self, dst: Path, src: Path) -> int:
        with self._folders:
            _make_dirs(dst.parent)
        try:
            with src.open("rb") as handle:
                os.fsync(handle.fileno())
            os.replace(src, dst)  # the same disk: no second copy of a large upload
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
            size = self._put_file(dst, src)
            src.unlink()
            return size
        _fsync_dir(dst.parent)
        return dst.stat().st_size

    async def put_bytes(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._put_bytes, self.path(key), data)

    def _put_bytes(self, dst: Path, data: bytes) -> None:
        with _atomic_writer(dst, self._folders) as target:
            target.write(data)

    async def size(self, key: str) -> int:
        path = self.path(key)
        try:
            stat = await asyncio.to_thread(path.stat)
        except (FileNotFoundError, NotADirectoryError):
            raise BlobNotFound(key) from None
        if not path.is_file():
            raise BlobNotFound(key)
        return stat.st_size

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.path(key).is_file)

    def read_range(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncGenerator[bytes, None]:
        _check_range(start, end)
        return self._stream(self.path(key), key, start, end)

    async def _stream(
        self, path: Path, key: str, start: int, end: int | None
    ) -> AsyncGenerator[bytes, None]:
        handle = await _open_in_thread(path, key)
        try:
            await asyncio.to_thread(handle.seek, start)
            left = -1 if end is None else end - start  # -1: to the end
            while left:
                chunk = await asyncio.to_thread(
                    handle.read, CHUNK if left < 0 else min(CHUNK, left)
                )
                if not chunk:
                    break
                left -= len(chunk) if left > 0 else 0
                yield chunk
        finally:
            handle.close()

    async def download_to(self, key: str, dst: Path) -> None:
        await asyncio.to_thread(self._download_to, self.path(key), key, dst)

    def _download_to(self, path: Path, key: str, dst: Path) -> None:
        with _open_blob(path, key) as source, _atomic_writer(dst) as target:
            shutil.copyfileobj(source, target, CHUNK)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete, self.path(key))

    def _delete(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            path.unlink()
        self._prune(path.parent)

    async def delete_prefix(self, prefix: str) -> int:
        return await asyncio.to_thread(self._delete_prefix, self.path(prefix))

    def _delete_prefix(self, folder: Path) -> int:
        if not folder.is_dir() or folder.is_symlink():
            return 0
        count = sum(
            1 for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".vigil-")
        )
        shutil.rmtree(folder)
        self._prune(folder.parent)
        return count

    def _prune(self, folder: Path) -> None:
        """Remove now-empty folders from ``folder`` up to (not including) the root."""
        with self._folders:
            while folder != self.root and folder.is_relative_to(self.root):
                try:
                    folder.rmdir()
                except OSError:  # not empty, or already gone
                    return
                folder = folder.parent

    async def close(self) -> None:
        return None


# --- S3-compatible object storage ---------------------------------------------------------


def _code(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def part_size(total: int) -> int:
    """8 MB parts, bigger (whole MiB) for files that would need more than 10,000 parts."""
    return max(PART, math.ceil(total / MAX_PARTS / (1 << 20)) << 20)


class S3Store:
    """Objects in an S3 bucket under a prefix; one aioboto3 client, opened on first use.

    Large files go up as multipart uploads, one part in memory at a time and parts in order
    (streaming servers such as ``rclone serve s3`` want them so); reads are ranged GETs.
    """

    def __init__(self, settings: BackendSettings) -> None:
        if settings.backend != "s3":
            raise ValueError("S3Store needs s3 settings")
        self.name = settings.name or "s3"
        self.bucket = settings.bucket
        self.prefix = settings.prefix
        self._settings = settings
        self._client: Any = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._opening = asyncio.Lock()

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    async def _s3(self) -> Any:
        if self._client is None:
            async with self._opening:
                if self._client is None:
                    await self._open()
        return self._client

    async def _open(self) -> None:
        s = self._settings
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if s.path_style else "virtual"},
            # Newer botocore adds CRC checksums many S3-compatible servers reject.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"max_attempts": 4, "mode": "standard"},
        )
        stack = contextlib.AsyncExitStack()
        client = await stack.enter_async_context(
            aioboto3.Session().client(
                "s3",
                endpoint_url=s.endpoint_url or None,
                region_name=s.region,
                aws_access_key_id=s.access_key or None,
                aws_secret_access_key=s.secret_key.get_secret_value() or None,
                config=config,
            )
        )
        try:
            await self._ensure_bucket(client)
        except BaseException:
            await stack.aclose()
            raise
        self._client, self._stack = client, stack

    async def _ensure_bucket(self, client: Any) -> None:
        try:
            await client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as error:
            if _code(error) not in MISSING:
                raise StorageError(f"bucket {self.bucket!r}: {_code(error)}") from None
        if not self._settings.create_bucket:
            raise StorageError(f"bucket {self.bucket!r} does not exist (see create_bucket)")
        where: dict[str, Any] = {}
        if self._settings.region != "us-east-1":
            where = {"CreateBucketConfiguration": {"LocationConstraint": self._settings.region}}
        await client.create_bucket(Bucket=self.bucket, **where)
        log.info("created bucket %s for store %s", self.bucket, self.name)

    async def close(self) -> None:
        stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def take_file(self, key: str, src: Path) -> int:
        size = await self.put_file(key, src)
        src.unlink(missing_ok=True)
        return size

    async def put_file(self, key: str, src: Path) -> int:
        full = self._key(key)
        s3 = await self._s3()
        handle = await asyncio.to_thread(src.open, "rb")
        try:
            total = os.fstat(handle.fileno()).st_size
            if total <= PART:
                data = await asyncio.to_thread(handle.read)
                await s3.put_object(Bucket=self.bucket, Key=full, Body=data)
                return len(data)
            return await self._multipart(s3, full, handle, part_size(total))
        finally:
            handle.close()

    async def _multipart(self, s3: Any, full: str, handle: BinaryIO, size: int) -> int:
        upload = await s3.create_multipart_upload(Bucket=self.bucket, Key=full)
        upload_id = upload["UploadId"]
        parts: list[dict[str, Any]] = []
        sent = 0
        try:
            while True:
                data = await asyncio.to_thread(handle.read, size)
                if not data and parts:
                    break
                answer = await s3.upload_part(
                    Bucket=self.bucket,
                    Key=full,
                    UploadId=upload_id,
                    PartNumber=len(parts) + 1,
                    Body=data,
                )
                parts.append({"ETag": answer["ETag"], "PartNumber": len(parts) + 1})
                sent += len(data)
                if len(data) < size:
                    break
                data = b""  # let the part go before reading the next
            await s3.complete_multipart_upload(
                Bucket=self.bucket, Key=full, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            with contextlib.suppress(Exception):
                await s3.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id)
            raise
        return sent

    async def put_bytes(self, key: str, data: bytes) -> None:
        full = self._key(key)
        s3 = await self._s3()
        await s3.put_object(Bucket=self.bucket, Key=full, Body=bytes(data))

    async def size(self, key: str) -> int:
        full = self._key(key)
        s3 = await self._s3()
        try:
            head = await s3.head_object(Bucket=self.bucket, Key=full)
        except ClientError as error:
            if _code(error) in MISSING:
                raise BlobNotFound(key) from None
            raise
        return int(head["ContentLength"])

    async def exists(self, key: str) -> bool:
        try:
            await self.size(key)
        except BlobNotFound:
            return False
        return True

    def read_range(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncGenerator[bytes, None]:
        _check_range(start, end)
        return self._stream(self._key(key), key, start, end)

    async def _stream(
        self, full: str, key: str, start: int, end: int | None
    ) -> AsyncGenerator[bytes, None]:
        s3 = await self._s3()
        ranged: dict[str, str] = {}
        if end == start:  # nothing to read, but a missing key is still an error
            await self.size(key)
            return
        if start or end is not None:
            ranged["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            answer = await s3.get_object(Bucket=self.bucket, Key=full, **ranged)
        except ClientError as error:
            if _code(error) == "InvalidRange":  # starts at or past the end
                return
            if _code(error) in MISSING:
                raise BlobNotFound(key) from None
            raise
        body = answer["Body"]
        async with body:
            while chunk := await body.read(CHUNK):
                yield chunk

    async def download_to(self, key: str, dst: Path) -> None:
        async with contextlib.aclosing(self._stream(self._key(key), key, 0, None)) as chunks:
            first = await anext(chunks, b"")  # a missing key fails here, before dst is touched

            async def rest() -> AsyncIterator[bytes]:
                yield first
                async for chunk in chunks:
                    yield chunk

            await write_atomically(dst, rest())

    async def delete(self, key: str) -> None:
        full = self._key(key)
        s3 = await self._s3()
        await s3.delete_object(Bucket=self.bucket, Key=full)

    async def delete_prefix(self, prefix: str) -> int:
        folder = self._key(prefix) + "/"
        s3 = await self._s3()
        count = 0
        while True:  # always the first page: what was deleted no longer lists
            page = await s3.list_objects_v2(Bucket=self.bucket, Prefix=folder, MaxKeys=1000)
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if not keys:
                return count
            answer = await s3.delete_objects(
                Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True}
            )
            if answer.get("Errors"):
                error = answer["Errors"][0]
                raise StorageError(f"could not delete {error.get('Key')!r}: {error.get('Code')}")
            count += len(keys)


# --- tiers and lifecycle ----------------------------------------------------------------


def open_store(settings: BackendSettings, default_root: Path) -> BlobStore:
    """The store ``settings`` describe; a local one without ``root`` uses ``default_root``."""
    if settings.backend == "s3":
        return S3Store(settings)
    return LocalStore(settings.root or default_root, settings.name or "local")


class Stored(Protocol):
    """Anything that records which store holds its files (e.g. ``MediaItem``)."""

    @property
    def storage(self) -> str: ...


class Tiered:
    """The configured stores by name: new items go to ``hot``, reads go where items are."""

    def __init__(self, stores: Mapping[str, BlobStore], hot: str) -> None:
        if hot not in stores:
            raise UnknownStore(f"no store named {hot!r}")
        self.stores = dict(stores)
        self.hot = self.stores[hot]

    @classmethod
    def from_settings(cls, settings: StorageSettings, data_dir: Path) -> Tiered:
        hot = open_store(settings, data_dir / "library")
        stores = {hot.name: hot}
        if settings.cold is not None:
            cold = open_store(settings.cold, data_dir / "library-cold")
            stores[cold.name] = cold
        return cls(stores, hot.name)

    def open(self, name: str) -> BlobStore:
        try:
            return self.stores[name]
        except KeyError:
            raise UnknownStore(f"no store named {name!r} is configured") from None

    def for_item(self, item: Stored) -> BlobStore:
        return self.open(item.storage)

    async def close(self) -> None:
        for store in self.stores.values():
            await store.close()


async def copy(key: str, src: BlobStore, dst: BlobStore, scratch: Path | None = None) -> int:
    """Copy ``key`` between stores in constant memory and check the copy's size.

    Through a temporary file in ``scratch`` when neither side is a local folder.
    """
    if src is dst:
        raise ValueError("source and destination are the same store")
    expected = await src.size(key)
    if isinstance(src, LocalStore):
        await dst.put_file(key, src.path(key))
    elif isinstance(dst, LocalStore):
        await src.download_to(key, dst.path(key))
    else:
        with tempfile.TemporaryDirectory(prefix="vigil-move-", dir=scratch) as folder:
            spooled = Path(folder) / "blob"
            await src.download_to(key, spooled)
            await dst.put_file(key, spooled)
    copied = await dst.size(key)
    if copied != expected:
        await dst.delete(key)
        raise CopyMismatch(f"{key!r}: copied {copied} bytes of {expected} to {dst.name}")
    return copied


async def move(key: str, src: BlobStore, dst: BlobStore, scratch: Path | None = None) -> int:
    """Copy, verify the size, then delete the source; returns the size."""
    size = await copy(key, src, dst, scratch)
    await src.delete(key)
    log.info("moved %s (%d bytes) from %s to %s", key, size, src.name, dst.name)
    return size


class Lifecycle:
    """Moves items older than ``after_days`` from the hot store to the cold one."""

    def __init__(
        self, hot: BlobStore, cold: BlobStore, after_days: float, scratch: Path | None = None
    ) -> None:
        self.hot, self.cold, self.after_days, self.scratch = hot, cold, after_days, scratch

    @classmethod
    def from_settings(cls, settings: StorageSettings, tiered: Tiered) -> Lifecycle | None:
        """The configured lifecycle, or None when items stay hot."""
        if settings.cold is None or settings.cold_after_days is None:
            return None
        return cls(tiered.hot, tiered.open(settings.cold.name), settings.cold_after_days)

    def cutoff_ms(self, now_ms: int) -> int:
        """Items created before this instant are due to move."""
        return now_ms - round(self.after_days * DAY_MS)

    async def move_item(
        self,
        keys: Iterable[str | None],
        on_copied: Callable[[], Awaitable[None]] | None = None,
    ) -> int:
        """Move one item's files (None keys skipped); returns the bytes moved.

        All files are copied and checked first, then ``on_copied`` runs (record the item's new
        store there), and only then are the hot copies deleted: a failure before that point
        removes the cold copies and leaves the item whole where it was; a hot copy that
        cannot be deleted afterwards is only logged (the item is already cold).
        """
        wanted = list(dict.fromkeys(key for key in keys if key))
        done: list[str] = []
        total = 0
        try:
            for key in wanted:
                total += await copy(key, self.hot, self.cold, self.scratch)
                done.append(key)
            if on_copied is not None:
                await on_copied()
        except BaseException:
            for key in done:
                with contextlib.suppress(Exception):
                    await self.cold.delete(key)
            raise
        for key in wanted:  # the item is safely cold now: a leftover is only wasted space
            try:
                await self.hot.delete(key)
            except Exception as error:
                log.warning("moved %s; deleting it from %s failed: %s", key, self.hot.name, error)
        log.info("moved %d files (%d bytes) to %s", len(wanted), total, self.cold.name)
        return total
