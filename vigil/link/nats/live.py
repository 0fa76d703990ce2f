"""Live view from a node on another machine, published on the bus only while someone
watches.

The node's side (:class:`LiveForwarder`) joins the camera's live stream as one more viewer
and publishes what it gets (the init segment, then fragments) as a byte stream on the
camera's live subject, in numbered pieces under the payload limit, for as long as the
application side renews its lease. The application side (:class:`LiveMirror`) keeps a
:class:`~vigil.node.live.LiveStream` of its own, fed from that subject, so its viewers, the
live HLS window and snapshots work as they do on the node; it renews the lease while the
mirror is needed and lets it lapse when nobody watches. A lost piece (a sequence gap) asks
the node for a fresh start: the init segment and the current GOP again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from vigil.link.nats.subjects import live, node_call
from vigil.link.nats.wire import call
from vigil.link.protocol import LinkUnavailable
from vigil.node.live import LiveStream, StreamStart, Viewer
from vigil.node.transcode import TranscodeLimit
from vigil.tasks import cancel

log = logging.getLogger(__name__)

Variant = Literal["main", "sub", "h264"]
SEQUENCE = "Vigil-Seq"
# The node publishes for this long after each renewal; the mirror renews three times as often.
LEASE_SECONDS = 6.0
_HEADROOM = 4096


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def live_subject(node: str, camera_id: int, variant: Variant) -> str:
    return f"{live(node, camera_id)}.{variant}"


@dataclass
class _Forward:
    viewer: Viewer
    task: asyncio.Task[None]
    until: float


class LiveForwarder:
    """The node's end: ``streams(camera_id, variant)`` is the node's live stream (None while
    the camera is disabled; TranscodeLimit for h264 when the node converts its most)."""

    def __init__(
        self, client: Client, node: str, streams: Callable[[int, Variant], LiveStream | None]
    ) -> None:
        self._client = client
        self._node = node
        self._streams = streams
        self._forwards: dict[tuple[int, Variant], _Forward] = {}

    def watch(self, camera_id: int, variant: Variant, fresh: bool) -> bool:
        """Publish the camera's live media for another lease; False while it has none."""
        key = (camera_id, variant)
        forward = self._forwards.get(key)
        if forward is not None and (fresh or forward.task.done()):
            self._end(key)
            forward = None
        if forward is None:
            stream = self._streams(camera_id, variant)
            if stream is None:
                return False
            viewer = stream.join()
            task = asyncio.create_task(self._publish(key, stream, viewer), name="live-forward")
            forward = self._forwards[key] = _Forward(viewer, task, 0.0)
        forward.until = time.monotonic() + LEASE_SECONDS
        return True

    async def stop(self) -> None:
        for key in list(self._forwards):
            self._end(key)

    def _end(self, key: tuple[int, Variant]) -> None:
        forward = self._forwards.pop(key, None)
        if forward is not None:
            forward.viewer.close()
            forward.task.cancel()

    async def _publish(self, key: tuple[int, Variant], stream: LiveStream, viewer: Viewer) -> None:
        subject = live_subject(self._node, *key)
        piece = max(1, self._client.max_payload - _HEADROOM)
        sequence = 0
        try:
            while True:
                forward = self._forwards.get(key)
                if forward is None or time.monotonic() > forward.until:
                    return  # nobody renewed: nobody watches
                try:
                    packet = await asyncio.wait_for(viewer.get(), LEASE_SECONDS)
                except TimeoutError:
                    continue
                if packet is None:
                    return  # the stream closed, or this viewer fell behind: renewed afresh
                data = packet.init if isinstance(packet, StreamStart) else packet.data
                for at in range(0, len(data), piece):
                    sequence += 1
                    await self._client.publish(
                        subject, data[at : at + piece], headers={SEQUENCE: str(sequence)}
                    )
        except Exception as exc:  # the bus went away: the mirror asks afresh
            log.info("camera %s live forwarding ended: %s", key[0], exc)
        finally:
            stream.leave(viewer)
            if self._forwards.get(key) is not None and self._forwards[key].viewer is viewer:
                self._forwards.pop(key, None)


@dataclass
class LiveMirror:
    """The application side's copy of one camera's live stream on a remote node."""

    client: Client
    node: str
    camera_id: int
    variant: Variant
    seconds: float
    on_idle: Callable[[LiveMirror], None]
    stream: LiveStream = field(init=False)
    _reader: asyncio.StreamReader | None = None
    _expected: int = 0
    _fresh: bool = True
    _subscription: Subscription | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # The node would not convert the camera (node.max_transcodes): said to the next viewer.
    refused: TranscodeLimit | None = None

    def __post_init__(self) -> None:
        # Its HLS window numbered from the wall clock (ms): when the camera moves to another
        # node, or this instance restarts, the new mirror's window goes on above what players
        # have seen instead of starting at 0 again, which they would take for old segments
        # (RFC 8216: a playlist's media sequence never goes back).
        self.stream = LiveStream(self.camera_id, hls_first=_wall_clock_ms)
        self._tasks.append(asyncio.create_task(self._run(), name="live-mirror"))

    async def close(self) -> None:
        for task in self._tasks:
            await cancel(task)
        self._end_reader()
        self.stream.close()

    async def _run(self) -> None:
        subject = live_subject(self.node, self.camera_id, self.variant)
        try:
            self._subscription = await self.client.subscribe(subject, cb=self._received)
            while True:
                if not self.stream.needed():
                    return
                try:
                    args = {"camera_id": self.camera_id, "variant": self.variant,
                            "fresh": self._fresh}  # fmt: skip
                    self._fresh = False
                    await call(self.client, node_call(self.node, "live_watch"), args, self.seconds)
                except TranscodeLimit as exc:
                    self.refused = exc
                    return  # its viewers are closed; the next is told why
                except LinkUnavailable as exc:
                    log.debug(
                        "camera %s: live from %s unavailable: %s", self.camera_id, self.node, exc
                    )
                    self._fresh = True
                await asyncio.sleep(LEASE_SECONDS / 3)
        finally:
            if self._subscription is not None:
                with contextlib.suppress(Exception):
                    await self._subscription.unsubscribe()
            self.on_idle(self)

    async def _received(self, msg: Msg) -> None:
        sequence = int((msg.headers or {}).get(SEQUENCE, "0"))
        if sequence == 1:  # the node (re)starts: its init segment comes first
            self._end_reader()
            self._reader = asyncio.StreamReader()
            self._tasks.append(asyncio.create_task(self.stream.consume(self._reader)))
        elif self._reader is None or sequence != self._expected + 1:
            # A piece lost: what follows cannot be parsed; ask the node to start afresh.
            self._end_reader()
            self._fresh = True
            return
        self._expected = sequence
        assert self._reader is not None
        self._reader.feed_data(msg.data)

    def _end_reader(self) -> None:
        if self._reader is not None:
            self._reader.feed_eof()
            self._reader = None
        self._expected = 0
