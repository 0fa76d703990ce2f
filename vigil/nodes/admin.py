"""``vigil nodes list | drain | forget``: the media nodes as an administrator sees them, and
what they may say of them.

What is known of a node comes from two places: the database (the cameras assigned to it,
the footage it recorded, whether it is draining) and, when the bus is configured, the
node's own last beat (alive, cameras recording, capacity, disk).
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

from nats.aio.client import Client
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, NoKeysError

from vigil.link.nats.connection import close_client, connect
from vigil.link.nats.liveness import Beat
from vigil.link.nats.subjects import APP_USER, NODES_BUCKET, check_node_name
from vigil.settings import Settings
from vigil.store.cameras import CameraStore
from vigil.store.nodes import NodeStore
from vigil.store.segments import SegmentIndex


class NodeRefused(Exception):
    """What was asked cannot be done to this node; the message says why and what to do."""


@dataclass(frozen=True)
class NodeView:
    name: str
    alive: bool | None  # None: no bus to ask (one process: ``vigil serve``)
    draining: bool
    cameras: int  # assigned to it
    segments: int  # footage recorded on it, indexed
    footage_bytes: int
    beat: Beat | None = None
    beat_age_seconds: float | None = None

    @property
    def state(self) -> str:
        life = {True: "alive", False: "dead", None: "-"}[self.alive]
        return f"{life}, draining" if self.draining else life


@contextlib.asynccontextmanager
async def _bus(settings: Settings) -> AsyncIterator[Client | None]:
    """A connection to the bus as the application, or None when none is configured."""
    if not settings.bus.url or settings.bus.password is None:
        yield None
        return
    client = await connect(
        settings.bus.url,
        APP_USER,
        settings.bus.password.get_secret_value(),
        "vigil-nodes",
        ca_file=settings.bus.tls_ca_file,
    )
    try:
        yield client
    finally:
        await close_client(client)


async def beats(settings: Settings) -> dict[str, Beat]:
    """Every node's last beat, from the bus (LinkUnavailable if it cannot be reached)."""
    async with _bus(settings) as client:
        if client is None:
            return {}
        try:
            kv = await client.jetstream().key_value(NODES_BUCKET)
            names = await kv.keys()
        except (BucketNotFoundError, NoKeysError):
            return {}
        found = {}
        for name in names:
            try:
                entry = await kv.get(name)
            except KeyNotFoundError:
                continue
            found[name] = Beat.model_validate_json(entry.value or b"{}")
        return found


async def forget_beat(settings: Settings, name: str) -> None:
    """Take the node's last beat out of the bucket, so no instance counts it any more."""
    async with _bus(settings) as client:
        if client is None:
            return
        with contextlib.suppress(BucketNotFoundError):
            await (await client.jetstream().key_value(NODES_BUCKET)).purge(name)


class NodeAdmin:
    def __init__(
        self,
        settings: Settings,
        cameras: CameraStore,
        segments: SegmentIndex,
        nodes: NodeStore,
    ) -> None:
        self._settings = settings
        self._cameras = cameras
        self._segments = segments
        self._nodes = nodes

    async def list(self) -> list[NodeView]:
        """Every node that beats, has cameras, footage or is draining, by name."""
        on_bus = bool(self._settings.bus.url)
        beats_now = await beats(self._settings)
        draining = await self._nodes.draining()
        assigned = Counter(camera.node for camera in await self._cameras.list())
        names = set(beats_now) | set(assigned) | draining
        views = []
        for name in sorted(names):
            segments, size, _ = await self._segments.node_footage(name)
            beat = beats_now.get(name)
            age = None if beat is None or not beat.sent_ms else time.time() - beat.sent_ms / 1000
            alive = None
            if on_bus:
                alive = age is not None and age < self._settings.bus.node_dead_seconds
            views.append(
                NodeView(name, alive, name in draining, assigned[name], segments, size, beat, age)
            )
        return views

    async def drain(self, name: str, draining: bool = True) -> NodeView:
        """Mark the node draining (its cameras move off, it takes no new ones), or not."""
        view = await self._known(check_node_name(name))
        await self._nodes.set_draining(name, draining)
        return view

    async def forget(self, name: str, footage_too: bool) -> int:
        """Forget a node that is gone for good: its index entries (its footage cannot be
        played any more) and its last beat. Refused while it is alive or has cameras; with
        footage indexed, only when ``footage_too``. How many segments were forgotten."""
        view = await self._known(check_node_name(name))
        if view.alive:
            raise NodeRefused(
                f"node {name} is alive (it beat {view.beat_age_seconds or 0:.0f} s ago): stop "
                f"it first; to move its cameras off while it runs, drain it"
            )
        if view.cameras:
            raise NodeRefused(
                f"{view.cameras} camera(s) are still assigned to node {name}: the leading "
                "application moves them to nodes with room; give the others room "
                "(node.max_cameras) or delete those cameras first"
            )
        segments, size, protected = await self._segments.node_footage(name)
        if segments and not footage_too:
            held = f", {protected} of them protected" if protected else ""
            raise NodeRefused(
                f"node {name} recorded {segments} indexed segment(s) ({size / 2**30:.1f} GiB"
                f"{held}), which can no longer be played if it is forgotten; add --footage "
                "to forget them with it"
            )
        forgotten = await self._segments.forget_node(name)
        await self._nodes.forget(name)
        await forget_beat(self._settings, name)
        return forgotten

    async def _known(self, name: str) -> NodeView:
        for view in await self.list():
            if view.name == name:
                return view
        raise NodeRefused(f"no node named {name!r} is known (vigil nodes list shows them)")
