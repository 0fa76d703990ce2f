"""The leader's placement, with a real node in the process: a node that records a camera
which is another node's now (a leader died in the middle of a hand-over, a node came back
from a cut) is told to stop it once that has lasted longer than a beat can explain; its
footage stays."""

from __future__ import annotations

from tests.backends import SQLITE_ONLY
from tests.conftest import TEST_ORG
from tests.node.helpers import eventually, wait_state
from vigil.app import Services
from vigil.cameras.placement import Placement
from vigil.link.messages import CameraState
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields

pytestmark = SQLITE_ONLY  # placement reads the cameras, which both databases store alike


async def test_a_node_recording_a_camera_it_lost_is_told_to_stop(
    services: Services, sim: SimulatedCameras
) -> None:
    assert services.node is not None
    local = services.node.name
    camera = await services.cameras.create(
        CameraFields(name="Yard", main_url=sim.urls[0], segment_seconds=1), org_id=TEST_ORG
    )
    await wait_state(services, camera.id, {CameraState.STREAMING})
    # The camera is another node's now, and this node was never told.
    await services.cameras.store.assign(camera.id, "elsewhere")

    def recording() -> dict[str, list[int]]:
        assert services.node is not None
        return {local: [status.camera_id for status in services.node.statuses()]}

    placement = Placement(
        services.cameras,
        alive=lambda: {local: 64, "elsewhere": 64},
        leading=lambda: True,
        newest=services.segments.newest_end,
        dead_seconds=0,
        recording=recording,
        stray_seconds=1.0,
    )
    await placement.check()
    assert recording()[local] == [camera.id]  # one beat's worth: not yet

    async def still_recorded() -> list[int]:
        await placement.check()
        return recording()[local]

    await eventually(still_recorded, lambda ids: ids == [], 10, "the stray stopped")
    assert services.node.layout.segments_on_disk(camera.id), "its footage stays"
