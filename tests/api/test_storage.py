"""Storage through the API: footage per camera, the disk, the recording rate."""

from __future__ import annotations

import shutil

import httpx
import pytest

from tests.api.conftest import AddCamera
from tests.conftest import Seed
from vigil.settings import Settings
from vigil.timeutil import iso, now_ms

HOUR_MS = 3_600_000


async def test_camera_storage(
    client: httpx.AsyncClient, add_camera: AddCamera, seed: Seed, sample_mp4: bytes
) -> None:
    cid = (await add_camera(enabled=False))["id"]
    empty = await client.get(f"/api/cameras/{cid}/storage")
    assert empty.json() == {
        "camera_id": cid,
        "segments": 0,
        "bytes": 0,
        "oldest": None,
        "newest": None,
    }
    base = 1_700_000_000_000
    await seed(cid, [(base, base + 2000), (base + 2000, base + 4000), (base + 9000, base + 11_000)])
    summary = (await client.get(f"/api/cameras/{cid}/storage")).json()
    assert summary == {
        "camera_id": cid,
        "segments": 3,
        "bytes": 3 * len(sample_mp4),
        "oldest": iso(base),
        "newest": iso(base + 11_000),
    }


async def test_overall_storage(
    client: httpx.AsyncClient,
    add_camera: AddCamera,
    seed: Seed,
    sample_mp4: bytes,
    settings: Settings,
) -> None:
    size = len(sample_mp4)
    quiet = (await add_camera(enabled=False))["id"]
    busy = (await add_camera(enabled=False))["id"]
    now = now_ms()
    # Four segments in the last day; one older that counts as footage but not in the rate.
    recent = [(now - h * HOUR_MS, now - h * HOUR_MS + 2000) for h in (20, 10, 5, 1)]
    await seed(busy, [(now - 40 * HOUR_MS, now - 40 * HOUR_MS + 2000), *recent])

    storage = (await client.get("/api/storage")).json()
    disk = shutil.disk_usage(settings.recordings_dir)
    assert storage["total_bytes"] == disk.total
    assert 0 < storage["free_bytes"] <= storage["total_bytes"]
    assert storage["used_bytes"] <= storage["total_bytes"]
    assert storage["recordings_bytes"] == 5 * size
    assert storage["min_free_bytes"] == settings.retention.min_free_bytes
    # The window is the last day, since the footage goes back further than that.
    assert storage["bytes_per_day"] == pytest.approx(4 * size, rel=1e-3)
    assert storage["days_left"] == pytest.approx(
        storage["free_bytes"] / storage["bytes_per_day"], rel=1e-3
    )
    cameras = {c["camera_id"]: c for c in storage["cameras"]}
    assert cameras[quiet] == {
        "camera_id": quiet,
        "segments": 0,
        "bytes": 0,
        "oldest": None,
        "newest": None,
    }
    assert cameras[busy]["segments"] == 5
    assert cameras[busy]["bytes"] == 5 * size
    assert (
        cameras[busy]["bytes"] == (await client.get(f"/api/cameras/{busy}/storage")).json()["bytes"]
    )


async def test_rate_over_young_footage(
    client: httpx.AsyncClient, add_camera: AddCamera, seed: Seed, sample_mp4: bytes
) -> None:
    cid = (await add_camera(enabled=False))["id"]
    now = now_ms()
    await seed(cid, [(now - 2 * HOUR_MS, now - 2 * HOUR_MS + 2000)])
    storage = (await client.get("/api/storage")).json()
    # Two hours of footage: the rate is what they hold, scaled to a day.
    assert storage["bytes_per_day"] == pytest.approx(12 * len(sample_mp4), rel=1e-2)


async def test_no_footage_no_rate(client: httpx.AsyncClient) -> None:
    storage = (await client.get("/api/storage")).json()
    assert storage["recordings_bytes"] == 0
    assert storage["bytes_per_day"] is None
    assert storage["days_left"] is None
    assert storage["cameras"] == []
