"""One camera's part of an export: pin its segments, cut the range, hash everything.

Sources are pinned by copy-on-read: when the job starts, each segment file is hard-linked (or,
across file systems, copied) into the export's work folder. Retention or a camera deletion may
then unlink the recording at any time without touching the bytes the export reads, and
nothing in the recordings index or the node changes for the export's sake.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import shutil
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vigil.exports.concat import Piece, concat_script, timeline_us
from vigil.exports.ffmpeg import BurnIn, export_args, file_stamp, run_ffmpeg
from vigil.exports.manifest import ExportedFile, Gap, SourceSegment, sha256_file
from vigil.exports.media import first_frame_from, video_span
from vigil.link.messages import CutSource
from vigil.link.protocol import READ_LIMIT, MediaNotFound, NodeSide
from vigil.store.models import Segment
from vigil.store.segments import Interval, find_gaps, merge_spans
from vigil.timeutil import iso

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


class FootageGone(Exception):
    """None of a camera's footage in the range is left to export."""


@dataclass(frozen=True, slots=True)
class PinnedSource:
    segment: CutSource
    path: Path  # the export's own link or copy


def cut_source(segment: Segment) -> CutSource:
    return CutSource(
        path=segment.path,
        start_ms=segment.start_ms,
        end_ms=segment.end_ms,
        height=segment.height,
    )


def _pin(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
        shutil.copyfile(src, dst)


def pin_local(
    sources: Sequence[CutSource], file_of: Callable[[str], Path], work_dir: Path
) -> list[PinnedSource]:
    """Each source's file (``file_of`` its storage key) hard-linked into ``work_dir``, so
    that retention cannot take it while the export runs; one already gone is left out."""
    work_dir.mkdir(parents=True, exist_ok=True)
    pinned: list[PinnedSource] = []
    for index, source in enumerate(sources):
        dst = work_dir / f"{index:06d}.mp4"
        try:
            _pin(file_of(source.path), dst)
        except (FileNotFoundError, MediaNotFound):
            continue
        pinned.append(PinnedSource(source, dst))
    return pinned


async def pin_sources(
    segments: Sequence[Segment], node_of: Callable[[Segment], NodeSide], work_dir: Path
) -> list[PinnedSource]:
    """Each segment's file in ``work_dir``, so that retention cannot take it while the export
    runs: a hard link of a file on this machine, a copy read through the link of one on a
    node elsewhere. A file already gone is left out."""
    work_dir.mkdir(parents=True, exist_ok=True)
    pinned: list[PinnedSource] = []
    for index, seg in enumerate(segments):
        dst = work_dir / f"{index:06d}.mp4"
        node = node_of(seg)
        try:
            try:
                await asyncio.to_thread(_pin, node.recording_file(seg.path), dst)
            except MediaNotFound:  # not on this machine
                await fetch(node.read_file, seg.path, await node.file_size(seg.path), dst)
        except (FileNotFoundError, MediaNotFound):
            continue
        pinned.append(PinnedSource(cut_source(seg), dst))
    return pinned


async def fetch(
    read: Callable[[str, int, int], Awaitable[bytes]], key: str, size: int, dst: Path
) -> None:
    """Copy the ``size`` bytes of a node's file ``key`` to ``dst``, a read at a time."""
    with dst.open("wb") as out:
        at = 0
        while at < size:
            data = await read(key, at, min(at + READ_LIMIT, size) - 1)
            if not data:
                raise MediaNotFound(f"{key}: ended at {at} of {size} bytes")
            await asyncio.to_thread(out.write, data)
            at += len(data)


def output_name(camera_id: int, camera_name: str, start_ms: int) -> str:
    slug = _UNSAFE.sub("-", camera_name).strip("-")[:40] or "camera"
    return f"camera-{camera_id}-{slug}-{file_stamp(start_ms)}.mp4"


@dataclass(frozen=True, slots=True)
class CameraJob:
    camera_id: int
    camera_name: str
    start_ms: int
    end_ms: int
    sources: list[PinnedSource]
    burn_in: bool

    @property
    def planned_ms(self) -> int:
        """How much of the range the footage covers (for progress)."""
        first, last = self.sources[0].segment, self.sources[-1].segment
        return covered_ms(self.start_ms, self.end_ms, first.start_ms, last.end_ms)


def covered_ms(start_ms: int, end_ms: int, first_ms: int, last_ms: int) -> int:
    """How much of [start, end) footage from ``first_ms`` to ``last_ms`` covers; at least 1,
    so that progress never divides by nothing."""
    return max(min(end_ms, last_ms) - max(start_ms, first_ms), 1)


async def export_camera(
    job: CameraJob,
    work_dir: Path,
    out_dir: Path,
    ffmpeg: str,
    on_progress: Callable[[float], None],
) -> ExportedFile:
    """Cut ``job``'s range from its pinned sources into one MP4 in ``out_dir``."""
    if not job.sources:
        raise FootageGone(f"no footage of camera {job.camera_id} is left in the range")
    first = job.sources[0]
    into_first = max(job.start_ms - first.segment.start_ms, 0)
    # The export starts on the first frame stamped at or after its start, whatever frame.
    inpoint_us = await asyncio.to_thread(first_frame_from, first.path, into_first)
    first_ms = first.segment.start_ms + inpoint_us // 1000
    pieces = [Piece(s.path.name, s.segment.start_ms, s.segment.end_ms) for s in job.sources]
    script = work_dir / "concat.txt"
    script.write_text(concat_script(pieces, inpoint_us), encoding="utf-8")
    length_us = timeline_us(pieces, inpoint_us, job.end_ms)
    burn_in = None
    if job.burn_in:
        burn_in = BurnIn(job.camera_name, first_ms, first.segment.height)
        (work_dir / "label.txt").write_text(burn_in.label(), encoding="utf-8")
    name = output_name(job.camera_id, job.camera_name, first_ms)
    partial = work_dir / name
    args = export_args(ffmpeg, script.name, length_us, str(partial), burn_in, "label.txt")
    await run_ffmpeg(args, work_dir, on_progress)
    span = await asyncio.to_thread(video_span, partial)
    digest = await asyncio.to_thread(sha256_file, partial)
    source_hashes = [await asyncio.to_thread(sha256_file, s.path) for s in job.sources]
    size = partial.stat().st_size
    os.replace(partial, out_dir / name)
    last_ms = first_ms + span.duration_ms
    spans = merge_spans([s.segment for s in job.sources])
    gaps = find_gaps(
        [Interval(s.start_ms, s.end_ms) for s in spans], first_ms, min(job.end_ms, last_ms)
    )
    return ExportedFile(
        camera_id=job.camera_id,
        camera_name=job.camera_name,
        name=name,
        size=size,
        sha256=digest,
        first_instant=iso(first_ms),
        last_instant=iso(last_ms),
        re_encoded=job.burn_in,
        sources=[
            SourceSegment(
                storage_key=s.segment.path,
                start=iso(s.segment.start_ms),
                end=iso(s.segment.end_ms),
                size=s.path.stat().st_size,
                sha256=h,
            )
            for s, h in zip(job.sources, source_hashes, strict=True)
        ],
        gaps=[Gap(start=iso(g.start_ms), end=iso(g.end_ms)) for g in gaps],
    )
