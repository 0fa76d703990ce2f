"""What a file is, from its first bytes: uploads are accepted by content, never by name.

A file named ``holiday.mp4`` may be a PDF, a program or a zip of documents; the library takes
pictures and videos only, so every upload is judged on its first :data:`HEAD_BYTES` bytes,
and a refusal names what the file really is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["image", "video"]

# How many first bytes sniff() wants (all of them when the file is shorter).
HEAD_BYTES = 4096

# Picture formats browsers show and our processing reads; BMP, SVG and Photoshop files are
# recognised but refused (SVG can carry scripts; the others are not for sharing).
ACCEPTED_PICTURES = "JPEG, PNG, GIF, WebP, HEIC, AVIF or TIFF"


@dataclass(frozen=True, slots=True)
class Sniffed:
    """The detected type: ``kind`` is None for anything the library does not take."""

    mime: str
    kind: Kind | None
    name: str  # in words, with its article: "a PDF document"

    @property
    def accepted(self) -> bool:
        return self.kind is not None

    def refusal(self) -> str:
        """Why this file is refused, naming what it is."""
        what = f"{self.name} ({self.mime})"
        if self.mime == EMPTY.mime:
            return "this file is empty, not a picture or a video"
        if self.mime == UNKNOWN.mime:
            return f"this file's type is not recognised ({self.mime}): upload a picture or a video"
        if self.mime.startswith("audio/"):
            return f"this file is {what}: audio is not accepted, only pictures and videos"
        if self.mime.startswith("image/"):
            return f"this file is {what}: upload pictures as {ACCEPTED_PICTURES}"
        return f"this file is {what}, not a picture or a video"


def _image(mime: str, name: str) -> Sniffed:
    return Sniffed(mime, "image", name)


def _video(mime: str, name: str) -> Sniffed:
    return Sniffed(mime, "video", name)


def _other(mime: str, name: str) -> Sniffed:
    return Sniffed(mime, None, name)


EMPTY = _other("application/x-empty", "an empty file")
UNKNOWN = _other("application/octet-stream", "a file of an unknown type")
TEXT = _other("text/plain", "a text file")

# (offset, magic bytes, type): the first match wins, so longer magics come before shorter.
_MAGIC: tuple[tuple[int, bytes, Sniffed], ...] = (
    (0, b"\xff\xd8\xff", _image("image/jpeg", "a JPEG picture")),
    (0, b"\x89PNG\r\n\x1a\n", _image("image/png", "a PNG picture")),
    (0, b"GIF87a", _image("image/gif", "a GIF picture")),
    (0, b"GIF89a", _image("image/gif", "a GIF picture")),
    (0, b"II*\x00", _image("image/tiff", "a TIFF picture")),
    (0, b"MM\x00*", _image("image/tiff", "a TIFF picture")),
    (0, b"II+\x00", _image("image/tiff", "a TIFF picture")),
    (0, b"MM\x00+", _image("image/tiff", "a TIFF picture")),
    (0, b"8BPS", _other("image/vnd.adobe.photoshop", "a Photoshop document")),
    (0, b"\x00\x00\x01\xba", _video("video/mpeg", "an MPEG video")),
    (0, b"\x00\x00\x01\xb3", _video("video/mpeg", "an MPEG video")),
    (0, b"FLV\x01", _video("video/x-flv", "a Flash video")),
    (0, b"0&\xb2u\x8ef\xcf\x11", _video("video/x-ms-asf", "a Windows Media video")),
    (0, b"%PDF-", _other("application/pdf", "a PDF document")),
    (0, b"%!PS", _other("application/postscript", "a PostScript document")),
    (0, b"{\\rtf", _other("application/rtf", "an RTF document")),
    (
        0,
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        _other("application/x-ole-storage", "an MS Office file"),
    ),
    (0, b"\x7fELF", _other("application/x-executable", "an ELF program")),
    (0, b"\xfe\xed\xfa\xce", _other("application/x-mach-binary", "a macOS program")),
    (0, b"\xfe\xed\xfa\xcf", _other("application/x-mach-binary", "a macOS program")),
    (0, b"\xce\xfa\xed\xfe", _other("application/x-mach-binary", "a macOS program")),
    (0, b"\xcf\xfa\xed\xfe", _other("application/x-mach-binary", "a macOS program")),
    (0, b"MZ", _other("application/vnd.microsoft.portable-executable", "a Windows program")),
    (0, b"\x00asm", _other("application/wasm", "a WebAssembly program")),
    (0, b"\x1f\x8b", _other("application/gzip", "a gzip archive")),
    (0, b"BZh", _other("application/x-bzip2", "a bzip2 archive")),
    (0, b"\xfd7zXZ\x00", _other("application/x-xz", "an xz archive")),
    (0, b"(\xb5/\xfd", _other("application/zstd", "a Zstandard archive")),
    (0, b"7z\xbc\xaf'\x1c", _other("application/x-7z-compressed", "a 7-Zip archive")),
    (0, b"Rar!\x1a\x07", _other("application/vnd.rar", "a RAR archive")),
    (257, b"ustar", _other("application/x-tar", "a tar archive")),
    (0, b"SQLite format 3\x00", _other("application/vnd.sqlite3", "a SQLite database")),
    (0, b"ID3", _other("audio/mpeg", "an MP3 audio file")),
    (0, b"fLaC", _other("audio/flac", "a FLAC audio file")),
    (0, b"OggS", _other("audio/ogg", "an Ogg audio file")),
    (0, b"#!AMR", _other("audio/amr", "an AMR audio file")),
    (0, b"MThd", _other("audio/midi", "a MIDI file")),
    (0, b"#!", _other("text/x-shellscript", "a script")),
)

# ISO base media (MP4 family) brands, from the ftyp box. Specific brands win over the
# generic ones a file also lists (an AVIF says "avif" and "mif1"; an M4A says "M4A " and
# "isom").
_SPECIFIC_BRANDS: dict[bytes, Sniffed] = {
    **dict.fromkeys(
        (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"),
        _image("image/heic", "a HEIC picture"),
    ),
    **dict.fromkeys((b"avif", b"avis"), _image("image/avif", "an AVIF picture")),
    b"qt  ": _video("video/quicktime", "a QuickTime video"),
    **dict.fromkeys((b"M4V ", b"M4VH", b"M4VP"), _video("video/x-m4v", "an M4V video")),
    **dict.fromkeys(
        (b"3gp4", b"3gp5", b"3gp6", b"3gp7", b"3ge6", b"3ge7", b"3gg6"),
        _video("video/3gpp", "a 3GP video"),
    ),
    **dict.fromkeys((b"3g2a", b"3g2b", b"3g2c"), _video("video/3gpp2", "a 3GP video")),
    **dict.fromkeys((b"M4A ", b"M4B ", b"M4P ", b"F4A "), _other("audio/mp4", "an M4A audio file")),
}
_GENERIC_BRANDS: dict[bytes, Sniffed] = {
    **dict.fromkeys((b"mif1", b"msf1"), _image("image/heif", "a HEIF picture")),
    **dict.fromkeys(
        (b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1",
         b"dash", b"mmp4", b"MSNV", b"NDAS", b"f4v ", b"XAVC"),
        _video("video/mp4", "an MP4 video"),
    ),
}  # fmt: skip
# Top-level atoms an old QuickTime file (without ftyp) may start with.
_QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
_RIFF_FORMS = {
    b"WEBP": _image("image/webp", "a WebP picture"),
    b"AVI ": _video("video/x-msvideo", "an AVI video"),
    b"WAVE": _other("audio/wav", "a WAV audio file"),
}
# Entries at the start of a zip that say which kind of document it is.
_OOXML = "application/vnd.openxmlformats-officedocument."
_ZIP_DOCUMENTS = (
    (b"word/", _other(f"{_OOXML}wordprocessingml.document", "a Word document")),
    (b"xl/", _other(f"{_OOXML}spreadsheetml.sheet", "an Excel spreadsheet")),
    (b"ppt/", _other(f"{_OOXML}presentationml.presentation", "a PowerPoint presentation")),
    (
        b"mimetypeapplication/vnd.oasis.opendocument.",
        _other("application/vnd.oasis.opendocument", "an OpenDocument file"),
    ),
    (b"mimetypeapplication/epub+zip", _other("application/epub+zip", "an EPUB book")),
    (b"AndroidManifest.xml", _other("application/vnd.android.package-archive", "an Android app")),
    (b"META-INF/", _other("application/java-archive", "a Java archive")),
)
_ZIP = _other("application/zip", "a ZIP archive")
_TS_PACKET = 188


def sniff(head: bytes) -> Sniffed:
    """The type of a file whose first bytes (up to :data:`HEAD_BYTES`) are ``head``."""
    if not head:
        return EMPTY
    for detect in (_ftyp, _riff, _ebml, _zip, _transport_stream, _bmp):
        found = detect(head)
        if found is not None:
            return found
    for offset, magic, sniffed in _MAGIC:
        if head.startswith(magic, offset):
            return sniffed
    if head[4:8] in _QUICKTIME_ATOMS and int.from_bytes(head[:4], "big") >= 8:
        return _SPECIFIC_BRANDS[b"qt  "]
    return _mpeg_audio(head) or _text(head) or UNKNOWN


def _ftyp(head: bytes) -> Sniffed | None:
    if head[4:8] != b"ftyp":
        return None
    size = min(int.from_bytes(head[:4], "big"), len(head))
    # The major brand, then the compatible ones (after the 4-byte minor version).
    brands = [head[8:12], *(head[i : i + 4] for i in range(16, size - 3, 4))]
    for table in (_SPECIFIC_BRANDS, _GENERIC_BRANDS):
        for brand in brands:
            if brand in table:
                return table[brand]
    return UNKNOWN


def _riff(head: bytes) -> Sniffed | None:
    if not head.startswith(b"RIFF"):
        return None
    return _RIFF_FORMS.get(head[8:12], UNKNOWN)


def _ebml(head: bytes) -> Sniffed | None:
    if not head.startswith(b"\x1a\x45\xdf\xa3"):
        return None
    # The DocType element comes within the first few dozen bytes of the EBML header.
    if b"webm" in head[:64]:
        return _video("video/webm", "a WebM video")
    return _video("video/x-matroska", "a Matroska video")


def _zip(head: bytes) -> Sniffed | None:
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return None
    for marker, sniffed in _ZIP_DOCUMENTS:
        if marker in head:
            return sniffed
    return _ZIP


def _transport_stream(head: bytes) -> Sniffed | None:
    """MPEG-TS: a sync byte every 188 bytes (M2TS, from camcorders: every 192, after a
    4-byte time code). Three packets in a row, so a text starting with "G" is not one."""
    for start, step in ((0, _TS_PACKET), (4, _TS_PACKET + 4)):
        syncs = range(start, len(head), step)
        if len(syncs) >= 3 and all(head[i] == 0x47 for i in syncs):
            return _video("video/mp2t", "an MPEG-TS video")
    return None


def _bmp(head: bytes) -> Sniffed | None:
    # "BM" alone starts many texts: the DIB header's size must be one of the known ones too.
    if head.startswith(b"BM") and int.from_bytes(head[14:18], "little") in _BMP_HEADERS:
        return _other("image/bmp", "a BMP picture")
    return None


_BMP_HEADERS = {12, 40, 52, 56, 64, 108, 124}


def _mpeg_audio(head: bytes) -> Sniffed | None:
    """A bare MP3 (or AAC ADTS) frame header, without an ID3 tag in front."""
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    layer = (head[1] >> 1) & 0b11
    if layer == 0 and head[1] & 0xF6 == 0xF0:
        return _other("audio/aac", "an AAC audio file")
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 0b11
    if layer != 0 and bitrate != 0xF and rate != 0b11:
        return _other("audio/mpeg", "an MP3 audio file")
    return None


def _text(head: bytes) -> Sniffed | None:
    """UTF-8 text with nothing but printable characters and white space."""
    body = head.removeprefix(b"\xef\xbb\xbf")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        # A character cut in two at the end of the head is still text.
        if e.reason != "unexpected end of data" or e.start < len(body) - 3:
            return None
        text = body[: e.start].decode("utf-8")
    if not all(c.isprintable() or c in "\t\n\r\f\v" for c in text):
        return None
    start = text.lstrip().lower()
    if start.startswith("<svg") or (start.startswith("<?xml") and "<svg" in start):
        return _other("image/svg+xml", "an SVG drawing")
    if start.startswith("<?xml"):
        return _other("application/xml", "an XML document")
    if start.startswith(("<!doctype html", "<html", "<head", "<body", "<script")):
        return _other("text/html", "an HTML page")
    return TEXT
