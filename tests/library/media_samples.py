"""Real media files for library tests, made on the spot with ffmpeg and Pillow, small and fast.

Each picture carries a white square in the stored picture's top-left corner, so a test can
tell where a rotation put it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from PIL import ExifTags, Image

from vigil.media.ffmpeg import find_ffmpeg

# The phone's clock: 12:20:30.000 at +02:00, i.e. 10:20:30 UTC.
PHONE_CAPTURED_MS = 1_715_941_230_000
PHONE_LOCATION = "+48.8584+002.2945+035.000/"  # where it was filmed: private
PHONE_SIZE = (320, 180)  # as stored (landscape); displayed turned 90° clockwise: 180x320
MARKER = 48  # side of the white square, pixels

# 2023-06-01 14:30:15.250 at +02:00.
PHOTO_CAPTURED_MS = 1_685_622_615_250


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        [find_ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
        check=True,
    )


def _picture(seconds: float, size: tuple[int, int]) -> list[str]:
    width, height = size
    # A dark picture with the white marker, and a moving box so frames differ.
    source = (
        f"color=c=0x202020:size={width}x{height}:rate=30,"
        f"drawbox=x=0:y=0:w={MARKER}:h={MARKER}:color=white:t=fill,"
        f"drawbox=x='mod(t*120,{width})':y={height - 40}:w=20:h=20:color=red:t=fill"
    )
    return ["-f", "lavfi", "-t", str(seconds), "-i", source]


def phone_video(path: Path, seconds: float = 2.0) -> Path:
    """What a phone held upright writes: HEVC (hvc1) in MOV, stored landscape with a display
    matrix turning it 90° clockwise, AAC sound, Apple's creation date and creation_time."""
    flat = path.with_name(path.stem + "-flat.mov")
    _ffmpeg(
        *_picture(seconds, PHONE_SIZE),
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
        "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
        "-tag:v", "hvc1", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
        "-movflags", "use_metadata_tags",
        "-metadata", "com.apple.quicktime.creationdate=2024-05-17T12:20:30+0200",
        "-metadata", "creation_time=2024-05-17T10:20:31Z",  # when written: a second later
        "-metadata", f"com.apple.quicktime.location.ISO6709={PHONE_LOCATION}",
        "-f", "mov", str(flat),
    )  # fmt: skip
    # -display_rotation is counter-clockwise: -90 is the phone's "rotate 90" (clockwise).
    _ffmpeg("-display_rotation:v:0", "-90", "-i", str(flat), "-map", "0", "-c", "copy",
            "-map_metadata", "0", "-movflags", "use_metadata_tags", "-f", "mov", str(path))  # fmt: skip
    flat.unlink()
    return path


def slow_start_mp4(path: Path, seconds: float = 2.0) -> Path:
    """A web-playable MP4 (H.264 8-bit 4:2:0, AAC) with its index at the end (no faststart)."""
    _ffmpeg(
        *_picture(seconds, (320, 240)),
        "-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
        "-shortest", "-f", "mp4", str(path),
    )  # fmt: skip
    return path


def faststart_mp4(path: Path, seconds: float = 2.0) -> Path:
    """An MP4 that browsers play as it is: H.264 8-bit 4:2:0, AAC, its index first."""
    _ffmpeg(
        *_picture(seconds, (320, 240)),
        "-f", "lavfi", "-i", f"sine=frequency=330:duration={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
        "-shortest", "-movflags", "+faststart", "-f", "mp4", str(path),
    )  # fmt: skip
    return path


def anamorphic_mpeg(path: Path) -> Path:
    """PAL DVD-style video: MPEG-2 720x576 stored, pixels 16:15 wide, so shown 768x576."""
    _ffmpeg(
        *_picture(1.0, (720, 576)),
        "-vf", "setsar=16/15", "-c:v", "mpeg2video", "-q:v", "5", "-f", "vob", str(path),
    )  # fmt: skip
    return path


def rotated_jpeg(path: Path, *, offset: str | None = "+02:00") -> Path:
    """A JPEG stored landscape (400x300) with EXIF Orientation 6: shown turned 90° clockwise
    (300x400), so the stored top-left marker shows at the top right."""
    image = Image.new("RGB", (400, 300), (30, 30, 30))
    image.paste((255, 255, 255), (0, 0, MARKER, MARKER))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.DateTime] = "2024:01:01 00:00:00"  # an editor's save: not the capture
    details = exif.get_ifd(ExifTags.IFD.Exif)
    details[ExifTags.Base.DateTimeOriginal] = "2023:06:01 14:30:15"
    details[ExifTags.Base.SubsecTimeOriginal] = "25"
    if offset is not None:
        details[ExifTags.Base.OffsetTimeOriginal] = offset
    image.save(path, "JPEG", exif=exif.tobytes(), quality=90)
    return path


def transparent_png(path: Path) -> Path:
    """A PNG whose left half is fully transparent (black underneath) and right half blue."""
    image = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    image.paste((0, 0, 255, 255), (100, 0, 200, 100))
    image.save(path, "PNG")
    return path


def top_level_boxes(path: Path) -> list[str]:
    """The types of an MP4's top-level boxes in file order (read here, not by the code under
    test)."""
    data = path.read_bytes()
    kinds, offset = [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        if size == 1:
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        kinds.append(data[offset + 4 : offset + 8].decode("latin-1"))
        if size < 8:
            break
        offset += size
    return kinds
