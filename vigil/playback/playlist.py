"""HLS VOD playlists (RFC 8216) straight into the recorded files, no remuxing, no copies.

Each file's init part (ftyp + moov) is its ``EXT-X-MAP`` byte range; its fragments (one
moof + mdat per keyframe) are grouped into media segments of a few seconds, each an
``EXT-X-BYTERANGE`` that starts on a keyframe. Files are recorded with timestamps restarting
at zero, so timestamps jump between files: every file boundary where they do not continue is
an ``EXT-X-DISCONTINUITY``, as are gaps in the recording and changes of codec or picture size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from vigil.playback.fragments import Fragment, FragmentIndex
from vigil.store.segments import SPAN_TOLERANCE_MS, SegmentRow
from vigil.timeutil import iso

# Media segments are grouped to about this length: short enough to start quickly, long enough
# that a day's playlist stays small (RFC 8216 suggests 6 s).
PART_SECONDS = 6.0
# Timestamps of consecutive files "continue" when they meet within this (seconds).
_CONTINUES_S = 0.002


@dataclass(frozen=True, slots=True)
class RecordedFile:
    """A segment file of the range, with its fragment index and its URI from the playlist."""

    row: SegmentRow
    index: FragmentIndex
    uri: str

    def wall_ms(self, fragment: Fragment) -> int:
        """When ``fragment`` starts on the wall clock: the segment's start is its first frame."""
        ticks = fragment.decode_time - self.index.first_decode_time
        return self.row.start_ms + round(ticks * 1000 / self.index.timescale)

    def duration_ms(self, fragment: Fragment) -> int:
        return round(fragment.duration * 1000 / self.index.timescale)


@dataclass(frozen=True, slots=True)
class _Part:
    offset: int
    size: int
    seconds: float


@dataclass(slots=True)
class _Run:
    """The fragments of one file that fall in the range, grouped into media segments."""

    file: RecordedFile
    start_ms: int
    end_ms: int
    parts: list[_Part]
    first_dts_s: float
    end_dts_s: float


def _select(file: RecordedFile, start_ms: int, end_ms: int) -> list[Fragment]:
    """Fragments overlapping [start, end), from the keyframe at or before ``start``."""
    fragments = file.index.fragments
    chosen = [
        i
        for i, f in enumerate(fragments)
        if file.wall_ms(f) < end_ms and file.wall_ms(f) + max(file.duration_ms(f), 1) > start_ms
    ]
    if not chosen:
        return []
    first = chosen[0]
    while first > 0 and not fragments[first].keyframe:
        first -= 1
    return list(fragments[first : chosen[-1] + 1])


def _group(fragments: Sequence[Fragment], timescale: int) -> list[_Part]:
    """Consecutive fragments into media segments of about PART_SECONDS, each on a keyframe."""
    total = sum(f.duration for f in fragments) / timescale
    target = total / max(1, math.ceil(total / PART_SECONDS - 1e-9))
    parts: list[_Part] = []
    offset = size = ticks = 0
    for fragment in fragments:
        if size and fragment.keyframe and (ticks + fragment.duration) / timescale > target + 0.05:
            parts.append(_Part(offset, size, ticks / timescale))
            size = ticks = 0
        if not size:
            offset = fragment.offset
        size = fragment.offset + fragment.size - offset
        ticks += fragment.duration
    if size:
        parts.append(_Part(offset, size, ticks / timescale))
    return parts


def _runs(files: Sequence[RecordedFile], start_ms: int, end_ms: int) -> list[_Run]:
    runs = []
    for file in files:
        fragments = _select(file, start_ms, end_ms)
        if not fragments:
            continue
        scale = file.index.timescale
        last = fragments[-1]
        runs.append(
            _Run(
                file=file,
                start_ms=file.wall_ms(fragments[0]),
                end_ms=file.wall_ms(last) + file.duration_ms(last),
                parts=_group(fragments, scale),
                first_dts_s=fragments[0].decode_time / scale,
                end_dts_s=(last.decode_time + last.duration) / scale,
            )
        )
    return runs


def _breaks(before: _Run, after: _Run) -> bool:
    """Whether playback cannot simply continue from one file into the next."""
    a, b = before.file.row, after.file.row
    return (
        after.start_ms - before.end_ms > SPAN_TOLERANCE_MS
        or (a.video_codec, a.width, a.height) != (b.video_codec, b.width, b.height)
        or abs(after.first_dts_s - before.end_dts_s) > _CONTINUES_S
    )


def vod_playlist(files: Sequence[RecordedFile], start_ms: int, end_ms: int) -> str | None:
    """The playlist of [start, end) over ``files`` (sorted by start), or None if none of their
    fragments falls in the range."""
    runs = _runs(files, start_ms, end_ms)
    if not runs:
        return None
    longest = max(part.seconds for run in runs for part in run.parts)
    lead = max(0, start_ms - runs[0].start_ms) / 1000
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        f"#EXT-X-TARGETDURATION:{max(1, math.ceil(longest))}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    if lead:
        # Media segments start on keyframes; players begin at the instant asked for.
        lines.append(f"#EXT-X-START:TIME-OFFSET={lead:.3f},PRECISE=YES")
    previous: _Run | None = None
    for run in runs:
        if previous is not None and _breaks(previous, run):
            lines.append("#EXT-X-DISCONTINUITY")
        uri = run.file.uri
        lines.append(f'#EXT-X-MAP:URI="{uri}",BYTERANGE="{run.file.index.init_length}@0"')
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{iso(run.start_ms)}")
        for part in run.parts:
            lines.append(f"#EXTINF:{part.seconds:.3f},")
            lines.append(f"#EXT-X-BYTERANGE:{part.size}@{part.offset}")
            lines.append(uri)
        previous = run
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
