"""Why a camera's ffmpeg stopped, as the camera's last error says it."""

from __future__ import annotations

from vigil.node.exits import explain_exit, is_progress

# The tail of what ffmpeg printed when a camera dropped mid-stream, progress report included.
DROPPED = [
    "[rtsp @ 0x55d] CSeq 7 expected, 0 received.",
    "frame=152",
    "fps=10.0",
    "bitrate= 512.3kbits/s",
    "out_time_us=15200000",
    "speed= 1.1x",
    "progress=continue",
]


def test_progress_lines_are_never_the_reason() -> None:
    assert all(is_progress(line) for line in DROPPED[1:])
    assert not is_progress(DROPPED[0])
    assert explain_exit(DROPPED, 1) == "[rtsp @ 0x55d] CSeq 7 expected, 0 received."
    assert explain_exit(DROPPED[1:], 1) == "ffmpeg exited with status 1"
    assert explain_exit(DROPPED[1:], 0) == "the camera closed the stream"


def test_known_failures_are_said_in_words() -> None:
    refused = ["Connection to tcp://127.0.0.1:9 failed: Connection refused", "speed= 0x"]
    assert explain_exit(refused, 1).startswith("connection refused")
    assert "401" in explain_exit(["method DESCRIBE failed: 401 Unauthorized"], 1)
