"""The live grid of 16 cameras in a browser: time from opening it to every tile playing, and
the browser's CPU while it plays, on sub streams and then on main streams.

Starts two simulators of 16 cameras each (a small main stream and a smaller sub stream),
``vigil serve`` in a process of its own, signs in through the first-run setup, adds the 16
cameras (main and sub addresses) and sets the grid's layout to 16 a page (the user's
preferences on the server). Then, in headless Chromium at 1280x800:

1. sub streams: opens the Live page and times from the navigation until every tile's video is
   past ``--played`` seconds and still advancing; then samples the CPU (user + system, read
   from /proc) of Chromium's whole process tree over ``--seconds`` of playing. The node
   starts a sub stream when its first viewer comes: the first opening is timed (cold), then
   a second one while the sub streams still run (warm);
2. main streams (always running: they are recorded): takes the cameras' sub addresses away
   (the grid then plays the main stream, as it does for a camera with none), opens the page
   again, and measures the same.

    .venv/bin/python -m bench.console_live
    .venv/bin/python -m bench.console_live --cameras 16 --seconds 20 --main 640x360 --sub 320x180

Target (docs/web.md, the UI budgets): every tile playing within 3 s of opening (goal 2 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from playwright.async_api import BrowserContext, async_playwright

from bench.live import free_port, sample_for, set_up_admin, wait_healthy
from bench.output import write_result
from bench.proctree import TreeTracker, window
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from vigil.sim.runner import SimulatedCameras

TARGET_S = 3.0
# Every tile's currentTime, or -1 where there is no video yet.
TIMES = "() => Array.from(document.querySelectorAll('.tile video'), (v) => v.currentTime)"


def size(text: str) -> tuple[int, int]:
    width, height = text.lower().split("x")
    return int(width), int(height)


def chromium_roots() -> list[int]:
    """This process's descendants named chromium whose parent is not one: the browsers."""
    me = psutil.Process()
    found = []
    for proc in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            parent = proc.parent()
            if "chrom" in proc.name() and (parent is None or "chrom" not in parent.name()):
                found.append(proc.pid)
    return found


async def wait_streaming(http: httpx.AsyncClient, count: int) -> None:
    deadline = time.monotonic() + 120
    while True:
        cameras = (await http.get("/api/cameras")).json()
        if len(cameras) == count and all(c["status"]["state"] == "streaming" for c in cameras):
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the cameras did not all stream within 2 minutes")
        await asyncio.sleep(0.5)


async def phase(
    context: BrowserContext, base: str, count: int, args: argparse.Namespace, label: str
) -> dict[str, Any]:
    """Open the grid; time until all ``count`` tiles play; then Chromium's CPU while playing."""
    page = await context.new_page()
    try:
        opened = time.monotonic()
        await page.goto(base + "/")
        previous: list[float] = []
        playing_s = None
        deadline = opened + 60
        while time.monotonic() < deadline:
            times = list(await page.evaluate(TIMES))
            if (
                len(times) == count
                and len(previous) == count
                and all(t > args.played for t in times)
                and all(t > p for t, p in zip(times, previous, strict=True))
            ):
                playing_s = time.monotonic() - opened
                break
            previous = times
            await asyncio.sleep(0.1)
        if playing_s is None:
            raise RuntimeError(f"{label}: not every tile played within 60 s: {previous}")
        await asyncio.sleep(args.warmup)
        tracker = TreeTracker("chromium", chromium_roots())
        start, end = await sample_for(tracker, args.seconds, 1.0)
        stats = window(tracker.samples, start, end)
        if args.screenshot:
            await page.screenshot(path=f"{args.screenshot}-{label.replace(', ', '-')}.png")
        widths = await page.evaluate(
            "() => Array.from(document.querySelectorAll('.tile video'), (v) => v.videoWidth)"
        )
        result = {
            "streams": label,
            "video_width": max(widths),
            "all_playing_s": round(playing_s, 2),
            "chromium_cpu_pct": round(stats.cpu_pct, 1),
            "chromium_pss_mb": round(stats.pss_mean / 1e6, 1),
        }
        verdict = "within" if playing_s < TARGET_S else "OVER"
        print(
            f"{label} ({result['video_width']} px wide): all {count} tiles playing "
            f"{playing_s:.2f} s after opening ({verdict} the {TARGET_S:.0f} s target); "
            f"Chromium {stats.cpu_pct:.1f}% of one core over {end - start:.0f} s, "
            f"{result['chromium_pss_mb']} MB PSS",
            flush=True,
        )
        return result
    finally:
        await page.close()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    if not shutil.which(CHROMIUM):
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install chromium")
    count = args.cameras
    main_w, main_h = size(args.main)
    sub_w, sub_h = size(args.sub)
    clip = {"fps": args.fps, "loop_seconds": 20, "audio": False}
    work = Path(tempfile.mkdtemp(prefix="vigil-bench-console-live-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    phases: list[dict[str, Any]] = []
    try:
        with (
            SimulatedCameras(
                cameras=count, width=main_w, height=main_h, bitrate_kbps=800, **clip
            ) as main,
            SimulatedCameras(
                cameras=count, width=sub_w, height=sub_h, bitrate_kbps=250, **clip
            ) as sub,
        ):
            env = {**os.environ, "VIGIL_DATA_DIR": str(work / "data")}
            node = subprocess.Popen(
                [sys.executable, "-m", "vigil", "serve", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                    await wait_healthy(http)
                    await set_up_admin(http)
                    cookies = {
                        name: value
                        for name, value in http.cookies.items()
                        if name in ("vigil_session", "vigil_csrf")
                    }
                    ids = []
                    for n in range(count):
                        body = {
                            "name": f"Camera {n + 1}",
                            "main_url": main.urls[n],
                            "sub_url": sub.urls[n],
                        }
                        created = await http.post("/api/cameras", json=body)
                        created.raise_for_status()
                        ids.append(created.json()["id"])
                    saved = await http.put("/api/me/preferences", json={"layout": "16"})
                    saved.raise_for_status()
                    await wait_streaming(http, count)
                    async with async_playwright() as playwright:
                        browser = await playwright.chromium.launch(
                            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                        )
                        try:
                            context = await browser.new_context(
                                viewport={"width": 1280, "height": 800}
                            )
                            await context.add_cookies(
                                [{"name": k, "value": v, "url": base} for k, v in cookies.items()]
                            )
                            # The node starts a camera's sub stream when its first viewer
                            # comes (cold), and keeps it a while after the last one leaves.
                            phases.append(await phase(context, base, count, args, "sub, cold"))
                            phases.append(await phase(context, base, count, args, "sub, warm"))
                            for camera in ids:
                                taken = await http.patch(
                                    f"/api/cameras/{camera}", json={"sub_url": None}
                                )
                                taken.raise_for_status()
                            await wait_streaming(http, count)
                            phases.append(await phase(context, base, count, args, "main"))
                        finally:
                            await browser.close()
            finally:
                node.terminate()
                try:
                    node.wait(30)
                except subprocess.TimeoutExpired:
                    node.kill()
                    node.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "bench": "console_live",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cameras": count,
        "main": args.main,
        "sub": args.sub,
        "fps": args.fps,
        "seconds": args.seconds,
        "cpus": os.cpu_count(),
        "target_s": TARGET_S,
        "phases": phases,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=16)
    parser.add_argument("--main", default="640x360", help="main stream size")
    parser.add_argument("--sub", default="320x180", help="sub stream size")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--played", type=float, default=0.5, help="seconds each tile must pass")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before sampling CPU")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of CPU sampling")
    parser.add_argument(
        "--screenshot", help="save the grid of each opening to PREFIX-<streams>.png"
    )
    parser.add_argument("--out", type=Path, help="JSON result path (default: in bench/results/)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = asyncio.run(run(args))
    path = write_result(result, args.out, f"console_live-{result['when'].replace(':', '')}.json")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
