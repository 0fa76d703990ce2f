"""H.265 cameras: stored as hvc1, and converted to H.264 live while someone watches, for
browsers that cannot decode H.265 (at most node.max_transcodes cameras at once)."""

from __future__ import annotations

import asyncio

import pytest

from tests.backends import SQLITE_ONLY
from tests.conftest import TEST_ORG
from tests.node.helpers import eventually, wait_segments, wait_state
from vigil.app import Services
from vigil.link.messages import CameraState
from vigil.media.mp4 import boxes
from vigil.node.live import Fragment, LiveStream, StreamStart, Viewer
from vigil.node.transcode import GIVE_WAY_SECONDS, TranscodeLimit
from vigil.settings import Settings
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields
from vigil.store.models import Camera

pytestmark = SQLITE_ONLY


def sample_entry(mp4: bytes) -> str:
    """The video sample entry's four letters (avc1, hvc1, hev1...) of an MP4's init."""
    for kind in ("avc1", "avc3", "hvc1", "hev1"):
        if kind.encode() in mp4[: mp4.find(b"moof") if b"moof" in mp4 else len(mp4)]:
            return kind
    raise AssertionError("no known video sample entry")


async def h265_camera(services: Services, url: str, name: str = "h265") -> Camera:
    camera = await services.cameras.create(
        CameraFields(name=name, main_url=url, segment_seconds=2), org_id=TEST_ORG
    )
    await wait_state(services, camera.id, {CameraState.STREAMING})
    return camera


async def first_picture(viewer: Viewer) -> tuple[StreamStart, Fragment]:
    start = await asyncio.wait_for(viewer.get(), 30)
    assert isinstance(start, StreamStart)
    fragment = await asyncio.wait_for(viewer.get(), 30)
    assert isinstance(fragment, Fragment)
    return start, fragment


def transcoded(services: Services, camera: Camera) -> LiveStream:
    assert services.node is not None
    stream = services.node.transcoded_stream(camera.id)
    assert stream is not None
    return stream


async def test_h265_is_recorded_and_sent_live_as_hvc1(
    services: Services, hevc_sim: SimulatedCameras
) -> None:
    camera = await h265_camera(services, hevc_sim.urls[0])
    segments = await wait_segments(services, camera.id, 1)
    assert segments[0].video_codec == "hevc"
    assert services.node is not None
    data = services.node.recording_file(segments[0].path).read_bytes()
    assert [kind for kind, _, _ in boxes(data)][:2] == ["ftyp", "moov"]
    assert sample_entry(data) == "hvc1"
    live = services.node.live_stream(camera.id)
    assert live is not None
    viewer = live.join()  # as a browser watching it
    start, _ = await first_picture(viewer)
    viewer.close()
    assert sample_entry(start.init) == "hvc1"
    assert start.info.codecs.startswith("hvc1.")


async def test_a_watched_h265_camera_is_converted_to_h264_and_stops_when_left(
    services: Services, hevc_sim: SimulatedCameras
) -> None:
    camera = await h265_camera(services, hevc_sim.urls[1])
    stream = transcoded(services, camera)
    assert stream.start is None, "nothing is converted before someone watches"
    viewer = stream.join()
    start, fragment = await first_picture(viewer)
    # A real profile (High, 0x64) from the encoder's parameter sets, not an empty avcC.
    assert start.info.codecs.startswith("avc1.64"), start.info.codecs
    assert sample_entry(start.init) == "avc1"
    assert start.info.video is not None
    assert (start.info.video.width, start.info.video.height) == (320, 240)
    assert fragment.keyframe
    # The conversion is a second connection to the camera, besides the recording one.
    assert hevc_sim.clients("cam2") == 2
    viewer.close()
    # Removing the camera ends its conversion at once (no waiting for the idle delay).
    await services.cameras.delete(camera.id)

    async def clients() -> int:
        return hevc_sim.clients("cam2")

    await eventually(clients, lambda n: n == 0, 20, "the camera's connections closed")


@pytest.fixture
def one_transcode(settings: Settings) -> Settings:
    settings.node.max_transcodes = 1
    return settings


async def test_conversions_are_bounded_and_an_idle_one_gives_way(
    one_transcode: Settings, services: Services, hevc_sim: SimulatedCameras
) -> None:
    first = await h265_camera(services, hevc_sim.urls[0], "first")
    second = await h265_camera(services, hevc_sim.urls[1], "second")
    watching = transcoded(services, first).join()
    await first_picture(watching)
    with pytest.raises(TranscodeLimit) as refused:
        transcoded(services, second)
    assert "node.max_transcodes" in str(refused.value)
    watching.close()
    # A player reconnecting is back at once: the first keeps its place for a moment...
    with pytest.raises(TranscodeLimit):
        transcoded(services, second)
    # ...and unwatched for longer, it gives way to the second.
    await asyncio.sleep(GIVE_WAY_SECONDS)
    viewer = transcoded(services, second).join()
    start, _ = await first_picture(viewer)
    assert start.info.codecs.startswith("avc1.")
    viewer.close()
