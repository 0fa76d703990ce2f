"""Screenshots of every page of the web app, light and dark, for docs/screenshots/.

Runs ``vigil demo`` on a fresh data folder and a free port, signs in as the demo's admin,
lets the cameras record and the first camera detect for ``--wait`` seconds, then takes each
page in headless Chromium at 1280x800 in both themes and the main pages at a phone's
375x812. Run it from the repository root:

    .venv/bin/python scripts/screenshots.py            # writes docs/screenshots/*.png
    .venv/bin/python scripts/screenshots.py --out /tmp/shots --wait 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.async_api import Browser, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
DESK = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
# name: (address after the host, what must be on screen, taken on a phone too)
PAGES = {
    "live": ("/#live", ".tile video", True),
    "recordings": ("/#recordings?camera=1", "main canvas, main video", True),
    "events": ("/#events", "main", True),
    "cameras": ("/#cameras", "main", True),
    "camera-edit": ("/#cameras?edit=1", "main form", False),
    "login": ("/login", "form", False),
}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def sign_in(base: str, data_dir: Path) -> list[dict[str, str]]:
    """Wait for the demo, sign in as its admin; the session cookies for the browser."""
    password_file = data_dir / "state" / "demo-admin-password"
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        deadline = time.monotonic() + 90
        while not password_file.exists() or not await _up(http):
            if time.monotonic() > deadline:
                raise SystemExit("the demo did not start within 90 s")
            await asyncio.sleep(0.5)
        password = password_file.read_text().strip()
        answer = await http.post(
            "/api/auth/login", json={"username": "admin", "password": password}
        )
        answer.raise_for_status()
        return [{"name": c.name, "value": c.value or "", "url": base} for c in http.cookies.jar]


async def _up(http: httpx.AsyncClient) -> bool:
    with contextlib.suppress(httpx.TransportError):
        return (await http.get("/api/health")).status_code == 200
    return False


async def shoot(
    browser: Browser, base: str, cookies: list[dict[str, str]], out: Path, phone: bool
) -> None:
    for theme in ("light", "dark"):
        context = await browser.new_context(
            viewport=PHONE if phone else DESK, color_scheme=theme, device_scale_factor=1
        )
        await context.add_cookies(cookies)  # type: ignore[arg-type]
        page = await context.new_page()
        for name, (path, ready, on_phone) in PAGES.items():
            if phone and (not on_phone or theme == "dark"):
                continue
            if name == "login":
                await context.clear_cookies()
            await page.goto(base + path)
            try:
                await page.wait_for_selector(ready, timeout=15_000)
            except PlaywrightTimeout:
                print(f"{name}: {ready!r} not on screen after 15 s", file=sys.stderr)
            await page.wait_for_timeout(4000)  # videos playing, thumbnails in
            suffix = "phone" if phone else theme
            # The camera editor is long: its zone editor is below the first screen.
            await page.screenshot(
                path=str(out / f"{name}-{suffix}.png"), full_page=name == "camera-edit"
            )
            print(f"{name}-{suffix}.png", flush=True)
        await context.close()


async def run(args: argparse.Namespace) -> None:
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="vigil-screenshots-")) / "demo"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    demo = subprocess.Popen(
        [sys.executable, "-m", "vigil", "demo", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        cookies = await sign_in(base, data_dir)
        await asyncio.sleep(args.wait)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=ARGS
            )
            await shoot(browser, base, cookies, out, phone=False)
            await shoot(browser, base, cookies, out, phone=True)
            await browser.close()
    finally:
        demo.terminate()
        demo.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--wait", type=float, default=60, help="seconds of recording first")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
