"""Which nodes are alive, from their beats in the bus's key-value bucket: a node is attached
when it beats, detached when it falls silent, and a beat left from before is no proof."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from nats.aio.client import Client

from tests.backends import SQLITE_ONLY
from tests.link.conftest import NODE_PASSWORDS
from vigil.app import Services
from vigil.link.nats.connection import connect
from vigil.link.nats.embedded import NatsServer
from vigil.link.nats.liveness import Beat, Heartbeat, NodeWatcher
from vigil.link.nats.node_client import NatsNodeSide

pytestmark = SQLITE_ONLY


async def _until(check: Callable[[], bool], seconds: float) -> float:
    """Seconds until ``check()`` holds; fails after ``seconds``."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, "not within the time"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def _beat() -> Beat:
    return Beat(started_ms=1, cameras=[7], capacity=8, disk_total=100, disk_free=40)


def _watcher(app_client: Client, services: Services) -> NodeWatcher:
    return NodeWatcher(
        app_client,
        services.nodes,
        lambda name: NatsNodeSide(app_client, name),
        dead_seconds=1.0,
        every_seconds=0.1,
    )


async def test_a_node_that_beats_is_attached_and_one_that_stops_is_detached(
    nats_server: NatsServer, app_client: Client, services: Services
) -> None:
    watcher = _watcher(app_client, services)
    await watcher.start()
    node = await connect(nats_server.url, "node-a", NODE_PASSWORDS["node-a"], name="node-a")
    heartbeat = Heartbeat(node, "node-a", 0.2, _beat)
    try:
        heartbeat.start()
        await _until(lambda: "node-a" in services.nodes.nodes(), 5)
        assert isinstance(services.nodes.node("node-a"), NatsNodeSide)
        assert watcher.alive()["node-a"].cameras == [7]
        await heartbeat.stop()
        silent = await _until(lambda: "node-a" not in services.nodes.nodes(), 5)
        assert silent >= 0.5  # not before it has been silent for about dead_seconds
        assert "node-a" not in watcher.alive()
        assert services.node.name in services.nodes.nodes()  # the others stay
    finally:
        await heartbeat.stop()
        await watcher.stop()
        await node.close()


async def test_a_beat_left_in_the_bucket_proves_nothing_until_the_next(
    nats_server: NatsServer, app_client: Client, services: Services
) -> None:
    node = await connect(nats_server.url, "node-b", NODE_PASSWORDS["node-b"], name="node-b")
    first = _watcher(app_client, services)
    await first.start()  # makes the bucket
    heartbeat = Heartbeat(node, "node-b", 0.2, _beat)
    heartbeat.start()
    await _until(lambda: "node-b" in services.nodes.nodes(), 5)
    await heartbeat.stop()
    await first.stop()
    services.nodes.detach("node-b")
    # Another application instance starts while node-b is dead: its last beat is there.
    second = _watcher(app_client, services)
    await second.start()
    try:
        await asyncio.sleep(0.5)
        assert "node-b" not in services.nodes.nodes()
        heartbeat = Heartbeat(node, "node-b", 0.2, _beat)
        heartbeat.start()  # it comes back
        await _until(lambda: "node-b" in services.nodes.nodes(), 5)
    finally:
        await heartbeat.stop()
        await second.stop()
        await node.close()


async def test_a_node_cannot_beat_for_another(
    nats_server: NatsServer, app_client: Client, services: Services
) -> None:
    watcher = _watcher(app_client, services)
    await watcher.start()
    node = await connect(nats_server.url, "node-a", NODE_PASSWORDS["node-a"], name="node-a")
    forged = Heartbeat(node, "node-b", 0.1, _beat)  # node-a's credentials, node-b's key
    try:
        forged.start()
        await asyncio.sleep(1.0)
        assert "node-b" not in services.nodes.nodes()
    finally:
        await forged.stop()
        await watcher.stop()
        await node.close()
