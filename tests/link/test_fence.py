"""The fence, against a real nats-server: a node that runs from its copy of its cameras
while the application side is away does not record a camera that has since moved to
another node (the bus's assignments say so), and stops one that moves while it is cut off
once it can read them; a node can read the assignments but never write them."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client

from tests.backends import SQLITE_ONLY
from tests.conftest import TEST_ORG
from tests.link.conftest import NODE_PASSWORDS
from tests.node.helpers import UnreliableApp
from vigil.app import Services
from vigil.link.local import LocalLink
from vigil.link.nats.assignments import Assignments, holders
from vigil.link.nats.connection import connect
from vigil.link.nats.embedded import NatsServer
from vigil.link.nats.subjects import ASSIGNMENTS_BUCKET
from vigil.node.node import MediaNode
from vigil.settings import Settings
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields

pytestmark = SQLITE_ONLY

NODE = "node-a"


def node_a(services: Services, settings: Settings, link: UnreliableApp, bus: Client) -> MediaNode:
    node = MediaNode(
        settings.node.model_copy(update={"name": NODE}),
        settings.retention,
        link,  # type: ignore[arg-type]
        settings.data_dir / "a-recordings",
        settings.data_dir / "a-state",
        holders=lambda cameras: holders(bus, cameras),
    )
    services.nodes.attach(NODE, node)
    return node


async def test_a_node_back_from_the_dead_records_none_of_the_cameras_it_lost(
    services: Services,
    settings: Settings,
    sim: SimulatedCameras,
    nats_server: NatsServer,
    app_client: Client,
) -> None:
    bus = await connect(nats_server.url, NODE, NODE_PASSWORDS[NODE], name="fence-test")
    assignments = Assignments(app_client)
    await assignments.start()
    link = UnreliableApp(LocalLink(services.nodes))
    moved, kept = [
        await services.cameras.store.create(
            CameraFields(name=name, main_url=url, segment_seconds=1), node=NODE, org_id=TEST_ORG
        )
        for name, url in (("moved", sim.urls[0]), ("kept", sim.urls[1]))
    ]
    node = node_a(services, settings, link, bus)
    await node.start()
    await node.stop()
    services.nodes.detach(NODE)

    # While node-a was taken for dead, one camera moved to node-b (its assignment counts
    # one up); the other is still node-a's. Then node-a starts with every app away.
    await assignments.put(moved.id, "node-b", moved.assignment + 1)
    await assignments.put(kept.id, NODE, kept.assignment)
    link.reachable = False
    node = node_a(services, settings, link, bus)
    await node.start()
    try:
        assert [status.camera_id for status in node.statuses()] == [kept.id]
        assert {c.id for c in node.copy.load()} == {kept.id}  # its copy forgets it too

        # Cut off, it hears of the next move once it can read the bus: its own retries
        # fence it within a few of them, and a fence asked for after that has nothing left.
        await assignments.put(kept.id, "node-b", kept.assignment + 1)
        for _ in range(100):
            if not node.statuses():
                break
            await asyncio.sleep(0.05)
        assert node.statuses() == []
        assert await node.fence() == 0
    finally:
        await node.stop()
        services.nodes.detach(NODE)

    # A node may read assignments, never write them (it could keep a camera it lost).
    await bus.publish(f"$KV.{ASSIGNMENTS_BUCKET}.{kept.id}", b'{"node":"node-a","assignment":9}')
    await bus.flush()
    await asyncio.sleep(0.2)
    assert (await holders(app_client, [kept.id]))[kept.id] == ("node-b", kept.assignment + 1)
    await bus.close()
