"""Live view of one camera: the fragmented MP4 its ffmpeg writes to a pipe, fanned out.

The stream keeps the init segment and the fragments since the last keyframe, so a new viewer
starts at once on a keyframe; each viewer has a bounded queue, and one that falls behind
skips to the next keyframe, then is dropped if it keeps falling behind, so a slow viewer
never holds memory or the others back. A short HLS window built from the same fragments
serves players without MSE, and the last keyframe gives a cheap snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from vigil.node.fmp4 import InitInfo, MalformedMp4, parse_fragment, parse_init
from vigil.node.live_hls import HlsWindow
from vigil.node.snapshot import NoPicture, keyframe_jpeg

log = logging.getLogger(__name__)

# No box of a live stream comes near this; a bigger size means the stream is corrupt.
_MAX_BOX = 64 * 1024 * 1024
# A GOP longer than this (bytes) is not cached: late joiners wait for the next keyframe.
_MAX_GOP_BYTES = 16 * 1024 * 1024


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
    start: StreamStart | None = None
    _gop: list[Fragment] = field(default_factory=list)
    _gop_bytes: int = 0
    _playing: bool = False
    _viewers: set[Viewer] = field(default_factory=set)
    _generation: int = 0
    _hls: HlsWindow = field(init=False)
    _snapshot: _Snapshot | None = None
    _snapshot_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self._hls = HlsWindow(self.hls_segments)

    # -- what the API asks
    @property
    def viewers(self) -> int:
        return len(self._viewers)

    @property
    def hls(self) -> HlsWindow:
        return self._hls

    @property
    def has_picture(self) -> bool:
        return self.start is not None and bool(self._gop)

    def join(self) -> Viewer:
        """A new viewer, primed with the init segment and the current GOP (keyframe first)."""
        viewer = Viewer(self, self.viewer_bytes, self.viewer_skips)
        self._viewers.add(viewer)
        if self.on_viewers is not None:
            self.on_viewers(len(self._viewers))
        if self.start is not None:
            viewer.push(self.start)
            for fragment in self._gop:
                viewer.push(fragment)
        return viewer

    def leave(self, viewer: Viewer) -> None:
        if viewer in self._viewers:
            self._viewers.discard(viewer)
            if self.on_viewers is not None:
                self.on_viewers(len(self._viewers))

    async def snapshot(self) -> bytes | None:
        """The last keyframe as JPEG (decoded once per keyframe); None before the first."""
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
        self._gop = []
        self._gop_bytes = 0
        self._snapshot = None
        self._hls = HlsWindow(self.hls_segments)

    # -- what ffmpeg writes
    async def consume(self, reader: asyncio.StreamReader) -> None:
        """Read one ffmpeg run's fragmented MP4 until the pipe closes."""
        head = bytearray()
        moof: bytes | None = None
        try:
            while True:
                kind, box = await _read_box(reader)
                if kind == "ftyp":
                    head = bytearray(box)
                    moof = None
                elif kind == "moov":
                    self._begin(bytes(head + box))
                elif kind == "moof":
                    moof = box
                elif kind == "mdat" and moof is not None:
                    self._publish(moof + box)
                    moof = None
        except asyncio.IncompleteReadError:
            self._pause()  # ffmpeg exited: no stale picture is shown as the latest
        except (MalformedMp4, struct.error, IndexError) as exc:
            log.warning(
                "camera %s: live stream unreadable (%s); live view paused until ffmpeg restarts",
                self.camera_id,
                exc,
            )
            self._pause()
            self.start = None
            # Keep draining: ffmpeg must never block on a full pipe (recording would stall).
            with contextlib.suppress(asyncio.IncompleteReadError):
                while await reader.read(65536):
                    pass

    def _pause(self) -> None:
        self._playing = False
        self._gop = []
        self._gop_bytes = 0
        self._snapshot = None

    def _begin(self, init: bytes) -> None:
        info = parse_init(init)
        if info.video is None:
            raise MalformedMp4("no video track in the init segment")
        self._generation += 1
        self.start = StreamStart(init, info, self._generation)
        self._playing = False
        self._gop = []
        self._gop_bytes = 0
        self._hls.begin(self.start.generation, init)
        for viewer in list(self._viewers):
            viewer.push(self.start)

    def _publish(self, data: bytes) -> None:
        if self.start is None:
            return
        video = self.start.info.video
        assert video is not None
        parsed = parse_fragment(data, video)
        fragment = Fragment(data, parsed.keyframe, parsed.duration / (video.timescale or 1))
        if fragment.keyframe:
            self._playing = True
            self._gop = [fragment]
            self._gop_bytes = len(data)
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


async def _read_box(reader: asyncio.StreamReader) -> tuple[str, bytes]:
    header = await reader.readexactly(8)
    size, kind = struct.unpack(">I4s", header)
    if size == 1:
        large = await reader.readexactly(8)
        header += large
        (size,) = struct.unpack(">Q", large)
    if size < len(header) or size > _MAX_BOX:
        raise MalformedMp4(f"box {kind!r} of {size} bytes")
    return kind.decode("latin-1"), header + await reader.readexactly(size - len(header))
