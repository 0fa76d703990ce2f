"""Why a camera's ffmpeg stopped, in words a user can act on."""

from __future__ import annotations

import re
from collections.abc import Sequence

TIMED_OUT = "the camera did not answer in time"
UNREADABLE = "the camera sent data ffmpeg cannot read"
CLOSED = "the camera closed the stream"
NO_PICTURES = "the camera answered but sent no pictures"
# Exits of a connection that got no pictures, where the camera did not refuse or vanish.
NOTHING_CAME = frozenset({TIMED_OUT, UNREADABLE, CLOSED})

_REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), reason)
    for pattern, reason in (
        (r"401|unauthori[sz]ed", "the camera refused the credentials (401 Unauthorized)"),
        (r"403|forbidden", "the camera refused access (403 Forbidden)"),
        (r"404|not found", "the camera has no stream at that path (404 Not Found)"),
        (r"connection refused", "connection refused: nothing listens at that address and port"),
        (r"timed out|timeout", TIMED_OUT),
        (r"no route to host|network is unreachable", "the camera's network cannot be reached"),
        (
            r"name or service not known|failed to resolve|temporary failure in name resolution",
            "the camera's host name cannot be resolved",
        ),
        (r"no space left on device", "the recordings disk is full"),
        (r"could not find tag for codec|codec not currently supported", "AUDIO_CODEC"),
        (r"invalid data found|invalid argument", UNREADABLE),
        (r"end of file|eof", CLOSED),
    )
)

AUDIO_NEEDS_TRANSCODE = "AUDIO_CODEC"

# What "-progress pipe:2" writes: key=value, some values padded ("speed= 1.1x").
_PROGRESS_LINE = re.compile(r"^[a-z0-9_]+=\s*\S*$")


def is_progress(line: str) -> bool:
    """A line of ffmpeg's progress report, not a message."""
    return _PROGRESS_LINE.match(line) is not None


def explain_exit(lines: Sequence[str], returncode: int | None) -> str:
    """A sentence for the last error ffmpeg printed (lines already scrubbed of secrets)."""
    messages = [line for line in lines if not is_progress(line)]
    for line in reversed(messages):
        for pattern, reason in _REASONS:
            if pattern.search(line):
                return reason
    if messages:
        return messages[-1][:300]
    if returncode == 0:
        return CLOSED
    return f"ffmpeg exited with status {returncode}"
