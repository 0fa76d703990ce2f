"""The ffmpeg concat script that lays a camera's segments on one timeline.

Each recorded segment's own timestamps start at zero at its ``start_ms``. In the script every
file but the last gets ``duration`` = the wall-clock distance to the next file's start, so each
file lands at its recorded instant: a gap in the recording stays a gap in time (the frame before
it stays on screen, the timeline and a burnt-in clock continue at the right instant after it),
never a silent splice. ``outpoint`` drops what a file holds past the next file's start (so no
timestamps overlap); ``inpoint`` starts the first file at its first frame in the range. The
demuxer reads from the keyframe before it, stamping that lead-in before zero; with ``-copyts``
the MP4 muxer keeps it out of sight with an edit list, so a stream copy starts on the very
frame asked for.

The end of the range is not an ``outpoint``: the demuxer leaves a file at its first packet
past one, and a fragment holds a keyframe interval of video before its audio, so the audio
would stop up to that interval early. ffmpeg's ``-t`` (:func:`timeline_us`) ends each stream
on its own.
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


def _seconds(us: int) -> str:
    return f"{us / 1_000_000:.6f}"


def _quoted(name: str) -> str:
    # ffconcat quoting: single quotes, a quote inside written as '\''.
    return "'" + name.replace("'", "'\\''") + "'"


def concat_script(pieces: Sequence[Piece], inpoint_us: int) -> str:
    """The script for ``pieces`` (oldest first), starting ``inpoint_us`` into the first: where
    its first frame in the range starts, rounded down (a frame stamped at or after the
    inpoint is shown, one before it is not)."""
    if not pieces:
        raise ValueError("nothing to concatenate")
    lines = ["ffconcat version 1.0"]
    for index, piece in enumerate(pieces):
        inpoint = max(inpoint_us, 0) if index == 0 else 0
        lines.append(f"file {_quoted(piece.name)}")
        if inpoint:
            lines.append(f"inpoint {_seconds(inpoint)}")
        if index + 1 < len(pieces):
            nxt = pieces[index + 1]
            stop = min(piece.end_ms, nxt.start_ms)
            lines.append(f"outpoint {_seconds((stop - piece.start_ms) * 1000)}")
            lines.append(f"duration {_seconds((nxt.start_ms - piece.start_ms) * 1000 - inpoint)}")
    return "\n".join(lines) + "\n"


def timeline_us(pieces: Sequence[Piece], inpoint_us: int, end_ms: int) -> int:
    """How long the script's timeline runs until ``end_ms`` (its zero is the inpoint)."""
    return (end_ms - pieces[0].start_ms) * 1000 - max(inpoint_us, 0)
