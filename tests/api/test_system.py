"""The server's state for admins: database, media nodes with their disks and detector, and
the organisation's cameras by state and by detection state."""

from __future__ import annotations

import shutil

import httpx

from tests.api.conftest import AddCamera
from vigil import __version__
from vigil.app import Services
from vigil.link.messages import CameraState, CameraStatus
from vigil.settings import Settings


async def test_system_names_the_node_its_disk_and_detector_and_counts_cameras(
    client: httpx.AsyncClient, add_camera: AddCamera, services: Services, settings: Settings
) -> None:
    await add_camera(enabled=False)
    on = (await add_camera(enabled=False))["id"]
    # What the node would report of a camera detecting motion only, its detector away.
    await services.nodes.report_status(
        "local",
        CameraStatus(
            camera_id=on,
            state=CameraState.STREAMING,
            detection="motion_only",
            detection_error="object detector 'ssd' unavailable: no model",
            detector_errors=3,
            detect_frames_dropped=7,
        ),
    )
    answer = await client.get("/api/system")
    assert answer.status_code == 200, answer.text
    system = answer.json()
    assert system["version"] == __version__
    assert system["database"] == "ok"
    [node] = system["nodes"]
    disk = shutil.disk_usage(settings.recordings_dir)
    assert node["name"] == settings.node.name
    assert node["connected"] is True
    assert node["cameras"] == 2
    assert node["disk"]["total_bytes"] == disk.total
    assert 0 < node["disk"]["free_bytes"] <= disk.total
    assert node["detector"] == settings.node.detector
    assert node["detector_workers"] == settings.node.detector_workers
    assert system["camera_states"]["streaming"] == 1
    assert system["camera_states"]["disabled"] == 1
    assert sum(system["camera_states"].values()) == 2
    assert system["detection"] == {"off": 1, "motion_only": 1}
    assert system["detection_errors"] == ["object detector 'ssd' unavailable: no model"]
    assert system["detector_errors"] == 3
    assert system["detect_frames_dropped"] == 7


async def test_a_node_that_is_away_is_listed_without_its_disk(
    client: httpx.AsyncClient, add_camera: AddCamera, services: Services, settings: Settings
) -> None:
    await add_camera(enabled=False)
    services.nodes.detach(settings.node.name)
    try:
        [node] = (await client.get("/api/system")).json()["nodes"]
    finally:
        assert services.node is not None
        services.nodes.attach(settings.node.name, services.node)
    assert node == {
        "name": settings.node.name,
        "connected": False,
        "draining": False,
        "cameras": 1,
        "disk": None,
        "detector": None,
        "detector_workers": None,
    }


async def test_a_draining_node_says_so(
    client: httpx.AsyncClient, services: Services, settings: Settings
) -> None:
    await services.cameras.node_store.set_draining(settings.node.name, True)
    [node] = (await client.get("/api/system")).json()["nodes"]
    assert (node["name"], node["connected"], node["draining"]) == (settings.node.name, True, True)
    await services.cameras.node_store.set_draining(settings.node.name, False)
    [node] = (await client.get("/api/system")).json()["nodes"]
    assert node["draining"] is False
