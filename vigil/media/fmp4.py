"""Fragmented MP4 in memory: the init segment's tracks and codecs, and each fragment's
keyframe flag, duration and decode times. Only the boxes that live view and playback need
are read."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from vigil.media.mp4 import MalformedMp4, boxes, child, descend

# ISO/IEC 14496-12 sample flags: bit 16 is sample_is_non_sync_sample.
_NON_SYNC = 0x0001_0000
# tfhd flags
_TFHD_BASE_OFFSET = 0x01
_TFHD_DESCRIPTION = 0x02
_TFHD_DURATION = 0x08
_TFHD_SIZE = 0x10
_TFHD_FLAGS = 0x20
# trun flags
_TRUN_DATA_OFFSET = 0x001
_TRUN_FIRST_FLAGS = 0x004
_TRUN_DURATION = 0x100
_TRUN_SIZE = 0x200
_TRUN_FLAGS = 0x400
_TRUN_CTS = 0x800


@dataclass(frozen=True, slots=True)
class Track:
    track_id: int
    handler: str  # "vide" or "soun"
    timescale: int
    codec: str  # RFC 6381 codecs parameter, e.g. "avc1.64001f" or "mp4a.40.2"
    width: int | None = None
    height: int | None = None
    default_duration: int = 0  # from trex
    default_flags: int = 0  # from trex


@dataclass(frozen=True, slots=True)
class InitInfo:
    """What a player must know before the first fragment."""

    tracks: tuple[Track, ...]

    @property
    def video(self) -> Track | None:
        return next((t for t in self.tracks if t.handler == "vide"), None)

    @property
    def codecs(self) -> str:
        return ",".join(t.codec for t in self.tracks if t.handler in ("vide", "soun"))

    @property
    def mime(self) -> str:
        return f'video/mp4; codecs="{self.codecs}"'


def parse_init(data: bytes) -> InitInfo:
    """Tracks of an init segment (ftyp + moov); MalformedMp4 if there is no moov."""
    moov = descend(data, 0, len(data), "moov")
    if moov is None:
        raise MalformedMp4("no moov box")
    trex: dict[int, tuple[int, int]] = {}
    mvex = child(data, *moov, "mvex")
    if mvex is not None:
        for kind, payload, end in boxes(data, *mvex):
            if kind == "trex" and end - payload >= 24:
                track_id, _, duration, _, flags = struct.unpack_from(">5I", data, payload + 4)
                trex[track_id] = (duration, flags)
    tracks = []
    for kind, payload, end in boxes(data, *moov):
        if kind == "trak":
            track = _track(data, payload, end, trex)
            if track is not None:
                tracks.append(track)
    return InitInfo(tuple(tracks))


def _track(data: bytes, start: int, end: int, trex: dict[int, tuple[int, int]]) -> Track | None:
    tkhd = child(data, start, end, "tkhd")
    mdhd = descend(data, start, end, "mdia", "mdhd")
    hdlr = descend(data, start, end, "mdia", "hdlr")
    stsd = descend(data, start, end, "mdia", "minf", "stbl", "stsd")
    if tkhd is None or mdhd is None or hdlr is None or stsd is None:
        return None
    version = data[tkhd[0]]
    (track_id,) = struct.unpack_from(">I", data, tkhd[0] + (20 if version == 1 else 12))
    version = data[mdhd[0]]
    (timescale,) = struct.unpack_from(">I", data, mdhd[0] + (20 if version == 1 else 12))
    handler = data[hdlr[0] + 8 : hdlr[0] + 12].decode("latin-1")
    entry = next(boxes(data, stsd[0] + 8, stsd[1]), None)  # fullbox header + entry_count
    if entry is None:
        return None
    fourcc, payload, entry_end = entry
    width = height = None
    if handler == "vide":
        width, height = struct.unpack_from(">HH", data, payload + 24)
        codec = _video_codec(data, fourcc, payload + 78, entry_end)
    elif handler == "soun":
        codec = _audio_codec(data, fourcc, payload + 28, entry_end)
    else:
        codec = fourcc
    duration, flags = trex.get(track_id, (0, 0))
    return Track(track_id, handler, timescale, codec, width, height, duration, flags)


def _video_codec(data: bytes, fourcc: str, start: int, end: int) -> str:
    if fourcc in ("avc1", "avc3"):
        avcc = child(data, start, end, "avcC")
        if avcc is not None:
            profile, compat, level = data[avcc[0] + 1 : avcc[0] + 4]
            return f"{fourcc}.{profile:02x}{compat:02x}{level:02x}"
    if fourcc in ("hvc1", "hev1"):
        hvcc = child(data, start, end, "hvcC")
        if hvcc is not None:
            return f"{fourcc}.{hevc_parameters(data[hvcc[0] : hvcc[1]])}"
    return fourcc


def hevc_parameters(hvcc: bytes) -> str:
    """The codecs parameter after ``hvc1.`` (ISO/IEC 14496-15 annex E), e.g. ``1.6.L93.B0``."""
    if len(hvcc) < 13:
        raise MalformedMp4("hvcC too short")
    first = hvcc[1]
    space = ("", "A", "B", "C")[first >> 6]
    tier = "H" if first & 0x20 else "L"
    profile = first & 0x1F
    (compat,) = struct.unpack_from(">I", hvcc, 2)
    reversed_compat = int(f"{compat:032b}"[::-1], 2)
    constraints = bytearray(hvcc[6:12])
    while constraints and constraints[-1] == 0:
        constraints.pop()
    level = hvcc[12]
    parts = [f"{space}{profile}", f"{reversed_compat:X}", f"{tier}{level}"]
    parts += [f"{b:X}" for b in constraints]
    return ".".join(parts)


def _audio_codec(data: bytes, fourcc: str, start: int, end: int) -> str:
    if fourcc != "mp4a":
        return fourcc
    esds = child(data, start, end, "esds")
    if esds is None:
        return fourcc
    info = _decoder_config(data[esds[0] + 4 : esds[1]])
    if info is None:
        return fourcc
    object_type, specific = info
    if object_type == 0x40 and specific:
        audio_object_type = specific[0] >> 3
        if audio_object_type == 31 and len(specific) > 1:
            audio_object_type = 32 + ((specific[0] & 0x07) << 3 | specific[1] >> 5)
        return f"mp4a.40.{audio_object_type}"
    return f"mp4a.{object_type:02x}"


def _descriptor(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, payload start, payload end) of the MPEG-4 descriptor at ``offset``."""
    tag = data[offset]
    offset += 1
    size = 0
    for _ in range(4):
        byte = data[offset]
        offset += 1
        size = size << 7 | byte & 0x7F
        if not byte & 0x80:
            break
    return tag, offset, offset + size


def _decoder_config(esds: bytes) -> tuple[int, bytes] | None:
    """(objectTypeIndication, DecoderSpecificInfo) of an esds payload."""
    try:
        tag, start, end = _descriptor(esds, 0)
        if tag != 0x03:
            return None
        flags = esds[start + 2]
        start += 3
        if flags & 0x80:
            start += 2
        if flags & 0x40:
            start += 1 + esds[start]
        if flags & 0x20:
            start += 2
        tag, start, end = _descriptor(esds, start)
        if tag != 0x04:
            return None
        object_type = esds[start]
        specific = b""
        if start + 13 < end:
            tag, s_start, s_end = _descriptor(esds, start + 13)
            if tag == 0x05:
                specific = esds[s_start:s_end]
        return object_type, specific
    except IndexError:
        return None


@dataclass(frozen=True, slots=True)
class FragmentInfo:
    keyframe: bool  # the video track's first sample is a sync sample
    duration: int  # of the video track, in its timescale
    decode_time: int | None  # tfdt of the video track


def parse_fragment(moof: bytes, video: Track) -> FragmentInfo:
    """Keyframe flag and duration of the video track in one moof box (header included); a
    fragment without video (audio left over at the end) is no keyframe and lasts nothing."""
    outer = next(boxes(moof), None)
    if outer is None or outer[0] != "moof":
        raise MalformedMp4("not a moof box")
    for kind, payload, end in boxes(moof, outer[1], outer[2]):
        if kind != "traf":
            continue
        tfhd = child(moof, payload, end, "tfhd")
        if tfhd is None:
            continue
        tf_flags = int.from_bytes(moof[tfhd[0] + 1 : tfhd[0] + 4], "big")
        (track_id,) = struct.unpack_from(">I", moof, tfhd[0] + 4)
        if track_id != video.track_id:
            continue
        return _traf(moof, payload, end, tfhd[0] + 8, tf_flags, video)
    return FragmentInfo(keyframe=False, duration=0, decode_time=None)  # audio only


def _traf(
    moof: bytes, start: int, end: int, cursor: int, tf_flags: int, video: Track
) -> FragmentInfo:
    default_duration, default_flags = video.default_duration, video.default_flags
    if tf_flags & _TFHD_BASE_OFFSET:
        cursor += 8
    if tf_flags & _TFHD_DESCRIPTION:
        cursor += 4
    if tf_flags & _TFHD_DURATION:
        (default_duration,) = struct.unpack_from(">I", moof, cursor)
        cursor += 4
    if tf_flags & _TFHD_SIZE:
        cursor += 4
    if tf_flags & _TFHD_FLAGS:
        (default_flags,) = struct.unpack_from(">I", moof, cursor)
    decode_time = None
    tfdt = child(moof, start, end, "tfdt")
    if tfdt is not None:
        version = moof[tfdt[0]]
        decode_time = struct.unpack_from(">Q" if version == 1 else ">I", moof, tfdt[0] + 4)[0]
    first_flags: int | None = None
    duration = 0
    for kind, payload, _ in boxes(moof, start, end):
        if kind != "trun":
            continue
        flags = int.from_bytes(moof[payload + 1 : payload + 4], "big")
        (count,) = struct.unpack_from(">I", moof, payload + 4)
        cursor = payload + 8
        if flags & _TRUN_DATA_OFFSET:
            cursor += 4
        run_first: int | None = None
        if flags & _TRUN_FIRST_FLAGS:
            (run_first,) = struct.unpack_from(">I", moof, cursor)
            cursor += 4
        for index in range(count):
            sample_duration, sample_flags = default_duration, default_flags
            if flags & _TRUN_DURATION:
                (sample_duration,) = struct.unpack_from(">I", moof, cursor)
                cursor += 4
            if flags & _TRUN_SIZE:
                cursor += 4
            if flags & _TRUN_FLAGS:
                (sample_flags,) = struct.unpack_from(">I", moof, cursor)
                cursor += 4
            if flags & _TRUN_CTS:
                cursor += 4
            if first_flags is None and index == 0:
                first_flags = run_first if run_first is not None else sample_flags
            duration += sample_duration
    if first_flags is None:
        raise MalformedMp4("video traf without samples")
    return FragmentInfo(not first_flags & _NON_SYNC, duration, decode_time)


@dataclass(frozen=True, slots=True)
class DecodeTime:
    """Where a track's ``tfdt`` value (its fragment's first decode time) lies in a moof."""

    offset: int  # of the value, from the start of the moof box: a big-endian integer
    width: int  # 8 bytes (version 1) or 4 (version 0)
    track_id: int


def decode_times(moof: bytes) -> tuple[DecodeTime, ...]:
    """Every track's tfdt in one moof box (header included)."""
    outer = next(boxes(moof), None)
    if outer is None or outer[0] != "moof":
        raise MalformedMp4("not a moof box")
    found = []
    for kind, payload, end in boxes(moof, outer[1], outer[2]):
        if kind != "traf":
            continue
        tfhd = child(moof, payload, end, "tfhd")
        tfdt = child(moof, payload, end, "tfdt")
        if tfhd is None or tfdt is None:
            continue
        (track_id,) = struct.unpack_from(">I", moof, tfhd[0] + 4)
        found.append(DecodeTime(tfdt[0] + 4, 8 if moof[tfdt[0]] == 1 else 4, track_id))
    return tuple(found)
