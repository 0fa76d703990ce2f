"""Detection on a node with a detector that cannot run: the camera keeps recording and
detecting motion, and its status says why objects are not detected."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backends import SQLITE_ONLY
from tests.conftest import TEST_ORG
from tests.node.helpers import eventually, wait_segments
from vigil.app import Services
from vigil.detect.settings import DetectionSettings
from vigil.link.messages import CameraStatus
from vigil.settings import Settings
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields

pytestmark = SQLITE_ONLY


@pytest.fixture(params=["unknown", "broken-model"])
def settings(settings: Settings, request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "unknown":
        settings.node.detector = "no-such-detector"
    else:
        model = tmp_path / "model.onnx"
        model.write_bytes(b"this is not an ONNX model")
        labels = tmp_path / "labels.txt"
        labels.write_text("person\n")
        settings.node.detector = "onnx"
        settings.node.detector_options = {"model_path": str(model), "labels_path": str(labels)}
    settings.node.detector_workers = 1
    return settings


async def test_a_detector_that_cannot_run_leaves_recording_and_motion_going(
    services: Services, sim: SimulatedCameras, settings: Settings
) -> None:
    camera = await services.cameras.create(
        CameraFields(
            name="Hall",
            main_url=sim.urls[0],
            segment_seconds=2,
            detection=DetectionSettings(),
        ),
        org_id=TEST_ORG,
    )

    async def status() -> CameraStatus:
        return services.nodes.status(camera.id)

    seen = await eventually(
        status, lambda s: s.detection == "motion_only", 30, "detection in motion_only"
    )
    assert seen.detection_error is not None
    assert "unavailable" in seen.detection_error
    assert settings.node.detector in seen.detection_error
    await wait_segments(services, camera.id, 2)
    assert services.nodes.status(camera.id).state.value == "streaming"
