"""The ffmpeg concat script that lays a camera's segments on one timeline.

Each recorded segment's own timestamps start at zero at its ``start_ms``. In the script every
file but the last gets ``duration`` = the wall-clock distance to the next file's start, so each
file lands at its recorded instant: a gap in the recording stays a gap in time (the frame before
it stays on screen, the timeline and a burnt-in clock continue at the right instant after it),
never a silent splice. ``outpoint`` drops what a file holds past the next file's start (so no
timestamps overlap) and past the end of the range; ``inpoint`` starts the first file at the
keyframe at or before the range's start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Piece:
    """A source file (a name in the job's work folder) and the wall-clock span it covers."""

    name: str
    start_ms: int
    end_ms: int


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.3f}"


def _quoted(name: str) -> str:
    # ffconcat quoting: single quotes, a quote inside written as '\''.
    return "'" + name.replace("'", "'\\''") + "'"


def concat_script(pieces: Sequence[Piece], first_ms: int, end_ms: int) -> str:
    """The script for ``pieces`` (oldest first, overlapping [first_ms, end_ms))."""
    if not pieces:
        raise ValueError("nothing to concatenate")
    lines = ["ffconcat version 1.0"]
    for index, piece in enumerate(pieces):
        inpoint = max(first_ms - piece.start_ms, 0) if index == 0 else 0
        lines.append(f"file {_quoted(piece.name)}")
        if inpoint:
            # Keyframe times are rounded down to the millisecond (0.9947 s is 994): one
            # millisecond more keeps the inpoint at or after the keyframe, so the demuxer's
            # seek lands on it and not on the keyframe before (a second more of video).
            lines.append(f"inpoint {_seconds(inpoint + 1)}")
        nxt = pieces[index + 1] if index + 1 < len(pieces) else None
        stop = min(piece.end_ms, end_ms, nxt.start_ms if nxt else end_ms)
        if nxt is not None or stop < piece.end_ms:
            lines.append(f"outpoint {_seconds(stop - piece.start_ms)}")
        if nxt is not None:
            lines.append(f"duration {_seconds(nxt.start_ms - piece.start_ms - inpoint)}")
    return "\n".join(lines) + "\n"
