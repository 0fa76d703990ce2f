"""Live fan-out: CPU and memory of the node as WebSocket viewers of one camera are added.

Starts the simulator (one camera), ``vigil serve`` in a process of its own with that camera
(recording, as a user runs it), then holds 0, 1, 10, 50... viewers on the camera's live
WebSocket from this process, each reading everything it is sent. For each step it samples
the node's process tree (Python + the camera's ffmpeg): CPU as % of one core and PSS, and
checks that every viewer kept up (bytes received per second), and times each joining
viewer's first picture (connect to the first fragment, a keyframe): the first viewer of the
first step with viewers joins a camera nobody watched; ``--cold-joins N`` adds N lone viewers,
each after ``--cold-wait`` seconds unwatched (live view paused). The server's data folder is
new, so the bench signs in through the first-run setup (``set_up_admin``); viewers use the
signed WebSocket address ``live/info`` gives, as a player without cookies would.

    .venv/bin/python -m bench.live
    .venv/bin/python -m bench.live --viewers 0,1,10,50,100 --seconds 30
    .venv/bin/python -m bench.live --viewers 0,1,10 --seconds 10 --cold-joins 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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

from bench.output import write_result
from bench.proctree import TreeTracker, window
from vigil.sim.runner import SimulatedCameras


@dataclass(frozen=True, slots=True)
class Step:
    viewers: int
    cpu_pct: float  # node tree, % of one core
    cpu_pct_python: float
    cpu_pct_ffmpeg: float
    pss_mb: float
    viewer_kbps_min: float  # the slowest viewer's received rate
    viewer_kbps_mean: float
    # Connect to first picture (the first fragment, a keyframe) of the viewers that joined in
    # this step: the first of them, and the slowest; None if none joined.
    first_frame_s: float | None
    first_frame_max_s: float | None


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
    """One WebSocket client that reads and counts everything, and times its first picture."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.received = 0
        self.first_frame_s: float | None = None  # connect to the first fragment
        self._binary = 0
        self._started = 0.0
        self._task: asyncio.Task[None] | None = None
        self._socket: ClientConnection | None = None

    async def start(self) -> None:
        self._started = time.monotonic()
        self._socket = await connect(self.url, max_size=None)
        self._task = asyncio.create_task(self._read())

    async def first_frame(self, timeout: float = 30.0) -> float:
        deadline = time.monotonic() + timeout
        while self.first_frame_s is None:
            if time.monotonic() > deadline:
                raise RuntimeError("a viewer got no picture")
            await asyncio.sleep(0.01)
        return self.first_frame_s

    async def _read(self) -> None:
        assert self._socket is not None
        with contextlib.suppress(Exception):
            async for message in self._socket:
                self.received += len(message)
                if isinstance(message, bytes):
                    self._binary += 1
                    if self._binary == 2:  # the init segment, then the first fragment
                        self.first_frame_s = time.monotonic() - self._started

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
    cold: list[float] = []
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
                    joined = []
                    while len(viewers) < count:
                        viewer = Viewer(url)
                        await viewer.start()
                        viewers.append(viewer)
                        joined.append(viewer)
                    firsts = [await v.first_frame() for v in joined]
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
                        first_frame_s=round(firsts[0], 3) if firsts else None,
                        first_frame_max_s=round(max(firsts), 3) if firsts else None,
                    )
                    steps.append(step)
                    print(
                        f"{count:4d} viewers: node {step.cpu_pct:5.1f}% CPU "
                        f"(python {step.cpu_pct_python:.1f}%, ffmpeg {step.cpu_pct_ffmpeg:.1f}%), "
                        f"{step.pss_mb:.1f} MB PSS; viewers get "
                        f"{step.viewer_kbps_min:.0f}-{step.viewer_kbps_mean:.0f} kbit/s"
                        + first_frames(step),
                        flush=True,
                    )
                info = (await http.get(f"/api/cameras/{camera}/live/info")).json()
                await asyncio.gather(*(v.stop() for v in viewers), return_exceptions=True)
                viewers = []
                url = base.replace("http", "ws") + info["websocket"]
                for _ in range(args.cold_joins):
                    await asyncio.sleep(args.cold_wait)  # nobody watches: live pauses
                    viewer = Viewer(url)
                    await viewer.start()
                    cold.append(round(await viewer.first_frame(), 3))
                    await viewer.stop()
                if cold:
                    print(
                        f"first picture after {args.cold_wait:g} s unwatched: "
                        + ", ".join(f"{c:.2f}" for c in cold)
                        + " s",
                        flush=True,
                    )
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
        "cold_wait_s": args.cold_wait,
        "first_frame_cold_s": cold,
    }


def first_frames(step: Step) -> str:
    if step.first_frame_s is None:
        return ""
    return (
        f"; first picture {step.first_frame_s:.2f} s for the first to join"
        f" (slowest {step.first_frame_max_s:.2f} s)"
    )


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
    parser.add_argument(
        "--cold-joins",
        type=int,
        default=0,
        help="after the steps, this many lone viewers joining a camera nobody watched for "
        "--cold-wait seconds: their time to the first picture",
    )
    parser.add_argument("--cold-wait", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=None)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = asyncio.run(run(args))
    out = write_result(result, args.out, f"live-{time.strftime('%Y%m%dT%H%M%S')}.json")
    print(f"written {out}")


if __name__ == "__main__":
    main()
