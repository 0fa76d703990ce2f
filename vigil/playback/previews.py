"""Preview images for scrubbing: a small JPEG of each segment's first frame, made once.

The preview is a sidecar file next to its segment (``<start>.jpg`` beside ``<start>.mp4``),
so it lives and dies with the segment: retention and deletion remove both
(:func:`vigil.node.layout.remove_segment_file`), a camera's deletion removes its folder, and
reconciliation only looks at ``.mp4`` files. It is made on the first request and then served
from disk; no request after the first decodes anything.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from vigil.node.layout import preview_path
from vigil.playback.frames import encode_jpeg, first_frame

PREVIEW_WIDTH = 160


def make_preview(segment: Path, width: int = PREVIEW_WIDTH) -> Path:
    """Write the preview of ``segment`` (atomically) unless it exists; return its path.
    NoFrame if the segment cannot be decoded."""
    target = preview_path(segment)
    if target.is_file():
        return target
    data = encode_jpeg(first_frame(segment), width)
    handle, temporary = tempfile.mkstemp(prefix=".preview-", suffix=".tmp", dir=segment.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


class PreviewMaker:
    """Makes previews off the event loop, one at a time per segment, so that concurrent
    first requests for the same preview decode it once."""

    def __init__(self, width: int = PREVIEW_WIDTH) -> None:
        self._width = width
        self._pending: dict[Path, asyncio.Future[Path]] = {}

    async def preview(self, segment: Path) -> Path:
        target = preview_path(segment)
        if target.is_file():
            return target
        running = self._pending.get(segment)
        if running is not None:
            return await asyncio.shield(running)
        future = asyncio.ensure_future(asyncio.to_thread(make_preview, segment, self._width))
        self._pending[segment] = future
        try:
            return await asyncio.shield(future)
        finally:
            if future.done():
                self._pending.pop(segment, None)
            else:
                future.add_done_callback(lambda _: self._pending.pop(segment, None))
