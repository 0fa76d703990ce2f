"""Testing a camera's stream before it is saved: open it with PyAV, read what it sends.

The node does this, being the machine that can reach the camera. Messages name the host
and port, never the URL (it may hold credentials) nor anything ffmpeg printed about it.
"""

from __future__ import annotations

import asyncio
import errno
import time
from urllib.parse import urlsplit

import av
import av.error

from vigil.link.messages import AudioInfo, ProbeFailure, SourceProbe, VideoInfo
from vigil.link.protocol import ProbeFailed
from vigil.node.ffmpeg import url_with_credentials

MAX_TIMEOUT = 10.0
# Errors of the connection itself: the host is not there, or nothing listens on the port.
_UNREACHABLE = {
    errno.ECONNREFUSED: "nothing answers on {where} (connection refused)",
    errno.EHOSTUNREACH: "no route to {where}",
    errno.ENETUNREACH: "the network of {where} cannot be reached",
    errno.ECONNRESET: "{where} closed the connection",
}


def _where(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


def _failure(exc: Exception, where: str, timeout: float) -> ProbeFailed:
    """What went wrong, from PyAV's error (whose own text may carry the URL: not used)."""
    if isinstance(exc, av.error.HTTPUnauthorizedError):
        return ProbeFailed(
            ProbeFailure.UNAUTHORISED, f"{where} refused the user name or password (401)"
        )
    if isinstance(exc, av.error.HTTPForbiddenError):
        return ProbeFailed(ProbeFailure.UNAUTHORISED, f"{where} refused access to the stream (403)")
    if isinstance(exc, av.error.HTTPNotFoundError):
        return ProbeFailed(
            ProbeFailure.REFUSED, f"{where} has no stream at this path (404 not found)"
        )
    if isinstance(exc, av.error.HTTPClientError | av.error.HTTPServerError):
        return ProbeFailed(ProbeFailure.REFUSED, f"{where} refused the stream")
    if isinstance(exc, TimeoutError | av.error.ExitError):
        return ProbeFailed(ProbeFailure.TIMEOUT, f"{where} did not answer within {timeout:g} s")
    if isinstance(exc, OSError) and exc.errno in _UNREACHABLE:
        return ProbeFailed(ProbeFailure.UNREACHABLE, _UNREACHABLE[exc.errno].format(where=where))
    if isinstance(exc, OSError) and exc.errno in (errno.ENOENT, errno.EIO):
        # getaddrinfo failures come back as an I/O error
        return ProbeFailed(
            ProbeFailure.UNREACHABLE, f"{where} cannot be reached (check the host name)"
        )
    if isinstance(exc, av.error.InvalidDataError | av.error.PatchWelcomeError):
        return ProbeFailed(ProbeFailure.NOT_A_STREAM, f"{where} sent no video ffmpeg can read")
    return ProbeFailed(ProbeFailure.UNREACHABLE, f"{where} cannot be opened")


def _options(url: str, timeout: float) -> dict[str, str]:
    timeout_us = str(int(timeout * 1_000_000))
    if urlsplit(url).scheme.lower() in ("rtsp", "rtsps"):
        return {"rtsp_transport": "tcp", "timeout": timeout_us}
    return {"rw_timeout": timeout_us}


def probe_blocking(
    url: str, username: str | None, password: str | None, timeout: float
) -> SourceProbe:
    """:func:`probe_source` in the calling thread."""
    timeout = min(timeout, MAX_TIMEOUT)
    where = _where(url)
    started = time.monotonic()
    try:
        container = av.open(
            url_with_credentials(url, username, password),
            options=_options(url, timeout),
            timeout=timeout,
        )
    except (av.error.FFmpegError, OSError) as exc:
        # A socket timeout reaches us under several names (invalid data, I/O error): the
        # clock tells it apart.
        if time.monotonic() - started >= timeout * 0.95 and not isinstance(
            exc, av.error.HTTPClientError
        ):
            exc = TimeoutError()
        raise _failure(exc, where, timeout) from None
    with container:
        if not container.streams.video:
            raise ProbeFailed(ProbeFailure.NOT_A_STREAM, f"{where} sends no video")
        video = container.streams.video[0]
        context = video.codec_context
        rate = video.average_rate or video.guessed_rate
        audio = None
        if container.streams.audio:
            sound = container.streams.audio[0].codec_context
            audio = AudioInfo(
                codec=sound.name,
                sample_rate=sound.sample_rate or None,
                channels=sound.channels or None,
            )
        return SourceProbe(
            video=VideoInfo(
                codec=context.name,
                profile=context.profile or None,
                width=context.width,
                height=context.height,
                fps=round(float(rate), 3) if rate else None,
            ),
            audio=audio,
        )


async def probe_source(
    url: str, username: str | None, password: str | None, timeout_seconds: float
) -> SourceProbe:
    """What the stream at ``url`` sends (codecs, size, rate, audio), read in a worker thread;
    :class:`ProbeFailed` saying why when it cannot be opened within ``timeout_seconds`` (≤ 10 s)."""
    limit = min(timeout_seconds, MAX_TIMEOUT)
    try:
        # PyAV's own timeout interrupts ffmpeg; this one is the backstop should it not.
        return await asyncio.wait_for(
            asyncio.to_thread(probe_blocking, url, username, password, limit), limit + 5
        )
    except TimeoutError:
        raise ProbeFailed(
            ProbeFailure.TIMEOUT, f"{_where(url)} did not answer within {limit:g} s"
        ) from None
