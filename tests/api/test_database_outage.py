"""PostgreSQL goes away for a while under a running server: the API says 503 (not 500),
health says the database is unavailable, cameras record on, the node says so once (not a
traceback every retry), and every segment recorded meanwhile is indexed once it is back."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_ORG, SecretWatch
from tests.people import api_key, make_user
from tests.postgres import PostgresServer, fresh_database, own_server
from vigil.api.app import create_app
from vigil.app import Services, start_services, stop_services
from vigil.settings import Settings
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields
from vigil.timeutil import now_ms


@pytest.fixture
def server() -> Iterator[PostgresServer]:
    """A PostgreSQL of this test's own: it is stopped and started again."""
    with own_server() as started:
        yield started


@pytest.fixture
async def running(server: PostgresServer, tmp_path: Path) -> AsyncIterator[Services]:
    with fresh_database(server.url) as url:
        settings = Settings(
            data_dir=tmp_path / "data",
            secret_key="test-secret-key",
            database={"url": url},
            node={"outbox_retry_seconds": 0.5, "connect_timeout_seconds": 3},
            retention={"interval_seconds": 3600, "min_free_bytes": 0},
        )
        services = await start_services(settings)
        try:
            org = await services.auth.users.create_org("Test school")
            assert org.id == TEST_ORG
            yield services
        finally:
            await stop_services(services)


async def until(what: str, check: object, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def test_postgresql_away_for_a_while_loses_nothing_and_answers_503(
    server: PostgresServer,
    running: Services,
    sim: SimulatedCameras,
    secret_watch: SecretWatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    services = running
    admin = await make_user(services, "admin", "admin")
    key = await api_key(services, admin, ["cameras:read", "recordings"], secret_watch)
    camera = await services.cameras.create(
        CameraFields(name="Gate", main_url=sim.urls[0], segment_seconds=2), org_id=TEST_ORG
    )
    transport = httpx.ASGITransport(app=create_app(services.settings, services))
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as http:

        async def indexed() -> bool:
            return len(await services.segments.in_range(camera.id, 0, now_ms() + 1)) >= 2

        await until("two segments indexed", indexed)
        assert (await http.get("/api/health")).json()["database"] == "ok"

        server.stop()
        stopped_at = now_ms()
        down = await http.get("/api/cameras")
        assert down.status_code == 503, down.text
        assert down.json()["type"] == "urn:vigil:problem:database-unavailable"
        assert down.headers["Retry-After"] == "5"
        health = await http.get("/api/health")
        assert health.status_code == 503
        assert health.json()["database"] == "unavailable"
        node = services.node
        assert node is not None

        async def kept() -> bool:
            return node.outbox.pending() >= 3

        await until("segments kept while the database is away", kept)
        assert services.nodes.status(camera.id).state.value == "streaming"
        server.start()
        started_at = now_ms()

        async def delivered() -> bool:
            return node.outbox.pending() == 0

        await until("the kept segments delivered", delivered)
        assert (await http.get("/api/health")).status_code == 200
        assert (await http.get("/api/cameras")).status_code == 200

    segments = await services.segments.in_range(camera.id, stopped_at, started_at)
    assert len(segments) >= 3
    for earlier, later in itertools.pairwise(segments):
        assert later.start_ms - earlier.end_ms < 100, "no gap in the index"
    outage = [r for r in caplog.records if r.created * 1000 >= stopped_at]
    assert [r for r in outage if r.exc_info] == [], "no traceback while the database is away"
    said = [r.getMessage() for r in outage if "application server is unavailable" in r.getMessage()]
    assert len(said) == 1
    assert any("application server is back" in r.getMessage() for r in outage)
    assert not [r for r in outage if r.levelno >= logging.ERROR]
