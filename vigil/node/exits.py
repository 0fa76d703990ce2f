"""Why a camera's ffmpeg stopped, in words a user can act on."""

from __future__ import annotations

import re
from collections.abc import Sequence

_REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), reason)
    for pattern, reason in (
        (r"401|unauthori[sz]ed", "the camera refused the credentials (401 Unauthorized)"),
        (r"403|forbidden", "the camera refused access (403 Forbidden)"),
        (r"404|not found", "the camera has no stream at that path (404 Not Found)"),
        (r"connection refused", "connection refused: nothing listens at that address and port"),
        (r"timed out|timeout", "the camera did not answer in time"),
        (r"no route to host|network is unreachable", "the camera's network cannot be reached"),
        (
            r"name or service not known|failed to resolve|temporary failure in name resolution",
            "the camera's host name cannot be resolved",
        ),
        (r"no space left on device", "the recordings disk is full"),
        (r"could not find tag for codec|codec not currently supported", "AUDIO_CODEC"),
        (r"invalid data found|invalid argument", "the camera sent data ffmpeg cannot read"),
        (r"end of file|eof", "the camera closed the stream"),
    )
)

AUDIO_NEEDS_TRANSCODE = "AUDIO_CODEC"


def explain_exit(lines: Sequence[str], returncode: int | None) -> str:
    """A sentence for the last error ffmpeg printed (lines already scrubbed of secrets)."""
    for line in reversed(lines):
        for pattern, reason in _REASONS:
            if pattern.search(line):
                return reason
    if lines:
        return lines[-1][:300]
    if returncode == 0:
        return "the camera closed the stream"
    return f"ffmpeg exited with status {returncode}"
