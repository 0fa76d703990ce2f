"""What an export needs to know from media files, read with PyAV (demux only)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import av


class UnreadableMedia(Exception):
    """A file holds no readable video."""


def first_frame_from(path: Path, offset_ms: int) -> int:
    """When (µs from the file's start, rounded down) the first frame stamped at or after
    ``offset_ms`` into the file starts; the last frame if none is.

    An export holds the frames stamped in its range, any frame, not only keyframes (see
    :mod:`vigil.exports.concat`), so it is as long as asked to the frame. In the first
    segment of a connection the first frame is stamped at zero, though it is the camera's
    keyframe of later: its packet came without a timestamp. The frames after it carry
    theirs, so every later instant still finds its frame.
    """
    try:
        with av.open(str(path)) as container:
            video = container.streams.video[0]
            assert video.time_base is not None
            starts = sorted(
                math.floor(packet.pts * video.time_base * 1_000_000)
                for packet in container.demux(video)
                if packet.pts is not None
            )
    except (av.error.FFmpegError, OSError, IndexError) as exc:
        raise UnreadableMedia(f"{path.name}: {exc}") from exc
    if not starts:
        raise UnreadableMedia(f"{path.name}: no video frames")
    return next((start for start in starts if start >= offset_ms * 1000), starts[-1])


@dataclass(frozen=True, slots=True)
class VideoSpan:
    """Where the video a player shows starts and ends on the file's timeline, in ms."""

    first_ms: int
    end_ms: int
    frames: int

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.first_ms


def video_span(path: Path) -> VideoSpan:
    """First shown frame's time and last frame's end time of the file's video. Frames an
    edit list hides (the lead-in from the keyframe before an export's first frame) do not
    count: players decode them but never show them."""
    try:
        with av.open(str(path)) as container:
            video = container.streams.video[0]
            assert video.time_base is not None
            first: int | None = None
            end = 0
            frames = 0
            for packet in container.demux(video):
                if packet.pts is None or packet.is_discard:
                    continue
                first = packet.pts if first is None else min(first, packet.pts)
                end = max(end, packet.pts + (packet.duration or 0))
                frames += 1
            if first is None:
                raise UnreadableMedia(f"{path.name}: no video frames")
            base = video.time_base
            return VideoSpan(
                round(float(first * base) * 1000), round(float(end * base) * 1000), frames
            )
    except (av.error.FFmpegError, OSError, IndexError) as exc:
        raise UnreadableMedia(f"{path.name}: {exc}") from exc
