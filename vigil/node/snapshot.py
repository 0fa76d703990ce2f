"""A still picture from live media: decode one keyframe fragment, encode it as JPEG."""

from __future__ import annotations

import io
from fractions import Fraction

import av
import av.error

# libavcodec quantiser bounds for MJPEG: 2 is near lossless, 31 the coarsest.
_QUALITY = {"qmin": "2", "qmax": "5"}


class NoPicture(Exception):
    """The media held no decodable video frame."""


def keyframe_jpeg(init: bytes, fragment: bytes) -> bytes:
    """The first video frame of ``init + fragment`` (fragmented MP4) as JPEG."""
    try:
        with av.open(io.BytesIO(init + fragment), mode="r", format="mp4") as container:
            if not container.streams.video:
                raise NoPicture("no video track")
            for frame in container.decode(container.streams.video[0]):
                return _encode(frame)
    except av.error.FFmpegError as exc:
        raise NoPicture(str(exc)) from exc
    raise NoPicture("no frame decoded")


def _encode(frame: av.VideoFrame) -> bytes:
    encoder = av.CodecContext.create("mjpeg", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width = frame.width
    encoder.height = frame.height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    encoder.options = dict(_QUALITY)
    picture = frame.reformat(format="yuvj420p")
    picture.pts = 0
    packets = [*encoder.encode(picture), *encoder.encode(None)]
    return b"".join(bytes(p) for p in packets)
