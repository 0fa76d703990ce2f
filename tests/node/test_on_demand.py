"""Live streams on demand: their ffmpeg runs while someone needs the stream, and only then."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest

from tests.node.helpers import eventually
from vigil.link.messages import CameraConfig
from vigil.node.live import LiveStream
from vigil.node.on_demand import OnDemandStream
from vigil.node.recorder import CameraRecorder

CAMERA = CameraConfig(id=7, name="gate", main_url="rtsp://127.0.0.1:9/main", recording=True)


class Runs:
    """Stands in for the live-only ffmpeg: counts the runs started and stopped."""

    def __init__(self) -> None:
        self.configs: list[CameraConfig] = []
        self.running = 0

    def new(self, config: CameraConfig, stream: LiveStream) -> CameraRecorder:
        self.configs.append(config)
        runs = self

        class Run:
            def start(self) -> None:
                runs.running += 1

            async def stop(self) -> None:
                runs.running -= 1

        return cast(CameraRecorder, Run())


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vigil.node.live.IDLE_SECONDS", 0.2)
    monkeypatch.setattr("vigil.node.on_demand._CHECK_SECONDS", 0.05)


async def test_runs_while_watched_and_stops_after_the_last_need() -> None:
    runs = Runs()
    streams = True
    on_demand = OnDemandStream(
        CAMERA, "rtsp://127.0.0.1:9/live", runs.new, "live view", lambda: streams
    )
    live = on_demand.stream
    assert runs.running == 0, "nobody needs it: no ffmpeg, no camera connection"
    assert live.has_picture, "live/info says the camera streams, though nothing runs"
    streams = False
    assert not live.has_picture

    first, second = live.join(), live.join()
    assert runs.running == 1, "viewers share one run"
    config = runs.configs[0]
    assert config.main_url == "rtsp://127.0.0.1:9/live"
    assert not config.recording, "it only relays"
    assert config.detect is None
    first.close()
    await asyncio.sleep(0.4)
    assert runs.running == 1, "one viewer is still there"
    second.close()

    async def running() -> int:
        return runs.running

    await eventually(running, lambda n: n == 0, 5, "the run to stop after the idle delay")
    assert await live.hls_playlist() is None  # a player's request starts it again
    assert runs.running == 1
    await eventually(running, lambda n: n == 0, 5, "the run to stop again")
    await on_demand.close()


async def test_a_closed_stream_never_starts_again() -> None:
    """The camera changed or went: whoever still holds the old stream starts nothing."""
    runs = Runs()
    on_demand = OnDemandStream(CAMERA, CAMERA.main_url, runs.new, "live view", lambda: True)
    viewer = on_demand.stream.join()
    await on_demand.close()
    assert viewer.closed
    assert runs.running == 0
    on_demand.stream.join()
    assert await on_demand.stream.snapshot() is None
    assert runs.running == 0
    assert len(runs.configs) == 1
