"""ffmpeg's command line for one camera: recording, live view and detection from one
connection (which binary runs is :mod:`vigil.media.ffmpeg`'s policy)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from vigil.link.messages import CameraConfig

# Fragmented MP4: a segment cut short by a crash still plays up to its last fragment.
FRAGMENTED_MP4 = "movflags=+frag_keyframe+empty_moov+default_base_moof"
SUPPORTED_SCHEMES = ("rtsp", "rtsps", "http", "https")
# How long a live-only ffmpeg reads the stream to learn its codecs' parameters (microseconds;
# ffmpeg's default is 5 s): enough when the stream's description carries them, as RTSP's does.
QUICK_PROBE_US = 500_000
# Live view: a fragment at each keyframe and at least every 200 ms, flushed at once, so a
# browser is never more than a fragment behind the camera.
_LIVE_MP4 = {
    "movflags": "+frag_keyframe+empty_moov+default_base_moof",
    "frag_duration": "200000",
    "flush_packets": "1",
}
# The mp4 muxer sits behind ffmpeg's fifo pseudo-muxer: when the node stops reading the pipe
# (nobody watches), the muxer blocks on it, the fifo's queue fills and packets are dropped
# before being muxed, so an unwatched live output costs almost nothing and never holds up
# recording; once the node reads again, it starts over at a keyframe.
LIVE_QUEUE_PACKETS = 120  # about 2 s of video and audio: a slow read loses nothing
_LIVE_FIFO = {
    "queue_size": str(LIVE_QUEUE_PACKETS),
    "drop_pkts_on_overflow": "1",
    "restart_with_keyframe": "1",
}
LIVE_OUTPUT = (
    "-f", "fifo",
    "-fifo_format", "mp4",
    "-format_opts", ":".join(f"{k}={v}" for k, v in _LIVE_MP4.items()),
    *(arg for k, v in _LIVE_FIFO.items() for arg in (f"-{k}", v)),
)  # fmt: skip


# The same fragmented MP4 straight from the mp4 muxer, for an output that encodes: behind the
# fifo muxer the init segment is written before the encoder has its parameter sets (an
# empty avcC from libx264).
ENCODED_LIVE_OUTPUT = ("-f", "mp4", *(arg for k, v in _LIVE_MP4.items() for arg in (f"-{k}", v)))


def source_options(url: str, rtsp_transport: str, timeout_seconds: float) -> list[str]:
    """Input options for one camera stream: transport and timeouts by its scheme."""
    timeout_us = str(int(timeout_seconds * 1_000_000))
    if urlsplit(url).scheme.lower() in ("rtsp", "rtsps"):
        return ["-rtsp_transport", rtsp_transport, "-timeout", timeout_us]
    return ["-rw_timeout", timeout_us, "-reconnect", "0"]


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


def tee_outputs(output: list[str], *more: tuple[dict[str, str], str]) -> str:
    """The tee muxer's argument for ``output`` (``-f format -option value ... target``, as
    for an output of its own) and ``more`` (muxer options, target), escaped as tee wants."""
    *options, target = output
    pairs = zip(options[::2], options[1::2], strict=True)
    slaves = [({key.removeprefix("-"): value for key, value in pairs}, target), *more]
    return "|".join(_tee_escape(_slave(opts, target), "|") for opts, target in slaves)


def _slave(options: dict[str, str], target: str) -> str:
    pairs = ":".join(f"{key}={_tee_escape(value, ':=')}" for key, value in options.items())
    return f"[{pairs}]{target}"


def _tee_escape(text: str, special: str) -> str:
    """Backslash before each backslash and each of ``special``: tee unescapes the list of
    outputs, then each output's options, once each."""
    return "".join("\\" + c if c in special or c == "\\" else c for c in text)


@dataclass(frozen=True, slots=True)
class RecordArgs:
    ffmpeg: str
    rtsp_transport: str
    timeout_seconds: float
    transcode_audio: bool = False
    # What the camera sends (ffmpeg's name), when known: H.265 is then tagged hvc1.
    video_codec: str | None = None
    # A live-only run probes the stream for half a second, not ffmpeg's default 5 s (or
    # 5 MB): its viewer waits for it. Off again after a run that never streamed.
    quick_probe: bool = True

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
        if self.video_codec == "hevc":
            # hvc1, not ffmpeg's default hev1: Safari and most HEVC players want it. The mp4
            # muxer refuses the tag on any other codec, hence only when the camera sends H.265.
            streams += ["-tag:v", "hvc1"]
        args = [
            self.ffmpeg,
            "-hide_banner",
            "-loglevel", "error",
            "-nostats",
            "-progress", "pipe:2",
            "-stats_period", "1",
            *self._source(camera.main_url),
        ]  # fmt: skip
        detect = camera.detect if detect_fd is not None else None
        if self.quick_probe and not record and detect is None:
            args += ["-analyzeduration", str(QUICK_PROBE_US)]
        args += ["-fflags", "+genpts", "-i", url]
        if detect is not None and detect_from_sub(camera):
            assert camera.sub_url is not None
            sub = url_with_credentials(camera.sub_url, camera.username, camera.password)
            args += [*self._source(camera.sub_url), "-fflags", "+genpts", "-i", sub]
        if record and live_fd is not None:
            # One output, the tee muxer, feeding both: ffmpeg hands each packet to one muxer
            # thread, not two; a second output would cost about a third more CPU, watched or not.
            live = {"f": "mp4", **_LIVE_MP4, "use_fifo": "1", "onfail": "ignore"}
            live["fifo_options"] = ":".join(f"{k}={v}" for k, v in _LIVE_FIFO.items())
            segments = self._segments(camera, incoming)
            args += [*streams, "-f", "tee", tee_outputs(segments, (live, f"pipe:{live_fd}"))]
        elif record:
            args += [*streams, *self._segments(camera, incoming)]
        elif live_fd is not None:
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
        return source_options(url, self.rtsp_transport, self.timeout_seconds)

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
            # flush_packets: each fragment goes to the file as it is made; without it the
            # segment muxer keeps a whole segment in memory until the segment ends.
            "-segment_format_options", f"{FRAGMENTED_MP4}:flush_packets=1",
            "-reset_timestamps", "1",
            "-segment_list", "pipe:1",
            "-segment_list_type", "csv",
            str(incoming / "%09d.mp4"),
        ]  # fmt: skip
