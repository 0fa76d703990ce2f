"""Frames for detection: the small raw pictures a camera's ffmpeg writes to a pipe.

With detection on, the recording ffmpeg also writes ``DetectConfig.fps`` frames a second,
scaled to ``width`` x ``height``, as raw yuv420p to a pipe (see ``RecordArgs.build``). The
stream reads every byte as it comes, whoever is listening, so ffmpeg never blocks on a full
pipe and recording never waits for detection; each subscriber has a small queue that drops
its oldest frame when the subscriber falls behind, and counts what it dropped.

Timestamps: ffmpeg's ``fps`` filter emits frames at exact steps of ``1 / fps`` on the
camera's timeline, so frame ``n`` of a run was taken ``n / fps`` seconds after frame 0. The
wall clock of frame 0 is anchored, as the recorder anchors segments, on the earliest
arrival (arrival time less ``n / fps``): a frame is never early, only late. A stamp is
therefore the time ffmpeg had the frame, a decode and a frame or two after the camera sent
it (typically 0.1 to 0.5 s), not the camera's capture time; frames of one run are evenly
spaced. If frames keep arriving more than two seconds behind their stamps (the camera's
clock runs slow), the anchor moves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import cv2
import numpy as np

from vigil.detect.types import Bgr, Gray
from vigil.link.messages import DetectConfig

log = logging.getLogger(__name__)

# Frames a subscriber may have waiting before the oldest is dropped.
QUEUE_FRAMES = 10
# The anchor moves when frames arrive late by more than this, several in a row.
_REANCHOR_MS = 2000
_REANCHOR_AFTER = 3


@dataclass(frozen=True, slots=True)
class DetectFrame:
    """One picture for detection: its luma, when it was taken, and which ffmpeg run sent it."""

    image: Gray  # height x width, read-only
    time_ms: int  # wall clock, epoch ms (see the module's note on accuracy)
    run: int  # 1, 2, ...: a new run follows an ffmpeg restart (the picture may jump)
    index: int  # frame number within the run
    yuv: bytes = b""  # the whole yuv420p frame (``image`` is a view of its Y plane)

    def bgr(self) -> Bgr:
        """The frame in colour (converted on demand: most frames never need it)."""
        height, width = self.image.shape
        if len(self.yuv) != width * height * 3 // 2:
            return np.asarray(cv2.cvtColor(self.image, cv2.COLOR_GRAY2BGR), np.uint8)
        planes = np.frombuffer(self.yuv, np.uint8).reshape(height * 3 // 2, width)
        return np.asarray(cv2.cvtColor(planes, cv2.COLOR_YUV2BGR_I420), np.uint8)


class FrameQueue:
    """One subscriber's frames: bounded, the oldest dropped when it falls behind."""

    def __init__(self, stream: DetectStream, size: int) -> None:
        self._stream = stream
        self._frames: deque[DetectFrame] = deque()
        self._size = size
        self._ready = asyncio.Event()
        self.closed = False
        self.dropped = 0  # frames it never saw because it was too slow

    @property
    def waiting(self) -> int:
        return len(self._frames)

    def push(self, frame: DetectFrame) -> None:
        if self.closed:
            return
        if len(self._frames) >= self._size:
            self._frames.popleft()
            self.dropped += 1
        self._frames.append(frame)
        self._ready.set()

    async def get(self) -> DetectFrame | None:
        """The next frame; None once the queue is closed (and emptied)."""
        while not self._frames:
            if self.closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        return self._frames.popleft()

    def __aiter__(self) -> AsyncIterator[DetectFrame]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[DetectFrame]:
        while (frame := await self.get()) is not None:
            yield frame

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._ready.set()
            self._stream.leave(self)


class DetectStream:
    """One camera's frames for detection, across ffmpeg restarts, shared by its subscribers."""

    def __init__(
        self,
        camera_id: int,
        queue_frames: int = QUEUE_FRAMES,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self.camera_id = camera_id
        self._queue_frames = queue_frames
        self._clock_ms = clock_ms
        self._queues: set[FrameQueue] = set()
        self.runs = 0  # ffmpeg runs that have sent frames here
        self.frames_read = 0  # listened to or not
        self.latest: DetectFrame | None = None

    def subscribe(self, queue_frames: int | None = None) -> FrameQueue:
        """A new subscriber that gets every frame from now on, as long as it keeps up."""
        queue = FrameQueue(self, queue_frames or self._queue_frames)
        self._queues.add(queue)
        return queue

    async def frames(self) -> AsyncIterator[DetectFrame]:
        """``async for frame in stream.frames()``: subscribed until the loop ends."""
        queue = self.subscribe()
        try:
            async for frame in queue:
                yield frame
        finally:
            queue.close()

    def leave(self, queue: FrameQueue) -> None:
        self._queues.discard(queue)

    @property
    def subscribers(self) -> int:
        return len(self._queues)

    def close(self) -> None:
        """End every subscriber (detection is turned off, the camera removed)."""
        for queue in list(self._queues):
            queue.close()
        self.latest = None

    async def consume(self, reader: asyncio.StreamReader, config: DetectConfig) -> None:
        """Read one ffmpeg run's raw frames until the pipe closes."""
        width, height = config.width, config.height
        luma = width * height
        frame_bytes = luma * 3 // 2  # yuv420p: Y, then U and V at a quarter each
        step_ms = 1000 / config.fps
        self.runs += 1
        run = self.runs
        anchor: int | None = None
        late: list[int] = []
        index = 0
        while True:
            try:
                data = await reader.readexactly(frame_bytes)
            except asyncio.IncompleteReadError:
                return  # ffmpeg exited; a torn last frame is no picture
            offset = round(index * step_ms)
            measured = self._clock_ms() - offset
            if anchor is None or measured < anchor:
                anchor, late = measured, []
            elif measured - anchor > _REANCHOR_MS:
                late.append(measured)
                if len(late) >= _REANCHOR_AFTER:
                    anchor, late = min(late), []
            else:
                late = []
            image = np.frombuffer(data, np.uint8, luma).reshape(height, width)
            frame = DetectFrame(image, anchor + offset, run, index, data)
            index += 1
            self.frames_read += 1
            self.latest = frame
            for queue in list(self._queues):
                queue.push(frame)
