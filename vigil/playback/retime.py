"""Recorded fragments served on the playlist's timeline, for players that splice files.

Every recorded file's timestamps start at zero. hls.js and Safari honour the playlist's
``EXT-X-DISCONTINUITY`` and start each file afresh; ffmpeg's HLS reader (ffmpeg, mpv, VLC's
and PyAV's use of it) ignores it and feeds every file to one MP4 demuxer, which drops each
sample not later than the last one it has seen: about the first keyframe interval of every
file. So the playlist asks for each file's fragments shifted to where the file lies on one
timeline (``?shift=<µs>``), and they are served with every track's ``tfdt`` (the fragment's
first decode time) moved by that much: the bytes of the media are untouched, the lengths
and byte ranges stay the same, and any reader sees timestamps that keep increasing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from vigil.playback.fragments import FragmentCache, FragmentIndex

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(ValueError):
    """A Range header this file cannot answer (416)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"no such byte range in {size} bytes")
        self.size = size


class CannotShift(ValueError):
    """A decode time would leave its field (a 32-bit tfdt overflowing, or below zero)."""


def shift_ticks(index: FragmentIndex, shift_us: int) -> dict[int, int]:
    """The shift of each track, in its own timescale (every track moves by the same time)."""
    return {track: round(shift_us * scale / 1_000_000) for track, scale in index.timescales}


@dataclass(frozen=True, slots=True)
class Part:
    """Bytes ``[first, last]`` of a ``size``-byte file, as served."""

    body: bytes
    first: int
    last: int
    size: int


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one inclusive byte range a ``Range`` header asks for, None for the whole file;
    RangeNotSatisfiable when it lies outside the file or is not a single byte range."""
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None or match[1] == match[2] == "":
        raise RangeNotSatisfiable(size)
    if match[1] == "":  # the last N bytes
        first, last = max(size - int(match[2]), 0), size - 1
    else:
        first = int(match[1])
        last = min(int(match[2]), size - 1) if match[2] else size - 1
    if first > last or first >= size:
        raise RangeNotSatisfiable(size)
    return first, last


def read_shifted(cache: FragmentCache, path: Path, range_header: str | None, shift_us: int) -> Part:
    """The bytes of ``path`` a Range header asks for (all without one), with the decode time
    of every fragment in them moved by ``shift_us``. OSError, NotFragmented (from the
    cache), RangeNotSatisfiable, CannotShift."""
    size = path.stat().st_size
    first, last = byte_range(range_header, size) or (0, size - 1)
    return read_range_shifted(cache, path, first, last, shift_us)


def read_range_shifted(
    cache: FragmentCache, path: Path, first: int, last: int, shift_us: int
) -> Part:
    """Bytes ``[first, last]`` of ``path`` (fewer at its end), with the decode time of every
    fragment in them moved by ``shift_us``. OSError, NotFragmented, CannotShift."""
    index = cache.get(path)
    ticks = shift_ticks(index, shift_us)
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        handle.seek(first)
        body = bytearray(handle.read(last - first + 1))
        last = first + len(body) - 1
        for fragment in index.fragments:
            if fragment.offset > last or fragment.offset + fragment.size <= first:
                continue
            for field in fragment.decode_times:
                if field.offset > last or field.offset + field.width <= first:
                    continue
                # Read whole: a field may straddle the range's edge (the next read gets the rest).
                handle.seek(field.offset)
                value = int.from_bytes(handle.read(field.width), "big")
                value += ticks.get(field.track_id, 0)
                if not 0 <= value < 1 << (8 * field.width):
                    raise CannotShift(f"{path.name}: decode time {value} out of its field")
                moved = value.to_bytes(field.width, "big")
                lo, hi = max(field.offset, first), min(field.offset + field.width, last + 1)
                body[lo - first : hi - first] = moved[lo - field.offset : hi - field.offset]
    return Part(bytes(body), first, last, size)
