"""Recorded footage in H.264 for browsers that cannot decode what was recorded (H.265 in most).

The variant playlist (``vod.m3u8?video=h264``) has one media segment per recorded file, each
with its wall-clock time; a file is converted the first time a player asks for it (libx264,
keyframes where the recording has them, audio copied; H.264 files are only rewrapped), kept
on disk as its init part and its media part, and served from there afterwards. The cache is
bounded: the least recently used conversions go first. At most ``node.max_transcodes``
files are converted at once; other requests wait their turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vigil.media.mp4 import MalformedMp4, boxes
from vigil.playback.playlist import vod_header
from vigil.store.segments import SegmentRow
from vigil.timeutil import iso

log = logging.getLogger(__name__)

# Enough for a few hours of 720p footage, converted.
DEFAULT_MAX_BYTES = 2 << 30
_FRAGMENTED = "+frag_keyframe+empty_moov+default_base_moof"
# A recorded file takes seconds to convert: this bounds a stuck ffmpeg, not a slow one.
_CONVERT_TIMEOUT_SECONDS = 600


class ConversionFailed(Exception):
    """The recorded file could not be converted (gone, damaged, or conversions are off)."""


@dataclass(frozen=True, slots=True)
class Converted:
    """A recorded file in H.264: its init part (ftyp + moov) and its fragments."""

    init: Path
    media: Path


def convert_args(ffmpeg: str, source: Path, video_codec: str | None, out: Path) -> list[str]:
    """ffmpeg converting one recorded file to fragmented MP4 in H.264 (audio copied)."""
    if video_codec == "h264":
        video = ["-c:v", "copy"]
    else:
        video = ["-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-pix_fmt", "yuv420p"]
        video += ["-force_key_frames", "source"]  # seeking lands where it does in the original
    return [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        "-i", str(source),
        "-map", "0:v:0", "-map", "0:a:0?", *video, "-c:a", "copy",
        "-f", "mp4", "-movflags", _FRAGMENTED,
        str(out),
    ]  # fmt: skip


class RecordedH264:
    """Converted recordings on disk under ``cache_dir``, made on demand."""

    def __init__(
        self,
        cache_dir: Path,
        ffmpeg: str,
        concurrent: int,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.cache_dir = cache_dir
        self._ffmpeg = ffmpeg
        self._concurrent = concurrent
        self._turns = asyncio.Semaphore(max(1, concurrent))
        self._max_bytes = max_bytes
        self._running: dict[str, asyncio.Task[Converted]] = {}

    async def converted(self, source: Path, video_codec: str | None) -> Converted:
        """The H.264 form of the recorded file ``source``, converted now if it is not kept."""
        if self._concurrent <= 0:
            raise ConversionFailed("converting recordings to H.264 is off (node.max_transcodes)")
        try:
            kept = self.kept(source)
        except OSError as exc:
            raise ConversionFailed(f"{source.name}: {exc.strerror}") from None
        name = kept.media.stem
        if kept.media.is_file():
            with contextlib.suppress(OSError):
                os.utime(kept.media)  # recently used: evicted last
            return kept
        task = self._running.get(name)
        if task is None:
            task = asyncio.create_task(self._convert(source, video_codec, kept))
            self._running[name] = task
            task.add_done_callback(lambda _: self._running.pop(name, None))
        return await asyncio.shield(task)

    def kept(self, source: Path) -> Converted:
        """Where the conversion of ``source`` is kept (made or not). Named after the file's
        identity and version: a key reused for other footage is converted anew. OSError if
        ``source`` is gone."""
        stat = source.stat()
        name = hashlib.sha256(f"{source}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()
        return Converted(self.cache_dir / f"{name}.init.mp4", self.cache_dir / f"{name}.m4s")

    async def _convert(self, source: Path, video_codec: str | None, kept: Converted) -> Converted:
        async with self._turns:
            await asyncio.to_thread(self._convert_blocking, source, video_codec, kept)
        await asyncio.to_thread(self._evict)
        return kept

    def _convert_blocking(self, source: Path, video_codec: str | None, kept: Converted) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(suffix=".mp4", prefix=".converting-", dir=self.cache_dir)
        os.close(fd)
        work = Path(name)
        try:
            done = subprocess.run(
                convert_args(self._ffmpeg, source, video_codec, work),
                capture_output=True,
                text=True,
                timeout=_CONVERT_TIMEOUT_SECONDS,
                check=False,
            )
            if done.returncode != 0:
                why = (done.stderr.strip().splitlines() or ["no message"])[-1][:300]
                raise ConversionFailed(f"{source.name}: ffmpeg failed: {why}")
            data = work.read_bytes()
            init_end = next(end for kind, _, end in boxes(data) if kind == "moov")
            # The media part first: a kept media part means a whole conversion.
            _write_atomically(kept.init, data[:init_end])
            _write_atomically(kept.media, data[init_end:])
        except (StopIteration, MalformedMp4) as exc:
            raise ConversionFailed(f"{source.name}: converted file unreadable ({exc})") from None
        except subprocess.TimeoutExpired:
            raise ConversionFailed(f"{source.name}: conversion took too long") from None
        finally:
            work.unlink(missing_ok=True)
        log.info("recording %s converted to H.264 for a browser", source.name)

    def _evict(self) -> None:
        """Remove the least recently used conversions beyond the cache's size."""
        entries = []
        for path in self.cache_dir.glob("*.m4s"):
            try:
                info = path.stat()
                init = path.with_name(path.name.removesuffix(".m4s") + ".init.mp4")
                size = info.st_size + (init.stat().st_size if init.exists() else 0)
            except OSError:
                continue
            entries.append((info.st_mtime, size, path, init))
        total = sum(size for _, size, _, _ in entries)
        for _, size, media, init in sorted(entries, key=lambda e: e[0]):
            if total <= self._max_bytes:
                break
            media.unlink(missing_ok=True)
            init.unlink(missing_ok=True)
            total -= size


def _write_atomically(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.part")
    temp.write_bytes(data)
    os.replace(temp, path)


def h264_playlist(
    rows: Sequence[SegmentRow],
    address: Callable[[SegmentRow, str], str],
    start_ms: int,
    end_ms: int,
) -> str | None:
    """An HLS VOD playlist of [start, end) with one media segment per recorded file, its
    URIs from ``address(row, "init" | "media")``; None if no file falls in the range."""
    files = [row for row in rows if row.start_ms < end_ms and row.end_ms > start_ms]
    if not files:
        return None
    longest = max((row.end_ms - row.start_ms) / 1000 for row in files)
    lines = vod_header(longest)
    if (lead := max(0, start_ms - files[0].start_ms) / 1000) > 0:
        lines.append(f"#EXT-X-START:TIME-OFFSET={lead:.3f},PRECISE=YES")
    for n, row in enumerate(files):
        if n:  # every converted file starts its own timestamps
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f'#EXT-X-MAP:URI="{address(row, "init")}"')
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{iso(row.start_ms)}")
        lines.append(f"#EXTINF:{(row.end_ms - row.start_ms) / 1000:.3f},")
        lines.append(address(row, "media"))
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
