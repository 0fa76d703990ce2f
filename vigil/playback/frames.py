"""Single frames of recorded files: the picture at an instant, encoded as JPEG (PyAV only)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

# What decoding a frame can meet in a file cut short or damaged.
DECODE_ERRORS = (av.error.FFmpegError, OSError, StopIteration)


class NoFrame(Exception):
    """The file holds no decodable video frame."""


def frame_at(path: Path, offset_seconds: float) -> av.VideoFrame:
    """The frame shown ``offset_seconds`` after the file's first frame: seek to the keyframe
    at or before it, decode forward to the last frame not after it."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise NoFrame(f"{path.name}: no video stream")
            stream = container.streams.video[0]
            time_base = stream.time_base or Fraction(1, 90_000)
            first = stream.start_time or 0
            target = first + int(max(offset_seconds, 0.0) / time_base)
            if target > first:
                container.seek(target, stream=stream, backward=True, any_frame=False)
            chosen: av.VideoFrame | None = None
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                if chosen is not None and frame.pts > target:
                    break
                chosen = frame
            if chosen is None:
                raise NoFrame(f"{path.name}: no video frame")
            return chosen
    except DECODE_ERRORS as exc:
        raise NoFrame(f"{path.name}: {exc}") from exc


def first_frame(path: Path) -> av.VideoFrame:
    """The file's first frame (a keyframe: every segment starts with one)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise NoFrame(f"{path.name}: no video stream")
            return next(container.decode(container.streams.video[0]))
    except DECODE_ERRORS as exc:
        raise NoFrame(f"{path.name}: {exc}") from exc


def encode_jpeg(frame: av.VideoFrame, width: int | None = None) -> bytes:
    """``frame`` as a JPEG, scaled to ``width`` (aspect kept, even sizes) if given."""
    out_w, out_h = frame.width, frame.height
    if width is not None and width < frame.width:
        out_w = max(2, width // 2 * 2)
        out_h = max(2, round(frame.height * out_w / frame.width / 2) * 2)
    picture = frame.reformat(width=out_w, height=out_h, format="yuvj420p")
    codec = av.CodecContext.create("mjpeg", "w")
    assert isinstance(codec, av.VideoCodecContext)
    codec.width, codec.height = out_w, out_h
    codec.pix_fmt = "yuvj420p"
    codec.time_base = Fraction(1, 25)
    codec.options = {"qmin": "2", "qmax": "6"}  # good quality; the default is blocky
    packets = [*codec.encode(picture), *codec.encode(None)]
    return b"".join(bytes(packet) for packet in packets)
