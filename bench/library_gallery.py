"""The library's event page with thousands of items: how soon the grid shows, and how smoothly
it scrolls, in headless Chromium on loopback.

    .venv/bin/python -m bench.library_gallery                   # 2,000 items, 10 s of scrolling
    .venv/bin/python -m bench.library_gallery --items 5000 --scroll-seconds 20

One library event of ``--items`` ready items (pictures of a dozen shapes, landscape to portrait
and panoramas; their thumbnails are real JPEGs in the local store, shared between items) is
written straight into a fresh data folder (rows, then the search index rebuilt), then
``vigil serve`` serves it in a process of its own. Chromium opens ``/#library?event=<id>``
cold (a new context, an empty cache), signed in as the school's admin, at 1280x800,
``--loads`` times one after another (the first also meets a server that has just started),
and the page reports, in ms from navigation start (each load's, and their median):

- **shell drawn**: the app's shell shows who is signed in (as ``bench.console_load`` times it:
  the modules loaded, ``/api/me`` answered), the baseline of any page of the app;
- **grid drawn**: the first row of tiles is in the page (the first page of 200 items read);
- **first screen painted**: every thumbnail on the first screen has loaded, one frame later;
- **LCP**: Chromium's largest contentful paint.

Then the last load's page scrolls down at ``--speed`` px/s, one step a frame, for
``--scroll-seconds`` or to the end (the page reads the next 200 items as the end of the grid
nears): every frame's time (p50, p95, p99, max, and the share over 33 ms: a frame missed at
30 fps) and the long tasks (over 50 ms, from the Long Tasks API) while scrolling, how many
items the grid then holds and how many thumbnails have loaded. Target: first screen painted
under 1 s (UI.md). Figures only, written to a JSON file; the box's load average beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageDraw
from playwright.async_api import Page, async_playwright

from bench.auth import browser_cookies, free_port, server
from bench.output import write_result
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from vigil.app import start_services, stop_services
from vigil.settings import Settings
from vigil.store.models import LibraryEvent, MediaItem
from vigil.timeutil import now_ms

PASSWORD = "bench-amber-lantern-47"
VIEWPORT = {"width": 1280, "height": 800}
TARGET_MS = 1000
# Shapes of pictures as cameras and phones take them (width, height), thumbnails' sizes.
SHAPES = [(320, 240), (240, 320), (320, 180), (320, 213), (300, 300), (320, 107), (180, 320)]

# Watching the page from before its first script: long tasks, LCP, and the frame in which the
# first screen of thumbnails is complete.
WATCH = """
window.__bench = { longTasks: [], lcp: null, shell: null, drawn: null, painted: null };
new PerformanceObserver((list) => list.getEntries().forEach(
  (e) => window.__bench.longTasks.push([e.startTime, e.duration]),
)).observe({ type: "longtask", buffered: true });
new PerformanceObserver((list) => list.getEntries().forEach(
  (e) => { window.__bench.lcp = e.startTime; },
)).observe({ type: "largest-contentful-paint", buffered: true });
(function frame() {
  const b = window.__bench;
  if (b.shell === null && document.querySelector("[data-username]")) b.shell = performance.now();
  const tiles = [...document.querySelectorAll(".jg-tile img")];
  if (tiles.length && b.drawn === null) b.drawn = performance.now();
  const seen = tiles.filter((i) => i.getBoundingClientRect().top < innerHeight);
  if (seen.length && seen.every((i) => i.complete && i.naturalWidth > 0)) {
    requestAnimationFrame(() => { b.painted = performance.now(); });
    return;
  }
  requestAnimationFrame(frame);
})();
"""

SCROLL = """async ([speed, seconds, total]) => {
  const frames = [];
  const longBefore = window.__bench.longTasks.length;
  const start = performance.now();
  let last = start;
  await new Promise((done) => {
    function step(now) {
      frames.push(now - last);
      last = now;
      window.scrollBy(0, (speed * frames[frames.length - 1]) / 1000);
      const bottom = innerHeight + scrollY >= document.documentElement.scrollHeight - 2;
      const all = bottom && document.querySelectorAll('.jg-tile').length >= total;
      if (now - start >= seconds * 1000 || all) done();
      else requestAnimationFrame(step);
    }
    requestAnimationFrame(step);
  });
  const images = [...document.querySelectorAll('.jg-tile img')];
  return {
    frames: frames.slice(1),
    seconds: (performance.now() - start) / 1000,
    scrolled_px: scrollY,
    long_tasks: window.__bench.longTasks.slice(longBefore).map(([, d]) => d),
    tiles: document.querySelectorAll('.jg-tile').length,
    thumbnails_loaded: images.filter((i) => i.complete && i.naturalWidth > 0).length,
  };
}"""


def thumbnail(width: int, height: int, n: int) -> bytes:
    image = Image.new("RGB", (width, height), ((n * 53) % 256, (n * 97) % 256, (n * 31) % 256))
    draw = ImageDraw.Draw(image)
    draw.ellipse([width // 4, height // 4, 3 * width // 4, 3 * height // 4], fill=(240, 240, 240))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


async def seed(data_dir: Path, items: int) -> int:
    """The school, its admin, one library event of ``items`` ready items; the event's id."""
    services = await start_services(Settings(data_dir=data_dir))
    try:
        admin = await services.auth.create_admin("Bench school", "bench-admin", PASSWORD)
        event = LibraryEvent(
            org_id=admin.org_id, name="Sports day", description=None, place="Playing field",
            start_ms=now_ms(), end_ms=None, group_ids=[], archived=False,
            created_by_id=admin.id, created_at=now_ms(), updated_at=now_ms(),
        )  # fmt: skip
        await services.library.store.add(event)
        store = services.library.stores.hot
        keys = []
        for n, (width, height) in enumerate(SHAPES * 3):
            key = f"{admin.org_id}/bench/thumb-{n}.jpg"
            await store.put_bytes(key, thumbnail(width, height, n))
            keys.append((key, width, height))
        start = now_ms() - items * 1000
        async with services.db.write() as session:
            for n in range(items):
                key, width, height = keys[n % len(keys)]
                session.add(
                    MediaItem(
                        org_id=admin.org_id, event_id=event.id, kind="image", source="upload",
                        title=f"Photo {n + 1}", description=None, tags=["sport"], labels=[],
                        camera_id=None, captured_at=start + n * 1000, uploaded_by_id=admin.id,
                        uploader="bench-admin", group_ids=[], filename=f"IMG_{n:05}.jpg",
                        mime="image/jpeg", size=20_000, sha256=f"{n:064x}", width=width * 10,
                        height=height * 10, duration_ms=None, status="ready", progress=1.0,
                        error=None, storage=store.name, key=key, web_key=None, poster_key=None,
                        thumb_key=key, stored_bytes=20_000, views=0, downloads=0,
                        created_at=now_ms(), updated_at=now_ms(),
                    )
                )  # fmt: skip
        await services.library.search.rebuild(admin.org_id)
        return event.id
    finally:
        await stop_services(services)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else 0.0


OPENING = ("shell", "drawn", "painted", "lcp")


async def open_cold(page: Page, base: str, event_id: int) -> dict[str, Any]:
    """The event page opened in ``page`` (a fresh context): its times from navigation start."""
    await page.add_init_script(WATCH)
    await page.goto(f"{base}/#library?event={event_id}")
    await page.wait_for_function("() => window.__bench.painted !== null", timeout=60_000)
    opened: dict[str, Any] = await page.evaluate("window.__bench")
    return opened


async def scroll(page: Page, args: argparse.Namespace) -> dict[str, Any]:
    scrolled = await page.evaluate(SCROLL, [args.speed, args.scroll_seconds, args.items])
    frames = scrolled["frames"]
    missed = sum(f > 33.4 for f in frames)  # a frame missed at 30 fps
    return {
        "seconds": round(scrolled["seconds"], 2),
        "scrolled_px": scrolled["scrolled_px"],
        "frames": len(frames),
        "frame_ms_p50": round(statistics.median(frames), 1) if frames else 0,
        "frame_ms_p95": round(percentile(frames, 95), 1),
        "frame_ms_p99": round(percentile(frames, 99), 1),
        "frame_ms_max": round(max(frames, default=0), 1),
        "frames_over_33ms_pct": round(100 * missed / max(len(frames), 1), 1),
        "long_tasks": len(scrolled["long_tasks"]),
        "long_task_ms_total": round(sum(scrolled["long_tasks"]), 1),
        "long_task_ms_max": round(max(scrolled["long_tasks"], default=0), 1),
        "tiles": scrolled["tiles"],
        "thumbnails_loaded": scrolled["thumbnails_loaded"],
    }


def figures_of(opened: dict[str, Any]) -> dict[str, float | None]:
    return {k: round(opened[k], 1) if opened[k] is not None else None for k in OPENING}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="vigil-bench-gallery-")) / "data"
    event_id = await seed(data_dir, args.items)
    loads = []
    with server(data_dir, free_port()) as (base, _pid):
        cookies = await browser_cookies(base, "bench-admin", PASSWORD)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                for n in range(args.loads):
                    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
                    await context.add_cookies(cookies)  # type: ignore[arg-type]
                    page = await context.new_page()
                    loads.append(figures_of(await open_cold(page, base, event_id)))
                    if n == args.loads - 1:
                        scrolled = await scroll(page, args)
                    await context.close()
            finally:
                await browser.close()
    median: dict[str, float | None] = {}
    for key in OPENING:
        values = [v for x in loads if (v := x[key]) is not None]
        median[key] = round(statistics.median(values), 1) if values else None
    return {
        "bench": "library_gallery",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "items": args.items,
        "speed_px_s": args.speed,
        "target_first_screen_ms": TARGET_MS,
        "loads": loads,
        "median": median,
        "scroll": scrolled,
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
    }


def report(result: dict[str, Any]) -> None:
    s = result["scroll"]
    print(f"library event of {result['items']} items, 1280x800, {len(result['loads'])} cold loads")
    print("| load | shell drawn ms | grid drawn ms | first screen painted ms | LCP ms | target |")
    print("|---|---|---|---|---|---|")
    rows = [(f"{n}", load) for n, load in enumerate(result["loads"], start=1)]
    for name, load in [*rows, ("median", result["median"])]:
        print(
            f"| {name} | {load['shell'] or 0:.0f} | {load['drawn'] or 0:.0f} "
            f"| {load['painted'] or 0:.0f} | {load['lcp'] or 0:.0f} "
            f"| < {result['target_first_screen_ms']} |"
        )
    print(f"scrolling at {result['speed_px_s']} px/s for {s['seconds']} s ({s['scrolled_px']} px)")
    print("| frames | p50 ms | p95 ms | p99 ms | max ms | over 33 ms | long tasks (total ms) |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {s['frames']} | {s['frame_ms_p50']} | {s['frame_ms_p95']} | {s['frame_ms_p99']} "
        f"| {s['frame_ms_max']} | {s['frames_over_33ms_pct']} % "
        f"| {s['long_tasks']} ({s['long_task_ms_total']}) |"
    )
    print(
        f"then {s['tiles']} tiles in the grid, {s['thumbnails_loaded']} thumbnails loaded; "
        f"load average {result['load_average'][0]:.1f} on {result['cpus']} CPUs"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--loads", type=int, default=5, help="cold loads (the last scrolls)")
    parser.add_argument("--scroll-seconds", type=float, default=10)
    parser.add_argument("--speed", type=float, default=4000, help="px/s")
    parser.add_argument("--out", type=Path, help="JSON result path (default: in bench/results/)")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    report(result)
    out = write_result(result, args.out, f"library_gallery-{int(time.time())}.json")
    print(f"written {out}")


if __name__ == "__main__":
    main()
