"""``vigil demo``: the whole product on one box with simulated cameras, ready in seconds."""

from __future__ import annotations

import asyncio
import logging

from vigil.app import Services, start_services, stop_services
from vigil.server import serve_http
from vigil.settings import Settings
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields

log = logging.getLogger(__name__)

DEMO_RETENTION_DAYS = 1.0
DEMO_SIZE_CAP = 512 * 1024 * 1024


async def seed_cameras(services: Services, sim: SimulatedCameras) -> None:
    """One Vigil camera per simulated one, pointed at its current URL."""
    existing = {c.name: c for c in await services.cameras.store.list()}
    for index, name in enumerate(sim.names, start=1):
        title = f"Demo camera {index}"
        url = sim.url(name)
        camera = existing.get(title)
        if camera is None:
            await services.cameras.create(
                CameraFields(
                    name=title,
                    main_url=url,
                    segment_seconds=services.settings.cameras.segment_seconds,
                    retention_days=DEMO_RETENTION_DAYS,
                    retention_max_bytes=DEMO_SIZE_CAP,
                )
            )
        elif camera.main_url != url:
            await services.cameras.update(camera.id, {"main_url": url})


async def run_demo(settings: Settings, cameras: int) -> None:
    # Small pictures and a modest bitrate keep the demo light on any laptop.
    sim = SimulatedCameras(
        cameras=cameras, labels=True, width=640, height=360, fps=15, bitrate_kbps=800
    )
    log.info("preparing %d simulated cameras (the first run encodes their clip once)", cameras)
    await asyncio.to_thread(sim.start)
    try:
        services = await start_services(settings)
        try:
            await seed_cameras(services, sim)
            base = f"http://{settings.server.host}:{settings.server.port}"
            print(f"\nVigil demo is running. Open {base}/", flush=True)
            print(f"  API documentation  {base}/docs", flush=True)
            print(f"  cameras            {base}/api/cameras", flush=True)
            print(f"  storage            {base}/api/storage", flush=True)
            print(f"  data folder        {settings.data_dir.resolve()}", flush=True)
            print("Simulated cameras:", *sim.urls, sep="\n  ", flush=True)
            await serve_http(settings, services)
        finally:
            await stop_services(services)
    finally:
        await asyncio.to_thread(sim.stop)
