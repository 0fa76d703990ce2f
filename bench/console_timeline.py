"""Drawing the Recordings page's timeline: one camera-day of 8,640 segments and 500 events.

Starts Vigil's services in-process on a fresh SQLite data folder, indexes a day of footage
for one camera straight through the store (8 s segments every 10 s, so each is its own span
with a gap after it; the files need not exist), 500 events and 1,000 motion spans; serves
the app on a free port and opens ``#recordings`` in headless Chromium (the flags of
``tests/e2e/conftest.py``) at the Day zoom. Once the day's timeline is in, the playhead is
moved with the arrow keys ``--draws`` times; each move redraws the canvas, and the page's
draw function reports its own time as a ``vigil-timeline-draw`` performance measure. Prints
the median and the maximum against the 100 ms budget for a camera-day.

    .venv/bin/python -m bench.console_timeline
    .venv/bin/python -m bench.console_timeline --draws 50 --zoom Week
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import uvicorn
from playwright.async_api import Response, async_playwright

from bench.live import free_port
from bench.output import write_result
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from vigil.api.app import create_app
from vigil.app import Services, start_services, stop_services
from vigil.link.messages import EventKind, EventRecord, EventStage, MotionSpan, SegmentRecord
from vigil.settings import Settings
from vigil.store.audit import Actor
from vigil.store.cameras import CameraFields

DAY_MS = 86_400_000
SEGMENTS = 8_640
EVENTS = 500
MOTION = 1_000
TARGET_MS = 100.0
LABELS = ["person", "car", "dog", "bicycle"]


async def fill_day(services: Services, camera_id: int, node: str, day_start: int) -> None:
    """A day of segments (each followed by a 2 s gap), events and motion, through the store."""
    step = DAY_MS // SEGMENTS
    await services.segments.add(
        node,
        [
            SegmentRecord(
                camera_id=camera_id,
                path=f"{camera_id}/bench/{i:05d}.mp4",
                start_ms=day_start + i * step,
                end_ms=day_start + i * step + step - 2000,
                size=1_000_000,
                video_codec="h264",
                width=1280,
                height=720,
                fps=15.0,
            )
            for i in range(SEGMENTS)
        ],
    )
    every = DAY_MS // EVENTS
    await services.events.store.report(
        node,
        [
            EventRecord(
                uid=f"bench-{i}",
                camera_id=camera_id,
                stage=EventStage.END,
                kind=EventKind.OBJECT,
                label=LABELS[i % len(LABELS)],
                score=0.8,
                start_ms=day_start + i * every,
                end_ms=day_start + i * every + 20_000,
                last_ms=day_start + i * every + 20_000,
            )
            for i in range(EVENTS)
        ],
    )
    every = DAY_MS // MOTION
    await services.events.store.add_motion(
        [
            MotionSpan(
                camera_id=camera_id,
                start_ms=day_start + i * every,
                end_ms=day_start + i * every + 30_000,
            )
            for i in range(MOTION)
        ]
    )


def covers_the_day(response: Response) -> bool:
    """The timeline answer of the zoomed-out view (not an earlier, narrower one)."""
    if "/timeline?" not in response.url:
        return False
    query = parse_qs(urlsplit(response.url).query)
    return float(query["end"][0]) - float(query["start"][0]) >= DAY_MS / 1000


async def measure(
    base: str, cookies: list[dict[str, Any]], at_ms: int, zoom: str, draws: int
) -> tuple[list[float], dict[str, int]]:
    """The draw times (ms) and what the timeline drew (spans, events, motion spans)."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        await context.add_cookies(cookies)  # type: ignore[arg-type]
        page = await context.new_page()
        at = datetime.fromtimestamp(at_ms / 1000, UTC).isoformat()
        await page.goto(f"{base}/#recordings?camera=1&at={at.replace('+00:00', 'Z')}")
        slider = page.get_by_role("slider", name="Timeline: time shown")
        await slider.wait_for()
        zooms = page.get_by_role("group", name="Timeline zoom")
        async with page.expect_response(covers_the_day, timeout=60_000) as answer:
            await zooms.get_by_role("button", name=zoom).click()
        body = await (await answer.value).json()
        drawn = {key: len(body[key]) for key in ("spans", "events", "motion")}
        await page.wait_for_timeout(500)  # the answer parsed and drawn
        await page.evaluate("performance.clearMeasures('vigil-timeline-draw')")
        await slider.focus()
        for _ in range(draws):
            await page.keyboard.press("ArrowRight")
            await page.wait_for_timeout(50)
        durations: list[float] = await page.evaluate(
            "performance.getEntriesByName('vigil-timeline-draw').map(e => e.duration)"
        )
        await browser.close()
        return durations, drawn


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmp:
        settings = Settings(
            data_dir=Path(tmp) / "data",
            database={"url": f"sqlite+aiosqlite:///{Path(tmp) / 'vigil.db'}"},
        )
        services = await start_services(settings)
        try:
            org = await services.auth.users.create_org("Bench")
            password = await services.auth.new_password_hash("bench-password-not-used-9", "bench")
            user = await services.auth.users.create(org.id, "bench", "admin", password)
            camera = await services.cameras.create(
                CameraFields(name="Day", main_url="rtsp://127.0.0.1:9/none", enabled=False),
                org_id=org.id,
            )
            day_start = (int(time.time() * 1000) // DAY_MS - 2) * DAY_MS
            began = time.monotonic()
            await fill_day(services, camera.id, settings.node.name, day_start)
            print(
                f"indexed {SEGMENTS} segments, {EVENTS} events in {time.monotonic() - began:.1f} s"
            )
            session = await services.auth.start_session(user, Actor())
            cookies = [
                {
                    "name": "vigil_session",
                    "value": session.token,
                    "domain": "127.0.0.1",
                    "path": "/",
                },
                {"name": "vigil_csrf", "value": session.csrf, "domain": "127.0.0.1", "path": "/"},
            ]
            port = free_port()
            server = uvicorn.Server(
                uvicorn.Config(
                    create_app(settings, services), port=port, log_config=None, access_log=False
                )
            )
            task = asyncio.create_task(server.serve())
            while not server.started:
                await asyncio.sleep(0.05)
            try:
                durations, drawn = await measure(
                    f"http://127.0.0.1:{port}",
                    cookies,
                    day_start + DAY_MS // 2,
                    args.zoom,
                    args.draws,
                )
            finally:
                server.should_exit = True
                await task
        finally:
            await stop_services(services)
    return {
        "zoom": args.zoom,
        "segments": SEGMENTS,
        "events": EVENTS,
        "motion_spans": MOTION,
        "drawn": drawn,
        "draws": len(durations),
        "median_ms": statistics.median(durations) if durations else None,
        "max_ms": max(durations) if durations else None,
        "target_ms": TARGET_MS,
        "durations_ms": durations,
    }


def main() -> None:
    logging.basicConfig(level=logging.ERROR)  # a playlist of missing files says so per file
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=30)
    parser.add_argument("--zoom", default="Day", choices=["Week", "Day", "6 h", "1 h"])
    parser.add_argument("--out", type=Path, help="JSON result path (default: in bench/results/)")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    if not result["draws"]:
        print("no draw was measured")
        return
    verdict = "within" if result["max_ms"] < TARGET_MS else "OVER"
    print(
        f"timeline draw, {result['zoom']} view of {SEGMENTS} segments + {EVENTS} events: "
        f"median {result['median_ms']:.2f} ms, max {result['max_ms']:.2f} ms over "
        f"{result['draws']} draws ({verdict} the {TARGET_MS:.0f} ms target); "
        f"drawn: {result['drawn']}"
    )
    out = write_result(result, args.out, f"console_timeline-{int(time.time())}.json")
    print(f"result: {out}")


if __name__ == "__main__":
    main()
