"""Which nodes are alive: each node puts a beat into a JetStream key-value bucket every few
seconds; application instances read the bucket and take a node whose beat has not changed
for ``node_dead_seconds`` (by their own clock, so clocks need not agree) for dead.

The bucket outlives every process: an application instance that starts, or takes over,
knows the nodes at once, without waiting for them to speak.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nats.aio.client import Client
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import KeyNotFoundError, NoKeysError
from pydantic import BaseModel

from vigil.link.nats.subjects import NODES_BUCKET, node_beat
from vigil.link.protocol import LinkUnavailable, NodeSide
from vigil.nodes.registry import NodeRegistry
from vigil.tasks import cancel

log = logging.getLogger(__name__)


class Beat(BaseModel):
    """What a node says of itself with each beat."""

    started_ms: int  # when this run of the node started: another value, another run
    cameras: list[int]  # the cameras it records now
    capacity: int  # the most cameras it may record (node.max_cameras)
    disk_total: int
    disk_free: int
    sent_ms: int = 0  # by the node's clock: for people to read, never to judge liveness


class Heartbeat:
    """A node's beats. ``beat`` says what to put; a beat the bus does not take is skipped
    (the next one says the same, newer)."""

    def __init__(
        self, client: Client, node: str, seconds: float, beat: Callable[[], Awaitable[Beat]]
    ) -> None:
        self._js = client.jetstream()
        self._subject = node_beat(node)
        self._seconds = seconds
        self._beat = beat
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="heartbeat")

    async def stop(self) -> None:
        await cancel(self._task)

    async def _run(self) -> None:
        while True:
            try:
                beat = await self._beat()
                await self._js.publish(self._subject, beat.model_dump_json().encode(), timeout=5)
            except Exception as exc:  # the bus is away: said by the connection already
                log.debug("heartbeat not taken: %s", exc)
            await asyncio.sleep(self._seconds)


@dataclass
class _Seen:
    revision: int
    at: float  # time.monotonic() when the revision was first seen
    beat: Beat
    # Seen to change since this instance started: a beat found in the bucket at start may
    # be the last of a node long dead, so it proves nothing until the next one.
    beating: bool = False


class NodeWatcher:
    """An application instance's view of the nodes: attaches a node to the registry when it
    first beats, and detaches it when it falls silent."""

    def __init__(
        self,
        client: Client,
        registry: NodeRegistry,
        make_node: Callable[[str], NodeSide],
        dead_seconds: float,
        every_seconds: float = 1.0,
    ) -> None:
        self._js = client.jetstream()
        self._registry = registry
        self._make_node = make_node
        self._dead = dead_seconds
        self._every = every_seconds
        self._seen: dict[str, _Seen] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._js.create_key_value(
            KeyValueConfig(bucket=NODES_BUCKET, history=1, storage=StorageType.FILE)
        )
        await self.check()
        self._task = asyncio.create_task(self._run(), name="node-watcher")

    async def stop(self) -> None:
        await cancel(self._task)

    def alive(self) -> dict[str, Beat]:
        """Each live node's last beat."""
        return {name: seen.beat for name, seen in self._seen.items() if self._live(seen)}

    def _live(self, seen: _Seen) -> bool:
        return seen.beating and time.monotonic() - seen.at < self._dead

    async def check(self) -> None:
        """Read every node's beat once; attach the new, detach the silent."""
        kv = await self._js.key_value(NODES_BUCKET)
        try:
            names = await kv.keys()
        except NoKeysError:
            names = []
        for name in names:
            with contextlib.suppress(KeyNotFoundError):
                entry = await kv.get(name)
                revision = int(entry.revision or 0)
                seen = self._seen.get(name)
                if seen is None or seen.revision != revision:
                    beat = Beat.model_validate_json(entry.value or b"{}")
                    beating = seen is not None
                    self._seen[name] = _Seen(revision, time.monotonic(), beat, beating)
        for name, seen in self._seen.items():
            attached = name in self._registry.nodes()
            if self._live(seen) and not attached:
                log.info("node %s is alive (%d cameras)", name, len(seen.beat.cameras))
                self._registry.attach(name, self._make_node(name))
            elif not self._live(seen) and attached:
                log.warning("node %s: no beat for %.0f s, taken for dead", name, self._dead)
                self._registry.detach(name)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                await self.check()
            except (LinkUnavailable, OSError, TimeoutError) as exc:
                log.debug("nodes not read: %s", exc)
            except Exception:
                log.exception("reading the nodes' beats failed")
