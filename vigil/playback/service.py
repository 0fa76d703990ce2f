"""Playback as the API uses it: playlists, frames and previews over indexed segment files."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from vigil.playback.fragments import FragmentCache, FragmentIndex, NotFragmented
from vigil.playback.frames import encode_jpeg, frame_at
from vigil.playback.playlist import RecordedFile, vod_playlist
from vigil.playback.previews import PreviewMaker
from vigil.store.segments import SegmentRow

log = logging.getLogger(__name__)

# Where a segment's file is (its node resolves the storage key) and its URI in a playlist.
Locate = Callable[[SegmentRow], Path]
Address = Callable[[SegmentRow], str]


class Playback:
    """Holds what is worth keeping between requests: fragment indexes, preview work."""

    # An index is about 2 KB for a 10 s segment: 10,000 (a camera-day and more) is ~20 MB.
    def __init__(self, fragment_cache_size: int = 10_000) -> None:
        self.fragments = FragmentCache(fragment_cache_size)
        self.previews = PreviewMaker()

    def _indexes(self, paths: Sequence[Path]) -> list[FragmentIndex | None]:
        found: list[FragmentIndex | None] = []
        for path in paths:
            try:
                found.append(self.fragments.get(path))
            except (OSError, NotFragmented) as exc:
                # Gone since it was indexed (retention), or damaged: the playlist skips it.
                log.warning("playlist leaves out %s: %s", path.name, exc)
                found.append(None)
        return found

    async def playlist(
        self,
        rows: Sequence[SegmentRow],
        locate: Locate,
        address: Address,
        start_ms: int,
        end_ms: int,
        one_timeline: bool = True,
    ) -> str | None:
        """An HLS VOD playlist of [start, end), or None if no recorded fragment falls in it.
        ``one_timeline``: see :func:`vigil.playback.playlist.vod_playlist`."""
        paths = [locate(row) for row in rows]
        indexes = await asyncio.to_thread(self._indexes, paths)
        files = [
            RecordedFile(row, index, address(row))
            for row, index in zip(rows, indexes, strict=True)
            if index is not None
        ]
        return vod_playlist(files, start_ms, end_ms, one_timeline=one_timeline)

    async def snapshot(self, path: Path, offset_ms: int) -> bytes:
        """The frame ``offset_ms`` into a segment file, full size, as JPEG. NoFrame if none
        decodes."""
        return await asyncio.to_thread(lambda: encode_jpeg(frame_at(path, offset_ms / 1000)))
