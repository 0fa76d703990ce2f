"""Looping test clips for simulated cameras, encoded once per parameter set and cached.

A clip is a folder holding ``video.h264`` or ``video.h265`` (Annex B, one access unit per
frame, each led by an AUD), optionally ``audio.aac`` (ADTS, 1024 samples a frame) and
``index.json`` with the byte offsets of every frame, so the RTSP server can slice the files
without parsing them.

The picture is ffmpeg's test pattern, or (``scene="walker"``) a person walking across a still
background, rendered in Python (:mod:`vigil.sim.walker`) and piped to the same encoder.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, get_args

from vigil.media.ffmpeg import find_ffmpeg
from vigil.sim.framecode import frame_code_filter

# Bump when the encoding recipe or the index layout changes: old cache entries are then ignored.
# That includes how the walker is drawn (vigil.sim.walker, vigil.detect.scenes).
CLIP_FORMAT = 2  # 2: the frame code along the top (vigil.sim.framecode)
INDEX_NAME = "index.json"
AAC_SAMPLES_PER_FRAME = 1024
# ffmpeg's native AAC encoder emits one frame of priming samples; it is skipped so audio
# frame i holds source samples [i*1024, (i+1)*1024), aligned with the video clock.
AAC_PRIMING_FRAMES = 1

_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansMono-Bold.ttf",
    "/usr/share/fonts/truetype/noto/NotoSansMono-Regular.ttf",
)
_LABEL_RE = re.compile(r"^[A-Za-z0-9 _.-]{0,32}$")
# Access unit delimiters and IDR slices, by codec: H.264 NAL types 9 and 5; H.265 types 35
# and 19/20 (IDR_W_RADL, IDR_N_LP), shifted left by one in the first of two header bytes.
_AUD_RE = {"h264": re.compile(b"\x00\x00\x01\x09"), "h265": re.compile(b"\x00\x00\x01\x46\x01")}
_IDR_RE = {
    "h264": re.compile(b"\x00\x00\x01[\x25\x45\x65]"),
    "h265": re.compile(b"\x00\x00\x01[\x26\x28]\x01"),
}
_ADTS_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)
# Fields only the walker uses: kept out of a test clip's cache key, so clips cached before
# the walker existed keep their folders.
_WALKER_FIELDS = ("scene", "walk_start", "walk_end")

ClipCodec = Literal["h264", "h265"]
"""How the clip's video is encoded: H.264 (most cameras) or H.265 (libx265)."""

ClipScene = Literal["test", "walker"]
"""What a clip shows: ffmpeg's test pattern, or a person walking across a still background."""


class ClipError(RuntimeError):
    """The clip could not be encoded or its files are not what was asked for."""


@dataclass(frozen=True)
class ClipParams:
    """What a clip looks like; every field is part of the cache key."""

    width: int = 1280
    height: int = 720
    fps: int = 15
    bitrate_kbps: int = 2000
    loop_seconds: int = 60
    gop_frames: int | None = None  # None: one keyframe a second
    audio: bool = True
    audio_rate: int = 48000
    label: str = ""  # drawn under the clock; makes the clip specific to one camera
    scene: ClipScene = "test"
    walk_start: float = 2.0  # walker: seconds into the loop when the person comes into sight
    walk_end: float = 8.0  # walker: seconds into the loop when they are gone again
    codec: ClipCodec = "h264"

    def __post_init__(self) -> None:
        if self.width < 16 or self.height < 16 or self.width % 2 or self.height % 2:
            raise ValueError(f"width and height must be even and >= 16: {self.width}x{self.height}")
        if not 1 <= self.fps <= 120:
            raise ValueError(f"fps must be within 1..120: {self.fps}")
        if self.bitrate_kbps < 16:
            raise ValueError(f"bitrate must be at least 16 kbit/s: {self.bitrate_kbps}")
        if self.loop_seconds < 1:
            raise ValueError(f"loop must last at least 1 s: {self.loop_seconds}")
        # The loop must start on a keyframe at every wrap, so the GOP divides the loop.
        if (self.loop_seconds * self.fps) % self.gop:
            raise ValueError(f"GOP of {self.gop} frames does not divide the loop")
        if self.audio_rate not in (8000, 16000, 24000, 32000, 44100, 48000):
            raise ValueError(f"unsupported audio rate: {self.audio_rate}")
        if not _LABEL_RE.match(self.label):
            raise ValueError(f"label: up to 32 of A-Z a-z 0-9 space _ . -, not {self.label!r}")
        if self.scene not in get_args(ClipScene):
            raise ValueError(f"scene must be one of {get_args(ClipScene)}, not {self.scene!r}")
        if self.codec not in get_args(ClipCodec):
            raise ValueError(f"codec must be one of {get_args(ClipCodec)}, not {self.codec!r}")
        if self.scene == "walker" and not (
            0 <= self.walk_start < self.walk_end <= self.loop_seconds
        ):
            raise ValueError(
                f"the walk must fit the loop: 0 <= start {self.walk_start:g} "
                f"< end {self.walk_end:g} <= {self.loop_seconds} s"
            )

    @property
    def gop(self) -> int:
        return self.gop_frames or self.fps

    @property
    def frames(self) -> int:
        return self.loop_seconds * self.fps

    def key(self) -> str:
        """A readable, collision-safe folder name for these parameters."""
        fields = asdict(self)
        if self.scene == "test":
            for name in _WALKER_FIELDS:
                del fields[name]
        else:  # 2 and 2.0 s are one walk
            fields.update(walk_start=float(self.walk_start), walk_end=float(self.walk_end))
        if self.codec == "h264":  # H.264 clips cached before H.265 existed keep their folders
            del fields["codec"]
        digest = hashlib.sha256(
            json.dumps([CLIP_FORMAT, fields, _font()], sort_keys=True).encode()
        ).hexdigest()[:12]
        audio = f"a{self.audio_rate}" if self.audio else "noaudio"
        scene = "" if self.scene == "test" else f"-{self.scene}"
        label = f"-{self.label.replace(' ', '_')}" if self.label else ""
        codec = "" if self.codec == "h264" else f"-{self.codec}"
        return (
            f"{self.width}x{self.height}-{self.fps}fps-{self.bitrate_kbps}k-"
            f"{self.loop_seconds}s-g{self.gop}-{audio}{scene}{codec}{label}-{digest}"
        )


def default_cache_dir() -> Path:
    """``$VIGIL_SIM_CACHE``, else ``$XDG_CACHE_HOME/vigil/sim``, else ``~/.cache/vigil/sim``."""
    if env := os.environ.get("VIGIL_SIM_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vigil" / "sim"


def ensure_clip(params: ClipParams, cache_dir: Path | None = None) -> Path:
    """Return the folder of the clip for ``params``, encoding it first if it is not cached."""
    cache = cache_dir or default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    final = cache / params.key()
    if (final / INDEX_NAME).is_file():
        return final
    # One encoder per clip across processes: the others wait, then find it cached.
    with _locked(cache / f".{params.key()}.lock"):
        if (final / INDEX_NAME).is_file():
            return final
        work = Path(tempfile.mkdtemp(prefix=".encoding-", dir=cache))
        try:
            work.chmod(0o755)  # mkdtemp makes it private; the cache is not secret
            _encode(params, work)
            index = _build_index(params, work)
            (work / INDEX_NAME).write_text(json.dumps(index, separators=(",", ":")))
            shutil.rmtree(final, ignore_errors=True)  # a half-written leftover without index
            os.replace(work, final)  # atomic: readers see a whole clip or none
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return final


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _font() -> str | None:
    return next((f for f in _FONT_CANDIDATES if Path(f).is_file()), None)


def _video_input(params: ClipParams) -> tuple[list[str], Iterator[bytes] | None]:
    """ffmpeg's arguments for the picture, and the raw frames to write to its stdin if any."""
    size, rate = f"{params.width}x{params.height}", params.fps
    if params.scene == "walker":
        # Imported here: the test pattern needs neither OpenCV nor the photo.
        from vigil.sim.walker import walker_frames

        raw = ["-f", "rawvideo", "-pix_fmt", "bgr24", "-video_size", size]
        return [*raw, "-framerate", str(rate), "-i", "-"], walker_frames(params)
    # Without a font there is no clock: testsrc draws its own seconds counter instead.
    pattern = "testsrc2" if _font() else "testsrc"
    source = f"{pattern}=size={size}:rate={rate}:duration={params.loop_seconds}"
    return ["-f", "lavfi", "-i", source], None


def _overlay(params: ClipParams) -> str:
    """The time within the loop and the frame number, in figures (given a font, apt:
    fonts-dejavu-core) and as a machine-readable code."""
    filters = [frame_code_filter(params.width, params.height)]
    font = _font()
    if font is None:
        return filters[0]
    rate = params.fps
    # Frame-number arithmetic (not t) so 0.1 s never renders as "0.09"; the epsilon guards
    # against n*100/fps landing just under an integer.
    clock = (
        rf"t=%{{eif\:trunc(n/{rate}+0.000001)\:d\:2}}"
        rf".%{{eif\:mod(trunc(n*100/{rate}+0.001)\,100)\:d\:2}}"
        rf"  #%{{eif\:n\:d\:4}}"
    )
    common = f"fontfile={font}:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=8:x=(w-tw)/2"
    filters.append(f"drawtext={common}:fontsize=h/8:y=h/10:text='{clock}'")
    if params.label:
        filters.append(f"drawtext={common}:fontsize=h/12:y=h/10+h/6:text='{params.label}'")
    return ",".join(filters)


def _encode(params: ClipParams, work: Path) -> None:
    video_input, frames = _video_input(params)
    gop = str(params.gop)
    kbps = params.bitrate_kbps
    cmd = [find_ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *video_input]
    if params.audio:
        # One extra frame of audio covers the skipped priming frame.
        seconds = params.loop_seconds + 2 * AAC_SAMPLES_PER_FRAME / params.audio_rate
        cmd += ["-f", "lavfi", "-i"]
        cmd += [f"sine=frequency=880:beep_factor=4:sample_rate={params.audio_rate}:d={seconds}"]
    # Closed GOPs of a fixed length, no B-frames (DTS == PTS), parameter sets before every
    # IDR so a client can start at any keyframe, and an AUD before every frame to split on.
    cmd += ["-map", "0:v", "-filter:v", _overlay(params), "-pix_fmt", "yuv420p"]
    cmd += ["-b:v", f"{kbps}k", "-maxrate", f"{kbps}k", "-bufsize", f"{kbps}k"]
    if params.codec == "h265":
        x265 = f"aud=1:repeat-headers=1:open-gop=0:bframes=0:keyint={gop}:min-keyint={gop}"
        cmd += ["-c:v", "libx265", "-preset", "veryfast", "-profile:v", "main"]
        cmd += ["-x265-params", f"{x265}:scenecut=0:log-level=error", "-f", "hevc"]
    else:
        cmd += ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-bf", "0"]
        cmd += ["-g", gop, "-keyint_min", gop, "-sc_threshold", "0"]
        cmd += ["-x264-params", "aud=1:repeat-headers=1:open-gop=0", "-f", "h264"]
    cmd += [str(work / _video_file(params))]
    if params.audio:
        cmd += ["-map", "1:a", "-c:a", "aac", "-b:a", "64k", "-ac", "1", "-f", "adts"]
        cmd += [str(work / "audio.aac")]
    _run_ffmpeg(cmd, frames)


def _video_file(params: ClipParams) -> str:
    return f"video.{params.codec}"


def _run_ffmpeg(cmd: list[str], frames: Iterator[bytes] | None) -> None:
    """Run ``cmd``, writing ``frames`` to its stdin. Its stderr goes to a file, not a pipe:
    ffmpeg blocked on a full stderr pipe would never drain the stdin we block writing to."""
    with tempfile.TemporaryFile() as stderr:
        stdin = subprocess.DEVNULL if frames is None else subprocess.PIPE
        process = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            if frames is not None:
                assert process.stdin is not None
                with process.stdin:  # closing it ends ffmpeg's input
                    for frame in frames:
                        process.stdin.write(frame)
        except BrokenPipeError:
            pass  # ffmpeg quit early; its status and stderr say why
        except BaseException:
            process.kill()
            process.wait()
            raise
        if code := process.wait():
            stderr.seek(0)
            message = stderr.read().decode(errors="replace").strip()[-2000:]
            raise ClipError(f"ffmpeg failed ({code}): {message}")


def _build_index(params: ClipParams, work: Path) -> dict[str, object]:
    data = (work / _video_file(params)).read_bytes()
    starts = _access_unit_starts(data, params.codec)
    if len(starts) != params.frames or not starts or starts[0] != 0:
        raise ClipError(f"expected {params.frames} access units, found {len(starts)}")
    offsets = [*starts, len(data)]
    idr = _IDR_RE[params.codec]
    keyframes = [i for i in range(params.frames) if idr.search(data, *offsets[i : i + 2])]
    if not keyframes or keyframes[0] != 0 or any(k % params.gop for k in keyframes):
        raise ClipError(f"keyframes not on the {params.gop}-frame grid: {keyframes[:10]}")
    index: dict[str, object] = {
        "format": CLIP_FORMAT,
        "params": asdict(params),
        "video": {
            "file": _video_file(params),
            "codec": params.codec,
            "width": params.width,
            "height": params.height,
            "fps": params.fps,  # every frame lasts 1/fps s: frame i is at i/fps in the loop
            "offsets": offsets,  # frame i is data[offsets[i]:offsets[i + 1]]
            "keyframes": keyframes,
        },
    }
    if params.audio:
        index["audio"] = _index_adts(params, (work / "audio.aac").read_bytes())
    return index


def _access_unit_starts(data: bytes, codec: ClipCodec) -> list[int]:
    """Where each access unit starts: at its AUD, including a 4-byte start code's extra 0."""
    starts = []
    for match in _AUD_RE[codec].finditer(data):
        pos = match.start()
        starts.append(pos - 1 if pos and data[pos - 1] == 0 else pos)
    return starts


def _index_adts(params: ClipParams, data: bytes) -> dict[str, object]:
    offsets: list[int] = []
    pos = 0
    while pos + 7 <= len(data):
        if data[pos] != 0xFF or data[pos + 1] & 0xF6 != 0xF0:
            raise ClipError(f"no ADTS sync word at byte {pos}")
        rate = _ADTS_RATES[(data[pos + 2] >> 2) & 0x0F]
        if rate != params.audio_rate:
            raise ClipError(f"audio rate {rate}, expected {params.audio_rate}")
        offsets.append(pos)
        pos += ((data[pos + 3] & 0x03) << 11) | (data[pos + 4] << 3) | (data[pos + 5] >> 5)
    offsets.append(pos)
    # Whole frames that fit in the loop: the server restarts audio with the video at every
    # wrap, leaving a gap of less than one frame rather than drifting.
    count = params.loop_seconds * params.audio_rate // AAC_SAMPLES_PER_FRAME
    first = AAC_PRIMING_FRAMES
    if len(offsets) - 1 < first + count:
        raise ClipError(f"expected {first + count} AAC frames, found {len(offsets) - 1}")
    return {
        "file": "audio.aac",
        "codec": "aac",
        "rate": params.audio_rate,
        "channels": 1,
        "samples_per_frame": AAC_SAMPLES_PER_FRAME,
        "offsets": offsets[first : first + count + 1],
    }
