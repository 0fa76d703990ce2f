"""Which video codec a camera sends, read from its stream description before ffmpeg starts.

ffmpeg's MP4 muxer tags H.265 ``hev1`` unless told ``-tag:v hvc1`` (which Safari and most
HEVC players want), and refuses that tag on any other codec: so the recorder has to know
the codec before it builds the command line. The stream description (RTSP's SDP) names it,
so this reads no media: opening the stream with the smallest probe takes about 50 ms.
"""

from __future__ import annotations

import asyncio

import av
import av.error

from vigil.node.ffmpeg import url_with_credentials

# A camera answers its description in well under this; one that does not is left to the
# recorder's own run (whose first segment then tells the codec for the next runs).
CODEC_TIMEOUT_SECONDS = 2.0
# Enough to learn the codec from the description; nothing is decoded or analysed.
_QUICK = {"analyzeduration": "0", "probesize": "32"}


def video_codec_blocking(
    url: str, username: str | None, password: str | None, timeout: float, transport: str
) -> str | None:
    """:func:`source_video_codec` in the calling thread."""
    options = dict(_QUICK)
    timeout_us = str(int(timeout * 1_000_000))
    if url.lower().startswith(("rtsp:", "rtsps:")):
        options |= {"rtsp_transport": transport, "timeout": timeout_us}
    else:
        options |= {"rw_timeout": timeout_us}
    try:
        container = av.open(
            url_with_credentials(url, username, password), options=options, timeout=timeout
        )
    except (av.error.FFmpegError, OSError):
        return None  # the recorder's own run reports why the camera cannot be read
    with container:
        if not container.streams.video:
            return None
        return container.streams.video[0].codec_context.name


async def source_video_codec(
    url: str,
    username: str | None,
    password: str | None,
    timeout_seconds: float,
    transport: str = "tcp",
) -> str | None:
    """ffmpeg's name of the codec the stream at ``url`` sends (``h264``, ``hevc``...), or
    None when it cannot be opened within ``timeout_seconds``."""
    blocking = video_codec_blocking
    try:
        # PyAV's own timeout interrupts ffmpeg; this one is the backstop should it not.
        return await asyncio.wait_for(
            asyncio.to_thread(blocking, url, username, password, timeout_seconds, transport),
            timeout_seconds + 5,
        )
    except TimeoutError:
        return None
