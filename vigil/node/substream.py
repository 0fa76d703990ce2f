"""A camera's sub stream for grid views: a live-only ffmpeg that runs while anyone watches.

The sub stream (``sub_url``, lower resolution) is not recorded, so its ffmpeg starts when its
first viewer comes and stops a little after the last one leaves (a grid page reloading or
switching does not reconnect to the camera each time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from vigil.link.messages import CameraConfig, CameraStatus, SegmentRecord
from vigil.node.live import LiveStream
from vigil.node.recorder import CameraRecorder

log = logging.getLogger(__name__)

# Seconds the sub stream's ffmpeg keeps running after its last viewer left.
IDLE_SECONDS = 10.0

RecorderFactory = Callable[[CameraConfig, LiveStream], CameraRecorder]


class _Unreported:
    """The sub stream's ffmpeg records nothing, and the camera's status is the main stream's."""

    async def segment_finished(self, record: SegmentRecord) -> None:
        return None

    async def status_changed(self, status: CameraStatus) -> None:
        return None


UNREPORTED = _Unreported()


class SubStream:
    def __init__(self, config: CameraConfig, new_recorder: RecorderFactory) -> None:
        assert config.sub_url is not None
        self._config = config.model_copy(update={"main_url": config.sub_url, "recording": False})
        self._new_recorder = new_recorder
        self.stream = LiveStream(config.id, on_viewers=self._viewers_changed)
        self._recorder: CameraRecorder | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._stopping: asyncio.Task[None] | None = None
        self._always = False

    @property
    def running(self) -> bool:
        return self._recorder is not None

    def keep_running(self) -> None:
        """Run from now on whether anyone watches or not (``node.sub_streams = "always"``):
        a grid then plays it at once."""
        self._always = True
        self._viewers_changed(1)

    def _viewers_changed(self, viewers: int) -> None:
        if self._always:
            viewers = max(viewers, 1)
        if viewers > 0:
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
            if self._recorder is None:
                log.info("camera %s: sub stream started", self._config.id)
                self._recorder = self._new_recorder(self._config, self.stream)
                self._recorder.start()
        elif self._recorder is not None and self._idle is None:
            self._idle = asyncio.get_running_loop().call_later(IDLE_SECONDS, self._stop_soon)

    def _stop_soon(self) -> None:
        self._idle = None
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            log.info("camera %s: sub stream stopped, nobody watches it", self._config.id)
            self._stopping = asyncio.create_task(recorder.stop(), name="sub-stream-stop")

    async def close(self) -> None:
        """Stop the ffmpeg now and end every viewer."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        recorder, self._recorder = self._recorder, None
        self.stream.close()
        if recorder is not None:
            await recorder.stop()
        if self._stopping is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._stopping
