"""A short live HLS window in memory, built from the live stream's fragments.

Each media segment is one GOP (the fragments from a keyframe up to the next), its EXT-X-MAP
the init segment of the ffmpeg run that wrote it; a restart of ffmpeg is a discontinuity.
Players without MSE (Safari on iPhone, VLC) use it; nothing touches the disk.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HlsSegment:
    sequence: int
    generation: int  # which init segment it needs
    data: bytes
    seconds: float
    discontinuity: bool


class HlsWindow:
    """The last ``size`` complete GOPs of a live stream as an HLS media playlist."""

    def __init__(self, size: int = 6, first: int = 0) -> None:
        """``first`` numbers the first segment and discontinuity: a window made afresh for a
        stream that players may already follow starts above the numbers they have seen."""
        self._size = size
        self._segments: deque[HlsSegment] = deque()
        self._inits: dict[int, bytes] = {}
        self._generation = 0
        self._parts: list[bytes] = []
        self._seconds = 0.0
        self._next_sequence = first
        self._discontinuity_sequence = first
        self._pending_discontinuity = False

    def begin(self, generation: int, init: bytes) -> None:
        """A new ffmpeg run: its fragments need ``init`` and follow a discontinuity."""
        self._finish()
        self._generation = generation
        self._inits[generation] = init
        self._pending_discontinuity = bool(self._segments)

    def clear(self) -> None:
        """Forget every segment (live view paused: they would go stale); numbering goes on,
        and what comes next follows a discontinuity."""
        self._segments.clear()
        self._parts = []
        self._seconds = 0.0
        self._pending_discontinuity = True
        self._inits = (
            {self._generation: self._inits[self._generation]}
            if self._generation in self._inits
            else {}
        )

    def add(self, data: bytes, keyframe: bool, seconds: float) -> None:
        if keyframe:
            self._finish()
        elif not self._parts:
            return  # a segment must start on a keyframe
        self._parts.append(data)
        self._seconds += seconds

    def init(self, generation: int) -> bytes | None:
        return self._inits.get(generation)

    def segment(self, sequence: int) -> bytes | None:
        first = self._segments[0].sequence if self._segments else 0
        index = sequence - first
        if 0 <= index < len(self._segments):
            return self._segments[index].data
        return None

    def playlist(self, query: str = "") -> str | None:
        """The media playlist, with URIs relative to ``…/live.m3u8`` (each with ``query``
        appended: a signed link); None while empty."""
        if not self._segments:
            return None
        target = max(1, math.ceil(max(s.seconds for s in self._segments)))
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:7",
            f"#EXT-X-TARGETDURATION:{target}",
            f"#EXT-X-MEDIA-SEQUENCE:{self._segments[0].sequence}",
            f"#EXT-X-DISCONTINUITY-SEQUENCE:{self._discontinuity_sequence}",
            "#EXT-X-INDEPENDENT-SEGMENTS",
        ]
        generation = None
        for seg in self._segments:
            if seg.discontinuity:
                lines.append("#EXT-X-DISCONTINUITY")
            if seg.generation != generation:
                generation = seg.generation
                lines.append(f'#EXT-X-MAP:URI="live/init/{generation}.mp4{query}"')
            lines += [f"#EXTINF:{seg.seconds:.3f},", f"live/{seg.sequence}.m4s{query}"]
        return "\n".join(lines) + "\n"

    def _finish(self) -> None:
        if not self._parts:
            return
        self._segments.append(
            HlsSegment(
                self._next_sequence,
                self._generation,
                b"".join(self._parts),
                self._seconds,
                self._pending_discontinuity,
            )
        )
        self._next_sequence += 1
        self._pending_discontinuity = False
        self._parts = []
        self._seconds = 0.0
        while len(self._segments) > self._size:
            if self._segments.popleft().discontinuity:
                self._discontinuity_sequence += 1
        needed = {s.generation for s in self._segments} | {self._generation}
        for generation in [g for g in self._inits if g not in needed]:
            del self._inits[generation]
