"""One camera's detection on its node: the pipeline over the camera's detect frames, events
built from what it finds, snapshots written, and everything sent to the application server.

Events and finished motion spans go through the outbox (none is lost while the application
server is away); what the camera sees right now (motion, objects in sight) goes straight
over the link, best effort, as it changes. Recording never waits for any of it: the detect
stream drops frames for a subscriber that falls behind, and counts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import cv2

from vigil.detect.events import EventBuilder, SnapshotWanted
from vigil.detect.objects import DetectorPool
from vigil.detect.pipeline import CameraPipeline, FrameResult, MotionInterval
from vigil.detect.settings import DetectionSettings
from vigil.link.messages import CameraActivity, EventRecord, MotionSpan
from vigil.node.detect_stream import DetectFrame, DetectStream
from vigil.node.layout import RecordingsLayout, snapshot_key
from vigil.node.outbox import Outbox
from vigil.timeutil import now_ms

log = logging.getLogger(__name__)

# Motion counts as going on this long after its last frame (a sensor that flickers at every
# pause is no use to an automation).
MOTION_HOLD_MS = 2000
# Motion that goes on is reported in pieces of this length while it lasts.
MOTION_REPORT_MS = 10_000
_JPEG_QUALITY = 90

PoolProvider = Callable[[], Awaitable[DetectorPool | None]]
ActivitySink = Callable[[CameraActivity], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DetectionHealth:
    """What the camera's status says about detection."""

    state: str  # off | starting | running | motion_only
    error: str | None = None
    detector_errors: int = 0
    frames: int = 0
    dropped: int = 0


class CameraDetection:
    """Runs one camera's detection until stopped; stopping ends its open events."""

    def __init__(
        self,
        camera_id: int,
        settings: DetectionSettings,
        stream: DetectStream,
        pool: PoolProvider,
        pool_error: Callable[[], str | None],
        layout: RecordingsLayout,
        outbox: Outbox,
        activity: ActivitySink,
        health_changed: Callable[[], Awaitable[None]],
    ) -> None:
        self.camera_id = camera_id
        self.settings = settings
        self._stream = stream
        self._pool = pool
        self._pool_error = pool_error
        self._layout = layout
        self._outbox = outbox
        self._activity = activity
        self._health_changed = health_changed
        self.pipeline: CameraPipeline | None = None
        self.builder = EventBuilder(camera_id, settings)
        self._task: asyncio.Task[None] | None = None
        self._last_motion_ms = -(10**12)
        self._sent: tuple[bool, dict[str, int]] | None = None
        self._health_key: tuple[str, str | None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"detect-{self.camera_id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def health(self) -> DetectionHealth:
        pipeline = self.pipeline
        if pipeline is None:
            return DetectionHealth("starting")
        error = pipeline.last_error
        state = "running"
        if self.settings.object_detection and pipeline.pool is None:
            state, error = "motion_only", self._pool_error()
        return DetectionHealth(
            state,
            error,
            detector_errors=pipeline.errors,
            frames=pipeline.frames,
            dropped=pipeline.dropped,
        )

    async def _run(self) -> None:
        queue = self._stream.subscribe()
        try:
            pool = await self._pool() if self.settings.object_detection else None
            self.pipeline = pipeline = CameraPipeline(self.settings, pool)
            await self._report_health()
            run: int | None = None
            async for frame in queue:
                if run is not None and frame.run != run:
                    pipeline.reset()
                run = frame.run
                bgr = frame.bgr() if pipeline.detecting else None
                result = await pipeline.process(frame.image, bgr, frame.time_ms)
                pipeline.dropped = queue.dropped
                try:
                    await self._handle(frame, result)
                except Exception:
                    log.exception("camera %s: handling a detection result failed", self.camera_id)
        finally:
            queue.close()
            self._finish()

    async def _handle(self, frame: DetectFrame, result: FrameResult) -> None:
        step = self.builder.step(result)
        records = list(step.records)
        for wanted in step.snapshots:
            key = await self._write_snapshot(frame, wanted)
            if key is not None and (record := self.builder.set_snapshot(wanted, key)):
                records.append(record)
        if records:
            self._outbox.events(_last_per_event(records))
        self._send_motion(result.time_ms)
        await self._send_activity(result)
        if result.error is not None or self._health_key is None:
            await self._report_health()

    async def _write_snapshot(self, frame: DetectFrame, wanted: SnapshotWanted) -> str | None:
        """Write the frame as the event's snapshot (one file an event, replaced when a better
        one comes); its storage key, or None if it could not be written."""
        key = snapshot_key(self.camera_id, frame.time_ms, wanted.uid)
        path = self._layout.path(key)

        def write() -> None:
            ok, jpeg = cv2.imencode(".jpg", frame.bgr(), [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY])
            if not ok:  # pragma: no cover - a decoded frame always encodes
                raise OSError("JPEG encoding failed")
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(jpeg.tobytes())
            os.replace(tmp, path)

        try:
            await asyncio.to_thread(write)
        except OSError as e:
            log.warning("camera %s: event snapshot not written: %s", self.camera_id, e)
            return None
        return key

    def _send_motion(self, now: int) -> None:
        """Send motion spans that can grow no more, and long ones while they last."""
        pipeline = self.pipeline
        assert pipeline is not None
        self._report_motion(pipeline.motion_log.take_ready(now, MOTION_REPORT_MS))

    def _report_motion(self, spans: list[MotionInterval]) -> None:
        if spans:
            self._outbox.motion(
                [
                    MotionSpan(camera_id=self.camera_id, start_ms=i.start_ms, end_ms=i.end_ms)
                    for i in spans
                ]
            )

    async def _send_activity(self, result: FrameResult) -> None:
        pipeline = self.pipeline
        assert pipeline is not None
        if result.motion.motion:
            self._last_motion_ms = result.time_ms
        motion = result.time_ms - self._last_motion_ms <= MOTION_HOLD_MS
        objects = dict.fromkeys(sorted(self.settings.labels), 0)
        for obj in pipeline.tracked():
            if obj.label in objects and (not self.settings.zones or obj.zones):
                objects[obj.label] += 1
        if self._sent == (motion, objects):
            return
        self._sent = (motion, objects)
        activity = CameraActivity(
            camera_id=self.camera_id, time_ms=result.time_ms, motion=motion, objects=objects
        )
        try:
            await self._activity(activity)
        except Exception as e:  # best effort: the next change is sent anyway
            log.debug("camera %s: activity not sent: %s", self.camera_id, e)

    async def _report_health(self) -> None:
        health = self.health
        key = (health.state, health.error)
        if key != self._health_key:
            self._health_key = key
            await self._health_changed()

    def _finish(self) -> None:
        """Stopped: end open events and send the motion still open (through the outbox)."""
        ended = self.builder.end_all(now_ms())
        if ended:
            self._outbox.events(ended)
        if self.pipeline is not None:
            self._report_motion(self.pipeline.motion_log.take_all())


def _last_per_event(records: list[EventRecord]) -> list[EventRecord]:
    """Each event's newest record (a frame can open an event and add its snapshot)."""
    return list({record.uid: record for record in records}.values())
