"""Recordings of a node on another machine, played through the application server: while
the node is away they are unavailable (a 503 problem the player can say and retry), and
they play again, unchanged, when it is back."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Footage, add_camera, admin, app, client, dead_url, footage
from tests.backends import SQLITE_ONLY
from tests.conftest import TEST_ORG
from tests.link.conftest import APP_PASSWORD, answering
from vigil.app import Services
from vigil.exports.job import CameraJob, export_camera, pin_sources
from vigil.exports.manifest import verify
from vigil.exports.service import ExportRequest
from vigil.link.nats.connection import connect
from vigil.link.nats.embedded import NatsServer
from vigil.link.nats.node_client import NatsNodeSide
from vigil.link.nats.subjects import APP_USER
from vigil.media.ffmpeg import find_ffmpeg, version_line
from vigil.settings import Settings
from vigil.timeutil import iso

__all__ = ["add_camera", "admin", "app", "client", "dead_url", "footage"]

pytestmark = SQLITE_ONLY  # the bus and the node, not the database


@pytest.fixture
async def remote(services: Services, nats_server: NatsServer) -> AsyncIterator[NatsNodeSide]:
    """The application side reaches its node over the bus (the node not yet answering)."""
    name = services.node.name
    local = services.nodes.node(name)
    app_client = await connect(nats_server.url, APP_USER, APP_PASSWORD, name="app")
    node = NatsNodeSide(app_client, name, seconds=2)
    services.nodes.attach(name, node)
    yield node
    services.nodes.attach(name, local)
    await app_client.close()


async def test_recordings_of_a_node_away_are_unavailable_until_it_returns(
    client: httpx.AsyncClient,
    footage: Footage,
    services: Services,
    nats_server: NatsServer,
    remote: NatsNodeSide,
    settings: Settings,
) -> None:
    cid, base = footage.camera_id, footage.base_ms
    frame = f"/api/cameras/{cid}/frame.jpg"
    playlist = f"/api/cameras/{cid}/vod.m3u8"
    window = {"start": iso(base), "end": iso(base + 20_000)}
    for path, params in ((frame, {"at": iso(base + 2500)}), (playlist, window)):
        away = await client.get(path, params=params)
        assert away.status_code == 503, away.text
        assert away.headers["content-type"] == "application/problem+json"
        assert away.json()["type"].endswith("node-unavailable")
        assert "not reachable now" in away.json()["detail"]

    # The node comes back: the same recordings play, through the bus.
    async with answering(nats_server, services.node.name, services.node, remote):
        picture = await client.get(frame, params={"at": iso(base + 2500)})
        assert (picture.status_code, picture.headers["content-type"]) == (200, "image/jpeg")
        listed = await client.get(playlist, params=window)
        assert listed.status_code == 200
        assert listed.text.count("#EXTINF:") == 3
        first = next(line for line in listed.text.splitlines() if line.startswith("files/"))
        media = await client.get(f"/api/cameras/{cid}/{first}")
        assert media.status_code == 200
        recorded = settings.recordings_dir / footage.records[0].path
        assert media.content == recorded.read_bytes()


async def test_an_export_reads_a_remote_nodes_footage_through_the_bus(
    footage: Footage,
    services: Services,
    nats_server: NatsServer,
    remote: NatsNodeSide,
    settings: Settings,
    tmp_path: Path,
) -> None:
    async with answering(nats_server, services.node.name, services.node, remote):
        base = footage.base_ms
        segments = await services.segments.in_range(footage.camera_id, base, base + 12_000)
        work = tmp_path / "work"
        pinned = await pin_sources(segments, lambda s: services.nodes.node(s.node), work)
        assert len(pinned) == 3
        for source in pinned:
            original = settings.recordings_dir / source.segment.path
            assert source.path.read_bytes() == original.read_bytes()
            assert source.path.stat().st_nlink == 1  # copied over the bus, not linked
        job = CameraJob(footage.camera_id, "Remote", base, base + 12_000, pinned, burn_in=False)
        out = await export_camera(job, work, tmp_path, find_ffmpeg(), lambda _: None)
        assert (tmp_path / out.name).stat().st_size == out.size
        assert [s.storage_key for s in out.sources] == [s.path for s in segments]


async def test_an_export_of_a_remote_camera_is_cut_on_its_node_and_its_copy_checked(
    footage: Footage,
    services: Services,
    nats_server: NatsServer,
    remote: NatsNodeSide,
    settings: Settings,
) -> None:
    base = footage.base_ms
    reads: list[str] = []
    read_file = remote.read_file

    async def counted(path: str, first: int, last: int, shift_us: int = 0) -> bytes:
        reads.append(path)
        return await read_file(path, first, last, shift_us)

    remote.read_file = counted  # type: ignore[method-assign]
    async with answering(nats_server, services.node.name, services.node, remote):
        export = await services.exports.create(
            ExportRequest([footage.camera_id], base + 1000, base + 5000, False, None, TEST_ORG, "t")
        )
        for _ in range(300):
            export = await services.exports.store.get(export.id)
            if export.status in ("done", "failed"):
                break
            await asyncio.sleep(0.1)
    assert export.status == "done", export.error
    [made] = export.files
    folder = services.exports.folder(export.id)
    data = (folder / made["name"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == made["sha256"]
    manifest, problems = verify(folder)
    assert problems == []  # the manifest and sums hold
    assert manifest is not None
    assert manifest.ffmpeg_version == version_line(services.node.ffmpeg)  # the node's
    assert reads == []  # no recording crossed the bus: the node cut it, and sent the cut
    assert list((settings.state_dir / "node" / "cuts").iterdir()) == []  # and dropped it
