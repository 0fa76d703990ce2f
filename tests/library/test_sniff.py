"""Uploads are judged by their first bytes: real files of each kind, made on the spot."""

from __future__ import annotations

import gzip
import io
import random
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from vigil.library.sniff import HEAD_BYTES, sniff
from vigil.media.ffmpeg import find_ffmpeg

# Each sample's file name, then the type it must be found to be (None: refused).
MEDIA = {
    "clip.mp4": ("video/mp4", "video"),
    "clip.mov": ("video/quicktime", "video"),
    "clip.m4v": ("video/x-m4v", "video"),
    "clip.3gp": ("video/3gpp", "video"),
    "clip.webm": ("video/webm", "video"),
    "clip.mkv": ("video/x-matroska", "video"),
    "clip.avi": ("video/x-msvideo", "video"),
    "clip.ts": ("video/mp2t", "video"),
    "clip.mpg": ("video/mpeg", "video"),
    "sound.mp3": ("audio/mpeg", None),
    "bare.mp3": ("audio/mpeg", None),
    "sound.wav": ("audio/wav", None),
    "sound.m4a": ("audio/mp4", None),
    "sound.flac": ("audio/flac", None),
    "sound.ogg": ("audio/ogg", None),
}


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A few frames and a beep in every container, from one ffmpeg run."""
    folder = tmp_path_factory.mktemp("sniff")
    video = {
        "clip.mp4": ["-c:v", "libx264"],
        "clip.mov": ["-c:v", "libx264"],
        "clip.m4v": ["-c:v", "libx264"],
        "clip.3gp": ["-c:v", "libx264"],
        "clip.webm": ["-c:v", "libvpx"],
        "clip.mkv": ["-c:v", "mpeg4"],
        "clip.avi": ["-c:v", "mjpeg"],
        "clip.ts": ["-c:v", "mpeg2video"],
        "clip.mpg": ["-c:v", "mpeg2video"],
    }
    audio = {
        "sound.mp3": ["-c:a", "libmp3lame"],
        "bare.mp3": ["-c:a", "libmp3lame", "-id3v2_version", "0", "-write_xing", "0"],
        "sound.wav": ["-c:a", "pcm_s16le"],
        "sound.m4a": ["-c:a", "aac"],
        "sound.flac": ["-c:a", "flac"],
        "sound.ogg": ["-c:a", "libopus"],
    }
    outputs: list[str] = []
    for name, codec in video.items():
        outputs += ["-map", "0:v", *codec, "-pix_fmt", "yuv420p", str(folder / name)]
    for name, codec in audio.items():
        outputs += ["-map", "1:a", *codec, str(folder / name)]
    subprocess.run(
        [find_ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error",
         "-f", "lavfi", "-i", "testsrc=size=128x96:rate=10:duration=0.5",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=0.5",
         *outputs],
        check=True,
    )  # fmt: skip
    return {name: (folder / name).read_bytes()[:HEAD_BYTES] for name in MEDIA}


@pytest.mark.parametrize("name", sorted(MEDIA))
def test_videos_and_audio(media: dict[str, bytes], name: str) -> None:
    mime, kind = MEDIA[name]
    found = sniff(media[name])
    assert (found.mime, found.kind) == (mime, kind)


def test_audio_is_refused_as_audio(media: dict[str, bytes]) -> None:
    refusal = sniff(media["sound.mp3"]).refusal()
    assert refusal == (
        "this file is an MP3 audio file (audio/mpeg): audio is not accepted, "
        "only pictures and videos"
    )


def _picture(format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, format, **options)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("format", "mime", "kind"),
    [
        ("JPEG", "image/jpeg", "image"),
        ("PNG", "image/png", "image"),
        ("GIF", "image/gif", "image"),
        ("WEBP", "image/webp", "image"),
        ("TIFF", "image/tiff", "image"),
        ("AVIF", "image/avif", "image"),
        ("BMP", "image/bmp", None),
    ],
)
def test_pictures(format: str, mime: str, kind: str | None) -> None:
    found = sniff(_picture(format)[:HEAD_BYTES])
    assert (found.mime, found.kind) == (mime, kind)


def test_phone_heic_header() -> None:
    """An iPhone's HEIC starts with this ftyp box (Pillow cannot write HEIC)."""
    head = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    assert (sniff(head).mime, sniff(head).kind) == ("image/heic", "image")
    # A HEIF whose major brand is the generic one, naming HEIC among its brands.
    generic = b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1heicmiaf" + b"\x00" * 64
    assert sniff(generic).mime == "image/heic"


def test_other_picture_formats_are_refused_naming_those_taken() -> None:
    assert sniff(_picture("BMP")).refusal() == (
        "this file is a BMP picture (image/bmp): upload pictures as "
        "JPEG, PNG, GIF, WebP, HEIC, AVIF or TIFF"
    )
    # SVG can carry scripts: never served from the library.
    svg = sniff(b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>')
    assert (svg.mime, svg.kind) == ("image/svg+xml", None)


def _zip(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "<xml/>")
    return buffer.getvalue()


def _tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("notes.txt")
        info.size = 5
        archive.addfile(info, io.BytesIO(b"hello"))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "mime", "name"),
    [
        (lambda: _picture("PDF"), "application/pdf", "a PDF document"),
        (lambda: _zip("photos/a.txt"), "application/zip", "a ZIP archive"),
        (
            lambda: _zip("[Content_Types].xml", "_rels/.rels", "word/document.xml"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "a Word document",
        ),
        (
            lambda: _zip("[Content_Types].xml", "xl/workbook.xml"),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "an Excel spreadsheet",
        ),
        (lambda: Path("/bin/true").read_bytes(), "application/x-executable", "an ELF program"),
        (lambda: b"#!/bin/sh\nrm -rf /\n", "text/x-shellscript", "a script"),
        (lambda: "Liste de courses : œufs, café\n".encode(), "text/plain", "a text file"),
        (lambda: b"<!DOCTYPE html><html><body>hi</body></html>", "text/html", "an HTML page"),
        (lambda: b'<?xml version="1.0"?><note/>', "application/xml", "an XML document"),
        (lambda: gzip.compress(b"x" * 100), "application/gzip", "a gzip archive"),
        (_tar, "application/x-tar", "a tar archive"),
        (
            lambda: b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(24),
            "application/x-7z-compressed",
            "a 7-Zip archive",
        ),
        (lambda: b"Rar!\x1a\x07\x01\x00" + bytes(24), "application/vnd.rar", "a RAR archive"),
        (
            lambda: b"MZ\x90\x00\x03" + bytes(59),
            "application/vnd.microsoft.portable-executable",
            "a Windows program",
        ),
    ],
)
def test_other_files_are_named(content: object, mime: str, name: str) -> None:
    assert callable(content)
    found = sniff(content()[:HEAD_BYTES])
    assert (found.mime, found.kind, found.name) == (mime, None, name)
    assert found.refusal() == f"this file is {name} ({mime}), not a picture or a video"


def test_unknown_binary_and_empty() -> None:
    noise = random.Random(7).randbytes(HEAD_BYTES)
    assert sniff(noise).mime == "application/octet-stream"
    assert sniff(noise).refusal() == (
        "this file's type is not recognised (application/octet-stream): upload a picture or a video"
    )
    assert sniff(b"").refusal() == "this file is empty, not a picture or a video"


def test_a_short_file_and_a_character_cut_at_the_end() -> None:
    """Fewer bytes than HEAD_BYTES is a whole small file; a head may split a character."""
    assert sniff(b"\xff\xd8\xff\xe0").mime == "image/jpeg"
    cut = ("é" * HEAD_BYTES).encode()[: HEAD_BYTES - 1]
    assert sniff(cut).mime == "text/plain"
