"""Recorded H.265 converted to H.264 for browsers without HEVC: one media segment per file,
converted once, kept in a bounded cache."""

from __future__ import annotations

import subprocess
from pathlib import Path

from vigil.media.ffmpeg import find_ffmpeg
from vigil.media.fmp4 import parse_init
from vigil.media.mp4 import boxes
from vigil.playback.transcode import Converted, RecordedH264, h264_playlist
from vigil.store.segments import SegmentRow


def recorded_h265(path: Path, seconds: int = 2) -> Path:
    """A file as the recorder writes one from an H.265 camera: fragmented MP4, hvc1."""
    subprocess.run(
        [find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "lavfi",
         "-i", f"testsrc=size=160x120:rate=10:duration={seconds}", "-pix_fmt", "yuv420p",
         "-c:v", "libx265", "-x265-params", "log-level=error:keyint=10", "-tag:v", "hvc1",
         "-f", "mp4", "-movflags", "+frag_keyframe+empty_moov+default_base_moof", str(path)],
        check=True,
    )  # fmt: skip
    return path


def size_of(converted: Converted) -> int:
    return sum(p.stat().st_size for p in (converted.init, converted.media))


async def test_a_recorded_file_is_converted_once_and_the_cache_is_bounded(
    tmp_path: Path,
) -> None:
    first_file = recorded_h265(tmp_path / "a.mp4")
    second_file = recorded_h265(tmp_path / "b.mp4")
    cache = tmp_path / "h264"
    converter = RecordedH264(cache, find_ffmpeg(), concurrent=1)
    first = await converter.converted(first_file, "hevc")
    init, media = first.init.read_bytes(), first.media.read_bytes()
    info = parse_init(init)
    assert info.codecs.startswith("avc1.")
    assert info.video is not None
    assert (info.video.width, info.video.height) == (160, 120)
    assert [kind for kind, _, _ in boxes(media)][:2] == ["moof", "mdat"]
    made = first.media.stat().st_mtime_ns
    again = await converter.converted(first_file, "hevc")
    assert again == first
    assert first.media.read_bytes() == media, "served from the cache, not converted again"
    assert first.media.stat().st_mtime_ns >= made

    # Room for one conversion and a half: the least recently played goes.
    bounded = RecordedH264(cache, find_ffmpeg(), concurrent=1, max_bytes=size_of(first) * 3 // 2)
    second = await bounded.converted(second_file, "hevc")
    assert second.media.is_file()
    assert not first.media.exists()
    assert not first.init.exists()
    assert not list(cache.glob(".*")), "no work files left behind"


def test_the_playlist_has_one_media_segment_per_file_with_its_time() -> None:
    rows = [
        SegmentRow(1, "local", "1/a.mp4", 1_000_000, 1_010_000, 1, "hevc", 160, 120),
        SegmentRow(2, "local", "1/b.mp4", 1_010_000, 1_020_000, 1, "hevc", 160, 120),
        SegmentRow(3, "local", "1/c.mp4", 1_030_000, 1_040_000, 1, "hevc", 160, 120),
    ]
    text = h264_playlist(
        rows, lambda r, part: f"h264/{part}/{r.path}?token=t", 1_004_000, 1_035_000
    )
    assert text is not None
    lines = text.splitlines()
    assert "#EXT-X-START:TIME-OFFSET=4.000,PRECISE=YES" in lines
    assert [line for line in lines if line.startswith("h264/media/")] == [
        "h264/media/1/a.mp4?token=t",
        "h264/media/1/b.mp4?token=t",
        "h264/media/1/c.mp4?token=t",
    ]
    assert lines.count("#EXT-X-DISCONTINUITY") == 2
    assert '#EXT-X-MAP:URI="h264/init/1/c.mp4?token=t"' in lines
    assert "#EXT-X-PROGRAM-DATE-TIME:1970-01-01T00:17:10.000Z" in lines
    assert lines[-1] == "#EXT-X-ENDLIST"
    assert h264_playlist(rows, lambda r, part: "", 2_000_000, 2_001_000) is None
