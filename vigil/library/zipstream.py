"""A ZIP of library items' originals, made as it is sent: constant memory whatever the size.

Pictures and videos are compressed already, so entries are stored as they are (no deflate:
the archive costs no CPU beyond its CRC-32). The archive is written to an output that cannot
seek, so each entry carries a data descriptor after its bytes, and entries of 2 GiB or more
get ZIP64 fields; every common unzip tool reads both.
"""

from __future__ import annotations

import contextlib
import io
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath

from vigil.library.storage import BlobStore
from vigil.store.models import MediaItem

_EARLIEST = (1980, 1, 1, 0, 0, 0)  # ZIP dates start in 1980


@dataclass(frozen=True, slots=True)
class Entry:
    item: MediaItem
    blobs: BlobStore


class _Sink(io.RawIOBase):
    """Where the archive is written: bytes wait here until the response takes them."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def entry_names(items: Iterable[MediaItem]) -> list[str]:
    """Each item's file name, made unique within the archive ("IMG_1.jpg", "IMG_1 (2).jpg")."""
    seen: set[str] = set()
    names = []
    for item in items:
        path = PurePosixPath(item.filename or f"item-{item.id}")
        name, n = path.name, 1
        while name.lower() in seen:
            n += 1
            name = f"{path.stem} ({n}){path.suffix}"
        seen.add(name.lower())
        names.append(name)
    return names


def _date_time(ms: int) -> tuple[int, int, int, int, int, int]:
    at = datetime.fromtimestamp(ms / 1000, UTC)
    stamp = (at.year, at.month, at.day, at.hour, at.minute, at.second)
    return max(stamp, _EARLIEST)


async def zip_items(
    entries: list[Entry], sent: Callable[[MediaItem], Awaitable[None]]
) -> AsyncIterator[bytes]:
    """The archive's bytes, entry by entry; ``sent(item)`` after each item's last byte."""
    sink = _Sink()
    # ZipFile only ever calls the sink's write(); it finds the sink cannot seek and writes
    # data descriptors.
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as archive:
        for entry, name in zip(entries, entry_names(e.item for e in entries), strict=True):
            info = zipfile.ZipInfo(name, _date_time(entry.item.captured_at))
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = entry.item.size  # ZIP64 fields when it needs them
            with archive.open(info, "w") as out:
                async with contextlib.aclosing(entry.blobs.read_range(entry.item.key)) as chunks:
                    async for chunk in chunks:
                        out.write(chunk)
                        yield sink.take()
            yield sink.take()
            await sent(entry.item)
    yield sink.take()  # the central directory
