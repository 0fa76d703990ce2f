"""A recorded file relayed from its node: the size asked first, then the bytes read through
the link a chunk at a time (``READ_LIMIT``), with Range requests answered
here. The application side never opens a recording file."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

from fastapi.responses import Response, StreamingResponse

from vigil.link.protocol import READ_LIMIT, NodeSide
from vigil.playback.retime import RangeNotSatisfiable, byte_range


async def relay_file(
    node: NodeSide,
    key: str,
    range_header: str | None,
    *,
    media_type: str,
    filename: str | None = None,
    shift_us: int = 0,
) -> Response:
    """``key``'s bytes from ``node`` (those a single-range ``Range`` header asks for: 206),
    with ``shift_us`` as :meth:`NodeSide.read_file` takes it. MediaNotFound when the node
    has no such file; 416 for a range outside it."""

    def read(first: int, last: int) -> Awaitable[bytes]:
        return node.read_file(key, first, last, shift_us)

    size = await node.file_size(key)
    return await relay(size, read, range_header, media_type=media_type, filename=filename)


async def relay(
    size: int,
    read: Callable[[int, int], Awaitable[bytes]],
    range_header: str | None,
    *,
    media_type: str,
    filename: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``size`` bytes that ``read(first, last)`` gives at most READ_LIMIT at a time, as the
    answer to a request with ``range_header``; streamed when they take more than one read."""
    try:
        span = byte_range(range_header, size)
    except RangeNotSatisfiable:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
    first, last = span or (0, size - 1)
    answer = {"Accept-Ranges": "bytes", **(headers or {})}
    if filename is not None:
        answer["Content-Disposition"] = f'inline; filename="{filename}"'
    if span is not None:
        answer["Content-Range"] = f"bytes {first}-{last}/{size}"
    status = 206 if span is not None else 200
    if last - first < READ_LIMIT:  # one read, before answering: a file gone is still a 404
        body = await read(first, last) if size else b""
        return Response(body, status, headers=answer, media_type=media_type)

    async def chunks() -> AsyncIterator[bytes]:
        at = first
        while at <= last:
            data = await read(at, min(at + READ_LIMIT, last + 1) - 1)
            if not data:  # cut short since its size was read: the client sees it end early
                return
            yield data
            at += len(data)

    answer["Content-Length"] = str(last - first + 1)
    return StreamingResponse(chunks(), status, headers=answer, media_type=media_type)
