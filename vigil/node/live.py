"""Live view of one camera: the fragmented MP4 its ffmpeg writes to a pipe, fanned out.

The pipe is read only while someone needs live media: a WebSocket viewer, a live HLS player,
a snapshot, and for ``IDLE_SECONDS`` after the last of them. Otherwise the node stops reading;
ffmpeg's fifo muxer in front of the live output (see ``LIVE_OUTPUT``) then drops packets
before muxing them, so an unwatched camera costs its recording and little more, and
recording never waits for live view. When reading resumes, what sat in the pipe and in
ffmpeg's queue is from before the pause: fragments whose place on the camera's timeline
maps to well before now (the mapping is learnt while reading) are skipped, so a viewer
starts on a fresh keyframe, never on a stale picture.

While reading, the stream keeps the init segment and the fragments since the last keyframe,
so a new viewer starts at once on a keyframe; each viewer has a bounded queue, and one that
falls behind skips to the next keyframe, then is dropped if it keeps falling behind, so a
slow viewer never holds memory or the others back. A short HLS window built from the same
fragments serves players without MSE, and the last keyframe gives a cheap snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol

from vigil.media.fmp4 import InitInfo, parse_fragment, parse_init
from vigil.media.mp4 import MalformedMp4
from vigil.node.live_hls import HlsWindow
from vigil.node.pipes import OutputPipe
from vigil.node.snapshot import NoPicture, keyframe_jpeg
from vigil.node.ticks import TICKS

log = logging.getLogger(__name__)

# Seconds the pipe is still read after the last viewer left (or the last snapshot or
# playlist request): a page reloading or a grid switching views finds the picture at once.
IDLE_SECONDS = 10.0
# No box of a live stream comes near this; a bigger size means the stream is corrupt.
_MAX_BOX = 64 * 1024 * 1024
# A GOP longer than this (bytes) is not cached: late joiners wait for the next keyframe.
_MAX_GOP_BYTES = 16 * 1024 * 1024
# A fragment that reaches the node this much later than the camera's timeline says it should
# (after the usual delay) was written before a pause: skipped, never shown as live.
_STALE_SECONDS = 1.0
# How far the camera's clock may drift from the node's (seconds per second): the usual delay
# may grow this fast, while reading and across a pause.
_DRIFT = 0.001
# Late fragments for longer than this after a resume are no backlog (that comes out at once)
# but a jump in the camera's timeline: the mapping is learnt again from them.
_RESYNC_SECONDS = 2.0
# What one read of a stream reader takes.
_CHUNK_BYTES = 256 * 1024
# How long a snapshot or a playlist request waits for a fresh picture after a pause.
_FRESH_WAIT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class StreamStart:
    """A new stream begins (first run or ffmpeg restarted): play ``init`` before what follows."""

    init: bytes
    info: InitInfo
    generation: int


@dataclass(frozen=True, slots=True)
class Fragment:
    data: bytes  # moof + mdat
    keyframe: bool
    seconds: float


Packet = StreamStart | Fragment


class Viewer:
    """One subscriber: a bounded queue of what it has yet to be sent."""

    def __init__(self, stream: LiveStream, max_bytes: int, max_skips: int) -> None:
        self._stream = stream
        self._queue: deque[Packet] = deque()
        self._bytes = 0
        self._max_bytes = max_bytes
        self._max_skips = max_skips
        self._skips = 0
        self._need_keyframe = False
        self._ready = asyncio.Event()
        self._closed = asyncio.Event()
        self.closed = False
        self.dropped = False  # closed because it fell too far behind
        self.skipped = 0  # times it was moved forward to a keyframe

    def push(self, packet: Packet) -> None:
        if self.closed:
            return
        if isinstance(packet, StreamStart):
            self._clear()
            self._need_keyframe = True
            self._append(packet)
            return
        if self._need_keyframe:
            if not packet.keyframe:
                return
            self._need_keyframe = False
        if self._bytes + len(packet.data) > self._max_bytes:
            # Behind by more than it may hold: jump to the next keyframe, or give up on it.
            self._drop_fragments()
            self.skipped += 1
            self._skips += 1
            if self._skips > self._max_skips:
                self.dropped = True
                self.close()
                return
            if not packet.keyframe:
                self._need_keyframe = True
                return
        self._append(packet)

    async def get(self) -> Packet | None:
        """The next packet to send; None once the viewer is closed."""
        while not self._queue:
            if self.closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        if self.dropped:
            return None
        packet = self._queue.popleft()
        if isinstance(packet, Fragment):
            self._bytes -= len(packet.data)
        if not self._queue:
            self._skips = 0  # it caught up
        return packet

    def __aiter__(self) -> AsyncIterator[Packet]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Packet]:
        while (packet := await self.get()) is not None:
            yield packet

    async def wait_closed(self) -> None:
        await self._closed.wait()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._ready.set()
            self._closed.set()
            self._stream.leave(self)

    def _append(self, packet: Packet) -> None:
        self._queue.append(packet)
        if isinstance(packet, Fragment):
            self._bytes += len(packet.data)
        self._ready.set()

    def _clear(self) -> None:
        self._queue.clear()
        self._bytes = 0

    def _drop_fragments(self) -> None:
        # A pending StreamStart stays: the viewer still needs the init segment.
        self._queue = deque(p for p in self._queue if isinstance(p, StreamStart))
        self._bytes = 0


class Demand(Protocol):
    """What starts a stream's ffmpeg when the stream is needed (see ``on_demand.py``)."""

    @property
    def running(self) -> bool:
        """The stream's ffmpeg runs (or is starting)."""

    def wanted(self) -> None:
        """Someone needs the stream now: its ffmpeg runs, or starts."""

    def upstream(self) -> bool:
        """The camera sends pictures now, whether or not the stream's ffmpeg runs."""


@dataclass(slots=True)
class _Snapshot:
    keyframe: Fragment
    jpeg: bytes


@dataclass(slots=True)
class LiveStream:
    """Live media of one camera, shared by all its viewers."""

    camera_id: int
    hls_segments: int = 6
    viewer_bytes: int = 4 * 1024 * 1024
    viewer_skips: int = 3
    on_viewers: Callable[[int], None] | None = None  # told the count when it changes
    demand: Demand | None = None  # its ffmpeg runs only while the stream is needed
    clock: Callable[[], float] = time.monotonic
    # The number of a new HLS window's first segment (see HlsWindow).
    hls_first: Callable[[], int] = lambda: 0
    start: StreamStart | None = None
    _gop: list[Fragment] = field(default_factory=list)
    _gop_bytes: int = 0
    _playing: bool = False
    _viewers: set[Viewer] = field(default_factory=set)
    _generation: int = 0
    _hls: HlsWindow = field(init=False)
    _snapshot: _Snapshot | None = None
    _snapshot_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # -- reading on demand
    _reading: _Reading | None = None  # the ffmpeg run being read, if any
    _wanted_until: float = float("-inf")  # read until then even with no viewer
    _pictures: bool = False  # a keyframe came in this ffmpeg run
    _keyframe: asyncio.Event = field(default_factory=asyncio.Event)  # set at each fresh one
    _timeline: _Timeline = field(init=False)
    pauses: int = 0  # times the reading paused
    bytes_read: int = 0  # from ffmpeg's pipe, over every run

    def __post_init__(self) -> None:
        self._hls = HlsWindow(self.hls_segments, self.hls_first())
        self._timeline = _Timeline(self.clock)

    # -- what the API asks
    @property
    def viewers(self) -> int:
        return len(self._viewers)

    @property
    def hls(self) -> HlsWindow:
        return self._hls

    @property
    def has_picture(self) -> bool:
        """ffmpeg runs and has sent a picture (whether or not the node reads it now); for a
        stream on demand whose ffmpeg is not running: the camera sends pictures, so the
        stream would show them."""
        if self.start is not None and self._pictures:
            return True
        demand = self.demand
        return demand is not None and not demand.running and demand.upstream()

    def needed(self) -> bool:
        """Someone watches, or asked for live media within ``IDLE_SECONDS``."""
        return bool(self._viewers) or self.clock() < self._wanted_until

    @property
    def paused(self) -> bool:
        """The node does not read the pipe now (nobody needs live media)."""
        return self._reading is not None and self._reading.paused

    def join(self) -> Viewer:
        """A new viewer, primed with the init segment and the current GOP (keyframe first);
        after a pause, it starts at the next fresh keyframe."""
        viewer = Viewer(self, self.viewer_bytes, self.viewer_skips)
        self._viewers.add(viewer)
        if self.on_viewers is not None:
            self.on_viewers(len(self._viewers))
        if self.demand is not None:
            self.demand.wanted()
        if self.start is not None:
            viewer.push(self.start)
            for fragment in self._gop:
                viewer.push(fragment)
        self._resume()
        return viewer

    def leave(self, viewer: Viewer) -> None:
        if viewer in self._viewers:
            self._viewers.discard(viewer)
            if not self._viewers:
                self._want()
            if self.on_viewers is not None:
                self.on_viewers(len(self._viewers))

    async def hls_playlist(self, query: str = "") -> str | None:
        """The live HLS playlist (see :meth:`HlsWindow.playlist`); a request keeps the pipe
        read, and after a pause waits a little for the window's first fresh segment."""
        self._want()
        playlist = self._hls.playlist(query)
        deadline = self.clock() + _FRESH_WAIT_SECONDS
        while playlist is None and self._coming() and self.clock() < deadline:
            if not await self._next_keyframe(deadline - self.clock()):
                break
            playlist = self._hls.playlist(query)
        return playlist

    async def snapshot(self) -> bytes | None:
        """The last keyframe as JPEG (decoded once per keyframe); None before the first, or
        while ffmpeg is not running. After a pause it waits for the next fresh keyframe."""
        self._want()
        if not self._gop and (self.start is not None or self.demand is not None) and self._coming():
            await self._next_keyframe(_FRESH_WAIT_SECONDS)
        async with self._snapshot_lock:
            if self.start is None or not self._gop:
                return None
            start, keyframe = self.start, self._gop[0]
            if self._snapshot is not None and self._snapshot.keyframe is keyframe:
                return self._snapshot.jpeg
            try:
                jpeg = await asyncio.to_thread(keyframe_jpeg, start.init, keyframe.data)
            except NoPicture as exc:
                log.warning("camera %s: no snapshot from the live stream: %s", self.camera_id, exc)
                return None
            self._snapshot = _Snapshot(keyframe, jpeg)
            return jpeg

    def close(self) -> None:
        """End every viewer and forget the stream (the camera is disabled or removed)."""
        for viewer in list(self._viewers):
            viewer.close()
        self.start = None
        self._forget_picture()
        self._hls = HlsWindow(self.hls_segments, self.hls_first())

    # -- what ffmpeg writes
    async def consume(
        self,
        source: OutputPipe | asyncio.StreamReader,
        streaming: Callable[[], bool] = lambda: True,
    ) -> None:
        """Read one ffmpeg run's fragmented MP4 until ffmpeg closes its output. From an
        :class:`OutputPipe` the reading pauses while nobody needs live media, and
        ``streaming()`` says whether ffmpeg still streams: while paused it is asked every
        half second, and once false the pipe is read again, so that an ffmpeg that is
        stopping can write its last bytes and exit. A stream reader is read throughout."""
        reading = _Reading(self, streaming)
        self._reading = reading
        self._timeline = _Timeline(self.clock)
        try:
            if isinstance(source, OutputPipe):
                async with source.read_into(reading) as transport:
                    reading.transport = transport
                    await reading.done
            else:
                while chunk := await source.read(_CHUNK_BYTES):
                    reading.data_received(chunk)
        finally:
            reading.stop()
            # A stream on demand may have started its next run while this one was stopping:
            # what that run set up stays.
            if self._reading is reading:
                self._reading = None
                self._pictures = False
                self._forget_picture()  # ffmpeg exited: no stale picture is shown as the latest
                if self.demand is not None:
                    self.start = None  # the next run, when someone needs it, is a new stream

    # -- reading on demand
    def _want(self) -> None:
        """Live media is needed now: read the pipe, and go on for ``IDLE_SECONDS``."""
        self._wanted_until = max(self._wanted_until, self.clock() + IDLE_SECONDS)
        if self.demand is not None:
            self.demand.wanted()
        self._resume()

    def _coming(self) -> bool:
        """A picture may come soon: ffmpeg runs, or is starting for a camera that streams."""
        if self._reading is not None:
            return True
        return self.demand is not None and self.demand.upstream()

    def _wanted(self) -> bool:
        """Someone needs live media, or ffmpeg is stopping (it must write what it holds)."""
        if self._viewers or self.clock() < self._wanted_until:
            return True
        return self._reading is not None and not self._reading.streaming()

    def _resume(self) -> None:
        if self._reading is not None and self._reading.paused:
            self._timeline.resumed()
            self._playing = False  # until a fresh keyframe
            self._reading.resume()

    def _can_pause(self) -> bool:
        return self._reading is not None and self._reading.transport is not None

    def _pause(self) -> None:
        """Nobody needs live media: stop reading, and forget what would go stale."""
        assert self._reading is not None
        self.pauses += 1
        self._reading.pause()
        self._timeline.paused()
        self._forget_picture()
        self._hls.clear()

    def _forget_picture(self) -> None:
        self._playing = False
        self._gop = []
        self._gop_bytes = 0
        self._snapshot = None

    async def _next_keyframe(self, seconds: float) -> bool:
        """Wait for the next fresh keyframe; False if none came within ``seconds``."""
        self._keyframe.clear()
        try:
            await asyncio.wait_for(self._keyframe.wait(), max(seconds, 0.0))
        except TimeoutError:
            return False
        return True

    # -- boxes, as the pipe delivers them
    def _begin(self, init: bytes) -> None:
        info = parse_init(init)
        if info.video is None:
            raise MalformedMp4("no video track in the init segment")
        self._generation += 1
        self.start = StreamStart(init, info, self._generation)
        self._forget_picture()
        self._hls.begin(self.start.generation, init)
        for viewer in list(self._viewers):
            viewer.push(self.start)

    def _publish(self, data: bytes) -> None:
        if self.start is None:
            return
        video = self.start.info.video
        assert video is not None
        parsed = parse_fragment(data, video)
        if not self._timeline.fresh(parsed.decode_time, parsed.duration, video.timescale):
            return  # written before a pause
        fragment = Fragment(data, parsed.keyframe, parsed.duration / (video.timescale or 1))
        if fragment.keyframe:
            self._playing = True
            self._pictures = True
            self._gop = [fragment]
            self._gop_bytes = len(data)
            self._keyframe.set()
        elif not self._playing:
            return  # nothing plays before the first keyframe
        elif self._gop and self._gop_bytes + len(data) <= _MAX_GOP_BYTES:
            self._gop.append(fragment)
            self._gop_bytes += len(data)
        else:
            self._gop = []  # too long to cache whole: late joiners wait for a keyframe
        self._hls.add(fragment.data, fragment.keyframe, fragment.seconds)
        for viewer in list(self._viewers):
            viewer.push(fragment)
        if fragment.keyframe and not self._wanted() and self._can_pause():
            self._pause()  # after a keyframe: live/info can say the camera sends pictures

    def _unreadable(self, exc: Exception) -> None:
        log.warning(
            "camera %s: live stream unreadable (%s); live view paused until ffmpeg restarts",
            self.camera_id,
            exc,
        )
        self._forget_picture()
        self.start = None


class _Timeline:
    """Where the camera's timeline (fragments' decode times) sits on the node's clock, learnt
    while reading; it tells a fragment from before a pause from a fresh one."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._offset: float | None = None  # arrival minus media time, at the least delay
        self._offset_at = 0.0
        self._late_since: float | None = None

    def paused(self) -> None:
        self._late_since = None

    def resumed(self) -> None:
        self._late_since = None

    def fresh(self, decode_time: int | None, duration: int, timescale: int) -> bool:
        if decode_time is None or not timescale:
            return self._late_since is None  # audio left over: as the video before it
        now = self._clock()
        measured = now - (decode_time + duration) / timescale
        if self._offset is None:
            self._offset, self._offset_at = measured, now
            return True
        # The usual delay may grow only as fast as the clocks can drift apart.
        usual = self._offset + _DRIFT * (now - self._offset_at)
        if measured <= usual + _STALE_SECONDS:
            self._offset, self._offset_at = min(measured, usual), now
            self._late_since = None
            return True
        if self._late_since is None:
            self._late_since = now
        elif now - self._late_since > _RESYNC_SECONDS:
            self._offset, self._offset_at = measured, now
            self._late_since = None
            return True
        return False


class _Reading(asyncio.Protocol):
    """One ffmpeg run's pipe: splits what arrives into boxes for the stream, and pauses or
    resumes the reading as the stream asks."""

    def __init__(self, stream: LiveStream, streaming: Callable[[], bool]) -> None:
        self._stream = stream
        self.streaming = streaming
        self._buffer = bytearray()
        self._head = b""
        self._moof: bytes | None = None
        self._broken = False
        self._check: Callable[[], None] | None = None  # cancels the pending check
        self.paused = False
        self.transport: asyncio.ReadTransport | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def pause(self) -> None:
        if not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
            self._schedule_check()

    def resume(self) -> None:
        if self.paused and self.transport is not None:
            self.paused = False
            if self._check is not None:
                self._check()
                self._check = None
            self.transport.resume_reading()
            # What was read but not split when it paused comes first (not from inside the
            # caller: a viewer joining must not run the stream's code).
            asyncio.get_running_loop().call_soon(self.data_received, b"")

    def stop(self) -> None:
        if self._check is not None:
            self._check()
            self._check = None

    def _schedule_check(self) -> None:
        # While paused, the node checks at each of its ticks that ffmpeg still streams: an
        # ffmpeg that is exiting must be able to write its last bytes, so the pipe is read again.
        self._check = TICKS.call(self._checked)

    def _checked(self) -> None:
        self._check = None
        if not self.paused:
            return
        if self.streaming():
            self._schedule_check()
        else:
            self.resume()  # ffmpeg is stopping or stalled: let it write what it holds

    # -- asyncio.Protocol
    def data_received(self, data: bytes) -> None:
        self._stream.bytes_read += len(data)
        if self._broken:
            return  # drained: ffmpeg must never block on a full pipe
        self._buffer += data
        try:
            self._split()
        except (MalformedMp4, struct.error, IndexError) as exc:
            self._broken = True
            self._buffer = bytearray()
            self._stream._unreadable(exc)
            self.resume()

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def _split(self) -> None:
        buffer = self._buffer
        start = 0
        while not self.paused and len(buffer) - start >= 8:
            size, kind = struct.unpack_from(">I4s", buffer, start)
            header = 8
            if size == 1:
                if len(buffer) - start < 16:
                    break
                (size,) = struct.unpack_from(">Q", buffer, start + 8)
                header = 16
            if size < header or size > _MAX_BOX:
                raise MalformedMp4(f"box {kind!r} of {size} bytes")
            if len(buffer) - start < size:
                break
            box = bytes(buffer[start : start + size])
            start += size
            self._box(kind, box)
        del buffer[:start]

    def _box(self, kind: bytes, box: bytes) -> None:
        if self._stream._reading is not self:
            return  # an ffmpeg that is stopping while the stream's next run has begun
        if kind == b"ftyp":
            self._head = box
            self._moof = None
        elif kind == b"moov":
            self._stream._begin(self._head + box)
        elif kind == b"moof":
            self._moof = box
        elif kind == b"mdat" and self._moof is not None:
            moof, self._moof = self._moof, None
            self._stream._publish(moof + box)
