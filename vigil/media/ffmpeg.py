"""Which ffmpeg Vigil runs, one policy for the node, playback, exports and the library.

The configured binary (``node.ffmpeg``) if it is recent enough, else the static build in
the imageio-ffmpeg wheel (a known version on every machine), else ``ffmpeg`` on PATH if it
is recent enough: a machine's own older ffmpeg (Debian 12's 5.1) is never picked up unseen.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess

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


@functools.cache
def version_line(binary: str) -> str:
    """``binary -version``'s first line without the copyright, e.g. ``ffmpeg version 7.1.1``
    (written into export manifests); "unknown" if it cannot be run."""
    try:
        out = subprocess.run(
            [binary, "-hide_banner", "-version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    first = out.splitlines()[0] if out else "unknown"
    return first.split(" Copyright")[0]
