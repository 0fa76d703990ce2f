"""The node's copy of its cameras' configuration: it records on from it while the
application side is away, catches up once it is back, and keeps no credential in clear."""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.backends import SQLITE_ONLY
from tests.conftest import AUTH_SIM_CREDENTIALS, TEST_ORG
from tests.node.helpers import (
    UnreliableApp,
    eventually,
    segments_of,
    wait_segments,
    wait_state,
)
from vigil.app import Services
from vigil.link.local import LocalLink
from vigil.link.messages import CameraState
from vigil.node.configs import NODE_KEY_FILE, ConfigCopy, node_box
from vigil.node.node import MediaNode
from vigil.secrets import SecretBox
from vigil.settings import Settings
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields
from vigil.store.models import Camera

pytestmark = SQLITE_ONLY

NODE = "edge"
DEAD_URL = "rtsp://127.0.0.1:9/gate"


def edge_node(services: Services, settings: Settings, link: UnreliableApp) -> MediaNode:
    """The node "edge" on its own folders, as a node on its own machine runs (its own key),
    reaching the application side through ``link``; each call is a fresh start."""
    node = MediaNode(
        settings.node.model_copy(update={"name": NODE}),
        settings.retention,
        link,  # type: ignore[arg-type]
        settings.data_dir / "edge-recordings",
        settings.data_dir / "edge-state",
    )
    services.nodes.attach(NODE, node)
    return node


async def stopped(services: Services, node: MediaNode) -> None:
    await node.stop()
    services.nodes.detach(NODE)


def files_of(node: MediaNode, camera_id: int) -> set[Path]:
    return set(node.layout.segments_on_disk(camera_id))


async def new_files(node: MediaNode, camera_id: int, before: set[Path], count: int) -> set[Path]:
    """Wait until ``count`` segment files of the camera are on disk that were not ``before``."""

    async def added() -> set[Path]:
        return files_of(node, camera_id) - before

    return await eventually(added, lambda f: len(f) >= count, 30, f"{count} new files")


async def test_the_copy_survives_a_restart_and_holds_no_credential_in_clear(
    services: Services, settings: Settings
) -> None:
    link = UnreliableApp(LocalLink(services.nodes))
    camera = await services.cameras.store.create(
        CameraFields(name="gate", main_url=DEAD_URL, username="viewer", password="hunter2-camera"),
        node=NODE,
        org_id=TEST_ORG,
    )
    node = edge_node(services, settings, link)
    await node.start()
    await stopped(services, node)

    data = node.copy.path.read_bytes()
    for clear in (b"hunter2-camera", b"viewer", b"gate", b"127.0.0.1"):
        assert clear not in data, f"{clear!r} is on disk in clear"
    assert not list(node.copy.path.parent.glob("*.tmp"))
    for private in (node.copy.path, node.copy.path.parent / NODE_KEY_FILE):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private

    # Restarted while the application side is away: it runs the camera from the copy,
    # credentials and all.
    link.reachable = False
    restarted = edge_node(services, settings, link)
    await restarted.start()
    try:
        assert [s.camera_id for s in restarted.statuses()] == [camera.id]
        kept = ConfigCopy(node.copy.path.parent, node_box(node.copy.path.parent)).load()
        assert kept == [services.cameras.store.config(camera)]
        assert kept[0].password == "hunter2-camera"
    finally:
        await stopped(services, restarted)


async def test_a_node_started_while_the_app_is_away_records_from_its_copy(
    services: Services, settings: Settings, auth_sim: SimulatedCameras
) -> None:
    user, _, password = AUTH_SIM_CREDENTIALS.partition(":")
    link = UnreliableApp(LocalLink(services.nodes))
    camera = await services.cameras.store.create(
        CameraFields(
            name="locked",
            main_url=auth_sim.urls[0],
            username=user,
            password=password,  # the camera refuses to stream without it
            segment_seconds=1,
        ),
        node=NODE,
        org_id=TEST_ORG,
    )
    node = edge_node(services, settings, link)
    await node.start()
    await stopped(services, node)
    before = files_of(node, camera.id)

    link.reachable = False
    restarted = edge_node(services, settings, link)
    await restarted.start()
    try:
        recorded = await new_files(restarted, camera.id, before, 3)
        assert restarted.outbox.pending() > 0, "the index has not heard of them yet"
        indexed = {s.path for s in await segments_of(services, camera.id)}
        assert not {restarted.layout.key(p) for p in recorded} & indexed

        link.reachable = True

        async def unindexed() -> set[str]:
            indexed = {s.path for s in await segments_of(services, camera.id)}
            return {restarted.layout.key(p) for p in recorded} - indexed

        await eventually(unindexed, lambda left: not left, 15, "the footage indexed")
    finally:
        await stopped(services, restarted)


async def test_what_changed_while_the_app_was_away_applies_once_it_is_back(
    services: Services, settings: Settings, sim: SimulatedCameras
) -> None:
    link = UnreliableApp(LocalLink(services.nodes))
    store = services.cameras.store

    async def camera(name: str, url: str) -> Camera:
        fields = CameraFields(name=name, main_url=url, segment_seconds=1)
        return await store.create(fields, node=NODE, org_id=TEST_ORG)

    switched_off = await camera("switched off", sim.urls[0])
    removed = await camera("removed", sim.urls[1])
    node = edge_node(services, settings, link)
    await node.start()
    await wait_segments(services, removed.id, 1)
    await stopped(services, node)
    footage = {
        p.relative_to(node.layout.camera_dir(removed.id)) for p in files_of(node, removed.id)
    }

    # The application side changes cameras while the node cannot be told, then the node
    # restarts, still cut off: it records what it last knew.
    link.reachable = False
    await store.update(switched_off.id, {"enabled": False})
    added = await camera("added", sim.urls[2])
    await store.delete(removed.id)
    restarted = edge_node(services, settings, link)
    await restarted.start()
    try:
        for old in (switched_off, removed):
            await new_files(restarted, old.id, files_of(restarted, old.id), 1)
        assert not files_of(restarted, added.id)

        link.reachable = True
        await eventually(
            lambda: segments_of(services, added.id), lambda s: len(s) >= 1, 30, "added recorded"
        )
        await wait_state(services, switched_off.id, {CameraState.DISABLED})
        # Removal and switching off applied before the camera added started: from now on
        # neither gets a new file while the added camera records on.
        still = {c: files_of(restarted, c) for c in (switched_off.id, removed.id)}
        count = len(await segments_of(services, added.id))
        await eventually(
            lambda: segments_of(services, added.id),
            lambda s: len(s) >= count + 3,
            30,
            "the added camera recording on",
        )
        for camera_id, files in still.items():
            assert files_of(restarted, camera_id) <= files, f"camera {camera_id} still recorded"
        # The removed camera's footage stays where it is (had it moved to another node,
        # what it recorded here would still play from here).
        camera_dir = restarted.layout.camera_dir(removed.id)
        assert all((camera_dir / f).is_file() for f in footage), footage
        assert {s.camera_id for s in restarted.statuses()} == {added.id}

        kept = {c.id: c for c in restarted.copy.load()}
        assert set(kept) == {switched_off.id, added.id}
        assert not kept[switched_off.id].enabled
    finally:
        await stopped(services, restarted)


def damage_garbage(copy: ConfigCopy) -> None:
    copy.path.write_bytes(b"\x00not a copy at all")


def damage_truncated(copy: ConfigCopy) -> None:
    copy.path.write_bytes(copy.path.read_bytes()[:-20])


def damage_other_key(copy: ConfigCopy) -> None:
    copy.path.write_bytes(SecretBox("another node's key").encrypt('{"cameras": []}'))


def damage_other_shape(copy: ConfigCopy) -> None:
    # Well encrypted, but not what this version writes (a newer one, say).
    box = node_box(copy.path.parent)
    wrong = {
        "cameras": [{"id": 1, "name": "x", "main_url": "y", "password": "hunter2-camera", "new": 1}]
    }
    copy.path.write_bytes(box.encrypt(json.dumps(wrong)))


@pytest.mark.parametrize(
    "damage", [damage_garbage, damage_truncated, damage_other_key, damage_other_shape]
)
async def test_a_copy_the_node_cannot_read_is_said_and_replaced(
    services: Services,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    damage: Callable[[ConfigCopy], None],
) -> None:
    link = UnreliableApp(LocalLink(services.nodes))
    camera = await services.cameras.store.create(
        CameraFields(name="gate", main_url=DEAD_URL), node=NODE, org_id=TEST_ORG
    )
    node = edge_node(services, settings, link)
    await node.start()
    await stopped(services, node)
    damage(node.copy)

    # Away: the node starts all the same, with nothing to record, and says why.
    link.reachable = False
    caplog.clear()
    restarted = edge_node(services, settings, link)
    await restarted.start()
    try:
        assert restarted.statuses() == []
        unreadable = [
            r.getMessage()
            for r in caplog.records
            if r.levelno == logging.ERROR and str(restarted.copy.path) in r.getMessage()
        ]
        assert len(unreadable) == 1, caplog.text
        # Back: it runs what the application side has, and the copy is whole again.
        link.reachable = True

        async def running() -> list[int]:
            return [s.camera_id for s in restarted.statuses()]

        await eventually(running, lambda ids: ids == [camera.id], 15, "the camera running")
        assert restarted.copy.load() == [services.cameras.store.config(camera)]
    finally:
        await stopped(services, restarted)


async def test_a_damaged_copy_is_rewritten_when_the_node_starts_with_the_app_there(
    services: Services, settings: Settings
) -> None:
    link = UnreliableApp(LocalLink(services.nodes))
    camera = await services.cameras.store.create(
        CameraFields(name="gate", main_url=DEAD_URL), node=NODE, org_id=TEST_ORG
    )
    node = edge_node(services, settings, link)
    node.copy.path.write_bytes(b"\x00not a copy at all")
    await node.start()
    try:
        assert [s.camera_id for s in node.statuses()] == [camera.id]
        assert node.copy.load() == [services.cameras.store.config(camera)]
    finally:
        await stopped(services, node)
