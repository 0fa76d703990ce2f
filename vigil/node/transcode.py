"""Live view in H.264 for browsers that cannot decode what the camera sends (H.265 in most).

A transcode is a live-only ffmpeg of its own: a second connection to the camera, decoded
and encoded again with libx264, written as fragmented MP4 into a :class:`LiveStream` like
any other. It costs a core or so (see ``bench/README.md``), so it runs only while someone
watches, stops a little after the last viewer leaves, and a node runs at most
``node.max_transcodes`` of them at once: beyond that a viewer is told so
(:class:`TranscodeLimit`) rather than slowing every camera's recording down.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import signal
import time
from collections import deque

from vigil.link.messages import CameraConfig
from vigil.node.exits import explain_exit
from vigil.node.ffmpeg import (
    ENCODED_LIVE_OUTPUT,
    scrub,
    source_options,
    url_with_credentials,
)
from vigil.node.live import IDLE_SECONDS, LiveStream
from vigil.settings import NodeSettings

log = logging.getLogger(__name__)

# A keyframe every second whatever the camera does: a viewer joins within one.
_KEYFRAMES = "expr:gte(t,n_forced*1)"
_STOP_GRACE_SECONDS = 2.0
# A transcode unwatched this long gives way to another camera's at the limit; a player
# reconnecting (a new WebSocket after the last) is back well within it.
GIVE_WAY_SECONDS = 3.0


class TranscodeLimit(Exception):
    """The node already runs as many transcodes as ``node.max_transcodes`` allows."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"this server already converts {limit} camera(s) to H.264 for browsers that "
            "cannot play their video (node.max_transcodes); try again when one is closed, "
            "or watch in a browser that plays H.265"
        )
        self.limit = limit


def transcode_args(ffmpeg: str, settings: NodeSettings, camera: CameraConfig) -> list[str]:
    """ffmpeg reading the camera's main stream and writing H.264 (+AAC) fMP4 to stdout."""
    url = url_with_credentials(camera.main_url, camera.username, camera.password)
    source = source_options(
        camera.main_url, settings.rtsp_transport, settings.connect_timeout_seconds
    )
    return [
        ffmpeg,
        "-hide_banner",
        "-loglevel", "error",
        "-nostdin",
        *source,
        "-i", url,
        "-map", "0:v:0", "-map", "0:a:0?",
        "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
        "-pix_fmt", "yuv420p", "-force_key_frames", _KEYFRAMES,
        "-c:a", "aac", "-b:a", "64k",
        *ENCODED_LIVE_OUTPUT,
        "pipe:1",
    ]  # fmt: skip


def same_source(old: CameraConfig, new: CameraConfig) -> bool:
    """Whether a transcode of ``old`` still shows what ``new`` asks for."""
    return (old.main_url, old.username, old.password) == (new.main_url, new.username, new.password)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: no orphan encoders if the node dies


class Transcode:
    """One camera's H.264 live stream: its ffmpeg runs while anyone watches it."""

    def __init__(self, config: CameraConfig, ffmpeg: str, settings: NodeSettings) -> None:
        self.config = config
        self._ffmpeg = ffmpeg
        self._settings = settings
        self.stream = LiveStream(config.id, on_viewers=self._viewers_changed)
        self._task: asyncio.Task[None] | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._stop = asyncio.Event()
        self.stopped = asyncio.Event()  # set once its ffmpeg has ended for good
        self.watched_once = False
        self._unwatched_since: float | None = None  # when its last viewer left
        # Nobody may ever join (a page asked and went away): stop then too.
        self._viewers_changed(0)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def watched(self) -> bool:
        return self.stream.viewers > 0

    @property
    def left(self) -> bool:
        """Watched, and nobody has watched it for a moment: it may give way to another
        camera. One asked for and not joined yet is not (its page is about to), nor one whose
        player is reconnecting; neither lingers: it stops after the idle delay like any other."""
        unwatched = self._unwatched_since
        return unwatched is not None and time.monotonic() - unwatched >= GIVE_WAY_SECONDS

    @property
    def ending(self) -> bool:
        return self._stop.is_set()

    def _viewers_changed(self, viewers: int) -> None:
        if viewers > 0:
            self.watched_once = True
            self._unwatched_since = None
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
            if self._task is None and not self._stop.is_set():
                log.info("camera %s: H.264 transcode started", self.config.id)
                self._task = asyncio.create_task(self._run(), name=f"transcode-{self.config.id}")
            return
        if self.watched_once and self._unwatched_since is None:
            self._unwatched_since = time.monotonic()
        if self._idle is None and not self._stop.is_set():
            self._idle = asyncio.get_running_loop().call_later(IDLE_SECONDS, self._idle_out)

    def _idle_out(self) -> None:
        self._idle = None
        if self._task is not None:
            log.info("camera %s: H.264 transcode stopped, nobody watches it", self.config.id)
        self._stop.set()
        if self._task is None:
            self.stopped.set()

    async def close(self) -> None:
        """Stop the ffmpeg now and end every viewer."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        self._stop.set()
        self.stream.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.stopped.set()

    async def _run(self) -> None:
        delay = self._settings.reconnect_min_seconds
        try:
            while not self._stop.is_set():
                reason = await self._run_once()
                if self._stop.is_set():
                    break
                log.warning(
                    "camera %s: H.264 transcode ended (%s); again in %.1f s",
                    self.config.id,
                    reason,
                    delay,
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
                delay = min(delay * 2, self._settings.reconnect_max_seconds)
        finally:
            self.stream.close()
            self.stopped.set()

    async def _run_once(self) -> str:
        config = self.config
        proc = await asyncio.create_subprocess_exec(
            *transcode_args(self._ffmpeg, self._settings, config),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        assert proc.stdout is not None
        assert proc.stderr is not None
        errors: deque[str] = deque(maxlen=8)
        reading = asyncio.gather(self.stream.consume(proc.stdout), _lines(proc.stderr, errors))
        stop = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait((reading, stop), return_when=asyncio.FIRST_COMPLETED)
            if not self._stop.is_set():  # ffmpeg closed its output: it is exiting
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), _STOP_GRACE_SECONDS)
        finally:
            stop.cancel()
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), _STOP_GRACE_SECONDS)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reading
        secrets = (config.username, config.password)
        return explain_exit([scrub(line, secrets) for line in errors], proc.returncode)


async def _lines(stream: asyncio.StreamReader, into: deque[str]) -> None:
    while line := await stream.readline():
        into.append(line.decode("utf-8", "replace").strip())


class Transcodes:
    """A node's transcodes, at most ``node.max_transcodes`` at once; one that its viewers
    left gives way to a new one."""

    def __init__(self, ffmpeg: str, settings: NodeSettings) -> None:
        self._ffmpeg = ffmpeg
        self._settings = settings
        self._by_camera: dict[int, Transcode] = {}
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> int:
        """Transcodes whose ffmpeg runs now."""
        return sum(1 for t in self._by_camera.values() if t.running)

    def stream(self, config: CameraConfig) -> LiveStream:
        """The camera's H.264 live stream (its ffmpeg starts with the first viewer);
        :class:`TranscodeLimit` when as many as allowed are watched already."""
        found = self._by_camera.get(config.id)
        if found is not None and not found.ending and same_source(found.config, config):
            return found.stream
        if found is not None:
            self._forget(config.id)
        limit = self._settings.max_transcodes
        if len(self._by_camera) >= limit:
            idle = next((c for c, t in self._by_camera.items() if t.left), None)
            if idle is None:
                raise TranscodeLimit(limit)
            self._forget(idle)
        transcode = Transcode(config, self._ffmpeg, self._settings)
        self._by_camera[config.id] = transcode
        watcher = asyncio.create_task(self._drop_when_stopped(transcode))
        self._closing.add(watcher)
        watcher.add_done_callback(self._closing.discard)
        return transcode.stream

    async def _drop_when_stopped(self, transcode: Transcode) -> None:
        await transcode.stopped.wait()
        if self._by_camera.get(transcode.config.id) is transcode:
            del self._by_camera[transcode.config.id]
        await transcode.close()

    def _forget(self, camera_id: int) -> None:
        transcode = self._by_camera.pop(camera_id, None)
        if transcode is not None:
            task = asyncio.create_task(transcode.close(), name="transcode-stop")
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def remove(self, camera_id: int) -> None:
        """Stop the camera's transcode (it was changed, disabled or removed)."""
        transcode = self._by_camera.pop(camera_id, None)
        if transcode is not None:
            await transcode.close()

    async def close(self) -> None:
        transcodes = list(self._by_camera.values())
        self._by_camera.clear()
        await asyncio.gather(*(t.close() for t in transcodes))
        for task in list(self._closing):
            task.cancel()
        await asyncio.gather(*self._closing, return_exceptions=True)
