"""``vigil demo``: the whole product on one box with simulated cameras, ready in seconds."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from dataclasses import dataclass

from vigil.app import Services, start_services, stop_services
from vigil.detect.settings import DetectionSettings
from vigil.detect.zones import Zone
from vigil.server import serve_http
from vigil.settings import Settings
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields

log = logging.getLogger(__name__)

DEMO_RETENTION_DAYS = 1.0
DEMO_SIZE_CAP = 512 * 1024 * 1024
DEMO_ORG = "Demo school"
DEMO_ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class DemoAdmin:
    org_id: int
    username: str
    password: str


async def seed_admin(services: Services) -> DemoAdmin:
    """The demo's admin: made on the first run with a random password kept in the state
    folder (readable by its owner only), so every run prints the same credentials."""
    path = services.settings.state_dir / "demo-admin-password"
    users = services.auth.users
    user = await users.by_username(DEMO_ADMIN)
    if user is not None and path.exists():
        return DemoAdmin(user.org_id, DEMO_ADMIN, path.read_text().strip())
    password = secrets.token_urlsafe(12)
    if user is None:
        user = await services.auth.create_admin(DEMO_ORG, DEMO_ADMIN, password)
    else:
        new_hash = await services.auth.new_password_hash(password, DEMO_ADMIN)
        await users.update(user.org_id, user.id, {"password_hash": new_hash})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password)
    return DemoAdmin(user.org_id, DEMO_ADMIN, password)


# The first demo camera watches for people walking into the right half of its picture.
DEMO_DETECTION = DetectionSettings(
    labels={"person"},
    zones=[Zone(name="Doorway", polygon=[(0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0)])],
)


async def seed_cameras(services: Services, sim: SimulatedCameras, org_id: int) -> None:
    """One Vigil camera per simulated one, pointed at its current URL."""
    existing = {c.name: c for c in await services.cameras.store.list(org_id=org_id)}
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
                    detection=DEMO_DETECTION if index == 1 else None,
                ),
                org_id,
            )
        elif camera.main_url != url:
            await services.cameras.update(camera.id, {"main_url": url})


async def run_demo(settings: Settings, cameras: int) -> None:
    # Small pictures and a modest bitrate keep the demo light on any laptop.
    sim = SimulatedCameras(
        cameras=cameras,
        labels=True,
        width=640,
        height=360,
        fps=15,
        bitrate_kbps=800,
        scene="walker",
    )
    log.info("preparing %d simulated cameras (the first run encodes their clip once)", cameras)
    await asyncio.to_thread(sim.start)
    try:
        services = await start_services(settings)
        try:
            admin = await seed_admin(services)
            await seed_cameras(services, sim, admin.org_id)
            base = f"http://{settings.server.host}:{settings.server.port}"
            print(f"\nVigil demo is running. Open {base}/", flush=True)
            print(f"  sign in as         {admin.username} / {admin.password}", flush=True)
            print(f"  API documentation  {base}/docs", flush=True)
            print(f"  cameras            {base}/api/cameras", flush=True)
            print(f"  storage            {base}/api/storage", flush=True)
            print(f"  events             {base}/api/events", flush=True)
            print(f"  data folder        {settings.data_dir.resolve()}", flush=True)
            print("Simulated cameras:", *sim.urls, sep="\n  ", flush=True)
            await serve_http(settings, services)
        finally:
            await stop_services(services)
    finally:
        await asyncio.to_thread(sim.stop)
