"""One camera's recording: a supervised ffmpeg writing fragmented MP4 segments.

The recorder starts ffmpeg, reads the list of finished segments it prints, moves each one to
its place and hands it on; it watches the progress ffmpeg reports and restarts a stalled
stream, reconnects with growing delays after a drop, and stops ffmpeg so that the segment
being written is finished properly.

ffmpeg runs under a one-line POSIX shell (:data:`_GUARD`): when the node dies, the kernel
sends the parent-death signal again each time the orphan passes from one dying thread of the
node to the next, and ffmpeg takes a second SIGTERM as "abandon the output files now", so the
segment being written was lost. The shell takes those signals and hands ffmpeg just one.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import functools
import logging
import os
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from vigil.link.messages import CameraConfig, CameraState, CameraStatus, SegmentRecord
from vigil.media.mp4 import repair_fragmented
from vigil.node.detect_stream import DetectStream
from vigil.node.exits import (
    AUDIO_NEEDS_TRANSCODE,
    NO_PICTURES,
    NOTHING_CAME,
    TIMED_OUT,
    explain_exit,
    is_progress,
)
from vigil.node.ffmpeg import RecordArgs, detect_from_sub, scrub
from vigil.node.layout import INCOMING_MARK, SUFFIX, RecordingsLayout
from vigil.node.live import LiveStream
from vigil.node.pipes import LIVE_PIPE_BYTES, OutputPipe
from vigil.node.probe import SegmentInfo, UnreadableSegment, probe_segment
from vigil.node.source_codec import CODEC_TIMEOUT_SECONDS, source_video_codec
from vigil.node.ticks import TICKS
from vigil.settings import NodeSettings
from vigil.timeutil import now_ms

log = logging.getLogger(__name__)

# The wall-clock anchor of ffmpeg's timeline moves when segments arrive off by more than
# this, several in a row (the camera's clock drifts).
_REANCHOR_MS = 2000
_REANCHOR_AFTER = 3
# The .incoming mark: a segment's name and an instant, padded, so every mark is as long.
_MARK_WIDTH = 63
_STOP_GRACE_SECONDS = 10.0
# A camera that streamed until just now is expected back (a reboot, a network blip): it is
# retried every reconnect_min_seconds for this long, and only then with doubling delays.
_EXPECTED_BACK_SECONDS = 30.0
# A watchdog tick this much later than asked for (every 0.5 s) means the loop was held up.
_LATE_TICK_SECONDS = 2.0
_DOWN = frozenset({CameraState.STALLED, CameraState.OFFLINE, CameraState.ERROR})
# ffmpeg's -progress output: "key=value" lines; its error messages never look like that.


class RecorderSink(Protocol):
    async def segment_finished(self, record: SegmentRecord) -> None: ...

    async def status_changed(self, status: CameraStatus) -> None: ...


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    # If the node is killed outright, the guard shell gets SIGTERM (once per node thread that
    # dies holding it) and passes one on to ffmpeg, which finishes its files; and a write to
    # the node's closed pipe must not kill ffmpeg before it has closed its segment.
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# The shell ffmpeg runs under ("$@" is ffmpeg's command line): the first SIGTERM goes on to
# ffmpeg (once it is started: "early" marks one that came before), later ones are ignored;
# its exit status is ffmpeg's. A background command's stdin would be /dev/null, so stdin
# ("q" to stop) goes through a spare descriptor ({fd}).
_GUARD = (
    "exec {fd}<&0; "
    'trap \'trap "" TERM; if [ "$child" ]; then kill -TERM "$child"; else early=1; fi\' TERM; '
    '"$@" <&{fd} {fd}<&- & child=$!; exec {fd}<&-; '
    '[ -z "$early" ] || kill -TERM "$child"; '
    'while :; do wait "$child"; status=$?; kill -0 "$child" 2>/dev/null || exit "$status"; done'
)


def guarded(args: list[str], pass_fds: tuple[int, ...]) -> list[str]:
    """``args`` run under the guard shell, which keeps ``pass_fds`` open for ffmpeg."""
    spare = next(fd for fd in range(3, 10) if fd not in pass_fds)  # sh knows fds 0-9
    return ["/bin/sh", "-c", _GUARD.format(fd=spare), "vigil-ffmpeg", *args]


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL to ffmpeg and its guard shell (a session and process group of their own)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


class CameraRecorder:
    def __init__(
        self,
        config: CameraConfig,
        layout: RecordingsLayout,
        ffmpeg: str,
        settings: NodeSettings,
        sink: RecorderSink,
        clock: Callable[[], float] = time.monotonic,
        live: LiveStream | None = None,
        detect: DetectStream | None = None,
    ) -> None:
        """Records ``config`` if its ``recording`` is on; feeds ``live``, and ``detect`` when
        ``config.detect`` is set, from the same ffmpeg."""
        self.config = config
        self._live = live
        self._detect = detect
        # A sub stream that fails holds up recording in the same ffmpeg: detection then
        # decodes the main stream, until a run doing that fails too (the camera is down).
        self._sub_failed = False
        self._layout = layout
        self._settings = settings
        self._sink = sink
        self._clock = clock
        self._args = RecordArgs(ffmpeg, settings.rtsp_transport, settings.connect_timeout_seconds)
        self._incoming = layout.incoming_dir(config.id)
        self._stopping = asyncio.Event()
        self._woken: asyncio.Future[None] | None = None  # the watchdog's wait for a tick
        self._task: asyncio.Task[None] | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._status = CameraStatus(camera_id=config.id, state=CameraState.CONNECTING)
        self._errors: deque[str] = deque(maxlen=8)
        self._anchor_ms: int | None = None
        self._late: list[int] = []
        self._last_end_ms = 0
        self._last_logged: tuple[CameraState, str] | None = None
        self._last_progress = 0.0
        self._out_time_us = 0
        self._run_info: SegmentInfo | None = None
        self._streamed = False
        self._stalled = False
        self._no_data = False  # the watchdog ended the run: nothing came for too long
        self._codec_asked = False  # the camera's codec read once (H.265 is tagged hvc1)

    @property
    def status(self) -> CameraStatus:
        return self._status

    def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name=f"recorder-{self.config.id}")

    async def stop(self) -> None:
        """Stop ffmpeg so that it finishes the segment it is writing; wait for its indexing."""
        self._stopping.set()
        if self._woken is not None and not self._woken.done():
            self._woken.set_result(None)  # the watchdog stops ffmpeg now, not at its tick
        if self._task is not None:
            await self._task

    # -- supervision
    async def _supervise(self) -> None:
        quick = self._settings.reconnect_min_seconds
        delay = quick
        restarts = 0
        lost_at: float | None = None  # when a run that streamed last ended
        while not self._stopping.is_set():
            if self.config.recording:  # else another ffmpeg may be writing there
                await self.recover_incoming()
            started = self._clock()
            reason = await self._run_once()
            if self._stopping.is_set():
                break
            if self._streamed:
                lost_at = self._clock()
                if lost_at - started > delay:
                    delay = quick
            # Just lost, the camera is expected back: retry at once and often, so that
            # recording resumes within a second of its return; back off only after that.
            expected_back = lost_at is not None and self._clock() - lost_at < _EXPECTED_BACK_SECONDS
            wait = quick if expected_back else delay
            restarts += 1
            if self._stalled:
                state = CameraState.STALLED
            elif self._streamed:
                state = CameraState.OFFLINE
            else:
                state = CameraState.ERROR
            # A camera that stays unreachable is logged once, not at every retry.
            repeated = self._last_logged == (state, reason)
            self._last_logged = (state, reason)
            log.log(
                logging.DEBUG if repeated else logging.WARNING,
                "camera %s (%s): %s; reconnecting in %.1f s",
                self.config.id,
                self.config.name,
                reason,
                wait,
            )
            await self._set_status(state=state, last_error=reason, restarts=restarts)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), wait)
            if not expected_back:
                delay = min(delay * 2, self._settings.reconnect_max_seconds)
        if not any(self._incoming.glob(f"*{SUFFIX}")):  # all placed: the mark has no use
            (self._incoming / INCOMING_MARK).unlink(missing_ok=True)
        await self._set_status(state=CameraState.OFFLINE, last_error=None, streaming_since_ms=None)

    async def _run_once(self) -> str:
        """Run ffmpeg until it exits, stalls or is stopped; return why it ended."""
        self._incoming.mkdir(parents=True, exist_ok=True)
        self._anchor_ms = None
        self._out_time_us = 0
        self._run_info = None
        self._streamed = False
        self._stalled = False
        self._no_data = False
        self._errors.clear()
        self._last_progress = self._clock()
        # After a failure the camera keeps its state and reason (stalled, offline, error)
        # through the attempts to reconnect, until it streams again: "connecting" would hide
        # why it is down.
        if self._status.state not in _DOWN:
            await self._set_status(state=CameraState.CONNECTING)
        pipe = OutputPipe(LIVE_PIPE_BYTES) if self._live is not None else None
        config = self._run_config()
        if not self._codec_asked:
            self._codec_asked = True
            codec = await source_video_codec(
                config.main_url,
                config.username,
                config.password,
                min(self._settings.connect_timeout_seconds, CODEC_TIMEOUT_SECONDS),
                self._settings.rtsp_transport,
            )
            self._args = dataclasses.replace(self._args, video_codec=codec)
        detect = config.detect if self._detect is not None else None
        detect_pipe = OutputPipe() if detect is not None else None
        pipes = [p for p in (pipe, detect_pipe) if p is not None]
        args = self._args.build(
            config,
            self._incoming,
            record=self.config.recording,
            live_fd=pipe.write_fd if pipe is not None else None,
            detect_fd=detect_pipe.write_fd if detect_pipe is not None else None,
        )
        pass_fds = tuple(p.write_fd for p in pipes)
        try:
            self._proc = proc = await asyncio.create_subprocess_exec(
                *guarded(args, pass_fds),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                preexec_fn=_die_with_parent,
                pass_fds=pass_fds,
            )
        except BaseException:
            for p in pipes:
                p.close()
            raise
        finally:
            for p in pipes:
                p.close_write_end()  # only ffmpeg writes: its exit is our end of file
        assert proc.stdout is not None
        assert proc.stderr is not None
        outputs = [self._read_segments(proc.stdout), self._read_progress(proc.stderr)]
        if pipe is not None and self._live is not None:
            # Read only while someone watches; ffmpeg must still be able to finish its live
            # output when it stops, stalls or loses the camera (no progress for a while).
            outputs.append(self._live.consume(pipe, self._live_streaming))
        if detect_pipe is not None and self._detect is not None and detect is not None:
            outputs.append(
                _feed(detect_pipe, functools.partial(self._detect.consume, config=detect))
            )
        readers = asyncio.gather(*outputs)
        sub_frames = detect is not None and detect_from_sub(config)
        watchdog = asyncio.create_task(self._watch(proc, sub_frames))
        try:
            await readers
            await proc.wait()
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
            if proc.returncode is None:
                _kill_group(proc)
                await proc.wait()
            self._proc = None
            for p in pipes:
                p.close()
        reason = explain_exit(list(self._errors), proc.returncode)
        if reason == AUDIO_NEEDS_TRANSCODE:
            self._args = dataclasses.replace(self._args, transcode_audio=True)
            reason = "the camera's audio codec cannot go into MP4; audio will be converted to AAC"
        # A stalled camera that answers and still sends nothing (the watchdog, a timeout or
        # an empty stream ended this attempt too) is still stalled, until pictures come
        # again; one that refuses or vanishes is not.
        nothing = self._no_data or reason in NOTHING_CAME
        if not self._streamed and nothing and self._status.state is CameraState.STALLED:
            self._stalled = True
        if not self._streamed and self._args.quick_probe:
            self._args = dataclasses.replace(self._args, quick_probe=False)  # ffmpeg's own
        silence = self._settings.stall_timeout_seconds
        if self._streamed and not self._no_data and reason == TIMED_OUT:
            # It streamed, then sent nothing until ffmpeg's own read timeout (`-timeout`) came
            # before the watchdog: a stall all the same, whichever noticed first.
            self._stalled = True
            silence = self._settings.connect_timeout_seconds
        if self._stalled:
            reason = f"no data from the camera for {silence:g} s"
        elif self._no_data and not self._streamed:
            # The watchdog ended a connection that never brought a picture: ffmpeg's own
            # exit (killed, status -9) would tell the user nothing.
            waited = silence + self._settings.connect_timeout_seconds
            reason = f"{NO_PICTURES} in {waited:g} s"
        if detect is not None and (self._stalled or not self._streamed):
            self._sub_failed = detect_from_sub(config)
            if self._sub_failed:
                log.warning(
                    "camera %s: detection decodes the main stream from now on: the run that "
                    "read the sub stream too failed (%s)",
                    self.config.id,
                    reason,
                )
        return reason

    def _live_streaming(self) -> bool:
        """ffmpeg streams: not asked to stop, and its progress came lately (it reports every
        second); else live view reads the pipe again so that ffmpeg can exit."""
        return not self._stopping.is_set() and self._clock() - self._last_progress < 2.0

    def _run_config(self) -> CameraConfig:
        """The camera's config for the next run: detection off the sub stream if it failed."""
        detect = self.config.detect
        if detect is None or not self._sub_failed:
            return self.config
        update = {"detect": detect.model_copy(update={"prefer_sub": False})}
        return self.config.model_copy(update=update)

    async def _watch(self, proc: asyncio.subprocess.Process, sub_frames: bool = False) -> None:
        """Stop ffmpeg when asked to, or when the stream has stalled; with ``sub_frames``
        (detection decodes the sub stream), also when the sub stream's frames stop: the
        recording may go on meanwhile, but detection would be blind."""
        limit = self._settings.stall_timeout_seconds
        # Counted once this run's sub frames have begun (connecting to it takes its time).
        frames_read = self._detect.frames_read if self._detect is not None else 0
        frames_at = self._clock()
        frames_began = False
        while proc.returncode is None and not self._stopping.is_set():
            # Every recorder's check on the node's one timer (see vigil.node.ticks).
            asked = self._clock()
            self._woken = TICKS.waiter()
            try:
                await self._woken
            finally:
                self._woken = None
            if self._stopping.is_set():
                break
            if self._clock() - asked > _LATE_TICK_SECONDS:
                # The event loop itself was held up (a long start-up, a starved box): what
                # ffmpeg reported meanwhile waits unread in its pipe. Judge at the next tick,
                # once the readers have had their turn, not a camera that did nothing wrong.
                continue
            waited = self._clock() - self._last_progress
            if sub_frames and self._detect is not None:
                if self._detect.frames_read != frames_read:
                    frames_read, frames_at = self._detect.frames_read, self._clock()
                    frames_began = True
                if frames_began and self._streamed:
                    waited = max(waited, self._clock() - frames_at)
            connecting = not self._streamed
            if waited > limit + (self._settings.connect_timeout_seconds if connecting else 0):
                self._stalled = self._streamed
                self._no_data = True
                if not connecting:
                    await self._set_status(
                        state=CameraState.STALLED,
                        last_error=f"no data from the camera for {limit:g} s",
                    )
                # ffmpeg is blocked reading a camera that sends nothing: neither "q" nor one
                # SIGTERM ends it before its socket timeout, seconds later. Its fragments are
                # on disk as they are made; only the one after the last keyframe is lost, and
                # the segment is placed by recover_incoming before the next run.
                _kill_group(proc)
                return
        await self._terminate(proc)

    async def _terminate(self, proc: asyncio.subprocess.Process) -> None:
        """An orderly stop: ffmpeg writes the rest of the segment and reports it."""
        if proc.returncode is not None:
            return
        # "q" on stdin is ffmpeg's own orderly stop: it writes the last segment's trailer.
        if proc.stdin is not None:
            with contextlib.suppress(OSError, RuntimeError):
                proc.stdin.write(b"q")
                await proc.stdin.drain()
                proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), _STOP_GRACE_SECONDS / 2)
            return
        except TimeoutError:
            pass
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), _STOP_GRACE_SECONDS / 2)
        except TimeoutError:
            _kill_group(proc)

    # -- what ffmpeg prints
    async def _read_progress(self, stream: asyncio.StreamReader) -> None:
        secrets = (self.config.password,)
        while line_bytes := await stream.readline():
            line = line_bytes.decode("utf-8", "replace").strip()
            if is_progress(line):
                key, _, value = line.partition("=")
                if key == "out_time_us" and value.isdigit() and int(value) > self._out_time_us:
                    self._out_time_us = int(value)
                    self._last_progress = self._clock()
                    if not self._streamed:
                        self._streamed = True
                        await self._set_status(
                            state=CameraState.STREAMING,
                            last_error=None,
                            streaming_since_ms=now_ms(),
                        )
                continue
            if line:
                self._errors.append(scrub(line, secrets))

    async def _read_segments(self, stream: asyncio.StreamReader) -> None:
        # The first segment waits for the second: its report can come late (ffmpeg probes the
        # stream, a camera sends its last GOP in a burst), so the second sets the clock.
        held: tuple[Path, float, float, int] | None = None
        while line_bytes := await stream.readline():
            parts = line_bytes.decode("utf-8", "replace").strip().split(",")
            if len(parts) != 3:
                continue
            name, start_s, end_s = parts
            try:
                start, end = float(start_s), float(end_s)
            except ValueError:
                continue
            self._last_progress = self._clock()
            measured = now_ms() - round(end * 1000)
            src = self._incoming / Path(name).name
            if self._anchor_ms is None and held is None:
                held = (src, start, end, measured)
                continue
            if held is not None:
                self._anchor_ms = min(held[3], measured)
                await self._finish(*held[:3])
                held = None
            self._update_anchor(measured)
            await self._finish(src, start, end)
        if held is not None:
            self._anchor_ms = held[3]
            await self._finish(*held[:3])

    def _update_anchor(self, measured: int) -> None:
        """Keep ffmpeg's timeline on the wall clock. The anchor holds, so segments of one run
        stay contiguous, unless the camera's clock drifts: measurements off by more than
        ``_REANCHOR_MS`` several times in a row move it."""
        assert self._anchor_ms is not None
        if abs(measured - self._anchor_ms) <= _REANCHOR_MS:
            self._late = []
            return
        self._late.append(measured)
        if len(self._late) >= _REANCHOR_AFTER:
            self._anchor_ms = min(self._late)
            self._late = []

    async def _finish(self, src: Path, start: float, end: float) -> None:
        assert self._anchor_ms is not None
        start_ms = max(self._anchor_ms + round(start * 1000), self._last_end_ms)
        end_ms = self._anchor_ms + round(end * 1000)
        self._last_end_ms = end_ms
        # Where the segments after this one start, for recover_incoming (even in a node
        # started after a crash): a small file, rewritten at each segment.
        _write_mark(self._incoming / INCOMING_MARK, src.name, end_ms)
        try:
            if self._run_info is None:
                info = self._run_info = await asyncio.to_thread(probe_segment, src)
                if self._args.video_codec is None:  # next runs tag H.265 hvc1
                    self._args = dataclasses.replace(self._args, video_codec=info.video_codec)
            else:
                # Codecs and picture size cannot change within one ffmpeg run: only the
                # first segment is opened, the rest cost a stat.
                info = dataclasses.replace(
                    self._run_info, size=src.stat().st_size, duration_ms=end_ms - start_ms
                )
        except (UnreadableSegment, FileNotFoundError) as exc:
            log.warning("camera %s: dropping unreadable segment: %s", self.config.id, exc)
            with contextlib.suppress(FileNotFoundError):
                src.unlink()
            return
        await self._place(src, start_ms, end_ms, info)

    async def _place(self, src: Path, start_ms: int, end_ms: int, info: SegmentInfo) -> None:
        key, dst = self._layout.segment_path(self.config.id, start_ms)
        while dst.exists():  # two segments can't share a start instant; nudge by a millisecond
            start_ms += 1
            key, dst = self._layout.segment_path(self.config.id, start_ms)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
        record = info.record(self.config.id, key, start_ms, max(end_ms, start_ms + 1))
        await self._sink.segment_finished(record)
        seconds = max((record.end_ms - record.start_ms) / 1000, 0.001)
        await self._set_status(
            video_codec=info.video_codec,
            audio_codec=info.audio_codec,
            width=info.width,
            height=info.height,
            fps=info.fps,
            bitrate_bps=round(info.size * 8 / seconds),
        )

    async def recover_incoming(self) -> None:
        """Finish what an earlier run left in ``.incoming`` (a crash, a stall): repair each
        segment cut short and place it where its frames belong, or remove it if nothing in
        it can be played.

        The mark the run left says where the segments after its last finished one start on
        its timeline: those follow it back to back, and one finished but not yet moved ends
        there. Without a mark (the run had not set its clock) a segment ends at its file
        time, the time its last fragment was written."""
        if not self._incoming.is_dir():
            return
        mark_path = self._incoming / INCOMING_MARK
        mark = _read_mark(mark_path)
        found: list[tuple[Path, SegmentInfo]] = []
        for src in sorted(self._incoming.glob(f"*{SUFFIX}")):
            playable = await asyncio.to_thread(_repair, src)
            info = await asyncio.to_thread(_probe_or_none, src) if playable else None
            if info is None or info.duration_ms <= 0:
                log.warning("camera %s: removing unplayable partial segment", self.config.id)
                src.unlink(missing_ok=True)
                continue
            found.append((src, info))
        placed: list[tuple[Path, int, int, SegmentInfo]] = []
        if mark is None:
            for src, info in found:
                ended_ms = round(src.stat().st_mtime * 1000)
                placed.append((src, ended_ms - info.duration_ms, ended_ms, info))
        else:
            last_name, at_ms = mark
            start_ms = end_ms = at_ms
            for src, info in found:
                if src.name > last_name:
                    placed.append((src, start_ms, start_ms + info.duration_ms, info))
                    start_ms += info.duration_ms
            for src, info in reversed(found):
                if src.name <= last_name:
                    placed.append((src, end_ms - info.duration_ms, end_ms, info))
                    end_ms -= info.duration_ms
        for src, start_ms, end_ms, info in sorted(placed, key=lambda p: p[1]):
            log.info(
                "camera %s: recovered a segment cut short (%d ms)", self.config.id, info.duration_ms
            )
            await self._place(src, start_ms, end_ms, info)
            self._last_end_ms = max(self._last_end_ms, end_ms)
        mark_path.unlink(missing_ok=True)

    async def _set_status(self, **changes: object) -> None:
        current = self._status.model_dump()
        new = current | changes
        if new == current:
            return
        if new["state"] != current["state"]:
            new["changed_ms"] = now_ms()
        self._status = CameraStatus(**new)
        await self._sink.status_changed(self._status)


def _write_mark(path: Path, name: str, end_ms: int) -> None:
    """Note that the segments after ``name`` start at ``end_ms`` (and that it ends there).

    Written in place at a fixed width (no truncation: this runs for every segment)."""
    line = f"{name} {end_ms}".ljust(_MARK_WIDTH) + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.pwrite(fd, line.encode(), 0)
        finally:
            os.close(fd)
    except OSError as exc:  # a full disk: recovery falls back on file times
        log.debug("cannot write %s: %s", path, exc)


def _read_mark(path: Path) -> tuple[str, int] | None:
    """The mark :func:`_write_mark` left, or None if there is none or it is unreadable."""
    try:
        name, end = path.read_text().split()
        return name, int(end)
    except (OSError, ValueError):
        return None


def _repair(path: Path) -> bool:
    try:
        return repair_fragmented(path)
    except OSError:
        return False


def _probe_or_none(path: Path) -> SegmentInfo | None:
    try:
        return probe_segment(path)
    except UnreadableSegment:
        return None


async def _feed(
    pipe: OutputPipe, consume: Callable[[asyncio.StreamReader], Awaitable[None]]
) -> None:
    """Hand what ffmpeg writes into ``pipe`` to ``consume`` until ffmpeg closes it."""
    async with pipe.reader() as reader:
        await consume(reader)
