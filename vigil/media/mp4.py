"""ISO BMFF (MP4) boxes, in memory and in files: the one box walker every part of Vigil uses,
and the repair of a fragmented MP4 file cut short by a crash."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class MalformedMp4(ValueError):
    """Bytes that do not hold the boxes expected of (fragmented) MP4."""


def boxes(
    data: bytes | memoryview, start: int = 0, end: int | None = None
) -> Iterator[tuple[str, int, int]]:
    """(type, payload start, box end) of each box in ``data[start:end]``; MalformedMp4 for a
    box that runs past its parent."""
    end = len(data) if end is None else end
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        header = 8
        if size == 1:
            if offset + 16 > end:
                raise MalformedMp4("truncated 64-bit box size")
            (size,) = struct.unpack_from(">Q", data, offset + 8)
            header = 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            raise MalformedMp4(f"box {kind!r} at {offset} overruns its parent")
        yield kind.decode("latin-1"), offset + header, offset + size
        offset += size


def child(data: bytes, start: int, end: int, kind: str) -> tuple[int, int] | None:
    """(payload start, end) of the first ``kind`` box in ``data[start:end]``."""
    for found, payload, box_end in boxes(data, start, end):
        if found == kind:
            return payload, box_end
    return None


def descend(data: bytes, start: int, end: int, *kinds: str) -> tuple[int, int] | None:
    """(payload start, end) of the box reached through ``kinds``, e.g. "mdia", "mdhd"."""
    span: tuple[int, int] | None = (start, end)
    for kind in kinds:
        if span is None:
            return None
        span = child(data, span[0], span[1], kind)
    return span


@dataclass(frozen=True, slots=True)
class Box:
    type: str
    offset: int
    size: int

    @property
    def end(self) -> int:
        return self.offset + self.size


@dataclass(frozen=True, slots=True)
class FileBoxes:
    """A file's complete top-level boxes, read from their headers only."""

    boxes: list[Box]
    size: int  # of the file
    # Where the box after the last complete one says it ends, past the end of the file (a
    # file cut short mid-box); None when the boxes end with the file or at bytes that are no
    # box header at all.
    cut_short_at: int | None


def file_boxes(path: Path, max_boxes: int | None = None) -> FileBoxes:
    """The top-level boxes of ``path``, at most ``max_boxes`` of them; a box cut short at the
    end (a crash or an upload mid-write) is left out and reported in ``cut_short_at``."""
    found: list[Box] = []
    cut_short_at = None
    with path.open("rb") as handle:
        file_size = os.fstat(handle.fileno()).st_size
        offset = 0
        while offset + 8 <= file_size and (max_boxes is None or len(found) < max_boxes):
            handle.seek(offset)
            header = handle.read(16)
            size, kind = struct.unpack(">I4s", header[:8])
            if size == 1 and len(header) == 16:
                size = struct.unpack(">Q", header[8:16])[0]
            elif size == 0:  # the last box, to the end of the file
                size = file_size - offset
            if size < 8:
                break  # not a box header
            if offset + size > file_size:
                cut_short_at = offset + size
                break
            found.append(Box(kind.decode("latin-1"), offset, size))
            offset += size
    return FileBoxes(found, file_size, cut_short_at)


def complete_length(found: list[Box]) -> int:
    """Bytes of the playable prefix: header boxes, then whole moof+mdat fragments."""
    end = 0
    pending_moof = False
    for box in found:
        if box.type == "moof":
            pending_moof = True
            continue
        if box.type == "mdat":
            if pending_moof:
                end = box.end
            pending_moof = False
            continue
        if pending_moof:
            break
        end = box.end
    return end


def repair_fragmented(path: Path) -> bool:
    """Cut a fragmented MP4 back to its last whole fragment. True if any fragment remains."""
    listing = file_boxes(path)
    found = listing.boxes
    length = complete_length(found)
    if not any(b.type == "moov" for b in found) or not any(b.type == "mdat" for b in found):
        return False
    if length < listing.size:
        os.truncate(path, length)
    return any(b.type == "mdat" and b.end <= length for b in found)
