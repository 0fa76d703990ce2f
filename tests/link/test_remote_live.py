"""Live view of a camera on a node reached over the bus: the application side's copy of
the stream plays what the node's does (init, then keyframe-first fragments, the HLS window,
snapshots), and the node publishes only while someone watches."""

from __future__ import annotations

import asyncio
import time

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from tests.backends import SQLITE_ONLY
from tests.conftest import TEST_ORG
from tests.link.conftest import answering
from tests.node.helpers import eventually, wait_state
from vigil.app import Services
from vigil.link.messages import CameraState
from vigil.link.nats.embedded import NatsServer
from vigil.link.nats.live import LEASE_SECONDS, live_subject
from vigil.link.nats.node_client import NatsNodeSide
from vigil.media.fmp4 import parse_init
from vigil.node.live import Fragment, StreamStart
from vigil.node.transcode import TranscodeLimit
from vigil.settings import Settings
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields

pytestmark = SQLITE_ONLY


async def test_a_remote_camera_plays_live_and_is_published_only_while_watched(
    services: Services, sim: SimulatedCameras, nats_server: NatsServer, app_client: Client
) -> None:
    camera = await services.cameras.create(
        CameraFields(name="remote live", main_url=sim.urls[3], recording=False), org_id=TEST_ORG
    )
    await wait_state(services, camera.id, {CameraState.STREAMING})
    name = services.node.name
    remote = NatsNodeSide(app_client, name)
    published: list[float] = []

    async def count(msg: Msg) -> None:
        published.append(time.monotonic())

    await app_client.subscribe(live_subject(name, camera.id, "main"), cb=count)
    async with answering(nats_server, name, services.node, remote):
        await asyncio.sleep(1)
        assert published == []  # nobody watches: nothing on the bus
        mirror = remote.live_stream(camera.id)
        assert mirror is not None
        viewer = mirror.join()
        start = await asyncio.wait_for(viewer.get(), 20)
        assert isinstance(start, StreamStart)
        assert parse_init(start.init).video is not None
        fragments = [await asyncio.wait_for(viewer.get(), 10) for _ in range(5)]
        assert all(isinstance(f, Fragment) for f in fragments)
        assert isinstance(fragments[0], Fragment)
        assert fragments[0].keyframe
        assert published

        async def window() -> str:
            return await mirror.hls_playlist() or ""

        await eventually(window, lambda text: text.count("#EXTINF") >= 2, 20, "live HLS")
        picture = await mirror.snapshot()
        assert picture is not None
        assert picture[:2] == b"\xff\xd8"

        # The viewer leaves: the lease lapses and the node stops publishing.
        mirror.leave(viewer)
        viewer.close()
        await eventually(
            lambda: asyncio.sleep(0.5, published[-1]),
            lambda last: time.monotonic() - last > 2,
            LEASE_SECONDS + 20,  # the mirror's idle time, then the lease
            "publishing stopped",
        )


async def test_a_conversion_the_remote_node_refuses_is_said_with_its_reason(
    services: Services,
    settings: Settings,
    sim: SimulatedCameras,
    nats_server: NatsServer,
    app_client: Client,
) -> None:
    settings.node.max_transcodes = 0  # the node converts nothing: every conversion refused
    camera = await services.cameras.create(
        CameraFields(name="refused", main_url=sim.urls[2], recording=False), org_id=TEST_ORG
    )
    await wait_state(services, camera.id, {CameraState.STREAMING})
    assert services.node is not None
    remote = NatsNodeSide(app_client, services.node.name)
    async with answering(nats_server, services.node.name, services.node, remote):
        mirror = remote.transcoded_stream(camera.id)
        assert mirror is not None
        viewer = mirror.join()
        assert await asyncio.wait_for(viewer.get(), 20) is None  # closed: nothing to show
        # The next viewer is told why, as a viewer of a node in the same process is.
        with pytest.raises(TranscodeLimit, match=r"node\.max_transcodes"):
            remote.transcoded_stream(camera.id)
