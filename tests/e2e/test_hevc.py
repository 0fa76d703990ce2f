"""An H.265 camera in a browser without HEVC (Debian's Chromium): live view falls back to the
sub stream when it is H.264, else to the server's conversion to H.264 (bounded in number,
with the reason shown when refused); recorded footage plays from its conversion."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import BrowserContext, Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

from tests.conftest import TEST_ORG
from tests.e2e.axe import serious_violations, with_axe
from tests.e2e.test_home import wait_playing
from tests.e2e.test_recordings_page import (
    FPS,
    LOOP_FRAMES,
    SHOWING,
    first_frame_code,
    frame_code,
    open_page,
)
from tests.node.helpers import recorded_camera
from tests.serve import serving
from vigil.api.app import create_app
from vigil.app import Services
from vigil.settings import Settings
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields
from vigil.store.models import Camera

HEVC = 'video/mp4; codecs="hvc1.1.6.L30.90"'
PICTURE = """(id) => {
  const video = document.querySelector(`.tile[data-camera="${id}"] video`);
  const canvas = document.createElement("canvas");
  canvas.width = 32; canvas.height = 24;
  canvas.getContext("2d").drawImage(video, 0, 0, 32, 24);
  return Array.from(canvas.getContext("2d").getImageData(0, 0, 32, 24).data);
}"""

# The camera whose tile shows the server's refusal to convert, and the tile's state.
TILE_STATES = "(tiles) => tiles.map((t) => [t.dataset.camera, t.dataset.state, t.textContent])"
REFUSED = """() => {
  const reason = Array.from(document.querySelectorAll(".tile .reason"))
    .find((r) => r.textContent.includes("node.max_transcodes"));
  if (!reason) return null;
  const tile = reason.closest(".tile");
  return [Number(tile.dataset.camera), tile.dataset.state];
}"""


async def hevc_camera(services: Services, name: str, url: str, sub: str | None = None) -> Camera:
    return await services.cameras.create(
        CameraFields(name=name, main_url=url, sub_url=sub), org_id=TEST_ORG
    )


async def assert_tile_plays(page: Page, camera: Camera) -> None:
    """The tile's time advances and, while it plays on, its picture changes (a loaded box may
    paint a frame late, so the picture has up to 5 s of playing to change)."""
    started = await wait_playing(page, camera, 0.2, timeout=30)
    first = await page.evaluate(PICTURE, camera.id)
    played = started
    while (played := await wait_playing(page, camera, played + 0.5)) < started + 5.0:
        if await page.evaluate(PICTURE, camera.id) != first:
            return
    raise AssertionError(f"the picture must change ({started:.1f}-{played:.1f} s played)")


async def test_an_h265_camera_plays_live_converted_to_h264(
    admin_context: BrowserContext,
    settings: Settings,
    services: Services,
    hevc_sim: SimulatedCameras,
) -> None:
    camera = await hevc_camera(services, "Lobby (H.265)", hevc_sim.urls[0])
    async with serving(create_app(settings, services)) as base:
        page = await with_axe(await admin_context.new_page())
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        sockets: list[str] = []
        page.on("websocket", lambda socket: sockets.append(socket.url))
        await page.goto(base + "/")
        assert not await page.evaluate(f"() => MediaSource.isTypeSupported('{HEVC}')"), (
            "this test needs a browser without HEVC"
        )
        await assert_tile_plays(page, camera)
        assert any("stream=h264" in url for url in sockets), sockets
        assert await serious_violations(page) == []
        assert errors == []
        await page.close()


async def test_an_h264_sub_stream_is_played_before_any_conversion(
    admin_context: BrowserContext,
    settings: Settings,
    services: Services,
    hevc_sim: SimulatedCameras,
    sim: SimulatedCameras,
) -> None:
    camera = await hevc_camera(services, "Yard", hevc_sim.urls[1], sub=sim.urls[3])
    async with serving(create_app(settings, services)) as base:
        page = await admin_context.new_page()
        sockets: list[str] = []
        page.on("websocket", lambda socket: sockets.append(socket.url))
        await page.goto(base + "/")
        await assert_tile_plays(page, camera)
        # Enlarged, the tile asks for the main stream (H.265): it stays on the sub stream.
        await page.get_by_role("button", name=f"Enlarge {camera.name}").click()
        await page.wait_for_selector(f'.tile.enlarged[data-camera="{camera.id}"]')
        await assert_tile_plays(page, camera)
        assert all("stream=h264" not in url for url in sockets), sockets
        await page.close()


@pytest.fixture
def one_transcode(settings: Settings) -> Settings:
    settings.node.max_transcodes = 1
    return settings


async def test_conversions_beyond_the_limit_are_refused_with_the_reason_shown(
    one_transcode: Settings,
    admin_context: BrowserContext,
    services: Services,
    hevc_sim: SimulatedCameras,
) -> None:
    cameras = [
        await hevc_camera(services, "North", hevc_sim.urls[0]),
        await hevc_camera(services, "South", hevc_sim.urls[1]),
    ]
    async with serving(create_app(one_transcode, services)) as base:
        page = await admin_context.new_page()
        await page.goto(base + "/")
        # One of the two plays; the other says why it does not (until its next attempt).
        try:
            found = await page.wait_for_function(REFUSED, timeout=30_000)
        except PlaywrightTimeout:
            tiles = await page.eval_on_selector_all(".tile", TILE_STATES)
            raise AssertionError(f"no tile says why it does not play: {tiles}") from None
        refused_id, state = await found.json_value()
        assert state == "error"
        playing = next(c for c in cameras if c.id != refused_id)
        await assert_tile_plays(page, playing)
        await page.close()


async def test_recorded_h265_footage_plays_converted_to_h264(
    admin_context: BrowserContext,
    settings: Settings,
    services: Services,
    hevc_sim: SimulatedCameras,
) -> None:
    camera, segments = await recorded_camera(services, "Stairs", hevc_sim.url("cam2"), 4)
    assert {s.video_codec for s in segments} == {"hevc"}
    async with serving(create_app(settings, services)) as base:
        page = await with_axe(await admin_context.new_page())
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        playlists: list[str] = []
        page.on("request", lambda r: playlists.append(r.url) if "vod.m3u8" in r.url else None)
        at = segments[1].start_ms + 500
        await open_page(page, base, camera, at)
        assert any("video=h264" in url for url in playlists), playlists

        # The picture is the recorded instant's (the simulator's frame code, within a GOP).
        await page.wait_for_timeout(300)  # the decoded frame reaches the canvas
        clock = int(await page.get_attribute(".rec-clock", "data-clock") or 0)
        reference = next(s for s in segments if s.start_ms <= clock < s.end_ms)
        ref_code = await asyncio.to_thread(
            first_frame_code, str(settings.recordings_dir / reference.path)
        )
        expected = (clock - reference.start_ms) * FPS / 1000
        shown = (await frame_code(page) - ref_code) % LOOP_FRAMES
        assert abs(shown - expected) <= FPS, (shown, expected)

        # Play: the time moves on, across the next file.
        video_time = await page.evaluate("document.querySelector('.rec-player video').currentTime")
        await page.get_by_role("button", name="Play").click()
        await page.wait_for_function(
            "(t) => document.querySelector('.rec-player video').currentTime > t + 2.5",
            arg=video_time,
            timeout=30_000,
        )
        await page.get_by_role("button", name="Pause").click()
        await page.wait_for_function(SHOWING)
        assert await serious_violations(page) == []
        assert errors == []
        await page.close()
