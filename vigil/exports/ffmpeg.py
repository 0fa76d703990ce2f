"""ffmpeg for exports: the command line, the burnt-in label, progress, the version."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vigil.timeutil import iso

_PROGRESS_LINE = re.compile(r"^([a-z0-9_]+)=(\S*)$")


class FfmpegFailed(Exception):
    """ffmpeg exited with an error; the message is its last lines."""


@dataclass(frozen=True, slots=True)
class BurnIn:
    """Text drawn onto each frame: the camera's name and the frame's UTC instant."""

    camera_name: str
    origin_ms: int  # the UTC instant of timestamp zero on the export's timeline
    height: int | None

    def label(self) -> str:
        """drawtext text (``textfile`` content): ``%{pts:gmtime:...}`` is each frame's time."""
        name = self.camera_name.replace("\\", "\\\\").replace("%", "\\%")
        clock = f"%{{pts:gmtime:{self.origin_ms / 1000:.3f}:%Y-%m-%d %H\\:%M\\:%S}}"
        return f"{name}\n{clock} UTC"

    def filter(self, textfile: str) -> str:
        size = max(12, (self.height or 480) // 24)
        return (
            f"drawtext=textfile={textfile}:fontcolor=white:fontsize={size}"
            f":box=1:boxcolor=black@0.6:boxborderw={max(2, size // 4)}:x={size // 2}:y={size // 2}"
        )


def export_args(
    ffmpeg: str,
    script: str,
    length_us: int,
    output: str,
    burn_in: BurnIn | None,
    label_file: str,
) -> list[str]:
    """Stream copy with faststart, or (burn-in) x264 with the label drawn; audio copied.

    ``-copyts`` keeps the concat timeline as it is: the first frame asked for at zero (frame
    time t is the origin + t, exactly, for the label) and the lead-in from the keyframe before
    it below zero, which the MP4 muxer hides behind an edit list. Without it ffmpeg would
    shift the lead-in into view: an export up to a keyframe interval longer than asked.
    ``-t`` ends each stream at ``length_us`` of that timeline (the range's end).
    """
    if burn_in is None:
        codecs = ["-c", "copy"]
    else:
        codecs = ["-vf", burn_in.filter(label_file), "-c:v", "libx264", "-preset", "veryfast",
                  "-c:a", "copy"]  # fmt: skip
    return [
        ffmpeg,
        "-hide_banner",
        "-nostdin",
        "-loglevel", "error",
        "-nostats",
        "-progress", "pipe:1",
        "-stats_period", "0.5",
        "-copyts",
        "-f", "concat",
        "-safe", "0",
        "-i", script,
        "-map", "0:v:0",
        "-map", "0:a:0?",
        *codecs,
        "-t", f"{length_us / 1_000_000:.6f}",
        "-movflags", "+faststart",
        "-f", "mp4",
        "-y", output,
    ]  # fmt: skip


async def run_ffmpeg(
    args: list[str], cwd: Path, on_progress: Callable[[float], None] | None = None
) -> None:
    """Run ffmpeg to the end, reporting seconds of output written; FfmpegFailed on error.

    Cancelling kills ffmpeg.
    """
    proc = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    errors: deque[str] = deque(maxlen=6)

    async def progress(stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            match = _PROGRESS_LINE.match(line.decode("utf-8", "replace").strip())
            if match and match[1] == "out_time_us" and match[2].isdigit() and on_progress:
                on_progress(int(match[2]) / 1_000_000)

    async def stderr(stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            text = line.decode("utf-8", "replace").strip()
            if text:
                errors.append(text)

    try:
        await asyncio.gather(progress(proc.stdout), stderr(proc.stderr))
        await proc.wait()
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await asyncio.shield(proc.wait())
    if proc.returncode != 0:
        reason = "; ".join(errors) or f"exit status {proc.returncode}"
        raise FfmpegFailed(f"ffmpeg failed: {reason}")


def file_stamp(ms: int) -> str:
    """``20261122T140203Z``: an instant as it appears in file names."""
    return iso(ms)[:19].replace("-", "").replace(":", "") + "Z"
