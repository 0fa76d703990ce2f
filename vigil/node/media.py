"""What a node serves of what it recorded: a file's size and byte ranges (as written, or
with its decode times moved onto another timeline), fragment indexes for playlists, a frame,
a scrubbing preview.

The application side asks for these through the link (:class:`vigil.link.protocol.NodeSide`)
and relays the bytes; it never opens a recording file, so a node may be another machine.
A read returns at most :data:`vigil.link.protocol.READ_LIMIT` bytes.
"""

from __future__ import annotations

import asyncio
import logging
import stat
from collections.abc import Sequence
from pathlib import Path

from vigil.link.protocol import H264Part, MediaNotFound, check_read
from vigil.node.layout import RecordingsLayout, UnsafePath
from vigil.playback.fragments import FragmentCache, FragmentIndex, NotFragmented
from vigil.playback.frames import NoFrame, encode_jpeg, frame_at
from vigil.playback.previews import PreviewMaker
from vigil.playback.retime import CannotShift, read_range_shifted
from vigil.playback.transcode import Converted, RecordedH264

log = logging.getLogger(__name__)


class RecordedMedia:
    """A node's recordings as the application side reads them. Keeps what is worth keeping
    between requests: fragment indexes (about 2 KB for a 10 s segment; 10,000 by default,
    a camera-day and more), the previews being made, and recordings converted to H.264 for
    browsers that cannot decode what was recorded."""

    def __init__(
        self, layout: RecordingsLayout, h264: RecordedH264, fragment_cache_size: int = 10_000
    ) -> None:
        self._layout = layout
        self._h264 = h264
        self.fragments = FragmentCache(fragment_cache_size)
        self.previews = PreviewMaker()

    def _file(self, key: str) -> Path:
        """The regular file of ``key``; MediaNotFound for a key outside the recordings, a
        file gone (retention) or anything but a file."""
        try:
            path = self._layout.path(key)
            if stat.S_ISREG(path.stat().st_mode):
                return path
        except (UnsafePath, OSError):
            pass
        raise MediaNotFound(key)

    async def file_size(self, key: str) -> int:
        return await asyncio.to_thread(lambda: self._file(key).stat().st_size)

    async def read_file(self, key: str, first: int, last: int, shift_us: int = 0) -> bytes:
        """Bytes ``[first, last]`` of the file (fewer at its end, none past it), at most
        READ_LIMIT; with ``shift_us``, every fragment's decode times moved by that much."""
        check_read(first, last)

        def read() -> bytes:
            path = self._file(key)
            if shift_us:
                return read_range_shifted(self.fragments, path, first, last, shift_us).body
            with path.open("rb") as handle:
                handle.seek(first)
                return handle.read(last - first + 1)

        try:
            return await asyncio.to_thread(read)
        except (OSError, NotFragmented, CannotShift) as exc:
            raise MediaNotFound(key) from exc

    async def fragment_indexes(self, keys: Sequence[str]) -> list[FragmentIndex | None]:
        """Each file's fragment index; None for one gone since it was indexed or damaged (a
        playlist leaves it out)."""

        def indexes() -> list[FragmentIndex | None]:
            found: list[FragmentIndex | None] = []
            for key in keys:
                try:
                    found.append(self.fragments.get(self._file(key)))
                except (MediaNotFound, OSError, NotFragmented) as exc:
                    log.warning("playlist leaves out %s: %s", key, exc)
                    found.append(None)
            return found

        return await asyncio.to_thread(indexes)

    async def frame(self, key: str, offset_ms: int) -> bytes:
        """The frame ``offset_ms`` into the file, full size, as JPEG."""
        try:
            return await asyncio.to_thread(
                lambda: encode_jpeg(frame_at(self._file(key), offset_ms / 1000))
            )
        except (NoFrame, OSError) as exc:
            raise MediaNotFound(key) from exc

    async def preview(self, key: str) -> bytes:
        """The file's small first picture for scrubbing, JPEG; made on first request and kept
        beside the file."""
        try:
            made = await self.previews.preview(await asyncio.to_thread(self._file, key))
            return await asyncio.to_thread(made.read_bytes)
        except (NoFrame, OSError) as exc:
            raise MediaNotFound(key) from exc

    async def convert_h264(self, key: str, video_codec: str | None) -> tuple[int, int]:
        """Convert the file to H.264 unless done already: the sizes of its init part and of
        its fragments. ConversionFailed when it cannot be now."""
        converted = await self._h264.converted(
            await asyncio.to_thread(self._file, key), video_codec
        )
        return await asyncio.to_thread(lambda: (_size(converted.init), _size(converted.media)))

    async def read_h264(self, key: str, part: H264Part, first: int, last: int) -> bytes:
        """Bytes of a part of the file's conversion (made by :meth:`convert_h264`)."""
        check_read(first, last)
        kept: Converted = self._h264.kept(await asyncio.to_thread(self._file, key))

        def read() -> bytes:
            with (kept.init if part == "init" else kept.media).open("rb") as handle:
                handle.seek(first)
                return handle.read(last - first + 1)

        try:
            return await asyncio.to_thread(read)
        except OSError as exc:  # evicted meanwhile, or never made
            raise MediaNotFound(key) from exc


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError as exc:
        raise MediaNotFound(path.name) from exc
