"""One application instance leads the scheduling at a time, and another takes over when it
dies or steps down."""

from __future__ import annotations

import asyncio
import time

from nats.aio.client import Client

from tests.link.conftest import APP_PASSWORD
from vigil.link.nats.connection import connect
from vigil.link.nats.embedded import NatsServer
from vigil.link.nats.leader import Leadership
from vigil.link.nats.subjects import APP_USER


async def _until_one_leads(*instances: Leadership, seconds: float = 10) -> Leadership:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        leading = [i for i in instances if i.leading]
        assert len(leading) <= 1, "two instances lead at once"
        if leading:
            return leading[0]
        await asyncio.sleep(0.05)
    raise AssertionError("no instance took the lead")


async def test_one_instance_leads_and_another_takes_over_when_it_dies(
    nats_server: NatsServer, app_client: Client
) -> None:
    other = await connect(nats_server.url, APP_USER, APP_PASSWORD, name="second-app")
    first, second = Leadership(app_client, "first", 0.2), Leadership(other, "second", 0.2)
    try:
        await first.start()
        await second.start()
        leader = await _until_one_leads(first, second)
        for _ in range(20):  # it keeps the lead, and only it
            await asyncio.sleep(0.05)
            assert leader.leading
            assert not (first.leading and second.leading)
        # The leader's process dies: its entry is not renewed and expires.
        assert leader._task is not None
        leader._task.cancel()
        follower = second if leader is first else first
        started = time.monotonic()
        while not follower.leading:
            assert time.monotonic() - started < 15, "nobody took over"
            await asyncio.sleep(0.05)
        leader._revision = None  # what the dead one believed no longer matters
        # Stepping down hands over at once.
        await follower.stop()
        restarted = Leadership(app_client, "third", 0.2)
        await restarted.start()
        assert restarted.leading
        await restarted.stop()
    finally:
        await first.stop()
        await second.stop()
        await other.close()
