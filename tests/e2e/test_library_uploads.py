"""Uploading into a library event from the browser, through a small TCP proxy between the
browser and the server that can cut a connection or slow it down: a 200 MB video survives a
cut connection, a pause and a reload, each time continuing where the server stood (what the
server was asked is recorded on its side); the items are processed and play; refused files
say why, in the server's words.

One server (behind the proxy) serves every test of the module; the video is made once a
session (ffmpeg's test pattern with noise, H.264 at a high bitrate with its index first, so
the library takes it as it is and processing is quick)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.conftest import TEST_ORG, SecretWatch
from tests.e2e.axe import serious_violations, with_axe
from tests.e2e.library_site import PHONE, Site, chromium, library_site, photo, signed_in_context
from tests.people import signed_in
from vigil.media.ffmpeg import find_ffmpeg
from vigil.store.models import Plan
from vigil.timeutil import now_ms

pytestmark = pytest.mark.asyncio(loop_scope="module")

MB = 1 << 20
FIRST_BYTES = 64 * 1024  # what the page sends alone first (upload_queue.js)


@pytest.fixture(scope="session")
def big_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 200 MB of H.264 (720p test pattern under heavy noise, 4.5 s), faststart."""
    path = tmp_path_factory.mktemp("big-video") / "sports-day.mp4"
    subprocess.run(
        [find_ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error",
         "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30,noise=alls=60:allf=t", "-t", "4.5",
         "-c:v", "libx264", "-preset", "ultrafast", "-qp", "8", "-pix_fmt", "yuv420p",
         "-movflags", "+faststart", str(path)],
        check=True,
    )  # fmt: skip
    assert path.stat().st_size > 190 * 1000 * 1000
    return path


@dataclass
class Asked:
    """One tus request as the server saw it, with what it answered."""

    method: str
    path: str
    offset: int | None  # the request's Upload-Offset
    length: int | None  # the request's Upload-Length (creation)
    status: int = 0
    answer: dict[str, str] = field(default_factory=dict)  # headers of the answer


class Recorder:
    """ASGI middleware noting every request to /api/uploads, on the server's side."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.asked: list[Asked] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/uploads"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}

        def number(name: str) -> int | None:
            value = headers.get(name)
            return int(value) if value and value.isdigit() else None

        asked = Asked(
            scope["method"], scope["path"], number("upload-offset"), number("upload-length")
        )
        self.asked.append(asked)

        async def noted(message: Message) -> None:
            if message["type"] == "http.response.start":
                asked.status = message["status"]
                asked.answer = {k.decode().lower(): v.decode() for k, v in message["headers"]}
            await send(message)

        await self.app(scope, receive, noted)

    def created(self, length: int, since: int = 0) -> list[Asked]:
        """Uploads of ``length`` bytes created from the ``since``-th request on."""
        return [a for a in self.asked[since:] if a.method == "POST" and a.length == length]

    def upload_of(self, length: int, since: int = 0) -> str:
        """The address of the one upload created for a file of ``length`` bytes."""
        (created,) = self.created(length, since)
        assert created.status == 201, created
        return created.answer["location"]

    def to(self, location: str) -> list[Asked]:
        return [a for a in self.asked if a.path == location]


class Proxy:
    """A TCP proxy on loopback between the browser and the server. ``cut_after``: the first
    connection to carry that many bytes towards the server is cut (reset, both ways), once;
    ``rate``: bytes a second towards the server, on each connection (None: as fast as it
    goes)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cut_after: int | None = None
        self.cuts = 0
        self.rate: float | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.port)
            ends = (writer, up_writer)
            await asyncio.gather(
                self._pipe(reader, up_writer, ends, upstream=True),
                self._pipe(up_reader, writer, ends, upstream=False),
            )
        finally:
            self._tasks.discard(task)

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        ends: tuple[asyncio.StreamWriter, ...],
        upstream: bool,
    ) -> None:
        carried = 0
        try:
            while data := await source.read(64 * 1024):
                if upstream:
                    carried += len(data)
                    if self.cut_after is not None and carried > self.cut_after:
                        self.cut_after = None
                        self.cuts += 1
                        for end in ends:
                            end.transport.abort()
                        return
                    if self.rate:
                        await asyncio.sleep(len(data) / self.rate)
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                sink.close()


@dataclass
class UploadSite:
    site: Site
    recorder: Recorder
    proxy: Proxy
    base: str  # the proxy's address: what the browser opens


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def uploads(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[UploadSite]:
    recorders: list[Recorder] = []

    def wrap(app: ASGIApp) -> ASGIApp:
        recorders.append(Recorder(app))
        return recorders[0]

    async with library_site(tmp_path_factory.mktemp("library-uploads") / "site", wrap) as site:
        proxy = Proxy(int(site.base.rsplit(":", 1)[1]))
        base = await proxy.start()
        try:
            yield UploadSite(site, recorders[0], proxy, base)
        finally:
            await proxy.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


def stored_spans(asked: list[Asked]) -> list[tuple[int, int]]:
    """The byte ranges the server stored, PATCH by PATCH, checked to follow one another from
    the first byte without a gap or an overlap; refused PATCHes (409, 423) stored nothing."""
    spans = []
    for a in asked:
        if a.method != "PATCH":
            continue
        if a.status != 204:
            assert a.status in (409, 423), a
            continue
        assert a.offset is not None
        spans.append((a.offset, int(a.answer["upload-offset"])))
    ends = [0] + [end for _, end in spans[:-1]]
    assert [start for start, _ in spans] == ends, spans
    return spans


def entry(name: str) -> str:
    return f'.lib-upload-entry[data-name="{name}"]'


async def wait_state(page: Page, name: str, state: str, timeout: float = 120_000) -> None:
    await page.wait_for_selector(f'{entry(name)}[data-upload-state="{state}"]', timeout=timeout)


async def wait_sent(page: Page, name: str, percent: int) -> None:
    """Until the file's bar shows at least ``percent``."""
    await page.wait_for_function(
        "([selector, percent]) => Number(document.querySelector(selector)?.value) >= percent",
        arg=[f"{entry(name)} progress", percent],
        timeout=60_000,
    )


async def server_offset(site: Site, location: str) -> int:
    """Where the server says the upload stands (tus HEAD, as the teacher)."""
    async with signed_in(site.app, "teacher") as http:
        answer = await http.head(location, headers={"Tus-Resumable": "1.0.0"})
    assert answer.status_code == 200, answer.status_code
    return int(answer.headers["upload-offset"])


def files(folder: Path, count: int, seed: int) -> list[Path]:
    paths = []
    for n in range(count):
        path = folder / f"photo-{seed + n}.jpg"
        path.write_bytes(photo(1600, 1200, seed + n))
        paths.append(path)
    return paths


async def test_photos_and_a_200_mb_video_arrive_through_a_cut_connection_and_the_video_plays(
    uploads: UploadSite,
    browser: Browser,
    big_video: Path,
    secret_watch: SecretWatch,
    tmp_path: Path,
) -> None:
    site, recorder, proxy = uploads.site, uploads.recorder, uploads.proxy
    event = await site.add_event("Sports day", "2026-06-12T09:00:00Z", ["3A"])
    pictures = files(tmp_path, 3, seed=1)
    size = big_video.stat().st_size
    since = len(recorder.asked)
    proxy.cut_after = 80 * MB  # mid-video: the only connection to carry that much
    async with signed_in_context(browser, site, "teacher", secret_watch) as context:
        page = await context.new_page()
        await page.goto(f"{uploads.base}/#library?event={event}")
        await page.wait_for_selector(".lib-drop")
        await page.set_input_files(".lib-drop input[type=file]", [*pictures, big_video])
        for path in [*pictures, big_video]:
            await wait_state(page, path.name, "ready")
        assert proxy.cuts == 1
        total = await page.inner_text(".lib-total")
        assert total.startswith("4 of 4 files in")

        # The server's side: one upload for the video, each byte stored once. The cut left
        # the server 80 MB in; the page asked where it stood (HEAD) and went on from there. (A
        # PATCH that Chromium itself sends again after a reset finds the upload busy or
        # further on, and stores nothing.)
        location = recorder.upload_of(size, since)
        asked = recorder.to(location)
        spans = stored_spans(asked)
        assert len(spans) == 3, [(a.method, a.offset, a.status) for a in asked]
        assert spans[:2] == [(0, FIRST_BYTES), (FIRST_BYTES, spans[2][0])]
        resumed_at = spans[2][0]
        assert resumed_at > 40 * MB
        assert spans[2][1] == size
        heads = [int(a.answer["upload-offset"]) for a in asked if a.method == "HEAD"]
        assert set(heads) == {resumed_at}  # asked at least once, told the same
        last = [a for a in asked if a.method == "PATCH" and a.status == 204][-1]

        # Processed: four thumbnails in the grid; the video plays in the viewer.
        await page.wait_for_function(
            "() => { const i = [...document.querySelectorAll('.jg-tile img')];"
            " return i.length === 4 && i.every((x) => x.complete && x.naturalWidth > 0); }",
            timeout=60_000,
        )
        item = int(last.answer["vigil-item"])
        await page.click(f'.jg-cell[data-item="{item}"] a')
        await page.wait_for_function(
            "() => document.querySelector('dialog.lib-viewer video')?.currentTime > 0.3",
            timeout=30_000,
        )
        started = await page.evaluate("document.querySelector('dialog video').currentTime")
        await page.wait_for_function(
            f"() => document.querySelector('dialog video').currentTime > {started} + 0.3",
            timeout=30_000,
        )
        stored = await site.services.library.store.item(TEST_ORG, item)
        assert (stored.size, stored.status, stored.kind) == (size, "ready", "video")


async def test_refused_files_say_why_on_a_phone(
    uploads: UploadSite,
    browser: Browser,
    big_video: Path,
    secret_watch: SecretWatch,
    tmp_path: Path,
) -> None:
    site = uploads.site
    event = await site.add_event("Spring concert", "2026-04-01T18:00:00Z", ["3A"])
    (known,) = files(tmp_path, 1, seed=20)
    await site.add_item("Spring concert", known.read_bytes(), filename="already.jpg")
    disguised = tmp_path / "holiday.jpg"
    disguised.write_bytes(b"%PDF-1.7\n" + b"1 0 obj << /Type /Catalog >> endobj\n" * 300)
    async with signed_in_context(
        browser, site, "teacher", secret_watch, PHONE, has_touch=True
    ) as context:
        page = await with_axe(await context.new_page())
        await page.goto(f"{uploads.base}/#library?event={event}")
        await page.wait_for_selector(".lib-drop")
        chooser = page.locator(".lib-drop input[type=file]")
        assert await chooser.get_attribute("accept") == "image/*,video/*"
        assert await chooser.get_attribute("multiple") is not None
        await chooser.set_input_files([disguised, known])
        await wait_state(page, "holiday.jpg", "refused")
        assert await page.inner_text(f"{entry('holiday.jpg')} .lib-upload-state") == (
            "Refused: This file is a PDF document (application/pdf), not a picture or a video."
        )
        await wait_state(page, known.name, "duplicate")
        assert "Already in the library" in await page.inner_text(entry(known.name))
        assert await page.get_attribute(f"{entry(known.name)} a", "href") == (
            f"#library?event={event}&item={site.items['Spring concert'][0]['id']}"
        )
        assert await serious_violations(page) == []

        # Over the plan's space: refused before a byte is sent, with what is left.
        plan = Plan(name="Small", storage_bytes=50 * MB, created_at=now_ms())
        await site.services.library.store.add(plan)
        await site.services.library.store.set_plan(TEST_ORG, plan.id)
        try:
            await chooser.set_input_files([big_video])
            await wait_state(page, big_video.name, "refused")
            words = await page.inner_text(f"{entry(big_video.name)} .lib-upload-state")
            assert words.startswith(
                f"Refused: The upload is {big_video.stat().st_size} bytes but only "
            )
            assert words.endswith(" bytes are left in your plan.")
        finally:
            await site.services.library.store.set_plan(TEST_ORG, None)
        assert await serious_violations(page) == []


async def test_a_paused_and_then_reloaded_upload_goes_on_from_where_the_server_stood(
    uploads: UploadSite, browser: Browser, big_video: Path, secret_watch: SecretWatch
) -> None:
    site, recorder, proxy = uploads.site, uploads.recorder, uploads.proxy
    event = await site.add_event("Trip", "2026-03-10T08:30:00Z", ["3B"])
    size = big_video.stat().st_size
    # A copy the library does not have yet (the first test uploaded this very file).
    copy = big_video.with_name("trip.mp4")
    data = bytearray(big_video.read_bytes())
    data[-1] ^= 0xFF  # the last byte of the media data: still a playable file
    copy.write_bytes(data)
    name = copy.name
    since = len(recorder.asked)
    proxy.rate = 12 * MB  # slow enough to pause and reload mid-way
    try:
        async with signed_in_context(browser, site, "teacher", secret_watch) as context:
            page = await with_axe(await context.new_page())
            await page.goto(f"{uploads.base}/#library?event={event}")
            await page.wait_for_selector(".lib-drop")
            await page.set_input_files(".lib-drop input[type=file]", [copy])
            await wait_sent(page, name, 5)
            await page.click(f"{entry(name)} button:has-text('Pause')")
            await wait_state(page, name, "paused")
            assert (await page.inner_text(f"{entry(name)} .lib-upload-state")).startswith(
                "Paused at"
            )
            assert await serious_violations(page) == []
            location = recorder.upload_of(size, since)
            paused_at = await server_offset(site, location)
            assert 0 < paused_at < size

            await page.click(f"{entry(name)} button:has-text('Resume')")
            await wait_sent(page, name, 30)
            await page.reload()
            note = page.locator(f'.lib-unfinished li[data-name="{name}"]')
            await note.wait_for(timeout=20_000)
            reloaded_at = await server_offset(site, location)
            assert reloaded_at > paused_at
            assert f"{name}: {reloaded_at * 100 // size}% sent" in await note.inner_text()
            assert await serious_violations(page) == []

            # The same file chosen again continues; nothing is sent twice.
            proxy.rate = None
            await page.set_input_files(".lib-drop input[type=file]", [copy])
            await wait_state(page, name, "ready")
            assert await page.locator(".lib-unfinished").count() == 0
    finally:
        proxy.rate = None
    assert len(recorder.created(size, since)) == 1  # created once, then only continued
    spans = stored_spans(recorder.to(location))
    starts = [start for start, _ in spans]
    assert starts[:2] == [0, FIRST_BYTES]
    assert paused_at in starts  # after Resume, from where the pause left it
    assert starts[-1] == reloaded_at  # after the reload, from where the server stood
    assert spans[-1][1] == size
    item = [a for a in recorder.to(location) if a.status == 204][-1].answer["vigil-item"]
    stored = await site.services.library.store.item(TEST_ORG, int(item))
    assert (stored.size, stored.status) == (size, "ready")
