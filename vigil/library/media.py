"""Media processing for the library: what a file is, a copy every browser plays, and pictures.

Pure functions on local files, blocking (PyAV, Pillow, an ffmpeg child): the library's
background job runs them in a worker thread. Every failure a user's file can cause is a
:class:`MediaError` whose message is a short reason, recorded on the item as it is.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Literal

import av
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from vigil.media.ffmpeg import find_ffmpeg
from vigil.media.mp4 import file_boxes
from vigil.timeutil import datetime_to_ms

MediaKind = Literal["image", "video"]

# What every current browser shows in <img>; MPO is a camera's JPEG with extra pictures after
# the first, which browsers show as the JPEG it starts with.
WEB_IMAGE_FORMATS = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png",
                     "WEBP": "image/webp", "GIF": "image/gif"}  # fmt: skip
# H.264 pictures every browser decodes: 8-bit 4:2:0 (yuvj420p is the full-range spelling).
WEB_PIXEL_FORMATS = ("yuv420p", "yuvj420p")
# HEIF brands (iPhone photos). Pillow reads them only with a plugin this project does not ship.
HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
# The boxes an MP4/MOV file starts with.
ISO_BOXES = {b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"}
CONTAINER_MIME = {"mp4": "video/mp4", "mov": "video/quicktime", "3gp": "video/3gpp",
                  "matroska": "video/x-matroska", "webm": "video/webm", "avi": "video/x-msvideo",
                  "mpegts": "video/mp2t", "mpeg": "video/mpeg", "flv": "video/x-flv",
                  "asf": "video/x-ms-asf", "ogg": "video/ogg"}  # fmt: skip
# Capture times before this are a camera's unset clock (1904 and 1970 epochs), not a date.
EARLIEST_CAPTURE = datetime(1980, 1, 1, tzinfo=UTC)
JPEG_QUALITY = 85


class MediaError(Exception):
    """A file that cannot be used as it is; the message says why, in a few words."""


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What a picture or video is. Width and height are as displayed (rotation applied)."""

    kind: MediaKind
    mime: str
    width: int
    height: int
    web_playable: bool  # a browser shows or plays the file as it is
    duration_ms: int | None = None
    video_codec: str | None = None  # e.g. "h264", "hevc"; for images, None
    audio_codec: str | None = None  # None: no sound
    container: str | None = None  # e.g. "mp4", "mov", "matroska"; for images, e.g. "JPEG"
    pixel_format: str | None = None
    rotation: int = 0  # degrees clockwise the stored picture is turned for display
    faststart: bool | None = None  # MP4/MOV: the index comes before the media data
    captured_ms: int | None = None  # when it was taken, from EXIF or the container


# -- probing


def probe(path: Path, *, camera_zone: tzinfo = UTC) -> MediaInfo:
    """What ``path`` holds, read from its content (not its name); MediaError if unusable.

    ``camera_zone`` is the zone of a camera clock that records no offset (most EXIF).
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            head = file.read(16)
    except OSError as exc:
        raise MediaError(f"cannot read the file: {exc.strerror or exc}") from exc
    if size == 0:
        raise MediaError("the file is empty")
    with _unreadable_as("not a readable image"):
        try:
            image = Image.open(path)
        except UnidentifiedImageError:
            image = None
        if image is not None:
            with image:
                # Pillow "opens" MPEG-1 video as a picture it cannot decode: that is a video.
                if image.format != "MPEG":
                    return _probe_image(image, camera_zone)
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        raise MediaError("HEIC/HEIF photos are not supported yet: export them as JPEG")
    with _unreadable_as("not a readable video"):
        return _probe_video(path, _iso_boxes(path, head, size))


def _probe_image(image: Image.Image, camera_zone: tzinfo) -> MediaInfo:
    format_name = image.format or "unknown"
    exif = image.getexif()
    width, height = image.size
    orientation = exif.get(ExifTags.Base.Orientation, 1)
    if orientation in (5, 6, 7, 8):  # turned a quarter: the displayed picture is portrait
        width, height = height, width
    captured = _exif_captured_ms(exif, camera_zone)
    # Decode it all (at 1/8 size where the format allows), so a cut-short file fails here.
    image.draft(None, (max(1, image.width // 8), max(1, image.height // 8)))
    image.load()
    web_mime = WEB_IMAGE_FORMATS.get(format_name)
    return MediaInfo(
        kind="image",
        mime=web_mime or Image.MIME.get(format_name, "application/octet-stream"),
        width=width,
        height=height,
        web_playable=web_mime is not None,
        container=format_name,
        pixel_format=image.mode,
        rotation={3: 180, 4: 180, 5: 90, 6: 90, 7: 270, 8: 270}.get(orientation, 0),
        captured_ms=captured,
    )


_EXIF_TIMES = (
    (ExifTags.Base.DateTimeOriginal, ExifTags.Base.OffsetTimeOriginal,
     ExifTags.Base.SubsecTimeOriginal),
    (ExifTags.Base.DateTimeDigitized, ExifTags.Base.OffsetTimeDigitized,
     ExifTags.Base.SubsecTimeDigitized),
)  # fmt: skip


def _exif_captured_ms(exif: Image.Exif, camera_zone: tzinfo) -> int | None:
    """When the shutter fired: DateTimeOriginal (else DateTimeDigitized), with its offset and
    fraction when the camera wrote them. DateTime is left out: editors rewrite it."""
    tags = exif.get_ifd(ExifTags.IFD.Exif)
    for when_tag, offset_tag, subsec_tag in _EXIF_TIMES:
        text = str(tags.get(when_tag) or exif.get(when_tag) or "").strip("\x00 ")
        try:
            when = datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
        except ValueError:
            continue
        zone = camera_zone
        with contextlib.suppress(ValueError):
            offset = str(tags.get(offset_tag) or "").strip("\x00 ")
            zone = datetime.strptime(offset, "%z").tzinfo or camera_zone
        subsec = "".join(c for c in str(tags.get(subsec_tag) or "") if c.isdigit())[:6]
        when = when.replace(microsecond=int(subsec.ljust(6, "0")) if subsec else 0, tzinfo=zone)
        if when >= EARLIEST_CAPTURE:
            return datetime_to_ms(when)
    return None


def _probe_video(path: Path, boxes: list[bytes] | None) -> MediaInfo:
    with av.open(str(path), metadata_errors="replace") as container:
        family = container.format.name.split(",")
        if "mov" not in family:
            boxes = None
        if not container.streams.video:
            raise MediaError("not a readable video: it holds no pictures")
        video = container.streams.video[0]
        frame = next(container.decode(video), None)
        if frame is None:
            raise MediaError("not a readable video: no picture could be decoded")
        rotation = (-frame.rotation) % 360 or _rotate_tag(video.metadata)
        width, height = video.codec_context.width, video.codec_context.height
        aspect = video.sample_aspect_ratio
        if aspect and aspect != 1:  # anamorphic (DV, DVD): pixels drawn wider or narrower
            width = round(width * aspect)
        if rotation in (90, 270):
            width, height = height, width
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        codec = video.codec_context.name
        pixel_format = video.codec_context.pix_fmt
        if boxes is not None:
            brand = container.metadata.get("major_brand", "").strip()
            name = "mov" if brand in ("", "qt") else "3gp" if brand.startswith("3g") else "mp4"
        elif family[0] == "matroska" and codec in ("vp8", "vp9", "av1"):
            name = "webm"
        else:
            name = family[0]
        faststart = _moov_first(boxes) if boxes is not None else None
        duration = container.duration
        if duration is None and video.duration is not None and video.time_base is not None:
            duration = round(video.duration * video.time_base * 1_000_000)
        return MediaInfo(
            kind="video",
            mime=CONTAINER_MIME.get(name, f"video/x-{name}"),
            width=width,
            height=height,
            web_playable=(
                name == "mp4"
                and codec == "h264"
                and pixel_format in WEB_PIXEL_FORMATS
                and audio in (None, "aac")
                and bool(faststart)
            ),
            duration_ms=None if duration is None else round(duration / 1000),
            video_codec=codec,
            audio_codec=audio,
            container=name,
            pixel_format=pixel_format,
            rotation=rotation,
            faststart=faststart,
            captured_ms=_container_captured_ms(container.metadata, video.metadata),
        )


def _rotate_tag(metadata: dict[str, str]) -> int:
    """The old ``rotate`` tag (degrees clockwise), from files and ffmpeg builds before the
    display matrix; 0 if absent."""
    try:
        return int(float(metadata.get("rotate", "0"))) % 360
    except ValueError:
        return 0


def _container_captured_ms(container: dict[str, str], stream: dict[str, str]) -> int | None:
    """Apple's creation date (the moment of capture, with the phone's offset) first: a
    file's ``creation_time`` is when it was written, which an edit or export moves."""
    for text in (
        container.get("com.apple.quicktime.creationdate"),
        container.get("creation_time"),
        stream.get("creation_time"),
    ):
        if not text:
            continue
        try:
            when = datetime.fromisoformat(text.strip())
        except ValueError:
            continue
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        if when >= EARLIEST_CAPTURE:
            return datetime_to_ms(when)
    return None


def _iso_boxes(path: Path, head: bytes, size: int) -> list[bytes] | None:
    """An MP4/MOV file's top-level boxes (None for other files), checked whole first: FFmpeg
    plays what there is of a file cut short, or calls it "invalid data"."""
    return _top_level_boxes(path, size) if head[4:8] in ISO_BOXES else None


def _top_level_boxes(path: Path, size: int) -> list[bytes]:
    """The types of an MP4/MOV file's top-level boxes, in order; MediaError if the last one
    runs past the end of the file (an upload or copy cut short)."""
    listing = file_boxes(path, max_boxes=10_000)
    if listing.cut_short_at is not None:
        raise MediaError(
            f"not a readable video: the file is cut short ({size} of {listing.cut_short_at} bytes)"
        )
    return [box.type.encode("latin-1") for box in listing.boxes]


def _moov_first(boxes: list[bytes]) -> bool:
    """Whether the index (moov) comes before the media (mdat), so playback starts at once."""
    moov = boxes.index(b"moov") if b"moov" in boxes else len(boxes)
    mdat = boxes.index(b"mdat") if b"mdat" in boxes else len(boxes)
    return moov < mdat


@contextlib.contextmanager
def _unreadable_as(what: str) -> Iterator[None]:
    """Turn any failure of a decoder into a MediaError: Pillow's plugins and FFmpeg meet
    arbitrary bytes here and fail in many ways (struct, value, index, EOF errors...)."""
    try:
        yield
    except MediaError:
        raise
    except Exception as exc:
        raise MediaError(f"{what}: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    """The cause in a few words: FFmpeg's and the OS's own text without the file name."""
    text = ""
    if isinstance(exc, av.FFmpegError | OSError):
        text = exc.strerror or ""
    text = (text or str(exc) or type(exc).__name__).strip().splitlines()[0]
    return text[:200]


# -- a copy for the web


def transcode_for_web(
    src: Path,
    dst: Path,
    *,
    progress: Callable[[float], None] | None = None,
    max_height: int = 1080,
    ffmpeg: str = "",
) -> MediaInfo:
    """Write an MP4 every browser plays (H.264/AAC, index first, upright) to ``dst``.

    A source whose streams already play (H.264 8-bit 4:2:0, AAC or silent, not rotated) is
    copied into a faststart MP4; anything else is encoded, its shorter side at most
    ``max_height`` lines (1080: 1080p whether the video is landscape or portrait).
    ``progress`` gets increasing fractions, 1.0 last. Metadata (GPS position included) is
    left out of the copy. Blocking; MediaError with ffmpeg's last lines if it fails.
    """
    source = probe(src)
    if source.kind != "video":
        raise MediaError(f"not a video: {source.mime}")
    args = [find_ffmpeg(ffmpeg), "-hide_banner", "-nostdin", "-loglevel", "error", "-nostats",
            "-progress", "pipe:1", "-stats_period", "0.5", "-i", str(src),
            "-map", "0:v:0", "-map", "0:a:0?", "-map_metadata", "-1", "-map_chapters", "-1",
            *_codec_args(source, max_height),
            "-movflags", "+faststart", "-f", "mp4", "-y"]  # fmt: skip
    part = dst.with_name(dst.name + ".part")
    try:
        _run_ffmpeg([*args, str(part)], source.duration_ms, progress)
        os.replace(part, dst)
    finally:
        part.unlink(missing_ok=True)
    result = probe(dst)
    if not result.web_playable or result.rotation:
        raise MediaError(
            f"the converted video is not web-playable ({result.video_codec}, "
            f"{result.pixel_format}, rotated {result.rotation}°)"
        )
    if progress is not None:
        progress(1.0)
    return result


def _codec_args(source: MediaInfo, max_height: int) -> list[str]:
    if (
        source.video_codec == "h264"
        and source.pixel_format in WEB_PIXEL_FORMATS
        and source.audio_codec in (None, "aac")
        and not source.rotation
    ):
        return ["-c", "copy"]
    # ffmpeg turns the picture upright (autorotate) before this filter sees it, and drops the
    # display matrix: the sizes here are the displayed ones.
    scale = min(1.0, max_height / max(1, min(source.width, source.height)))
    width, height = _even(source.width * scale), _even(source.height * scale)
    audio = ["-c:a", "copy"] if source.audio_codec == "aac" else ["-c:a", "aac", "-b:a", "160k"]
    return ["-vf", f"scale={width}:{height},setsar=1,format=yuv420p",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
            *audio]  # fmt: skip


def _even(size: float) -> int:
    """H.264 in 4:2:0 wants even sizes."""
    return max(2, round(size / 2) * 2)


def _run_ffmpeg(
    args: list[str], duration_ms: int | None, progress: Callable[[float], None] | None
) -> None:
    """Run ffmpeg to the end, passing ``-progress`` output time as a fraction of the source's
    duration (increasing, below 1.0); MediaError with its last stderr lines on failure."""
    reported = 0.0
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors
            )
        except OSError as exc:
            raise MediaError(f"cannot run ffmpeg: {exc.strerror or exc}") from exc
        with proc:
            assert proc.stdout is not None
            for raw in proc.stdout:
                key, _, value = raw.decode("ascii", "replace").strip().partition("=")
                if key != "out_time_us" or not value.isdigit() or not duration_ms:
                    continue
                fraction = min(int(value) / 1000 / duration_ms, 0.99)
                if progress is not None and fraction > reported:
                    reported = fraction
                    progress(fraction)
        if proc.returncode != 0:
            errors.seek(0)
            lines = errors.read().decode("utf-8", "replace").strip().splitlines()[-4:]
            reason = "; ".join(line.strip() for line in lines) or f"exit status {proc.returncode}"
            raise MediaError(f"could not convert the video: {reason}")


# -- pictures


def video_poster(
    src: Path, dst_jpeg: Path, at_ms: int | None = None, *, max_side: int = 1280
) -> tuple[int, int]:
    """Save an upright JPEG of the frame at ``at_ms`` (default: a tenth in, else 1 s, past a
    fade from black), at most ``max_side`` pixels on its longer side; its (width, height)."""
    with _unreadable_as("no picture from the video"):
        with src.open("rb") as file:
            _iso_boxes(src, file.read(16), src.stat().st_size)
        return _poster(src, dst_jpeg, at_ms, max_side)


def _poster(src: Path, dst_jpeg: Path, at_ms: int | None, max_side: int) -> tuple[int, int]:
    with av.open(str(src), metadata_errors="replace") as container:
        if not container.streams.video:
            raise MediaError("no picture from the video: it holds no pictures")
        video = container.streams.video[0]
        duration_ms = None if container.duration is None else container.duration // 1000
        if at_ms is None:
            at_ms = duration_ms // 10 if duration_ms else 1000
        start = (container.start_time or 0) / 1_000_000
        target = start + at_ms / 1000
        with contextlib.suppress(av.FFmpegError):
            container.seek(round(target * 1_000_000), backward=True)
        chosen = None
        for frame in container.decode(video):
            chosen = frame
            if frame.time is not None and frame.time >= target:
                break
        if chosen is None:
            raise MediaError("no picture from the video: no frame could be decoded")
        picture = Image.fromarray(chosen.to_ndarray(format="rgb24"))
        aspect = video.sample_aspect_ratio
        if aspect and aspect != 1:
            picture = picture.resize((round(picture.width * aspect), picture.height))
        picture = _upright(picture, chosen.rotation)
        picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        _save_jpeg(picture, dst_jpeg)
        return picture.size


def _upright(image: Image.Image, counter_clockwise: int) -> Image.Image:
    """Turn a decoded frame as its display matrix says (FFmpeg's angle is counter-clockwise,
    as Pillow's transposes are)."""
    turn = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180,
            270: Image.Transpose.ROTATE_270}.get(counter_clockwise % 360)  # fmt: skip
    return image if turn is None else image.transpose(turn)


def thumbnail(src: Path, dst: Path, max_side: int = 320) -> tuple[int, int]:
    """Save an upright JPEG of a picture (EXIF orientation applied, transparency on white),
    at most ``max_side`` pixels on its longer side; its (width, height)."""
    with _unreadable_as("no thumbnail"), Image.open(src) as image:
        image.draft(None, (max_side, max_side))  # JPEG: decode at 1/2 to 1/8 size, faster
        picture = _flatten(ImageOps.exif_transpose(image))
        picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        _save_jpeg(picture, dst)
        return picture.size


def _flatten(image: Image.Image) -> Image.Image:
    """RGB for JPEG: transparent parts become white (not the black their pixels often hold)."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image if image.mode == "RGB" else image.convert("RGB")


def _save_jpeg(image: Image.Image, dst: Path) -> None:
    """Write whole or not at all: a reader never sees half a JPEG."""
    part = dst.with_name(dst.name + ".part")
    try:
        image.save(part, "JPEG", quality=JPEG_QUALITY, optimize=True)
        os.replace(part, dst)
    finally:
        part.unlink(missing_ok=True)
