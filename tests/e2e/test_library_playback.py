"""A phone's video, made web-playable by the library, plays upright in a real browser."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from tests.library.media_samples import phone_video
from vigil.library.media import probe, transcode_for_web

PAGE = """<!doctype html><html><body>
<video id="v" src="web.mp4" muted playsinline></video>
<canvas id="c"></canvas>
<script>
const video = document.getElementById("v");
video.play();
// Brightness near the top-left and top-right corners of the picture as the browser shows it.
window.corners = () => {
  const canvas = document.getElementById("c");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  ctx.drawImage(video, 0, 0);
  const at = (x, y) => { const [r, g, b] = ctx.getImageData(x, y, 1, 1).data; return (r + g + b) / 3; };
  return [at(12, 12), at(canvas.width - 12, 12)];
};
</script></body></html>"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[str]:
    """The phone video's web copy and a page playing it, over HTTP (with range requests, as
    a browser fetches video); yields the page's URL."""
    folder = tmp_path / "site"
    folder.mkdir()
    phone = phone_video(tmp_path / "IMG_0003.MOV", seconds=4)
    assert not probe(phone).web_playable
    transcode_for_web(phone, folder / "web.mp4", progress=None)
    (folder / "index.html").write_text(PAGE)
    port = _free_port()
    app = Starlette(routes=[Mount("/", StaticFiles(directory=folder, html=True))])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "the server failed to start"
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        await task


async def test_a_transcoded_phone_video_plays_upright_in_chromium(
    browser: Browser, site: str
) -> None:
    context = await browser.new_context()
    try:
        page = await context.new_page()
        await page.goto(site)
        await page.wait_for_function(
            "document.getElementById('v').currentTime > 0.2", timeout=15_000
        )
        started = await page.evaluate("document.getElementById('v').currentTime")
        await page.wait_for_function(
            f"document.getElementById('v').currentTime > {started} + 0.5", timeout=15_000
        )
        assert await page.evaluate("document.getElementById('v').error") is None

        size = await page.evaluate("[video.videoWidth, video.videoHeight]")
        assert size == [180, 320]  # portrait, as the phone showed it
        left, right = await page.evaluate("corners()")
        assert left < 80  # the marker the phone stored top-left shows top-right: upright
        assert right > 200
    finally:
        await context.close()
