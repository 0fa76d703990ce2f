"""First load of the web app: bytes over the wire (as compressed on the wire) and time until
a person can use it, on loopback.

Starts ``vigil serve`` on a fresh data folder (first-run setup through the API, then
``--cameras`` simulated cameras), then opens ``/`` in headless Chromium with an empty cache,
``--runs`` times. For each load it adds up what the Network domain of the DevTools protocol
reports per response (``encodedDataLength``: headers and body as sent, compressed), split
into the app's own code (``/static/app/``, ``api.js``, ``player.js``, the stylesheet), the
vendored Preact and htm, hls.js, and the API's answers; and it times, from navigation start,
DOMContentLoaded and *interactive*: the shell drawn (who is signed in) with its navigation.
The baseline in the same run is the sign-in page, a plain server-rendered form.

    .venv/bin/python -m bench.console_load
    .venv/bin/python -m bench.console_load --runs 10 --cameras 4
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, CDPSession, Page, async_playwright

from bench.live import free_port, set_up_admin, wait_healthy
from bench.output import write_result
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from vigil.sim.runner import SimulatedCameras

# The app's own files, by path prefix; anything else under /static/vendor/ is vendored.
OWN = (
    "/static/app/",
    "/static/api.js",
    "/static/player.js",
    "/static/load_hls.js",
    "/static/vigil.css",
)
PARTS = ("own", "preact+htm", "hls.js", "api", "page", "other")


def part_of(path: str) -> str:
    if path.startswith(OWN):
        return "own"
    if path.startswith(("/static/vendor/preact/", "/static/vendor/htm/")):
        return "preact+htm"
    if path.startswith("/static/vendor/hls"):
        return "hls.js"
    if path.startswith("/api/"):
        return "api"
    if path in ("/", "/login"):
        return "page"
    return "other"


async def load(
    browser: Browser, base: str, cookies: list[Any], path: str, ready: str
) -> dict[str, Any]:
    """One cold load of ``path``: bytes by part, and the times to DOMContentLoaded and to
    ``ready`` (a selector) being visible, in ms from navigation start."""
    context = await browser.new_context()
    await context.add_cookies(cookies)
    page: Page = await context.new_page()
    cdp: CDPSession = await context.new_cdp_session(page)
    await cdp.send("Network.enable")
    await cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    urls: dict[str, str] = {}
    sizes = dict.fromkeys(PARTS, 0)
    cdp.on(
        "Network.responseReceived", lambda e: urls.__setitem__(e["requestId"], e["response"]["url"])
    )

    def finished(event: dict[str, Any]) -> None:
        url = urls.get(event["requestId"], "")
        sizes[part_of(httpx.URL(url).path if url else "")] += int(event["encodedDataLength"])

    cdp.on("Network.loadingFinished", finished)
    await page.goto(base + path)
    await page.wait_for_selector(ready, state="visible", timeout=30_000)
    interactive = await page.evaluate("performance.now()")
    timing = await page.evaluate(
        "JSON.parse(JSON.stringify(performance.getEntriesByType('navigation')[0]))"
    )
    await page.wait_for_load_state("networkidle")
    await context.close()
    return {
        "bytes": sizes,
        "dom_content_loaded_ms": round(timing["domContentLoadedEventEnd"], 1),
        "interactive_ms": round(interactive, 1),
    }


def summary(loads: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "bytes": {part: statistics.median(run["bytes"][part] for run in loads) for part in PARTS},
        "dom_content_loaded_ms": statistics.median(run["dom_content_loaded_ms"] for run in loads),
        "interactive_ms": statistics.median(run["interactive_ms"] for run in loads),
        "interactive_ms_max": max(run["interactive_ms"] for run in loads),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="vigil-bench-console-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with SimulatedCameras(cameras=max(args.cameras, 1), width=640, height=360, fps=10) as sim:
        env = {**os.environ, "VIGIL_DATA_DIR": str(work / "data")}
        server = subprocess.Popen(
            [sys.executable, "-m", "vigil", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            async with httpx.AsyncClient(base_url=base, timeout=10) as http:
                await wait_healthy(http)
                await set_up_admin(http)
                for index in range(args.cameras):
                    created = await http.post(
                        "/api/cameras",
                        json={"name": f"Camera {index + 1}", "main_url": sim.urls[index]},
                    )
                    created.raise_for_status()
                cookies = [
                    {"name": c.name, "value": c.value or "", "url": base} for c in http.cookies.jar
                ]
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                app, login = [], []
                for _ in range(args.runs):
                    app.append(await load(browser, base, cookies, "/", "[data-username]"))
                    login.append(await load(browser, base, [], "/login", "form button"))
                await browser.close()
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
    result = {
        "bench": "console_load",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runs": args.runs,
        "cameras": args.cameras,
        "app": summary(app),
        "baseline_login_page": summary(login),
    }
    return result


def report(result: dict[str, Any]) -> None:
    app, login = result["app"], result["baseline_login_page"]
    kb = {part: value / 1024 for part, value in app["bytes"].items()}
    print(
        f"first load of / with {result['cameras']} cameras, median of {result['runs']} cold loads"
    )
    print(
        f"  bytes on the wire: own code {kb['own']:.1f} KB (target < 150 KB), "
        f"Preact+htm {kb['preact+htm']:.1f} KB, hls.js {kb['hls.js']:.1f} KB, "
        f"API {kb['api']:.1f} KB, page {kb['page']:.1f} KB"
    )
    print(
        f"  interactive {app['interactive_ms']:.0f} ms (max {app['interactive_ms_max']:.0f}), "
        f"DOMContentLoaded {app['dom_content_loaded_ms']:.0f} ms"
    )
    print(
        f"  baseline, the sign-in page: interactive {login['interactive_ms']:.0f} ms, "
        f"{sum(login['bytes'].values()) / 1024:.1f} KB"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--out", type=Path, help="JSON result path (default: in bench/results/)")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    report(result)
    out = write_result(result, args.out, f"console_load-{int(time.time())}.json")
    print(f"written {out}")


if __name__ == "__main__":
    main()
