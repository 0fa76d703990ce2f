"""HLS VOD playlists (RFC 8216) straight into the recorded files, no remuxing, no copies.

Each file's init part (ftyp + moov) is its ``EXT-X-MAP`` byte range; its fragments (one
moof + mdat per keyframe) are grouped into media segments of a few seconds, each an
``EXT-X-BYTERANGE`` that starts on a keyframe. Files are recorded with timestamps restarting
at zero. For ffmpeg's HLS reader, which ignores discontinuities and drops every sample not
later than the last it has seen, the playlist lays them on one timeline: each file after the
first is asked for with ``shift=<µs>`` and served with its decode times moved to where it
lies on it (:mod:`vigil.playback.retime`; a gap stays a jump of its length). Browsers get
the files as recorded (``one_timeline=False``): hls.js and Safari re-sync at the
``EXT-X-DISCONTINUITY`` before every file after the first, and hls.js placed shifted files
a few frames off (two cameras drifted apart on the Recordings page) or, without the
discontinuities, seconds ahead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from vigil.playback.fragments import Fragment, FragmentIndex
from vigil.store.segments import SPAN_TOLERANCE_MS, SegmentRow
from vigil.timeutil import iso

# Media segments are grouped to about this length: short enough to start quickly, long enough
# that a day's playlist stays small (RFC 8216 suggests 6 s).
PART_SECONDS = 6.0


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
    first_dts: Fraction  # seconds, on the file's own timeline
    end_dts: Fraction


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
                first_dts=Fraction(fragments[0].decode_time, scale),
                end_dts=Fraction(last.decode_time + last.duration, scale),
            )
        )
    return runs


def _retimable(file: RecordedFile) -> bool:
    """Whether the file's decode times can move anywhere on a day's timeline: 64-bit ones
    (ffmpeg writes them); a 32-bit one overflows after 13 hours at 90 kHz."""
    return all(t.width == 8 for f in file.index.fragments for t in f.decode_times)


def _shifts(runs: Sequence[_Run]) -> list[int]:
    """Each run's shift in µs: every file starts where the one before it ends on the
    timeline, a gap's length later after a gap in the recording."""
    shifts: list[int] = []
    end = Fraction(0)
    for i, run in enumerate(runs):
        shift = Fraction(0)
        if i and _retimable(run.file):
            gap = run.start_ms - runs[i - 1].end_ms
            shift = end + (Fraction(gap, 1000) if gap > SPAN_TOLERANCE_MS else 0) - run.first_dts
        us = round(shift * 1_000_000)
        shifts.append(us)
        end = run.end_dts + Fraction(us, 1_000_000)
    return shifts


# Players that follow EXT-X-DISCONTINUITY: browsers (hls.js) and Apple's own (Safari, iOS).
_RESYNCING = ("Mozilla/", "AppleCoreMedia/")


def splices_files(user_agent: str) -> bool:
    """Whether a player asking with this User-Agent reads the files as one stream (ffmpeg and
    what is built on it, mpv, VLC, ...) and so needs them on one timeline."""
    return not any(marker in user_agent for marker in _RESYNCING)


def _shifted(uri: str, shift_us: int) -> str:
    if not shift_us:
        return uri
    return f"{uri}{'&' if '?' in uri else '?'}shift={shift_us}"


def vod_header(longest_seconds: float) -> list[str]:
    """The first lines of a VOD playlist whose longest media segment lasts this long."""
    return [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        f"#EXT-X-TARGETDURATION:{max(1, math.ceil(longest_seconds))}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]


def vod_playlist(
    files: Sequence[RecordedFile], start_ms: int, end_ms: int, *, one_timeline: bool = True
) -> str | None:
    """The playlist of [start, end) over ``files`` (sorted by start), or None if none of their
    fragments falls in the range. ``one_timeline``: files after the first shifted onto the
    first's timeline (for readers that splice files); without, served as recorded."""
    runs = _runs(files, start_ms, end_ms)
    if not runs:
        return None
    longest = max(part.seconds for run in runs for part in run.parts)
    lead = max(0, start_ms - runs[0].start_ms) / 1000
    lines = vod_header(longest)
    if lead:
        # Media segments start on keyframes; players begin at the instant asked for.
        lines.append(f"#EXT-X-START:TIME-OFFSET={lead:.3f},PRECISE=YES")
    shifts = _shifts(runs) if one_timeline else [0] * len(runs)
    for i, (run, shift_us) in enumerate(zip(runs, shifts, strict=True)):
        if i:
            lines.append("#EXT-X-DISCONTINUITY")
        uri = run.file.uri
        lines.append(f'#EXT-X-MAP:URI="{uri}",BYTERANGE="{run.file.index.init_length}@0"')
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{iso(run.start_ms)}")
        media = _shifted(uri, shift_us)
        for part in run.parts:
            lines.append(f"#EXTINF:{part.seconds:.3f},")
            lines.append(f"#EXT-X-BYTERANGE:{part.size}@{part.offset}")
            lines.append(media)
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
