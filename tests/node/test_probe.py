"""The node's stream test (``vigil.node.source_probe``): what a camera sends, or a failure
that says why in words and never repeats the credentials."""

from __future__ import annotations

import pytest

from tests.conftest import AUTH_SIM_CREDENTIALS, SecretWatch
from vigil.link.messages import AudioInfo, ProbeFailure, VideoInfo
from vigil.link.protocol import ProbeFailed
from vigil.node.source_probe import probe_source
from vigil.sim.runner import SimulatedCameras

USER, PASSWORD = AUTH_SIM_CREDENTIALS.split(":")


async def test_credentials_open_the_stream(auth_sim: SimulatedCameras) -> None:
    found = await probe_source(auth_sim.url("cam1"), USER, PASSWORD, 8)
    assert found.video == VideoInfo(codec="h264", profile="Main", width=320, height=240, fps=10)
    assert found.audio == AudioInfo(codec="aac", sample_rate=48000, channels=1)


async def test_a_camera_without_audio(silent_sim: SimulatedCameras) -> None:
    found = await probe_source(silent_sim.url("cam1"), None, None, 8)
    assert found.audio is None
    assert found.video.codec == "h264"


@pytest.mark.parametrize("password", ["wrong-Pa55:@/word", None])
async def test_refused_credentials_are_named_not_repeated(
    auth_sim: SimulatedCameras, secret_watch: SecretWatch, password: str | None
) -> None:
    if password:
        secret_watch.add(password)
    with pytest.raises(ProbeFailed) as failed:
        await probe_source(auth_sim.url("cam1"), USER, password, 8)
    assert failed.value.kind is ProbeFailure.UNAUTHORISED
    assert str(failed.value) == f"127.0.0.1:{auth_sim.port} refused the user name or password (401)"


async def test_an_unknown_host_is_unreachable() -> None:
    with pytest.raises(ProbeFailed) as failed:
        await probe_source("rtsp://camera.invalid/stream", USER, PASSWORD, 3)
    assert failed.value.kind is ProbeFailure.UNREACHABLE
    assert "camera.invalid" in str(failed.value)
    assert PASSWORD not in str(failed.value)
