"""Screenshots of every page of the web app, light and dark, for docs/screenshots/.

Runs ``vigil demo`` on a fresh data folder and a free port, signs in as the demo's admin,
adds a few people, groups and grants through the API (for the administration pages), fills
the library with a few library events of made-up photographs and a short video (through the
API, as a teacher's uploads arrive), lets the cameras record and the first camera detect for
``--wait`` seconds, then takes each page in headless Chromium at 1280x800 in both themes and
the main pages at a phone's 375x812. Run it from the repository root:

    .venv/bin/python scripts/screenshots.py            # writes docs/screenshots/*.png
    .venv/bin/python scripts/screenshots.py --out /tmp/shots --wait 20
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image, ImageDraw
from playwright.async_api import Browser, ViewportSize, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

from vigil.media.ffmpeg import find_ffmpeg

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
DESK: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 375, "height": 812}
# name: (address after the host, what must be on screen, taken on a phone too)
PAGES = {
    "live": ("/#live", ".tile video", True),
    "recordings": ("/#recordings?camera=1", "main canvas, main video", True),
    "events": ("/#events", "main", True),
    "cameras": ("/#cameras", "main", True),
    "camera-edit": ("/#cameras?edit=1", "main form", False),
    "account": ("/#account", "[data-session]", True),
    "admin-people": ("/#admin?tab=people", "tr[data-user]", True),
    "admin-access": ("/#admin?tab=access", "table.matrix", False),
    "admin-audit": ("/#admin?tab=audit", "tr[data-entry]", False),
    "admin-storage": ("/#admin?tab=storage", "[data-disk]", True),
    "admin-system": ("/#admin?tab=system", "tr[data-node]", False),
    "library": ("/#library", ".lib-card img", True),
    "library-event": ("/#library?event={event}", ".jg-tile img", True),
    "library-viewer": ("/#library?event={event}&item={item}", "dialog.lib-viewer img", True),
    "search": ("/#search?q=sports", ".result-card img", True),
    "login": ("/login", "form", False),
    # "shared": the page a share link opens, added once the library has something to share
}
# Long pages, taken whole.
FULL_PAGE = {"camera-edit", "account"}
# What the demo lacks for the administration pages: people, groups and grants between them.
PEOPLE = (("amira", "operator"), ("ben", "viewer"), ("chloe", "viewer"))


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


def scene(width: int, height: int, seed: int) -> bytes:
    """A made-up landscape photograph as a JPEG: sky, sun, hills."""
    rnd = random.Random(seed)
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    sky, low = (rnd.randrange(40, 120), rnd.randrange(110, 180), 230), (250, 200, 150)
    for y in range(height):
        t = y / height
        colour = tuple(round(a + (b - a) * t) for a, b in zip(sky, low, strict=True))
        draw.line([(0, y), (width, y)], fill=colour)
    r = height // 10
    x, y = rnd.randrange(r, width - r), rnd.randrange(r, height // 2)
    draw.ellipse([x - r, y - r, x + r, y + r], fill=(255, 236, 170))
    for layer in range(3):
        base = height * (0.55 + 0.15 * layer)
        points: list[tuple[float, float]] = [(0, height)]
        for step in range(9):
            points.append((width * step / 8, base - rnd.random() * height * 0.15))
        points.append((width, height))
        shade = 60 + 40 * layer
        draw.polygon(points, fill=(shade // 3, shade, shade // 2))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


async def upload(http: httpx.AsyncClient, data: bytes, **meta: str) -> int:
    """One file through tus, as the pages send it; the library item's id once ready."""
    tus = {"Tus-Resumable": "1.0.0"}
    pairs = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())
    created = await http.post(
        "/api/uploads", headers={**tus, "Upload-Length": str(len(data)), "Upload-Metadata": pairs}
    )
    created.raise_for_status()
    sent = await http.patch(
        created.headers["location"],
        content=data,
        headers={**tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )
    sent.raise_for_status()
    item = int(sent.headers["vigil-item"])
    while (await http.get(f"/api/library/items/{item}")).json()["status"] == "processing":
        await asyncio.sleep(0.2)
    return item


async def fill_library(base: str, cookies: list[dict[str, str]], folder: Path) -> dict[str, int]:
    """Library events with photographs and a video; the ids the library pages are shot at."""
    jar = {c["name"]: c["value"] for c in cookies}
    headers = {"X-CSRF-Token": jar.get("vigil_csrf", "")}
    async with httpx.AsyncClient(base_url=base, cookies=jar, headers=headers, timeout=60) as http:
        events = {}
        for name, start, place, text in (
            ("Open day", "2026-02-07T10:00:00Z", "School hall", None),
            ("Trip to the museum", "2026-03-10T08:30:00Z", "City museum", None),
            ("Spring concert", "2026-04-01T18:00:00Z", "Main hall", "The choir and the band."),
            ("Sports day", "2026-06-12T09:00:00Z", "Playing field", "Races and relays."),
        ):
            answer = await http.post(
                "/api/library/events",
                json={"name": name, "start": start, "place": place, "description": text},
            )
            answer.raise_for_status()
            events[name] = answer.json()["id"]
        clip = folder / "start.mp4"
        subprocess.run(
            [find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
             "-i", "testsrc2=size=1280x720:rate=25", "-t", "4", "-c:v", "libx264",
             "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(clip)],
            check=True,
        )  # fmt: skip
        await upload(
            http, clip.read_bytes(), filename="start.mp4", title="The start",
            event_id=str(events["Sports day"]),
        )  # fmt: skip
        shapes = [(1600, 1200), (1200, 1600), (1600, 900), (1400, 1400), (2400, 800), (1600, 1067)]
        first = 0
        for n in range(14):
            width, height = shapes[n % len(shapes)]
            item = await upload(
                http, scene(width, height, n), filename=f"IMG_{2100 + n}.jpg",
                title=f"Relay {n + 1}", tags="sport, year 5", event_id=str(events["Sports day"]),
            )  # fmt: skip
            first = first or item
        for n, name in enumerate(("Spring concert", "Trip to the museum")):
            for k in range(3):
                await upload(http, scene(1600, 1200, 50 + 10 * n + k), event_id=str(events[name]))
    return {"event": events["Sports day"], "item": first}


async def share_event(base: str, cookies: list[dict[str, str]], event: int) -> str:
    """A detection's snapshot saved into the event (the Events page's button: a camera and a
    label for Search's facets) and a share link of the event; answers the link's page."""
    jar = {c["name"]: c["value"] for c in cookies}
    headers = {"X-CSRF-Token": jar.get("vigil_csrf", "")}
    async with httpx.AsyncClient(base_url=base, cookies=jar, headers=headers, timeout=30) as http:
        detected = (await http.get("/api/events", params={"limit": 1})).json()["events"]
        if detected:
            saved = await http.post(
                "/api/library/items/from-event",
                json={"event_id": detected[0]["id"], "library_event_id": event},
            )
            saved.raise_for_status()
        link = await http.post("/api/library/shares", json={"event_id": event, "days": 30})
        link.raise_for_status()
        return str(link.json()["page_url"])


async def _up(http: httpx.AsyncClient) -> bool:
    with contextlib.suppress(httpx.TransportError):
        return (await http.get("/api/health")).status_code == 200
    return False


async def furnish(base: str, cookies: list[dict[str, str]]) -> None:
    """Add people, user and camera groups and grants through the API, as an admin would."""
    jar = {c["name"]: c["value"] for c in cookies}
    headers = {"X-CSRF-Token": jar.get("vigil_csrf", "")}
    async with httpx.AsyncClient(base_url=base, cookies=jar, headers=headers, timeout=10) as http:
        ids = []
        for username, role in PEOPLE:
            made = await http.post(
                "/api/users",
                json={"username": username, "role": role, "email": f"{username}@example.org"},
            )
            made.raise_for_status()
            ids.append(made.json()["user"]["id"])
        cameras = [c["id"] for c in (await http.get("/api/cameras")).json()]
        made_groups = []
        for path, body in (
            ("/api/user-groups", {"name": "Teachers", "user_ids": ids[:1]}),
            ("/api/user-groups", {"name": "Parents of 4B", "user_ids": ids[1:]}),
            ("/api/camera-groups", {"name": "Entrance", "camera_ids": cameras[:2]}),
            ("/api/camera-groups", {"name": "Playground", "camera_ids": cameras[2:]}),
        ):
            answer = await http.post(path, json=body)
            answer.raise_for_status()
            made_groups.append(answer.json()["id"])
        teachers, parents, entrance, playground = made_groups
        for body in (
            {"user_group_id": teachers, "camera_group_id": entrance,
             "permissions": ["view_live", "view_recordings", "export"]},
            {"user_group_id": teachers, "camera_group_id": playground,
             "permissions": ["view_live", "view_recordings"]},
            {"user_group_id": parents, "camera_group_id": playground, "permissions": ["view_live"]},
        ):  # fmt: skip
            (await http.post("/api/grants", json=body)).raise_for_status()


async def shoot(
    browser: Browser,
    base: str,
    cookies: list[dict[str, str]],
    out: Path,
    phone: bool,
    pages: dict[str, tuple[str, str, bool]],
    ids: dict[str, int],
) -> None:
    for theme in ("light", "dark"):
        context = await browser.new_context(
            viewport=PHONE if phone else DESK, color_scheme=theme, device_scale_factor=1
        )
        await context.add_cookies(cookies)  # type: ignore[arg-type]
        page = await context.new_page()
        for name, (path, ready, on_phone) in pages.items():
            if phone and (not on_phone or theme == "dark"):
                continue
            if name in ("login", "shared"):
                await context.clear_cookies()
            await page.goto(base + path.format(**ids))
            try:
                await page.wait_for_selector(ready, timeout=15_000)
            except PlaywrightTimeout:
                print(f"{name}: {ready!r} not on screen after 15 s", file=sys.stderr)
            await page.wait_for_timeout(4000)  # videos playing, thumbnails in
            suffix = "phone" if phone else theme
            await page.screenshot(
                path=str(out / f"{name}-{suffix}.png"), full_page=name in FULL_PAGE
            )
            print(f"{name}-{suffix}.png", flush=True)
        await context.close()


async def run(args: argparse.Namespace) -> None:
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="vigil-screenshots-")) / "demo"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Usage noted every 12 s instead of hourly: the storage chart has a minute to show.
    env = {**os.environ, "VIGIL_LIBRARY__HOUSEKEEPING_MINUTES": "0.2"}
    demo = subprocess.Popen(
        [sys.executable, "-m", "vigil", "demo", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        cookies = await sign_in(base, data_dir)
        await furnish(base, cookies)
        ids = await fill_library(base, cookies, data_dir)
        await asyncio.sleep(args.wait)
        shared = await share_event(base, cookies, ids["event"])
        pages = {**PAGES, "shared": (shared, ".shared-gallery img", True)}
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=ARGS
            )
            await shoot(browser, base, cookies, out, phone=False, pages=pages, ids=ids)
            await shoot(browser, base, cookies, out, phone=True, pages=pages, ids=ids)
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
