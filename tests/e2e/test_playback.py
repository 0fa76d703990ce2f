"""Recorded playback in a real browser: hls.js plays a VOD range of a simulated camera."""

from __future__ import annotations

import asyncio

from playwright.async_api import BrowserContext

from tests.node.helpers import recorded_camera
from tests.playback.conftest import served
from vigil.app import Services
from vigil.sim.runner import SimulatedCameras

__all__ = ["served"]


PLAYER = """<!doctype html><html><body>
<video id="v" muted playsinline width="320" height="240"></video>
<canvas id="c" width="320" height="240"></canvas>
<script src="/static/vendor/hls.min.js"></script>
<script>
const video = document.getElementById("v");
window.errors = [];
const hls = new Hls();
hls.on(Hls.Events.ERROR, (_, data) => { if (data.fatal) window.errors.push(data.details); });
hls.loadSource(new URLSearchParams(location.search).get("src"));
hls.attachMedia(video);
hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
// The frame code the simulator draws along the top: 12 blocks, 1/16 of the picture each.
window.frameCode = () => {
  const ctx = document.getElementById("c").getContext("2d", {willReadFrequently: true});
  ctx.drawImage(video, 0, 0, 320, 240);
  const bw = 20, bh = 15;
  let code = 0;
  for (let bit = 0; bit < 12; bit++) {
    const [r, g, b] = ctx.getImageData(bit * bw + bw / 2, bh / 2, 1, 1).data;
    if ((r + g + b) / 3 > 128) code |= 1 << bit;
  }
  return code;
};
window.picture = () => Array.from(
  document.getElementById("c").getContext("2d").getImageData(0, 0, 320, 240).data);
</script></body></html>"""


async def test_a_recorded_range_plays_in_the_browser(
    admin_context: BrowserContext, services: Services, sim: SimulatedCameras, served: str
) -> None:
    camera, segments = await recorded_camera(services, "browser", sim.url("cam4"), 3)
    start, end = segments[0].start_ms / 1000, segments[-1].end_ms / 1000
    playlist = f"/api/cameras/{camera.id}/vod.m3u8?start={start}&end={end}"

    page = await admin_context.new_page()
    await page.route(
        lambda url: url.startswith(f"{served}/player"),
        lambda route: route.fulfill(body=PLAYER, content_type="text/html"),
    )
    await page.goto(f"{served}/player?src={playlist.replace('&', '%26')}")
    await page.wait_for_function("document.getElementById('v').currentTime > 0.5", timeout=15_000)
    first_time = await page.evaluate("document.getElementById('v').currentTime")
    first_code = await page.evaluate("frameCode()")
    first_picture = await page.evaluate("picture()")
    await asyncio.sleep(1.0)
    later_time = await page.evaluate("document.getElementById('v').currentTime")
    later_code = await page.evaluate("frameCode()")
    later_picture = await page.evaluate("picture()")
    assert await page.evaluate("window.errors") == []
    assert later_time - first_time > 0.5  # playing, not stuck
    changed = sum(1 for a, b in zip(first_picture, later_picture, strict=True) if abs(a - b) > 16)
    assert changed > len(first_picture) // 100  # the picture moves
    # The simulator's clock advanced with the playback clock (10 frames a second).
    advanced = (later_code - first_code) % 200
    assert abs(advanced - (later_time - first_time) * 10) <= 3, (first_code, later_code)
    await page.close()
