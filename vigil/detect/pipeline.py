"""One camera's detection: motion on every frame, objects only where something moves, tracking."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from vigil.detect.filters import filter_detections
from vigil.detect.motion import MotionDetector, MotionResult
from vigil.detect.objects import DetectorError, DetectorPool
from vigil.detect.regions import regions_to_detect
from vigil.detect.settings import PipelineSettings
from vigil.detect.tracker import TrackChange, TrackedObject, Tracker
from vigil.detect.types import Bgr, Box, Detection, Gray
from vigil.node.detect_stream import DetectStream

log = logging.getLogger(__name__)

# Distinct detector errors remembered for logging once each; past this the memory restarts.
_MAX_LOGGED_ERRORS = 100


@dataclass(frozen=True, slots=True)
class FrameResult:
    """What one frame gave: its motion, where objects were looked for and found, and what
    the tracker reports. ``regions`` is empty when the detector was not asked (nothing
    moved, detection off, or it failed: then ``error`` says why)."""

    time_ms: int
    motion: MotionResult
    regions: list[Box] = field(default_factory=list)
    detections: list[Detection] = field(default_factory=list)  # frame coordinates, filtered
    changes: list[TrackChange] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class MotionInterval:
    """Motion was seen from ``start_ms`` until before ``end_ms`` (epoch ms)."""

    start_ms: int
    end_ms: int


class MotionLog:
    """Motion over time as intervals: motion frames at most ``merge_ms`` apart join up."""

    def __init__(self, merge_ms: int = 1000, max_intervals: int = 10_000) -> None:
        self.merge_ms = merge_ms
        self.max_intervals = max_intervals
        self._intervals: list[MotionInterval] = []

    def add(self, time_ms: int) -> None:
        """Note motion in the frame taken at ``time_ms`` (frames come in time order)."""
        last = self._intervals[-1] if self._intervals else None
        # A frame's motion is taken to last 1 ms: the next frame tells whether it went on.
        if last is not None and time_ms - (last.end_ms - 1) <= self.merge_ms:
            self._intervals[-1] = MotionInterval(last.start_ms, max(last.end_ms, time_ms + 1))
            return
        self._intervals.append(MotionInterval(time_ms, time_ms + 1))
        if len(self._intervals) > self.max_intervals:
            del self._intervals[0]

    def since(self, since_ms: int) -> list[MotionInterval]:
        """The intervals that end after ``since_ms``, oldest first (the last may still grow)."""
        return [i for i in self._intervals if i.end_ms > since_ms]

    def forget(self, before_ms: int) -> None:
        """Drop intervals that ended before ``before_ms`` (already marked on segments)."""
        self._intervals = self.since(before_ms)

    def take_ready(self, now_ms: int, longest_ms: int) -> list[MotionInterval]:
        """Take the intervals ready to be reported at ``now_ms``, oldest first: those that can
        grow no more, and the open one once it is ``longest_ms`` long, up to where it is now
        (motion that never pauses is reported while it lasts; what follows joins on
        exactly)."""
        ready = [i for i in self._intervals if i.end_ms - 1 + self.merge_ms < now_ms]
        rest = self._intervals[len(ready) :]
        if rest and rest[-1].end_ms - rest[-1].start_ms >= longest_ms:
            ready.append(rest[-1])
            rest = [MotionInterval(rest[-1].end_ms, rest[-1].end_ms)]  # grows from there
        self._intervals = rest
        return [i for i in ready if i.end_ms > i.start_ms]

    def take_all(self) -> list[MotionInterval]:
        """Take every interval, the open one as it is (the camera stops)."""
        taken, self._intervals = self._intervals, []
        return [i for i in taken if i.end_ms > i.start_ms]


def crop_bounds(region: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """The region's pixels in a ``width`` x ``height`` image: x1, y1, x2, y2, at least 1 px."""
    x1 = min(width - 1, max(0, int(region.x1 * width)))
    y1 = min(height - 1, max(0, int(region.y1 * height)))
    x2 = max(x1 + 1, min(width, round(region.x2 * width)))
    y2 = max(y1 + 1, min(height, round(region.y2 * height)))
    return x1, y1, x2, y2


def to_frame(box: Box, crop: Box) -> Box:
    """A box normalised to ``crop`` (itself normalised to the frame), normalised to the frame."""
    w, h = crop.x2 - crop.x1, crop.y2 - crop.y1
    x1, y1 = crop.x1 + box.x1 * w, crop.y1 + box.y1 * h
    return Box(x1, y1, crop.x1 + box.x2 * w, crop.y1 + box.y2 * h)


def suppress_duplicates(detections: Sequence[Detection], iou: float) -> list[Detection]:
    """Per label, the best of each group of boxes overlapping by ``iou`` or more (NMS)."""
    kept: list[Detection] = []
    for detection in sorted(detections, key=lambda d: d.score, reverse=True):
        if all(k.label != detection.label or k.box.iou(detection.box) < iou for k in kept):
            kept.append(detection)
    return kept


def to_bgr(image: Gray | Bgr) -> Bgr:
    """A crop the detector can take: the detect stream carries only the Y plane so far."""
    if image.ndim == 2:
        return np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), np.uint8)
    return np.ascontiguousarray(image)


ResultCallback = Callable[[FrameResult], Awaitable[None]]


class CameraPipeline:
    """Motion, object detection on moving regions and tracking for one camera's frames."""

    def __init__(self, settings: PipelineSettings, pool: DetectorPool | None) -> None:
        self.settings = settings
        self.pool = pool
        self.motion = MotionDetector(settings.motion)
        self.tracker = Tracker(settings.tracker, settings.zones)
        self.motion_log = MotionLog(settings.motion_merge_ms)
        self.frames = 0  # processed
        self.detector_calls = 0  # crops sent to the pool
        self.skipped = 0  # frames with detection on but nothing to look at
        self.errors = 0  # frames whose detection failed
        self.last_error: str | None = None
        self.dropped = 0  # frames ``run`` never saw because processing fell behind
        self._logged: set[str] = set()

    @property
    def detecting(self) -> bool:
        return self.settings.object_detection and self.pool is not None

    def tracked(self) -> list[TrackedObject]:
        """The objects tracked now (live: copy before keeping)."""
        return self.tracker.tracked()

    def motion_intervals(self, since_ms: int) -> list[MotionInterval]:
        """Motion seen in intervals ending after ``since_ms``; frames up to 1 s apart merged."""
        return self.motion_log.since(since_ms)

    def reset(self) -> None:
        """Relearn the background: the picture may have jumped (ffmpeg restarted)."""
        self.motion.reset()

    async def process(self, gray: Gray, bgr: Bgr | None, time_ms: int) -> FrameResult:
        """Take one frame (luma, and colour when there is some) taken at ``time_ms``."""
        self.frames += 1
        motion = self.motion.detect(gray, time_ms / 1000)
        if motion.motion:
            self.motion_log.add(time_ms)
        if not self.detecting:
            return FrameResult(time_ms, motion)
        height, width = gray.shape[:2]
        regions = regions_to_detect(motion.boxes, self.tracker.tracked(), width / height)
        if not regions:
            self.skipped += 1
            # Nothing was looked at, so nothing goes missing; zone timers still run.
            changes = self.tracker.update([], time_ms, searched=[])
            return FrameResult(time_ms, motion, changes=changes)
        try:
            found = await self._detect(gray if bgr is None else bgr, regions)
        except DetectorError as e:
            self._fail(str(e) or type(e).__name__)
            changes = self.tracker.update([], time_ms, searched=[])
            return FrameResult(time_ms, motion, changes=changes, error=self.last_error)
        s = self.settings
        kept = filter_detections(found, s.filters, labels=s.labels)
        detections = suppress_duplicates(kept, s.nms_iou)
        changes = self.tracker.update(detections, time_ms, searched=regions)
        return FrameResult(time_ms, motion, regions, detections, changes)

    async def _detect(self, image: Gray | Bgr, regions: Sequence[Box]) -> list[Detection]:
        """Detections in each region's crop, in frame coordinates; the first error raised."""
        assert self.pool is not None
        height, width = image.shape[:2]
        crops: list[Box] = []
        calls = []
        for region in regions:
            x1, y1, x2, y2 = crop_bounds(region, width, height)
            # Map back with the pixels actually cropped, not the region asked for.
            crops.append(Box(x1 / width, y1 / height, x2 / width, y2 / height))
            calls.append(self.pool.detect(to_bgr(image[y1:y2, x1:x2])))
        self.detector_calls += len(calls)
        # All crops go at once: the pool's idle workers share them.
        answers = await asyncio.gather(*calls, return_exceptions=True)
        found: list[Detection] = []
        for crop, answer in zip(crops, answers, strict=True):
            if isinstance(answer, BaseException):
                raise answer
            found += [Detection(d.label, d.score, to_frame(d.box, crop)) for d in answer]
        return found

    def _fail(self, message: str) -> None:
        self.errors += 1
        self.last_error = message
        if message not in self._logged:
            if len(self._logged) >= _MAX_LOGGED_ERRORS:
                self._logged.clear()
            self._logged.add(message)
            log.warning("object detection failed, motion goes on: %s", message)

    async def run(
        self,
        stream: DetectStream,
        on_result: ResultCallback | None = None,
        *,
        queue_frames: int | None = None,
    ) -> None:
        """Process ``stream``'s frames until cancelled, handing each result to ``on_result``.

        A callback that raises is logged and the camera goes on.
        """
        queue = stream.subscribe(queue_frames)
        run: int | None = None
        try:
            async for frame in queue:
                if run is not None and frame.run != run:
                    self.reset()
                run = frame.run
                result = await self.process(frame.image, None, frame.time_ms)
                self.dropped = queue.dropped
                if on_result is not None:
                    try:
                        await on_result(result)
                    except Exception:
                        log.exception(
                            "camera %s: detection result handler failed", stream.camera_id
                        )
        finally:
            queue.close()
