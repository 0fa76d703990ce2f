"""Just enough of the MP4 box structure to check and repair fragmented MP4 files."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Box:
    type: str
    offset: int
    size: int

    @property
    def end(self) -> int:
        return self.offset + self.size


def top_level_boxes(path: Path) -> tuple[list[Box], int]:
    """The complete top-level boxes of ``path`` and the file's size. A box cut short at the
    end (a crash mid-write) is left out."""
    boxes: list[Box] = []
    with path.open("rb") as handle:
        file_size = os.fstat(handle.fileno()).st_size
        offset = 0
        while offset + 8 <= file_size:
            handle.seek(offset)
            header = handle.read(16)
            size, kind = struct.unpack(">I4s", header[:8])
            if size == 1 and len(header) == 16:
                size = struct.unpack(">Q", header[8:16])[0]
            elif size == 0:
                size = file_size - offset
            if size < 8 or offset + size > file_size:
                break
            boxes.append(Box(kind.decode("latin-1"), offset, size))
            offset += size
    return boxes, file_size


def complete_length(boxes: list[Box]) -> int:
    """Bytes of the playable prefix: header boxes, then whole moof+mdat fragments."""
    end = 0
    pending_moof = False
    for box in boxes:
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
    boxes, size = top_level_boxes(path)
    length = complete_length(boxes)
    if not any(b.type == "moov" for b in boxes) or not any(b.type == "mdat" for b in boxes):
        return False
    if length < size:
        os.truncate(path, length)
    return any(b.type == "mdat" and b.end <= length for b in boxes)
