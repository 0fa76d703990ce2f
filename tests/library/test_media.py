"""Media processing on real files: a phone's rotated HEVC video made web-playable, rotated
photos with upright thumbnails, capture times, and clear refusals of broken files."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import av
import pytest
from PIL import Image, ImageStat

from tests.library.media_samples import (
    PHONE_CAPTURED_MS,
    PHONE_LOCATION,
    PHOTO_CAPTURED_MS,
    anamorphic_mpeg,
    phone_video,
    rotated_jpeg,
    slow_start_mp4,
    top_level_boxes,
    transparent_png,
)
from vigil.library.media import (
    MediaError,
    MediaInfo,
    probe,
    thumbnail,
    transcode_for_web,
    video_poster,
)


@pytest.fixture(scope="module")
def phone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return phone_video(tmp_path_factory.mktemp("phone") / "IMG_0001.MOV")


@pytest.fixture(scope="module")
def web_copy(
    phone: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, MediaInfo, list[float]]:
    """The phone video transcoded for the web, what transcode_for_web said of it, and the
    progress it reported."""
    dst = tmp_path_factory.mktemp("web") / "web.mp4"
    reported: list[float] = []
    info = transcode_for_web(phone, dst, progress=reported.append)
    return dst, info, reported


def corner_brightness(image: Image.Image) -> tuple[float, float]:
    """Mean brightness near the top-left and the top-right corners (where markers go)."""
    grey = image.convert("L")
    width = grey.width

    def mean(left: int) -> float:
        return float(ImageStat.Stat(grey.crop((left, 8, left + 8, 16))).mean[0])

    return mean(8), mean(width - 16)


def first_frame(path: Path) -> av.VideoFrame:
    with av.open(str(path)) as container:
        return next(container.decode(video=0))


def video_packets_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with av.open(str(path)) as container:
        for packet in container.demux(video=0):
            if packet.size:
                digest.update(bytes(packet))
    return digest.hexdigest()


def test_a_phone_video_is_described_as_the_phone_shows_it(phone: Path) -> None:
    info = probe(phone)

    assert info.kind == "video"
    assert info.mime == "video/quicktime"
    assert (info.video_codec, info.audio_codec, info.container) == ("hevc", "aac", "mov")
    assert info.rotation == 90
    assert (info.width, info.height) == (180, 320)  # stored 320x180, shown portrait
    assert info.duration_ms is not None
    assert abs(info.duration_ms - 2000) <= 50
    # Apple's capture date, not the file's creation_time written a second later.
    assert info.captured_ms == PHONE_CAPTURED_MS
    assert not info.web_playable


def test_a_phone_video_becomes_an_upright_mp4_that_starts_at_once(
    phone: Path, web_copy: tuple[Path, MediaInfo, list[float]]
) -> None:
    dst, info, _ = web_copy

    assert info.web_playable
    assert (info.video_codec, info.audio_codec, info.container) == ("h264", "aac", "mp4")
    assert info.mime == "video/mp4"
    boxes = top_level_boxes(dst)
    assert boxes.index("moov") < boxes.index("mdat"), boxes
    # Upright in its pixels, with no rotation left for a player to apply (again).
    frame = first_frame(dst)
    assert frame.rotation == 0
    assert (frame.width, frame.height) == (info.width, info.height) == (180, 320)
    left, right = corner_brightness(Image.fromarray(frame.to_ndarray(format="rgb24")))
    assert (left < 80, right > 200) == (True, True), (left, right)  # the marker turned too
    source = probe(phone)
    assert source.duration_ms is not None
    assert info.duration_ms is not None
    assert abs(info.duration_ms - source.duration_ms) <= 100
    assert not list(dst.parent.glob("*.part"))


def test_transcoding_reports_increasing_progress_ending_at_one(
    web_copy: tuple[Path, MediaInfo, list[float]],
) -> None:
    _, _, reported = web_copy

    assert reported[-1] == 1.0
    assert reported == sorted(set(reported)), reported  # strictly increasing
    assert all(0 < fraction <= 1 for fraction in reported)
    # ffmpeg's last report (all of the output time written) comes before the final 1.0.
    assert len(reported) >= 2
    assert reported[-2] >= 0.9, reported


def test_the_web_copy_leaves_out_where_the_video_was_filmed(
    phone: Path, web_copy: tuple[Path, MediaInfo, list[float]]
) -> None:
    dst, _, _ = web_copy
    assert PHONE_LOCATION.encode() in phone.read_bytes()
    assert PHONE_LOCATION.encode() not in dst.read_bytes()


def test_the_web_copy_is_limited_on_its_shorter_side_with_even_sizes(
    phone: Path, tmp_path: Path
) -> None:
    info = transcode_for_web(phone, tmp_path / "small.mp4", progress=None, max_height=100)

    assert (info.width, info.height) == (100, 178)  # 180x320 scaled by 100/180, even


def test_a_playable_mp4_without_faststart_is_copied_with_its_index_first(tmp_path: Path) -> None:
    source = slow_start_mp4(tmp_path / "export.mp4")
    before = probe(source)
    assert before.faststart is False
    assert not before.web_playable
    assert top_level_boxes(source).index("mdat") < top_level_boxes(source).index("moov")

    info = transcode_for_web(source, tmp_path / "web.mp4", progress=None)

    assert info.web_playable
    assert info.faststart
    boxes = top_level_boxes(tmp_path / "web.mp4")
    assert boxes.index("moov") < boxes.index("mdat"), boxes
    assert (info.video_codec, info.width, info.height) == ("h264", 320, 240)
    # Stream copy: the very same encoded pictures, not a second generation.
    assert video_packets_digest(tmp_path / "web.mp4") == video_packets_digest(source)


def test_anamorphic_video_keeps_its_shape_on_the_web(tmp_path: Path) -> None:
    source = anamorphic_mpeg(tmp_path / "VTS_01_1.VOB")
    assert (probe(source).width, probe(source).height) == (768, 576)

    info = transcode_for_web(source, tmp_path / "web.mp4", progress=None)
    assert (info.width, info.height) == (768, 576)
    frame = first_frame(tmp_path / "web.mp4")
    assert (frame.width, frame.height) == (768, 576)  # square pixels now
    assert info.video_codec == "h264"
    assert video_poster(source, tmp_path / "poster.jpg") == (768, 576)


def test_a_poster_is_an_upright_frame_and_its_thumbnail_is_small(
    phone: Path, tmp_path: Path
) -> None:
    poster, thumb = tmp_path / "poster.jpg", tmp_path / "thumb.jpg"

    assert video_poster(phone, poster) == (180, 320)
    with Image.open(poster) as picture:
        assert (picture.format, picture.size) == ("JPEG", (180, 320))
        left, right = corner_brightness(picture)
        assert (left < 80, right > 200) == (True, True), (left, right)

    assert thumbnail(poster, thumb) == (180, 320)  # already within 320
    assert thumbnail(poster, thumb, max_side=160) == (90, 160)
    with Image.open(thumb) as picture:
        assert picture.size == (90, 160)


def test_a_rotated_photo_is_described_and_thumbnailed_as_shown(tmp_path: Path) -> None:
    photo = rotated_jpeg(tmp_path / "DSC_0042.JPG")

    info = probe(photo)
    assert (info.kind, info.mime, info.web_playable) == ("image", "image/jpeg", True)
    assert (info.width, info.height) == (300, 400)  # stored 400x300, Orientation 6
    assert info.captured_ms == PHOTO_CAPTURED_MS  # DateTimeOriginal + offset + fraction

    size = thumbnail(photo, tmp_path / "thumb.jpg")
    assert size == (240, 320)
    with Image.open(tmp_path / "thumb.jpg") as thumb:
        assert (thumb.format, thumb.size) == ("JPEG", size)
        left, right = corner_brightness(thumb)
        assert (left < 80, right > 200) == (True, True), (left, right)  # turned clockwise


def test_a_photo_time_without_offset_is_read_on_the_cameras_clock(tmp_path: Path) -> None:
    photo = rotated_jpeg(tmp_path / "photo.jpg", offset=None)
    shot = datetime(2023, 6, 1, 14, 30, 15, 250_000)

    assert probe(photo).captured_ms == int(shot.replace(tzinfo=UTC).timestamp() * 1000)
    paris_summer = timezone(timedelta(hours=2))
    assert probe(photo, camera_zone=paris_summer).captured_ms == PHOTO_CAPTURED_MS


def test_a_transparent_png_gets_a_jpeg_thumbnail_on_white(tmp_path: Path) -> None:
    png = transparent_png(tmp_path / "logo.png")
    assert probe(png).web_playable

    assert thumbnail(png, tmp_path / "thumb.jpg") == (200, 100)
    with Image.open(tmp_path / "thumb.jpg") as thumb:
        assert (thumb.format, thumb.mode) == ("JPEG", "RGB")
        left = ImageStat.Stat(thumb.crop((10, 40, 30, 60))).mean
        right = ImageStat.Stat(thumb.crop((170, 40, 190, 60))).mean
        assert min(left) > 240  # transparent shows as white, not the black beneath
        assert right[2] > 200
        assert right[0] < 60


def _truncated(source: Path, dst: Path, fraction: float) -> Path:
    data = source.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


@pytest.fixture
def broken(request: pytest.FixtureRequest, tmp_path: Path, phone: Path) -> Path:
    """A broken file of the kind named by the test's parameter."""
    kind = request.param
    if kind == "truncated, index at the end":
        return _truncated(slow_start_mp4(tmp_path / "src.mp4"), tmp_path / "cut.mp4", 0.5)
    if kind == "truncated, index first":
        web = tmp_path / "web.mp4"
        transcode_for_web(phone, web, progress=None)
        return _truncated(web, tmp_path / "cut.mp4", 0.6)
    if kind == "truncated photo":
        return _truncated(rotated_jpeg(tmp_path / "src.jpg"), tmp_path / "cut.jpg", 0.7)
    if kind == "random bytes named .mp4":
        path = tmp_path / "holiday.mp4"
        path.write_bytes(random.Random(6).randbytes(64 * 1024))
        return path
    if kind == "empty":
        path = tmp_path / "empty.mp4"
        path.touch()
        return path
    if kind == "HEIC photo":
        path = tmp_path / "IMG_0002.HEIC"
        path.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(1000))
        return path
    if kind == "missing":
        return tmp_path / "gone.mp4"
    raise AssertionError(kind)


REASONS = {
    "truncated, index at the end": "cut short",
    "truncated, index first": "cut short",
    "truncated photo": "not a readable image",
    "random bytes named .mp4": "not a readable video",
    "empty": "empty",
    "HEIC photo": "HEIC",
    "missing": "cannot read",
}


@pytest.mark.parametrize("broken", list(REASONS), indirect=True)
def test_a_broken_file_is_refused_with_a_short_reason(
    broken: Path, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    expected = REASONS[request.node.callspec.params["broken"]]
    with pytest.raises(MediaError) as refused:
        probe(broken)
    reason = str(refused.value)
    assert expected in reason
    assert len(reason) < 200
    assert "Traceback" not in reason
    assert "\n" not in reason

    # The other steps refuse it the same way: never another kind of exception.
    with pytest.raises(MediaError):
        transcode_for_web(broken, tmp_path / "web.mp4", progress=None)
    with pytest.raises(MediaError):
        video_poster(broken, tmp_path / "poster.jpg")
    with pytest.raises(MediaError):
        thumbnail(broken, tmp_path / "thumb.jpg")
    assert not list(tmp_path.glob("*.part"))


def test_an_ffmpeg_failure_is_reported_with_ffmpegs_own_words(phone: Path, tmp_path: Path) -> None:
    with pytest.raises(MediaError) as failed:
        transcode_for_web(phone, tmp_path / "missing" / "web.mp4", progress=None)

    assert "No such file or directory" in str(failed.value)


def test_a_picture_is_not_transcoded(tmp_path: Path) -> None:
    photo = rotated_jpeg(tmp_path / "photo.jpg")
    with pytest.raises(MediaError, match="not a video"):
        transcode_for_web(photo, tmp_path / "web.mp4", progress=None)
