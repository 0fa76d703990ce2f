"""A nats-server of our own for the link's tests: the application's user and three nodes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from nats.aio.client import Client

from vigil.link.nats.connection import connect
from vigil.link.nats.embedded import NatsServer
from vigil.link.nats.node_client import NatsNodeSide
from vigil.link.nats.node_server import NodeServer
from vigil.link.nats.subjects import APP_USER
from vigil.link.protocol import LinkUnavailable, NodeSide

APP_PASSWORD = "app-secret"
NODE_PASSWORDS = {"local": "local-secret", "node-a": "a-secret", "node-b": "b-secret"}


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    folder: Path = tmp_path_factory.mktemp("nats")
    with NatsServer(folder, APP_PASSWORD, dict(NODE_PASSWORDS)) as server:
        yield server


@pytest.fixture
async def app_client(nats_server: NatsServer) -> AsyncIterator[Client]:
    client = await connect(nats_server.url, APP_USER, APP_PASSWORD, name="test-app")
    yield client
    await client.close()


@pytest.fixture
async def node_client(nats_server: NatsServer) -> AsyncIterator[Client]:
    """Connected as the node named ``local`` (the default ``node.name``)."""
    client = await connect(nats_server.url, "local", NODE_PASSWORDS["local"], name="test-node")
    yield client
    await client.close()


@asynccontextmanager
async def answering(
    bus: NatsServer, name: str, node: NodeSide, asker: NatsNodeSide
) -> AsyncIterator[None]:
    """``node`` answers as the node ``name`` on ``bus`` for the block, which begins once
    ``asker`` hears it (a new subscription takes a moment to reach the server's routing)."""
    client = await connect(bus.url, name, NODE_PASSWORDS[name], name="node")
    server = NodeServer(client, name, node)
    await server.start()
    try:
        for _ in range(50):
            try:
                await asker.disk_usage()
                break
            except LinkUnavailable:
                await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"node {name} does not answer")
        yield
    finally:
        await server.stop()
        await client.close()
