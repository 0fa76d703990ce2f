"""Uploading from the browser: the library page's tus-js-client against a Python tus client
(tuspy), the same file to the same server in the same run, over loopback.

    .venv/bin/python -m bench.browser_upload                 # 1 GiB, once each
    .venv/bin/python -m bench.browser_upload --size 2 --runs 2

``vigil serve`` on a fresh data folder (SQLite, the local store), a library event, and one
file on disk of ``--size`` GiB: a real tiny MP4 whose media box runs to the end, filled with
seeded random bytes (``bench.uploads.tiny_mp4``), so it is taken as a video. Then, ``--runs``
times in turn:

- **the page**: headless Chromium, signed in as the school's admin, opens the event's page and
  the file is chosen in its upload panel; the page sends it as it does for anyone
  (tus-js-client 4, the first 64 KiB alone, then the rest in one PATCH). Timed inside the page
  from the Resource Timing entries of its requests: from the start of the POST that creates
  the upload to the end of the answer to its last PATCH.
- **tuspy** (1.1, ``requests``): the same file from disk with an API key, in PATCHes of
  ``--chunk-mb`` (64 MiB, as ``bench.uploads``), timed from the POST to the last answer.

Before each upload the file's last 8 bytes change, so the library never takes it for one it
already has (a duplicate skips storing and processing). The server's own work (writing,
fsync, SHA-256, the store) is in both; the target is the page at 0.8 of tuspy's throughput or
better. Figures only, written to a JSON file, with the box's load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if not __package__:  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.async_api import Browser, async_playwright
from tusclient import client as tus

from bench.auth import browser_cookies, free_port, server
from bench.output import write_result
from bench.uploads import tiny_mp4
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from vigil.app import start_services, stop_services
from vigil.auth.permissions import Scope
from vigil.auth.tokens import new_api_key, token_hash
from vigil.settings import Settings
from vigil.store.models import LibraryEvent
from vigil.timeutil import now_ms

PASSWORD = "bench-amber-lantern-47"
MIB = 1 << 20
GIB = 1 << 30
TARGET_RATIO = 0.8

# The page's tus requests, from its Resource Timing entries: the POST to /api/uploads and
# the requests to the upload it made.
TIMED = """() => {
  const entries = performance.getEntriesByType('resource')
    .filter((e) => new URL(e.name).pathname.startsWith('/api/uploads'));
  const created = entries.filter((e) => new URL(e.name).pathname === '/api/uploads');
  const sent = entries.filter((e) => new URL(e.name).pathname !== '/api/uploads');
  return { start: Math.min(...created.map((e) => e.startTime)),
           end: Math.max(...sent.map((e) => e.responseEnd)), requests: entries.length };
}"""


async def prepare(data_dir: Path) -> tuple[str, int]:
    """The school's admin, an API key of the ``library`` scope, a library event."""
    services = await start_services(Settings(data_dir=data_dir))
    try:
        admin = await services.auth.create_admin("Bench school", "bench-admin", PASSWORD)
        key = new_api_key()
        await services.auth.keys.create(
            admin.id, "browser upload bench", token_hash(key), [Scope.LIBRARY.value], now_ms(), None
        )
        event = LibraryEvent(
            org_id=admin.org_id, name="Sports day", description=None, place=None,
            start_ms=now_ms(), end_ms=None, group_ids=[], archived=False,
            created_by_id=admin.id, created_at=now_ms(), updated_at=now_ms(),
        )  # fmt: skip
        await services.library.store.add(event)
        return key, event.id
    finally:
        await stop_services(services)


def write_file(path: Path, size: int, head: bytes) -> None:
    block = random.Random(7).randbytes(16 * MIB)
    with path.open("wb") as out:
        out.write(head)
        left = size - len(head)
        while left > 0:
            left -= out.write(block[: min(len(block), left)])


def make_new(path: Path, run: int) -> None:
    """A file the library has not seen: its last 8 bytes changed (the media data's tail)."""
    with path.open("r+b") as file:
        file.seek(-8, os.SEEK_END)
        file.write(f"{time.time_ns() + run:016x}"[-8:].encode())


async def page_upload(
    browser: Browser, base: str, cookies: list[Any], event: int, path: Path
) -> float:
    """Seconds from the page's POST to the answer to its last PATCH."""
    context = await browser.new_context()
    try:
        await context.add_cookies(cookies)
        page = await context.new_page()
        await page.goto(f"{base}/#library?event={event}")
        await page.wait_for_selector(".lib-drop input[type=file]", state="attached", timeout=60_000)
        await page.set_input_files(".lib-drop input[type=file]", [path])
        await page.wait_for_selector(
            '.lib-upload-entry:is([data-upload-state="processing"], [data-upload-state="ready"],'
            ' [data-upload-state="failed"], [data-upload-state="duplicate"])',
            timeout=3_600_000,
        )
        state = await page.get_attribute(".lib-upload-entry", "data-upload-state")
        if state == "duplicate":
            raise RuntimeError("the library took the file for one it had")
        timed = await page.evaluate(TIMED)
        return float(timed["end"] - timed["start"]) / 1000
    finally:
        await context.close()


def tuspy_upload(base: str, key: str, event: int, path: Path, chunk: int) -> float:
    client = tus.TusClient(f"{base}/api/uploads", headers={"Authorization": f"Bearer {key}"})
    uploader = client.uploader(
        file_path=str(path),
        chunk_size=chunk,
        metadata={"filename": path.name, "event_id": str(event)},
    )
    start = time.perf_counter()
    uploader.upload()
    return time.perf_counter() - start


async def run(args: argparse.Namespace) -> dict[str, Any]:
    size = round(args.size * GIB)
    folder = Path(tempfile.mkdtemp(prefix="vigil-bench-browser-upload-"))
    data_dir = folder / "data"
    key, event = await prepare(data_dir)
    source = folder / "sports-day.mp4"
    write_file(source, size, tiny_mp4(folder))
    page_s: list[float] = []
    tuspy_s: list[float] = []
    load_before = os.getloadavg()
    with server(data_dir, free_port()) as (base, _pid):
        cookies = await browser_cookies(base, "bench-admin", PASSWORD)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                for n in range(args.runs):
                    make_new(source, 2 * n)
                    page_s.append(await page_upload(browser, base, cookies, event, source))
                    make_new(source, 2 * n + 1)
                    chunk = args.chunk_mb * MIB
                    tuspy_s.append(
                        await asyncio.to_thread(tuspy_upload, base, key, event, source, chunk)
                    )
            finally:
                await browser.close()
    source.unlink()
    page_mib_s = size / MIB / statistics.median(page_s)
    tuspy_mib_s = size / MIB / statistics.median(tuspy_s)
    return {
        "bench": "browser_upload",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "size_bytes": size,
        "runs": args.runs,
        "chunk_bytes_tuspy": args.chunk_mb * MIB,
        "page_seconds": [round(s, 2) for s in page_s],
        "tuspy_seconds": [round(s, 2) for s in tuspy_s],
        "page_mib_s": round(page_mib_s, 1),
        "tuspy_mib_s": round(tuspy_mib_s, 1),
        "ratio": round(page_mib_s / tuspy_mib_s, 3),
        "target_ratio": TARGET_RATIO,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "cpus": os.cpu_count(),
    }


def report(result: dict[str, Any]) -> None:
    print(
        f"{result['size_bytes'] / GIB:.2f} GiB over loopback, median of {result['runs']} "
        f"run(s) each, load average {result['load_average_before'][0]:.1f} before"
    )
    print("| client | MiB/s | seconds |")
    print("|---|---|---|")
    print(f"| the page (tus-js-client) | {result['page_mib_s']} | {result['page_seconds']} |")
    print(f"| tuspy | {result['tuspy_mib_s']} | {result['tuspy_seconds']} |")
    print(f"page / tuspy: {result['ratio']:.2f} (target >= {result['target_ratio']})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=float, default=1.0, help="GiB")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--chunk-mb", type=int, default=64, help="tuspy's PATCH size")
    parser.add_argument("--out", type=Path, help="JSON result path (default: in bench/results/)")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    report(result)
    out = write_result(result, args.out, f"browser_upload-{int(time.time())}.json")
    print(f"written {out}")


if __name__ == "__main__":
    main()
