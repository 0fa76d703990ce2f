"""Live fan-out: CPU and memory of the node as WebSocket viewers of one camera are added.

Starts the simulator (one camera), ``vigil serve`` in a process of its own with that camera
(recording, as a user runs it), then holds 0, 1, 10, 50... viewers on the camera's live
WebSocket from this process, each reading everything it is sent. For each step it samples
the node's process tree (Python + the camera's ffmpeg): CPU as % of one core and PSS, and
checks that every viewer kept up (bytes received per second). The server's data folder is
new, so the bench signs in through the first-run setup (``set_up_admin``); viewers use the
signed WebSocket address ``live/info`` gives, as a player without cookies would.

    .venv/bin/python -m bench.live
    .venv/bin/python -m bench.live --viewers 0,1,10,50,100 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from bench.proctree import TreeTracker, window
from vigil.sim.runner import SimulatedCameras

RESULTS = Path(__file__).parent / "results"


@dataclass(frozen=True, slots=True)
class Step:
    viewers: int
    cpu_pct: float  # node tree, % of one core
    cpu_pct_python: float
    cpu_pct_ffmpeg: float
    pss_mb: float
    viewer_kbps_min: float  # the slowest viewer's received rate
    viewer_kbps_mean: float


async def wait_healthy(http: httpx.AsyncClient, seconds: float = 60) -> None:
    """Wait until the server at ``http``'s base answers /api/health with 200."""
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(httpx.TransportError):
            if (await http.get("/api/health")).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError("vigil serve did not start")
        await asyncio.sleep(0.2)


async def set_up_admin(http: httpx.AsyncClient) -> dict[str, Any]:
    """First-run setup of a fresh server: ``http`` is then signed in as its admin (session
    cookie kept by the client, CSRF header set for writes). Returns the API's answer."""
    response = await http.post(
        "/api/auth/setup",
        json={"organisation": "Bench", "username": "bench", "password": secrets.token_urlsafe(18)},
    )
    if response.status_code != 201:
        raise RuntimeError(f"first-run setup failed: {response.status_code} {response.text}")
    answer: dict[str, Any] = response.json()
    http.headers["X-CSRF-Token"] = answer["csrf_token"]
    return answer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Viewer:
    """One WebSocket client that reads and counts everything."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.received = 0
        self._task: asyncio.Task[None] | None = None
        self._socket: ClientConnection | None = None

    async def start(self) -> None:
        self._socket = await connect(self.url, max_size=None)
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._socket is not None
        with contextlib.suppress(Exception):
            async for message in self._socket:
                self.received += len(message)

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._task is not None:
            await self._task


async def sample_for(tracker: TreeTracker, seconds: float, interval: float) -> tuple[float, float]:
    start = time.monotonic()
    tracker.sample(start)
    while time.monotonic() - start < seconds:
        await asyncio.sleep(interval)
        tracker.sample(time.monotonic())
    return start, time.monotonic()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    counts = sorted({int(n) for n in args.viewers.split(",")})
    work = Path(tempfile.mkdtemp(prefix="vigil-bench-live-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    steps: list[Step] = []
    with SimulatedCameras(
        cameras=1,
        width=args.width,
        height=args.height,
        fps=args.fps,
        bitrate_kbps=args.bitrate_kbps,
    ) as sim:
        env = {**os.environ, "VIGIL_DATA_DIR": str(work / "data")}
        node = subprocess.Popen(
            [sys.executable, "-m", "vigil", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        viewers: list[Viewer] = []
        try:
            async with httpx.AsyncClient(base_url=base, timeout=10) as http:
                await wait_healthy(http)
                await set_up_admin(http)
                created = await http.post(
                    "/api/cameras", json={"name": "bench", "main_url": sim.urls[0]}
                )
                created.raise_for_status()
                camera = created.json()["id"]
                while not (await http.get(f"/api/cameras/{camera}/live/info")).json()["live"]:
                    await asyncio.sleep(0.2)
                tracker = TreeTracker("node", [node.pid])
                for count in counts:
                    # A fresh signed link for this step's new viewers (links expire).
                    info = (await http.get(f"/api/cameras/{camera}/live/info")).json()
                    url = base.replace("http", "ws") + info["websocket"]
                    while len(viewers) < count:
                        viewer = Viewer(url)
                        await viewer.start()
                        viewers.append(viewer)
                    await asyncio.sleep(args.warmup)
                    before = [v.received for v in viewers]
                    start, end = await sample_for(tracker, args.seconds, args.interval)
                    rates = [
                        (v.received - b) * 8 / 1000 / (end - start)
                        for v, b in zip(viewers, before, strict=True)
                    ]
                    stats = window(tracker.samples, start, end)
                    step = Step(
                        viewers=count,
                        cpu_pct=round(stats.cpu_pct, 2),
                        cpu_pct_python=round(stats.cpu_pct_by_kind.get("python", 0.0), 2),
                        cpu_pct_ffmpeg=round(stats.cpu_pct_by_kind.get("ffmpeg", 0.0), 2),
                        pss_mb=round(stats.pss_mean / 1e6, 1),
                        viewer_kbps_min=round(min(rates, default=0.0), 1),
                        viewer_kbps_mean=round(sum(rates) / len(rates), 1) if rates else 0.0,
                    )
                    steps.append(step)
                    print(
                        f"{count:4d} viewers: node {step.cpu_pct:5.1f}% CPU "
                        f"(python {step.cpu_pct_python:.1f}%, ffmpeg {step.cpu_pct_ffmpeg:.1f}%), "
                        f"{step.pss_mb:.1f} MB PSS; viewers get "
                        f"{step.viewer_kbps_min:.0f}-{step.viewer_kbps_mean:.0f} kbit/s",
                        flush=True,
                    )
                info = (await http.get(f"/api/cameras/{camera}/live/info")).json()
        finally:
            await asyncio.gather(*(v.stop() for v in viewers), return_exceptions=True)
            node.terminate()
            try:
                node.wait(30)
            except subprocess.TimeoutExpired:
                node.kill()
    return {
        "bench": "live",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "camera": {
            "width": args.width,
            "height": args.height,
            "fps": args.fps,
            "bitrate_kbps": args.bitrate_kbps,
            "codecs": info.get("codecs"),
        },
        "seconds": args.seconds,
        "cpus": os.cpu_count(),
        "steps": [asdict(s) for s in steps],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--viewers", default="0,1,10,50", help="comma-separated counts")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured per step")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--bitrate-kbps", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=None)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = asyncio.run(run(args))
    out = args.out or RESULTS / f"live-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
