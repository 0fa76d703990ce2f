"""The pipes an ffmpeg run writes its extra outputs into (live media, detection frames)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator

# A second or more of detection frames fits, so a slow read never stalls ffmpeg at once.
PIPE_BYTES = 1024 * 1024
# Live media: ffmpeg's fifo muxer queues packets when the node reads slowly, so the pipe can
# be small; what it holds when the node stops reading is stale when it reads again.
LIVE_PIPE_BYTES = 64 * 1024


class OutputPipe:
    """A pipe one ffmpeg run writes into; the node reads the other end."""

    def __init__(self, size: int = PIPE_BYTES) -> None:
        self.read_fd, self.write_fd = os.pipe()  # neither is inherited unless passed
        with contextlib.suppress(OSError):  # above the system's limit, the default stays
            fcntl.fcntl(self.write_fd, fcntl.F_SETPIPE_SZ, size)
        self._read_open = self._write_open = True

    def close_write_end(self) -> None:
        """Once ffmpeg holds its copy: its exit then reads as end of file."""
        if self._write_open:
            self._write_open = False
            os.close(self.write_fd)

    def close(self) -> None:
        self.close_write_end()
        if self._read_open:
            self._read_open = False
            os.close(self.read_fd)

    @contextlib.asynccontextmanager
    async def reader(self) -> AsyncIterator[asyncio.StreamReader]:
        """The read end as a stream, until ffmpeg closes the pipe (end of file)."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=PIPE_BYTES)
        self._read_open = False  # the transport owns it now
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(self.read_fd, "rb", 0)
        )
        try:
            yield reader
        finally:
            transport.close()

    @contextlib.asynccontextmanager
    async def read_into(self, protocol: asyncio.Protocol) -> AsyncIterator[asyncio.ReadTransport]:
        """The read end delivered to ``protocol`` as it arrives; its transport can pause and
        resume the reading (ffmpeg then finds the pipe full)."""
        loop = asyncio.get_running_loop()
        self._read_open = False  # the transport owns it now
        transport, _ = await loop.connect_read_pipe(
            lambda: protocol, os.fdopen(self.read_fd, "rb", 0)
        )
        try:
            yield transport
        finally:
            transport.close()
