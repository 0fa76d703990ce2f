"""Where each fragment of a recorded fragmented MP4 file lies, read from box headers only.

A segment file is ``ftyp``, ``moov`` (the init part), then one ``moof`` + ``mdat`` pair per
keyframe, then ``mfra``. The index gives the byte ranges an HLS playlist points into, the
video decode times that place each fragment on the wall clock, and where each track's decode
time (``tfdt``) lies in the file, so a fragment can be served on another timeline
(:mod:`vigil.playback.retime`). Only a few hundred bytes of each file are read: the moov and
every moof, never the media data.
"""

from __future__ import annotations

import dataclasses
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from vigil.media.fmp4 import DecodeTime, Track, decode_times, parse_fragment, parse_init
from vigil.media.mp4 import Box, MalformedMp4, file_boxes

_MAX_HEADER_BOX = 64 << 20  # a moov or moof larger than this is not one of ours


class NotFragmented(ValueError):
    """The file is not a playable fragmented MP4 (no moov, no video track or no fragment)."""


@dataclass(frozen=True, slots=True)
class Fragment:
    offset: int  # of the moof
    size: int  # moof + mdat
    decode_time: int  # tfdt of the video track, in the track's timescale
    duration: int  # of the video samples, in the track's timescale
    keyframe: bool  # starts with a sync sample
    decode_times: tuple[DecodeTime, ...] = ()  # every track's tfdt in this moof


@dataclass(frozen=True, slots=True)
class FragmentIndex:
    init_length: int  # ftyp + moov: the EXT-X-MAP byte range
    timescale: int  # of the video track (mdhd)
    fragments: tuple[Fragment, ...]
    timescales: tuple[tuple[int, int], ...] = ()  # (track id, timescale) of every track

    def seconds(self, ticks: int) -> float:
        return ticks / self.timescale

    @property
    def first_decode_time(self) -> int:
        return self.fragments[0].decode_time


def _read(handle: BinaryIO, box: Box) -> bytes:
    handle.seek(box.offset)
    return handle.read(box.size)


def read_fragment_index(path: Path) -> FragmentIndex:
    """Index the fragments of a fragmented MP4 file; a torn tail is left out."""
    listing = file_boxes(path)
    video: Track | None = None
    timescales: tuple[tuple[int, int], ...] = ()
    init_length = 0
    pending: tuple[Box, bytes] | None = None  # a moof waiting for its mdat
    found: list[Fragment] = []  # with the video duration, 0 when the moof did not say
    with path.open("rb") as handle:
        for box in listing.boxes:
            if box.type in ("moov", "moof") and box.size > _MAX_HEADER_BOX:
                raise NotFragmented(f"{path.name}: {box.type} of {box.size} bytes")
            try:
                if box.type == "moov":
                    init = parse_init(_read(handle, box))
                    video = init.video
                    timescales = tuple((t.track_id, t.timescale) for t in init.tracks)
                    init_length = box.end
                elif box.type == "moof" and video is not None:
                    pending = (box, _read(handle, box))
                elif box.type == "mdat" and pending is not None and video is not None:
                    moof_box, moof = pending
                    pending = None
                    info = parse_fragment(moof, video)
                    if info.decode_time is None:
                        continue  # no video in this fragment
                    found.append(
                        Fragment(
                            moof_box.offset,
                            box.end - moof_box.offset,
                            info.decode_time,
                            info.duration,
                            info.keyframe,
                            tuple(
                                dataclasses.replace(t, offset=moof_box.offset + t.offset)
                                for t in decode_times(moof)
                            ),
                        )
                    )
            except (MalformedMp4, struct.error, IndexError) as exc:
                raise NotFragmented(f"{path.name}: {exc}") from None
    if video is None or not video.timescale:
        raise NotFragmented(f"{path.name}: no video track in a moov")
    if not found:
        raise NotFragmented(f"{path.name}: no complete fragment")
    fragments = [
        dataclasses.replace(f, duration=found[i + 1].decode_time - f.decode_time)
        if not f.duration and i + 1 < len(found)
        else f
        for i, f in enumerate(found)
    ]
    return FragmentIndex(init_length, video.timescale, tuple(fragments), timescales)


class FragmentCache:
    """Fragment indexes of recently used files, keyed by path, size and modification time, so
    a changed file (a repaired one, a new file at the same path) is read again. At most
    ``capacity`` of them, and none unused for ``max_idle_seconds``: a node serving a few
    cameras' recent footage keeps what it reads again, not a day of what it read once."""

    def __init__(
        self,
        capacity: int = 10_000,
        max_idle_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = capacity
        self._max_idle = max_idle_seconds
        self._clock = clock
        # Least recently used first, each with when it was last used.
        self._entries: OrderedDict[tuple[str, int, int], tuple[FragmentIndex, float]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def get(self, path: Path) -> FragmentIndex:
        """The index of ``path``; OSError if it cannot be read, NotFragmented if unplayable."""
        info = path.stat()
        key = (str(path), info.st_size, info.st_mtime_ns)
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries[key] = (hit[0], self._clock())
                self._entries.move_to_end(key)
                return hit[0]
        index = read_fragment_index(path)
        with self._lock:
            now = self._clock()
            self._entries[key] = (index, now)
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
            while self._entries:
                _, (_, used) = next(iter(self._entries.items()))
                if now - used <= self._max_idle:
                    break
                self._entries.popitem(last=False)
        return index

    def __len__(self) -> int:
        return len(self._entries)
