"""Live streams whose ffmpeg runs only while someone needs them.

A live-only ffmpeg (a connection of its own to the camera, stream copy) starts when its
stream is first needed (a WebSocket viewer, a live HLS player, a snapshot) and stops
``live.IDLE_SECONDS`` after the last need, so that a page reloading or a grid switching views does
not reconnect to the camera each time. It serves a camera's sub stream (``sub_url``, lower
resolution, for grids), and with ``node.live = "on_demand"`` the live view of a recorded
camera's main stream, whose recording ffmpeg then writes segments only.
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

# How often a running one asks whether it is still needed.
_CHECK_SECONDS = 1.0

RecorderFactory = Callable[[CameraConfig, LiveStream], CameraRecorder]


class _Unreported:
    """A live-only ffmpeg records nothing, and the camera's status is its recorder's."""

    async def segment_finished(self, record: SegmentRecord) -> None:
        return None

    async def status_changed(self, status: CameraStatus) -> None:
        return None


UNREPORTED = _Unreported()


class OnDemandStream:
    """One camera stream (``url``) for live view, read while anyone needs it."""

    def __init__(
        self,
        config: CameraConfig,
        url: str,
        new_recorder: RecorderFactory,
        what: str,
        camera_streams: Callable[[], bool],
    ) -> None:
        """``what`` names the stream in the log; ``camera_streams()`` says whether the
        camera sends pictures now (its recorder's connection), whether or not this runs."""
        self._config = config.model_copy(
            update={"main_url": url, "recording": False, "detect": None}
        )
        self._new_recorder = new_recorder
        self._what = what
        self._camera_streams = camera_streams
        self.stream = LiveStream(config.id, demand=self)
        self._recorder: CameraRecorder | None = None
        self._check: asyncio.TimerHandle | None = None
        self._stopping: asyncio.Task[None] | None = None
        self._always = False
        self._closed = False  # for good: the camera changed, or is gone

    @property
    def running(self) -> bool:
        return self._recorder is not None

    def keep_running(self) -> None:
        """Run from now on whether anyone watches or not (``node.sub_streams = "always"``):
        a grid then plays it at once."""
        self._always = True
        self.wanted()

    # -- what the stream asks (see LiveStream.demand)
    def wanted(self) -> None:
        """Someone needs the stream: start its ffmpeg unless it runs."""
        if self._closed:
            return  # whoever still holds the stream gets nothing more from it
        if self._recorder is None:
            log.info("camera %s: %s started", self._config.id, self._what)
            self._recorder = self._new_recorder(self._config, self.stream)
            self._recorder.start()
        if self._check is None:
            self._check = asyncio.get_running_loop().call_later(_CHECK_SECONDS, self._checked)

    def upstream(self) -> bool:
        return not self._closed and self._camera_streams()

    def _checked(self) -> None:
        self._check = None
        if self._always or self.stream.needed():
            self._check = asyncio.get_running_loop().call_later(_CHECK_SECONDS, self._checked)
            return
        recorder, self._recorder = self._recorder, None
        if recorder is not None:
            log.info("camera %s: %s stopped, nobody watches it", self._config.id, self._what)
            self._stopping = asyncio.create_task(recorder.stop(), name="live-stream-stop")

    async def close(self) -> None:
        """Stop the ffmpeg now and end every viewer, for good."""
        self._closed = True
        if self._check is not None:
            self._check.cancel()
            self._check = None
        recorder, self._recorder = self._recorder, None
        self.stream.close()
        if recorder is not None:
            await recorder.stop()
        if self._stopping is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._stopping
