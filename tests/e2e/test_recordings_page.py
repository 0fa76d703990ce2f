"""The Recordings page in a real browser, on footage recorded from simulated cameras:
clicking the timeline shows the recorded frame of that instant (the simulator's frame code)
and playing moves the picture on, on a desk and on a phone; a click in a gap shows the first
frame after it; two cameras play in step; a range selected on the timeline exports to an MP4
of that length whose hash the manifest holds, and can be protected; axe-core finds nothing
serious in either theme; a viewer has no Export or Protect."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json

import av
import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize

from tests.conftest import TEST_ORG, SecretWatch
from tests.e2e.axe import serious_violations, with_axe
from tests.e2e.conftest import sign_in
from tests.node.helpers import eventually, recorded_camera, segments_of, wait_segments
from tests.people import grant, make_user
from tests.serve import serving
from vigil.api.app import create_app
from vigil.app import Services
from vigil.auth.permissions import Permission
from vigil.settings import Settings
from vigil.sim.framecode import read_frame_code
from vigil.sim.runner import SimulatedCameras
from vigil.store.cameras import CameraFields
from vigil.store.models import Camera, Segment
from vigil.store.segments import SPAN_TOLERANCE_MS
from vigil.timeutil import iso

PHONE: ViewportSize = {"width": 375, "height": 812}
FPS = 10  # tests/conftest.py SMALL_CLIP: 10 fps, a keyframe a second, a 20 s loop
LOOP_FRAMES = 200

# The frame code the simulator draws along the top of each video of the page, with the
# video's time: 12 blocks, 1/16 of the picture each (vigil/sim/framecode.py), read from a
# canvas.
FRAME_CODES = """() => Array.from(document.querySelectorAll(".rec-player video")).map((video) => {
  const canvas = document.createElement("canvas");
  canvas.width = 320; canvas.height = 240;
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  ctx.drawImage(video, 0, 0, 320, 240);
  let code = 0;
  for (let bit = 0; bit < 12; bit++) {
    const [r, g, b] = ctx.getImageData(bit * 20 + 10, 7, 1, 1).data;
    if ((r + g + b) / 3 > 128) code |= 1 << bit;
  }
  return [code, video.currentTime];
})"""
# A datetime-local field's value for an instant, in the browser's time zone.
LOCAL_INPUT = """(ms) => {
  const d = new Date(ms), two = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}` +
    `T${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}"""
SHOWING = """() => {
  const video = document.querySelector(".rec-player video");
  return video.readyState >= 2 && !video.seeking;
}"""


async def frame_code(page: Page) -> int:
    """The frame code the page's first video shows."""
    return int((await page.evaluate(FRAME_CODES))[0][0])


def first_frame_code(path: str) -> int:
    with av.open(path) as container:
        return read_frame_code(next(container.decode(video=0)))


async def open_page(page: Page, base: str, camera: Camera, at_ms: int) -> None:
    await page.goto(f"{base}/#recordings?camera={camera.id}&at={iso(at_ms)}")
    await page.wait_for_selector('.rec-player[data-state="ready"]', timeout=30_000)
    await page.wait_for_function(SHOWING, timeout=30_000)


async def timeline_x(page: Page, at_ms: float) -> tuple[float, float]:
    """Where on the screen the timeline shows the instant ``at_ms``."""
    canvas = page.get_by_role("slider", name="Timeline: time shown")
    box = await canvas.bounding_box()
    assert box is not None
    start = float(await canvas.get_attribute("data-start") or 0)
    span = float(await canvas.get_attribute("data-span") or 1)
    return box["x"] + (at_ms - start) / span * box["width"], box["y"] + box["height"] / 2


async def page_clock(page: Page) -> int:
    return int(await page.get_attribute(".rec-clock", "data-clock") or 0)


async def wait_clock(page: Page, at_ms: int) -> None:
    """Wait until the page's clock shows ``at_ms`` (to the millisecond)."""
    await page.wait_for_function(
        "(t) => Math.abs(Number(document.querySelector('.rec-clock').dataset.clock) - t) <= 1",
        arg=at_ms,
        timeout=10_000,
    )


async def zoom_to_a_minute(page: Page) -> None:
    await (
        page.get_by_role("group", name="Timeline zoom").get_by_role("button", name="1 min").click()
    )
    await page.wait_for_selector('canvas[data-zoom="5"]')


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
async def test_clicking_the_timeline_shows_that_instant_and_play_moves_on(
    viewport: str,
    admin_context: BrowserContext,
    settings: Settings,
    services: Services,
    sim: SimulatedCameras,
) -> None:
    camera, segments = await recorded_camera(services, "Hall", sim.url("cam4"), 9)
    async with serving(create_app(settings, services)) as base:
        page = await admin_context.new_page()
        if viewport == "phone":
            await page.set_viewport_size(PHONE)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await open_page(page, base, camera, segments[1].start_ms + 500)
        await zoom_to_a_minute(page)

        # Click the timeline between two keyframes of a later segment.
        target = segments[4].start_ms + 1300
        await page.mouse.click(*await timeline_x(page, target))
        await page.wait_for_function(
            "(t) => Math.abs(Number(document.querySelector('.rec-clock').dataset.clock) - t) < 400",
            arg=target,
        )
        clock = await page_clock(page)
        await page.wait_for_function(SHOWING, timeout=20_000)
        await page.wait_for_timeout(300)  # the decoded frame reaches the canvas
        reference = next(s for s in segments if s.start_ms <= clock < s.end_ms)
        ref_code = await asyncio.to_thread(
            first_frame_code, str(settings.recordings_dir / reference.path)
        )
        expected = (clock - reference.start_ms) * FPS / 1000
        shown = (await frame_code(page) - ref_code) % LOOP_FRAMES
        assert abs(shown - expected) <= FPS, (shown, expected)  # within a keyframe interval

        # Play: the video's time and the page's clock move on, and so does the picture.
        video_time = await page.evaluate("document.querySelector('.rec-player video').currentTime")
        await page.get_by_role("button", name="Play").click()
        await page.wait_for_function(
            "(t) => document.querySelector('.rec-player video').currentTime > t + 1.5",
            arg=video_time,
            timeout=20_000,
        )
        await page.wait_for_function(
            "(t) => Number(document.querySelector('.rec-clock').dataset.clock) > t + 1000",
            arg=clock,
            timeout=10_000,
        )
        moved = (await frame_code(page) - ref_code) % LOOP_FRAMES
        assert moved > shown + FPS // 2, (moved, shown)
        await page.get_by_role("button", name="Pause").click()

        # The date and time picker (the browser's time zone), then the keyboard: → moves the
        # playhead by 1/120 of the view, half a second at a minute.
        picked = (segments[2].start_ms // 1000 + 1) * 1000
        local = await page.evaluate(LOCAL_INPUT, picked)
        await page.get_by_label("Go to").fill(local)
        await page.get_by_role("button", name="Go", exact=True).click()
        await wait_clock(page, picked)
        slider = page.get_by_role("slider", name="Timeline: time shown")
        await slider.focus()
        await page.keyboard.press("ArrowRight")
        await wait_clock(page, picked + 500)
        # Its value, in words, is the time shown (the same second: HH:MM:SS).
        assert local[11:] in (await slider.get_attribute("aria-valuetext") or "")
        width = await page.evaluate("() => document.scrollingElement.scrollWidth")
        assert width <= await page.evaluate("() => innerWidth"), "nothing wider than the window"
        assert errors == []
        await page.close()


async def test_two_cameras_play_in_step(
    admin_context: BrowserContext,
    settings: Settings,
    services: Services,
    sim: SimulatedCameras,
) -> None:
    # Two cameras on one simulated stream: at one instant both recorded the same frame.
    cameras = [
        await services.cameras.create(
            CameraFields(name=name, main_url=sim.url("cam1"), segment_seconds=2),
            org_id=TEST_ORG,
        )
        for name in ("Left", "Right")
    ]
    for camera in cameras:
        await wait_segments(services, camera.id, 8, timeout=60)
    for camera in cameras:
        await services.cameras.update(camera.id, {"enabled": False})
    first = max([(await segments_of(services, c.id))[0].start_ms for c in cameras])
    async with serving(create_app(settings, services)) as base:
        page = await admin_context.new_page()
        ids = ",".join(str(c.id) for c in cameras)
        await page.goto(f"{base}/#recordings?camera={ids}&at={iso(first + 1000)}")
        for camera in cameras:
            await page.wait_for_selector(
                f'.rec-player[data-camera="{camera.id}"][data-state="ready"]', timeout=30_000
            )
        await page.get_by_label("Speed").select_option("2")
        await page.get_by_role("button", name="Play").click()
        # The players may take a moment to line up on a busy box: from the first second on.
        started = await page_clock(page) + 1000
        await page.wait_for_timeout(1000)
        apart = []
        while await page_clock(page) < started + 5000:
            (code_a, time_a), (code_b, time_b) = await page.evaluate(FRAME_CODES)
            if time_a > 0.5 and time_b > 0.5:
                apart.append(min((code_a - code_b) % LOOP_FRAMES, (code_b - code_a) % LOOP_FRAMES))
            await page.wait_for_timeout(250)
        # Within the 0.3 s the page allows, and the recorders' own anchoring.
        assert apart
        assert max(apart) <= 5, apart
        await page.close()


def after_a_gap(segments: list[Segment]) -> int | None:
    """The index of the first segment after a gap, with a segment after it too."""
    for i in range(1, len(segments) - 1):
        if segments[i].start_ms - segments[i - 1].end_ms > SPAN_TOLERANCE_MS:
            return i
    return None


async def test_a_seek_into_a_gap_shows_the_footage_after_it(
    admin_context: BrowserContext,
    settings: Settings,
    services: Services,
    sim: SimulatedCameras,
) -> None:
    camera = await services.cameras.create(
        CameraFields(name="Corridor", main_url=sim.url("cam2"), segment_seconds=2),
        org_id=TEST_ORG,
    )
    await wait_segments(services, camera.id, 3, timeout=60)
    sim.drop("cam2", seconds=4)
    await eventually(
        lambda: segments_of(services, camera.id),
        lambda segs: after_a_gap(segs) is not None,
        60,
        "footage on both sides of a gap",
    )
    await services.cameras.update(camera.id, {"enabled": False})
    segments = await segments_of(services, camera.id)
    index = after_a_gap(segments)
    assert index is not None
    before, after = segments[index - 1], segments[index]
    async with serving(create_app(settings, services)) as base:
        page = await admin_context.new_page()
        await open_page(page, base, camera, segments[0].start_ms + 500)
        await zoom_to_a_minute(page)
        # The middle of the gap: the page moves on to the first recorded frame after it.
        await page.mouse.click(*await timeline_x(page, (before.end_ms + after.start_ms) / 2))
        await page.wait_for_function(
            "(t) => Math.abs(Number(document.querySelector('.rec-clock').dataset.clock) - t) < 300",
            arg=after.start_ms,
            timeout=20_000,
        )
        await page.wait_for_function(SHOWING, timeout=20_000)
        await page.wait_for_timeout(300)  # the decoded frame reaches the canvas
        ref_code = await asyncio.to_thread(
            first_frame_code, str(settings.recordings_dir / after.path)
        )
        shown = (await frame_code(page) - ref_code) % LOOP_FRAMES
        assert shown <= 1 or shown >= LOOP_FRAMES - 1, shown
        await page.close()


async def test_a_selected_range_exports_with_its_manifest_and_can_be_protected(
    admin_context: BrowserContext,
    settings: Settings,
    services: Services,
    sim: SimulatedCameras,
) -> None:
    camera, segments = await recorded_camera(services, "Gate", sim.url("cam4"), 9)
    async with serving(create_app(settings, services)) as base:
        page = await with_axe(await admin_context.new_page())
        await open_page(page, base, camera, segments[2].start_ms + 500)
        await zoom_to_a_minute(page)
        for theme in ("light", "dark"):
            await page.get_by_label("Theme").select_option(theme)
            assert await serious_violations(page) == [], theme

        # Shift+drag over about six seconds of footage.
        begin = await timeline_x(page, segments[1].start_ms + 700)
        finish = await timeline_x(page, segments[4].start_ms + 300)
        await page.keyboard.down("Shift")
        await page.mouse.move(*begin)
        await page.mouse.down()
        await page.mouse.move(*finish, steps=5)
        await page.mouse.up()
        await page.keyboard.up("Shift")
        selected = page.locator("[data-selection]")
        await selected.get_by_text("Selected").wait_for()
        start = int(await selected.get_attribute("data-start") or 0)
        end = int(await selected.get_attribute("data-end") or 0)
        assert 5000 < end - start < 7500

        await page.get_by_role("button", name="Export").click()
        await page.get_by_text("Exporting").or_(page.get_by_text("Export ready")).first.wait_for()
        link = page.get_by_role("link", name="Download camera-")
        await link.wait_for(timeout=60_000)
        # Downloaded with the page's cookies, as the browser would.
        body = await (
            await page.request.get(base + (await link.get_attribute("href") or ""))
        ).body()
        manifest_href = await page.get_by_role("link", name="Manifest").get_attribute("href")
        manifest = json.loads(await (await page.request.get(base + (manifest_href or ""))).body())
        assert manifest["files"][0]["sha256"] == hashlib.sha256(body).hexdigest()
        with av.open(io.BytesIO(body)) as container:
            stream = container.streams.video[0]
            assert stream.duration is not None
            assert stream.time_base is not None
            seconds = float(stream.duration * stream.time_base)
        # Cut at the keyframe at or before the start: up to one keyframe interval longer.
        assert -1 / FPS <= seconds - (end - start) / 1000 <= 1 + 1 / FPS, (seconds, start, end)

        await page.get_by_role("button", name="Protect").click()
        await page.get_by_text("Protected").wait_for()
        protected = [s for s in await segments_of(services, camera.id) if s.protected]
        assert protected
        assert all(s.start_ms < end and s.end_ms > start for s in protected)
        await page.close()


async def test_a_viewer_watches_but_has_no_export_or_protect(
    browser: Browser,
    settings: Settings,
    services: Services,
    sim: SimulatedCameras,
    secret_watch: SecretWatch,
) -> None:
    camera = await services.cameras.create(
        CameraFields(name="Yard", main_url=sim.url("cam3"), enabled=False), org_id=TEST_ORG
    )
    viewer = await make_user(services, "parent", "viewer")
    # A grant cannot lift a viewer above the role's ceiling: no export, whatever it says.
    allowed = {Permission.VIEW_RECORDINGS, Permission.EXPORT}
    await grant(services, TEST_ORG, [camera.id], allowed, viewer.id)
    context = await browser.new_context()
    await sign_in(context, services, viewer, secret_watch)
    async with serving(create_app(settings, services)) as base:
        page = await context.new_page()
        await page.goto(f"{base}/#recordings")
        await page.get_by_role("button", name="Mark in").wait_for()
        await page.get_by_role("slider", name="Timeline: time shown").wait_for()
        await page.get_by_text("no recording at this time").wait_for()
        assert await page.get_by_role("button", name="Export").count() == 0
        assert await page.get_by_role("button", name="Protect").count() == 0
    await context.close()
