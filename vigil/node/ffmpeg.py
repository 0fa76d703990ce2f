"""Finding a usable ffmpeg and building its command line for one camera."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from vigil.link.messages import CameraConfig

# Fragmented MP4: a segment cut short by a crash still plays up to its last fragment.
FRAGMENTED_MP4 = "movflags=+frag_keyframe+empty_moov+default_base_moof"
SUPPORTED_SCHEMES = ("rtsp", "rtsps", "http", "https")
# Live view: a fragment at each keyframe and at least every 200 ms, flushed at once, so a
# browser is never more than a fragment behind the camera.
LIVE_OUTPUT = (
    "-f", "mp4",
    "-movflags", "+frag_keyframe+empty_moov+default_base_moof",
    "-frag_duration", "200000",
    "-flush_packets", "1",
)  # fmt: skip


# The oldest ffmpeg Vigil drives. Debian 12's 5.1 lacks options the recorder, exports and
# previews use; the static build in the imageio-ffmpeg wheel (a known version) is the default.
MIN_VERSION = (6, 0)
_VERSION = re.compile(r"ffmpeg version n?(\d+)\.(\d+)")


class FfmpegUnusable(Exception):
    """The configured ffmpeg is missing or too old, or no usable one can be found."""


def ffmpeg_version(binary: str) -> tuple[int, int] | None:
    """The release ``binary -version`` names; None for a build from git (no release number),
    which is taken to be recent."""
    try:
        done = subprocess.run(
            [binary, "-hide_banner", "-version"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FfmpegUnusable(f"{binary}: cannot run it ({exc})") from None
    if done.returncode != 0 or not done.stdout.startswith("ffmpeg version"):
        raise FfmpegUnusable(f"{binary}: not an ffmpeg binary")
    found = _VERSION.match(done.stdout)
    return (int(found.group(1)), int(found.group(2))) if found else None


def _recent_enough(binary: str) -> tuple[bool, str]:
    version = ffmpeg_version(binary)
    if version is None or version >= MIN_VERSION:
        return True, ""
    need = ".".join(map(str, MIN_VERSION))
    return False, f"{binary} is ffmpeg {version[0]}.{version[1]}; Vigil needs {need} or newer"


@functools.cache
def find_ffmpeg(configured: str = "") -> str:
    """The ffmpeg to run: the configured binary (which must be recent enough), else the
    static build in the imageio-ffmpeg wheel, else ``ffmpeg`` on PATH if it is recent
    enough; FfmpegUnusable otherwise. The same whichever ffmpeg the machine has."""
    if configured:
        ok, why = _recent_enough(configured)
        if not ok:
            raise FfmpegUnusable(f"node.ffmpeg: {why}")
        return configured
    try:
        import imageio_ffmpeg

        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        pass  # the wheel is a dependency; a platform without its build falls back to PATH
    found = shutil.which("ffmpeg")
    if found is None:
        raise FfmpegUnusable("no ffmpeg: install the imageio-ffmpeg package or ffmpeg")
    ok, why = _recent_enough(found)
    if not ok:
        raise FfmpegUnusable(f"{why} (set node.ffmpeg to a newer one)")
    return found


def url_with_credentials(url: str, username: str | None, password: str | None) -> str:
    """The URL ffmpeg dials, with credentials put in (never logged)."""
    if not username:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = quote(username, safe="")
    if password:
        netloc += ":" + quote(password, safe="")
    netloc += "@" + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


_USERINFO = re.compile(r"([a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE)


def scrub(text: str, secrets: tuple[str | None, ...] = ()) -> str:
    """Remove credentials from a line ffmpeg printed, before it is shown or logged."""
    text = _USERINFO.sub(r"\1***@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***").replace(quote(secret, safe=""), "***")
    return text


def detect_from_sub(camera: CameraConfig) -> bool:
    """Whether detection decodes the camera's sub stream (a second input) over its main one."""
    return camera.detect is not None and camera.detect.prefer_sub and bool(camera.sub_url)


@dataclass(frozen=True, slots=True)
class RecordArgs:
    ffmpeg: str
    rtsp_transport: str
    timeout_seconds: float
    transcode_audio: bool = False

    def build(
        self,
        camera: CameraConfig,
        incoming: Path,
        *,
        record: bool = True,
        live_fd: int | None = None,
        detect_fd: int | None = None,
    ) -> list[str]:
        """ffmpeg reads the camera once; with ``record`` it writes segments into ``incoming``
        and their names (CSV) to stdout; with ``live_fd`` it also writes fragmented MP4 for
        live view to that inherited pipe; with ``detect_fd`` (and ``camera.detect``) it also
        writes small raw yuv420p frames for detection there (see :func:`detect_from_sub`)."""
        url = url_with_credentials(camera.main_url, camera.username, camera.password)
        audio = ["-c:a", "aac", "-b:a", "64k"] if self.transcode_audio else ["-c:a", "copy"]
        streams = ["-map", "0:v:0", "-map", "0:a:0?", "-c:v", "copy", *audio]
        args = [
            self.ffmpeg,
            "-hide_banner",
            "-loglevel", "error",
            "-nostats",
            "-progress", "pipe:2",
            "-stats_period", "1",
            *self._source(camera.main_url),
            "-fflags", "+genpts",
            "-i", url,
        ]  # fmt: skip
        detect = camera.detect if detect_fd is not None else None
        if detect is not None and detect_from_sub(camera):
            assert camera.sub_url is not None
            sub = url_with_credentials(camera.sub_url, camera.username, camera.password)
            args += [*self._source(camera.sub_url), "-fflags", "+genpts", "-i", sub]
        if record:
            args += [*streams, *self._segments(camera, incoming)]
        if live_fd is not None:
            args += [*streams, *LIVE_OUTPUT, f"pipe:{live_fd}"]
        if detect is not None:
            # Only this output decodes; the recording and live outputs above stay stream copy.
            video = "1:v:0" if detect_from_sub(camera) else "0:v:0"
            args += [
                "-map", video,
                "-vf", f"fps={detect.fps},scale={detect.width}:{detect.height}",
                "-pix_fmt", "yuv420p",
                "-f", "rawvideo",
                f"pipe:{detect_fd}",
            ]  # fmt: skip
        return args

    def _source(self, url: str) -> list[str]:
        """Input options for one camera stream: transport and timeouts by its scheme."""
        timeout_us = str(int(self.timeout_seconds * 1_000_000))
        if urlsplit(url).scheme.lower() in ("rtsp", "rtsps"):
            return ["-rtsp_transport", self.rtsp_transport, "-timeout", timeout_us]
        return ["-rw_timeout", timeout_us, "-reconnect", "0"]

    @staticmethod
    def _segments(camera: CameraConfig, incoming: Path) -> list[str]:
        return [
            "-f", "segment",
            "-segment_time", f"{camera.segment_seconds:g}",
            # Cut at the first keyframe from half a second before each boundary: keyframes
            # stamped a hair early (90 kHz rounding), or a timeline that starts mid-GOP, would
            # otherwise make segments a whole keyframe interval too long.
            "-segment_time_delta", f"{min(0.5, camera.segment_seconds / 4):g}",
            "-segment_format", "mp4",
            "-segment_format_options", FRAGMENTED_MP4,
            "-reset_timestamps", "1",
            "-segment_list", "pipe:1",
            "-segment_list_type", "csv",
            str(incoming / "%09d.mp4"),
        ]  # fmt: skip
