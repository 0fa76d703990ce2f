"""A machine-readable frame number drawn into the simulator's clips, and its reader.

Along the top-left of every frame runs a black bar of :data:`BITS` blocks; block ``i`` is
white when bit ``i`` of the frame's number within the loop is set. Tests and benchmarks read
it back from a decoded frame (no OCR): seeking to an instant can then be checked to the frame.
"""

from __future__ import annotations

import av

BITS = 12
# Blocks are 1/16 of the picture's width and height: large enough to survive a low bitrate
# and scaling, small enough to leave the clock readable.
_GRID = 16


def block_size(width: int, height: int) -> tuple[int, int]:
    return max(2, width // _GRID), max(2, height // _GRID)


def frame_code_filter(width: int, height: int) -> str:
    """ffmpeg filters that draw the frame number (``n`` modulo 2**BITS) into each frame."""
    bw, bh = block_size(width, height)
    filters = [f"drawbox=x=0:y=0:w={bw * BITS}:h={bh}:color=black:t=fill"]
    for bit in range(BITS):
        mask = 1 << bit
        filters.append(
            f"drawbox=x={bit * bw}:y=0:w={bw}:h={bh}:color=white:t=fill"
            f":enable='eq(bitand(n\\,{mask})\\,{mask})'"
        )
    return ",".join(filters)


def read_frame_code(frame: av.VideoFrame) -> int:
    """The frame number within the clip's loop drawn into ``frame`` (any size it was scaled to)."""
    gray = frame.reformat(format="gray")
    plane = gray.planes[0]
    data = bytes(plane)
    stride = plane.line_size
    bw, bh = block_size(gray.width, gray.height)
    code = 0
    for bit in range(BITS):
        x0, y0 = bit * bw + bw // 4, bh // 4
        samples = [
            data[y * stride + x]
            for y in range(y0, y0 + max(1, bh // 2))
            for x in range(x0, x0 + max(1, bw // 2))
        ]
        if sum(samples) / len(samples) > 128:
            code |= 1 << bit
    return code
