"""Where a node keeps recordings: ``<camera>/<YYYY-MM-DD>/<HH>/<start>.mp4`` in UTC.

A file's name is its start instant (``20261122T140203.120Z.mp4``), so the folder alone says
what it holds. ffmpeg writes into the camera's ``.incoming`` folder; a segment moves to its
place only once it is finished, so everything outside ``.incoming`` is complete.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from vigil.timeutil import ms_to_datetime

INCOMING = ".incoming"
# In ``.incoming``: where the segments after the last one finished start (name and instant),
# so that a segment left there by a crash or a stall is placed where its frames belong.
INCOMING_MARK = "last-finished"
SUFFIX = ".mp4"
# Files that belong to a segment and go with it: its scrubbing preview (vigil.playback).
PREVIEW_SUFFIX = ".jpg"
_NAME_FORMAT = "%Y%m%dT%H%M%S"


class UnsafePath(ValueError):
    """A storage key that would leave the recordings folder."""


def segment_key(camera_id: int, start_ms: int) -> str:
    """The storage key (relative path) of the segment starting at ``start_ms``."""
    when = ms_to_datetime(start_ms)
    name = f"{when.strftime(_NAME_FORMAT)}.{start_ms % 1000:03d}Z{SUFFIX}"
    return f"{camera_id}/{when:%Y-%m-%d}/{when:%H}/{name}"


# Event snapshots live apart from segments, so nothing that walks a camera's footage sees them.
SNAPSHOTS_DIR = "events"


def snapshot_key(camera_id: int, time_ms: int, uid: str) -> str:
    """The storage key of an event's snapshot (``uid`` is the node's own, [0-9a-f])."""
    when = ms_to_datetime(time_ms)
    return f"{SNAPSHOTS_DIR}/{camera_id}/{when:%Y-%m-%d}/{uid}.jpg"


def start_from_key(key: str) -> int | None:
    """The start instant encoded in a storage key, or None if it is not one of ours."""
    name = PurePosixPath(key).name
    if not name.endswith("Z" + SUFFIX):
        return None
    stem = name[: -len("Z" + SUFFIX)]
    try:
        base, millis = stem.split(".")
        when = datetime.strptime(base, _NAME_FORMAT).replace(tzinfo=UTC)
        return int(when.timestamp()) * 1000 + int(millis)
    except ValueError:
        return None


class RecordingsLayout:
    """Maps storage keys to files under one root, refusing any key that escapes it."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path(self, key: str) -> Path:
        pure = PurePosixPath(key)
        if pure.is_absolute() or ".." in pure.parts or not key or "\x00" in key:
            raise UnsafePath(key)
        path = (self.root / pure).resolve()
        if not path.is_relative_to(self.root):
            raise UnsafePath(key)
        return path

    def segment_path(self, camera_id: int, start_ms: int) -> tuple[str, Path]:
        """The key and file of a camera's segment starting at ``start_ms``: made of numbers
        only, it stays under the root without the checks :meth:`path` makes (which cost a
        system call a folder)."""
        key = segment_key(camera_id, start_ms)
        return key, self.root / key

    def key(self, path: Path) -> str:
        return path.resolve().relative_to(self.root).as_posix()

    def camera_dir(self, camera_id: int) -> Path:
        return self.root / str(camera_id)

    def incoming_dir(self, camera_id: int) -> Path:
        return self.camera_dir(camera_id) / INCOMING

    def segments_on_disk(self, camera_id: int) -> Iterator[Path]:
        """Every finished segment file of a camera (not the ones being written)."""
        camera_dir = self.camera_dir(camera_id)
        if camera_dir.is_dir():
            yield from camera_dir.glob(f"????-??-??/??/*{SUFFIX}")


def preview_path(segment: Path) -> Path:
    """The preview image kept beside a segment file."""
    return segment.with_suffix(PREVIEW_SUFFIX)


def remove_segment_file(segment: Path, root: Path) -> None:
    """Delete a segment file with the files beside it that belong to it, then empty folders."""
    segment.unlink(missing_ok=True)
    preview_path(segment).unlink(missing_ok=True)
    prune_empty(segment.parent, root)


def prune_empty(folder: Path, root: Path) -> None:
    """Remove hour and day folders left empty."""
    for _ in range(2):
        if folder == root or not folder.is_relative_to(root):
            return
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
