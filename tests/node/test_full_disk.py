"""A recordings disk that fills up: the camera reports it, nothing else breaks, and the
free-space floor makes room so recording goes on."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends import SQLITE_ONLY
from tests.conftest import TEST_ORG
from tests.node.helpers import eventually, segments_of, wait_state
from vigil.app import start_services, stop_services
from vigil.link.messages import CameraState
from vigil.settings import Settings
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields

# The recorder and its files, not the store, are under test here: one database is enough.
pytestmark = SQLITE_ONLY


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 600 KB filesystem of its own (tmpfs), so the disk really fills."""
    if os.geteuid() != 0:
        raise RuntimeError("this test mounts a tmpfs and must run as root")
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mount_point)], check=True
    )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


# A disk filling up is the node's business; the database (SQLite here) plays no part.
async def test_full_disk_is_reported_and_the_floor_makes_room(
    settings: Settings, small_disk: Path, sim: SimulatedCameras
) -> None:
    settings = settings.model_copy(
        update={
            "node": settings.node.model_copy(update={"recordings_dir": small_disk}),
            "retention": settings.retention.model_copy(update={"interval_seconds": 0.5}),
        }
    )
    services = await start_services(settings)
    try:
        await services.auth.users.create_org("Test school")
        camera = await services.cameras.create(
            CameraFields(name="filling", main_url=sim.urls[0], segment_seconds=1), org_id=TEST_ORG
        )
        await wait_state(services, camera.id, {CameraState.ERROR}, 60)
        status = services.nodes.status(camera.id)
        assert status.last_error == "the recordings disk is full"
        full = await segments_of(services, camera.id)
        assert full, "what fitted on the disk was recorded and indexed"

        assert services.node is not None
        services.node.retention.min_free_bytes = 250_000
        await wait_state(services, camera.id, {CameraState.STREAMING}, 30)
        later = await eventually(
            lambda: segments_of(services, camera.id),
            lambda segs: segs[0].start_ms > full[0].start_ms and segs[-1].end_ms > full[-1].end_ms,
            30,
            "oldest footage deleted and new footage recorded",
        )
        on_disk = {p.relative_to(small_disk).as_posix() for p in small_disk.glob("*/*/*/*.mp4")}
        assert {s.path for s in later} <= on_disk
    finally:
        await stop_services(services)
