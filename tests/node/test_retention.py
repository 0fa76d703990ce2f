"""Retention: by age, by size cap, by free-space floor; oldest first, protected never."""

from __future__ import annotations

from tests.conftest import TEST_ORG
from vigil.app import Services
from vigil.settings import Settings
from vigil.store.cameras import CameraFields
from vigil.timeutil import now_ms

HOUR = 3_600_000
DAY = 24 * HOUR
DEAD_URL = "rtsp://127.0.0.1:9/none"


async def remaining(services: Services, camera_id: int) -> list[int]:
    return [s.start_ms for s in await services.segments.in_range(camera_id, 0, 2**62)]


def on_disk(settings: Settings, camera_id: int) -> int:
    return sum(1 for _ in (settings.recordings_dir / str(camera_id)).glob("*/*/*.mp4"))


async def test_retention_by_days_deletes_old_footage_but_not_protected(
    services: Services, settings: Settings, seed
) -> None:
    camera = await services.cameras.create(
        CameraFields(name="by age", main_url=DEAD_URL, retention_days=1), org_id=TEST_ORG
    )
    now = now_ms()
    starts = [now - 3 * DAY, now - 2 * DAY, now - 36 * HOUR, now - 12 * HOUR, now - HOUR]
    await seed(camera.id, [(s, s + 2000) for s in starts])
    await services.segments.set_protected(camera.id, starts[2], starts[2] + 1, True)

    assert services.node is not None
    report = await services.node.enforce_retention()

    assert report.by_age == 2
    assert await remaining(services, camera.id) == starts[2:]
    assert on_disk(settings, camera.id) == 3


async def test_size_cap_deletes_oldest_unprotected_first(
    services: Services, settings: Settings, seed, sample_mp4: bytes
) -> None:
    size = len(sample_mp4)
    camera = await services.cameras.create(
        CameraFields(name="capped", main_url=DEAD_URL, retention_max_bytes=3 * size),
        org_id=TEST_ORG,
    )
    untouched = await services.cameras.create(
        CameraFields(name="other", main_url=DEAD_URL), org_id=TEST_ORG
    )
    now = now_ms()
    starts = [now - (10 - i) * HOUR for i in range(6)]
    await seed(camera.id, [(s, s + 2000) for s in starts])
    await seed(untouched.id, [(s, s + 2000) for s in starts])
    await services.segments.set_protected(camera.id, starts[0], starts[0] + 1, True)

    assert services.node is not None
    report = await services.node.enforce_retention()

    assert report.by_size == 3
    assert await remaining(services, camera.id) == [starts[0], starts[4], starts[5]]
    assert await remaining(services, untouched.id) == starts
    assert on_disk(settings, camera.id) == 3


async def test_free_space_floor_deletes_oldest_everywhere_but_keeps_newest_and_protected(
    services: Services, settings: Settings, seed
) -> None:
    # Disabled: a recorder (re)starting on the dead URL would tidy its own .incoming folder.
    first = await services.cameras.create(
        CameraFields(name="a", main_url=DEAD_URL, enabled=False), org_id=TEST_ORG
    )
    second = await services.cameras.create(
        CameraFields(name="b", main_url=DEAD_URL, enabled=False), org_id=TEST_ORG
    )
    now = now_ms()
    await seed(first.id, [(now - i * HOUR, now - i * HOUR + 2000) for i in (5, 4, 3)])
    await seed(second.id, [(now - i * HOUR, now - i * HOUR + 2000) for i in (6, 2, 1)])
    await services.segments.set_protected(second.id, now - 6 * HOUR, now - 6 * HOUR + 1, True)
    # The segment being written is not indexed yet, so retention cannot touch it.
    writing = settings.recordings_dir / str(first.id) / ".incoming" / "000000007.mp4"
    writing.parent.mkdir(parents=True, exist_ok=True)
    writing.write_bytes(b"being written")

    assert services.node is not None
    total, _, _ = await services.node.disk_usage()
    services.node.retention.min_free_bytes = total + 1  # a floor no disk can meet
    report = await services.node.enforce_retention()

    assert report.by_free_space == 3
    assert report.floor_unreachable
    assert await remaining(services, first.id) == [now - 3 * HOUR]
    assert await remaining(services, second.id) == [now - 6 * HOUR, now - HOUR]
    assert writing.exists()


async def test_retention_honours_the_floor_only_when_needed(services: Services, seed) -> None:
    camera = await services.cameras.create(
        CameraFields(name="plenty", main_url=DEAD_URL), org_id=TEST_ORG
    )
    now = now_ms()
    await seed(
        camera.id, [(now - 2 * HOUR, now - 2 * HOUR + 2000), (now - HOUR, now - HOUR + 2000)]
    )
    assert services.node is not None
    services.node.retention.min_free_bytes = 1  # any disk has a byte free
    report = await services.node.enforce_retention()
    assert (report.by_age, report.by_size, report.by_free_space) == (0, 0, 0)
    assert len(await remaining(services, camera.id)) == 2
