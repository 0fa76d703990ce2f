"""Where each fragment of a recorded fragmented MP4 file lies, read from box headers only.

A segment file is ``ftyp``, ``moov`` (the init part), then one ``moof`` + ``mdat`` pair per
keyframe, then ``mfra``. The index gives the byte ranges an HLS playlist points into and the
video decode times that place each fragment on the wall clock. Only a few hundred bytes of
each file are read: the moov and every moof, never the media data.
"""

from __future__ import annotations

import os
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# ISO/IEC 14496-12 sample flags: sample_is_non_sync_sample.
_NON_SYNC = 0x0001_0000
_CONTAINERS = {"moov", "trak", "mdia", "minf", "stbl", "mvex", "moof", "traf", "edts"}
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


@dataclass(frozen=True, slots=True)
class FragmentIndex:
    init_length: int  # ftyp + moov: the EXT-X-MAP byte range
    timescale: int  # of the video track (mdhd)
    fragments: tuple[Fragment, ...]

    def seconds(self, ticks: int) -> float:
        return ticks / self.timescale

    @property
    def first_decode_time(self) -> int:
        return self.fragments[0].decode_time


@dataclass(slots=True)
class _Track:
    track_id: int = 0
    handler: str = ""
    timescale: int = 0
    default_duration: int = 0  # trex
    default_flags: int = 0  # trex


def _boxes(data: bytes, start: int, end: int) -> list[tuple[str, int, int]]:
    """(type, payload start, box end) of the boxes in ``data[start:end]``."""
    found = []
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                break
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            break
        found.append((kind.decode("latin-1"), pos + header, pos + size))
        pos += size
    return found


def _walk(data: bytes, start: int, end: int, out: dict[str, list[tuple[int, int]]]) -> None:
    for kind, body, stop in _boxes(data, start, end):
        out.setdefault(kind, []).append((body, stop))
        if kind in _CONTAINERS:
            _walk(data, body, stop, out)


def _tracks(moov: bytes) -> dict[int, _Track]:
    tracks: dict[int, _Track] = {}
    top = _boxes(moov, 0, len(moov))
    for kind, body, stop in top:
        if kind == "trak":
            inner: dict[str, list[tuple[int, int]]] = {}
            _walk(moov, body, stop, inner)
            track = _Track()
            if "tkhd" in inner:
                pos = inner["tkhd"][0][0]
                version = moov[pos]
                track.track_id = struct.unpack_from(">I", moov, pos + (20 if version else 12))[0]
            if "mdhd" in inner:
                pos = inner["mdhd"][0][0]
                version = moov[pos]
                track.timescale = struct.unpack_from(">I", moov, pos + (20 if version else 12))[0]
            if "hdlr" in inner:
                pos = inner["hdlr"][0][0]
                track.handler = moov[pos + 8 : pos + 12].decode("latin-1")
            tracks[track.track_id] = track
        elif kind == "mvex":
            for sub, sub_body, _ in _boxes(moov, body, stop):
                if sub == "trex":
                    track_id, _, duration, _, flags = struct.unpack_from(
                        ">IIIII", moov, sub_body + 4
                    )
                    extends = tracks.setdefault(track_id, _Track(track_id=track_id))
                    extends.default_duration = duration
                    extends.default_flags = flags
    return tracks


def _video_fragment(moof: bytes, track: _Track) -> tuple[int, int, bool] | None:
    """(decode time, duration, starts with a keyframe) of the video track's run in a moof."""
    for kind, body, stop in _boxes(moof, 0, len(moof)):
        if kind != "traf":
            continue
        inner = dict((k, (b, s)) for k, b, s in _boxes(moof, body, stop))
        if "tfhd" not in inner:
            continue
        pos = inner["tfhd"][0]
        tf_flags = int.from_bytes(moof[pos + 1 : pos + 4], "big")
        if struct.unpack_from(">I", moof, pos + 4)[0] != track.track_id:
            continue
        pos += 8
        if tf_flags & 0x01:  # base-data-offset
            pos += 8
        if tf_flags & 0x02:  # sample-description-index
            pos += 4
        default_duration = track.default_duration
        default_flags = track.default_flags
        if tf_flags & 0x08:
            default_duration = struct.unpack_from(">I", moof, pos)[0]
            pos += 4
        if tf_flags & 0x10:
            pos += 4
        if tf_flags & 0x20:
            default_flags = struct.unpack_from(">I", moof, pos)[0]
        decode_time = 0
        if "tfdt" in inner:
            pos = inner["tfdt"][0]
            if moof[pos] == 1:
                decode_time = struct.unpack_from(">Q", moof, pos + 4)[0]
            else:
                decode_time = struct.unpack_from(">I", moof, pos + 4)[0]
        duration = 0
        keyframe: bool | None = None
        for kind2, run, _ in _boxes(moof, body, stop):
            if kind2 != "trun":
                continue
            flags = int.from_bytes(moof[run + 1 : run + 4], "big")
            count = struct.unpack_from(">I", moof, run + 4)[0]
            pos = run + 8
            if flags & 0x001:  # data-offset
                pos += 4
            first_flags: int | None = None
            if flags & 0x004:
                first_flags = struct.unpack_from(">I", moof, pos)[0]
                pos += 4
            per_sample = 4 * bin(flags & 0xF00).count("1")
            for i in range(count):
                field = pos
                sample_duration = default_duration
                if flags & 0x100:
                    sample_duration = struct.unpack_from(">I", moof, field)[0]
                    field += 4
                if flags & 0x200:
                    field += 4
                sample_flags = default_flags
                if flags & 0x400:
                    sample_flags = struct.unpack_from(">I", moof, field)[0]
                if i == 0 and first_flags is not None:
                    sample_flags = first_flags
                if keyframe is None:
                    keyframe = not sample_flags & _NON_SYNC
                duration += sample_duration
                pos += per_sample
        return decode_time, duration, bool(keyframe)
    return None


def _read(handle: BinaryIO, offset: int, size: int) -> bytes:
    handle.seek(offset)
    return handle.read(size)


def read_fragment_index(path: Path) -> FragmentIndex:
    """Index the fragments of a fragmented MP4 file; a torn tail is left out."""
    with path.open("rb") as handle:
        file_size = os.fstat(handle.fileno()).st_size
        offset = 0
        track: _Track | None = None
        init_length = 0
        pending: tuple[int, bytes] | None = None  # a moof waiting for its mdat
        found: list[tuple[int, int, int, int, bool]] = []  # offset, size, dts, duration, key
        while offset + 8 <= file_size:
            header = _read(handle, offset, 16)
            size, raw_kind = struct.unpack_from(">I4s", header)
            if size == 1 and len(header) == 16:
                size = struct.unpack_from(">Q", header, 8)[0]
            elif size == 0:
                size = file_size - offset
            if size < 8 or offset + size > file_size:
                break
            kind = raw_kind.decode("latin-1")
            if kind in ("moov", "moof") and size > _MAX_HEADER_BOX:
                raise NotFragmented(f"{path.name}: {kind} of {size} bytes")
            if kind == "moov":
                body = _read(handle, offset + 8, size - 8)
                tracks = _tracks(body)
                track = next((t for t in tracks.values() if t.handler == "vide"), None)
                init_length = offset + size
            elif kind == "moof" and track is not None:
                pending = (offset, _read(handle, offset + 8, size - 8))
            elif kind == "mdat" and pending is not None and track is not None:
                video = _video_fragment(pending[1], track)
                if video is not None:
                    decode_time, duration, keyframe = video
                    found.append(
                        (pending[0], offset + size - pending[0], decode_time, duration, keyframe)
                    )
                pending = None
            offset += size
    if track is None or not track.timescale:
        raise NotFragmented(f"{path.name}: no video track in a moov")
    if not found:
        raise NotFragmented(f"{path.name}: no complete fragment")
    fragments = []
    for i, (off, size, dts, duration, key) in enumerate(found):
        if not duration and i + 1 < len(found):
            duration = found[i + 1][2] - dts
        fragments.append(Fragment(off, size, dts, duration, key))
    return FragmentIndex(init_length, track.timescale, tuple(fragments))


class FragmentCache:
    """Fragment indexes of recently used files, keyed by path, size and modification time, so
    a changed file (a repaired one, a new file at the same path) is read again."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[tuple[str, int, int], FragmentIndex] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path) -> FragmentIndex:
        """The index of ``path``; OSError if it cannot be read, NotFragmented if unplayable."""
        info = path.stat()
        key = (str(path), info.st_size, info.st_mtime_ns)
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
                return hit
        index = read_fragment_index(path)
        with self._lock:
            self._entries[key] = index
            while len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
        return index

    def __len__(self) -> int:
        return len(self._entries)
