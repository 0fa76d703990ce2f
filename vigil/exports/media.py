"""What an export needs to know from media files, read with PyAV (demux only)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import av


class UnreadableMedia(Exception):
    """A file holds no readable video."""


def keyframe_at_or_before(path: Path, offset_ms: int) -> int:
    """The offset (ms from the file's start, rounded down) of the last keyframe at or before
    ``offset_ms``. Rounded down: a 90 kHz camera clock puts keyframes a tick past the
    millisecond (1.000011 s), so "1000" means "the keyframe in [1.000, 1.001)"."""
    best = 0
    try:
        with av.open(str(path)) as container:
            video = container.streams.video[0]
            assert video.time_base is not None
            for packet in container.demux(video):
                if packet.pts is None or not packet.is_keyframe:
                    continue
                at = math.floor(packet.pts * video.time_base * 1000)
                if at > offset_ms:
                    break
                best = at
    except (av.error.FFmpegError, OSError, IndexError) as exc:
        raise UnreadableMedia(f"{path.name}: {exc}") from exc
    return best


@dataclass(frozen=True, slots=True)
class VideoSpan:
    """Where the video of a file starts and ends on its own timeline, in milliseconds."""

    first_ms: int
    end_ms: int
    frames: int

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.first_ms


def video_span(path: Path) -> VideoSpan:
    """First frame's time and last frame's end time of the file's video."""
    try:
        with av.open(str(path)) as container:
            video = container.streams.video[0]
            assert video.time_base is not None
            first: int | None = None
            end = 0
            frames = 0
            for packet in container.demux(video):
                if packet.pts is None:
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
