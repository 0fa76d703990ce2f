"""What a recorded segment holds, read with PyAV (demux only, no decoding)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from vigil.link.messages import SegmentRecord


class UnreadableSegment(Exception):
    """The file holds no playable video."""


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    duration_ms: int
    video_codec: str
    audio_codec: str | None
    width: int
    height: int
    fps: float | None
    size: int

    def record(self, camera_id: int, key: str, start_ms: int, end_ms: int) -> SegmentRecord:
        """The index entry of the segment this describes, stored at ``key``."""
        return SegmentRecord(
            camera_id=camera_id,
            path=key,
            start_ms=start_ms,
            end_ms=end_ms,
            size=self.size,
            video_codec=self.video_codec,
            audio_codec=self.audio_codec,
            width=self.width,
            height=self.height,
            fps=self.fps,
        )


def probe_segment(path: Path) -> SegmentInfo:
    """Codecs, picture size and duration of a segment, from its video packets."""
    try:
        # skip_frame: opening must not decode pictures (that was most of the node's CPU).
        # (PyAV's stub types stream_options as list[str]; the runtime wants a dict per stream.)
        container = av.open(str(path), stream_options=[{"skip_frame": "all"}])  # type: ignore[list-item]
    except (av.error.FFmpegError, OSError) as exc:
        raise UnreadableSegment(f"{path.name}: {exc}") from exc
    with container:
        if not container.streams.video:
            raise UnreadableSegment(f"{path.name}: no video stream")
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        first: int | None = None
        last = 0
        count = 0
        try:
            for packet in container.demux(video):
                if packet.pts is None:
                    continue
                end = packet.pts + (packet.duration or 0)
                first = packet.pts if first is None else min(first, packet.pts)
                last = max(last, end)
                count += 1
        except av.error.FFmpegError:
            pass  # a torn tail: what was read before it stands
        if first is None or video.time_base is None:
            raise UnreadableSegment(f"{path.name}: no video frames")
        duration_ms = round(float((last - first) * video.time_base) * 1000)
        rate = video.average_rate or video.guessed_rate
        fps = round(float(rate), 3) if rate else None
        if fps is None and duration_ms > 0:
            fps = round(count * 1000 / duration_ms, 3)
        return SegmentInfo(
            duration_ms=duration_ms,
            video_codec=video.codec_context.name,
            audio_codec=audio.codec_context.name if audio else None,
            width=video.codec_context.width,
            height=video.codec_context.height,
            fps=fps,
            size=path.stat().st_size,
        )
