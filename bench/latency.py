"""Live latency: camera-to-screen delay of the live page (MSE and HLS) against a bare RTSP pull.

Starts the simulator (one camera), ``vigil serve`` in a process of its own with that camera
(as ``bench/live.py`` does) and a headless Chromium on the camera's live page. The simulator
draws each frame's number within its loop along the top of the picture
(``vigil/sim/framecode.py``) and paces frames in real time, so the instant it sent any frame
is known once its timeline is: latency = the moment a picture is on the page - the moment the
simulator sent that picture.

The simulator's control endpoint does not report its timeline (the server keeps a camera's
epoch to itself, and a media's stream starts at the keyframe before "now", so it lags that
epoch by up to one GOP anyway). It is measured instead, with a minimal RTSP client of our own
(TCP interleaved, RTP H.264 reassembled, an access unit complete on its marker bit): the
wall-clock instant each frame's last packet arrives, less its number / fps, is the timeline
start plus the loopback's and the server's sending delay; the smallest such value over a
20 s pull is taken as the timeline start. Residual error: the server's fastest
appsrc-to-socket delay over loopback (well under a millisecond on an idle box; any systematic
part of it makes every latency here read that much low).

Measured, in this order, on the same simulator stream:
  1. reference (raw RTP pull): frame fully received; then decoded (PyAV) — the floor;
  2. ffmpeg pull (PyAV ``av.open`` of the RTSP URL, as Vigil's ffmpeg reads it): decoded;
  3. the live page through MSE (``/cameras/{id}``); 4. through HLS (``/cameras/{id}?hls``):
     every ``--interval`` s the page draws the playing video's top strip into a canvas, takes
     ``performance.timeOrigin + performance.now()`` and reads the frame code;
  5. the raw pull again, to check the simulator's timeline did not move during the run.
The server's data folder is new: the bench signs in through its first-run setup and gives
the browser that session's cookies, as the login page would.

    .venv/bin/python -m bench.latency
    .venv/bin/python -m bench.latency --samples 40 --interval 0.5
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import queue
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import av
import httpx
from playwright.async_api import Page, async_playwright

from bench.live import set_up_admin
from bench.output import write_result
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from vigil.sim.framecode import BITS, read_frame_code
from vigil.sim.runner import SimulatedCameras

# The playing picture's top strip (native size) into a canvas; read_frame_code's sampling
# (the middle half of each block, mean brightness over 128). The clock is read just before
# drawImage, which takes the frame the element shows at that instant.
SAMPLE_JS = """() => {
  const video = document.querySelector("video");
  const t = performance.timeOrigin + performance.now();
  const w = video.videoWidth, h = video.videoHeight;
  if (!w || !h || video.readyState < 2) return null;
  const bw = Math.max(2, Math.floor(w / 16)), bh = Math.max(2, Math.floor(h / 16));
  let canvas = window.__latencyCanvas;
  if (!canvas) canvas = window.__latencyCanvas = document.createElement("canvas");
  canvas.width = BITS * bw; canvas.height = bh;
  const ctx = canvas.getContext("2d", {willReadFrequently: true});
  ctx.drawImage(video, 0, 0, BITS * bw, bh, 0, 0, BITS * bw, bh);
  const data = ctx.getImageData(0, 0, BITS * bw, bh).data;
  let code = 0;
  for (let bit = 0; bit < BITS; bit++) {
    const x0 = bit * bw + Math.floor(bw / 4), y0 = Math.floor(bh / 4);
    let sum = 0, n = 0;
    for (let y = y0; y < y0 + Math.max(1, Math.floor(bh / 2)); y++) {
      for (let x = x0; x < x0 + Math.max(1, Math.floor(bw / 2)); x++) {
        const i = (y * BITS * bw + x) * 4;
        sum += (data[i] + data[i + 1] + data[i + 2]) / 3; n++;
      }
    }
    if (sum / n > 128) code |= 1 << bit;
  }
  const b = video.buffered;
  const ahead = b.length ? b.end(b.length - 1) - video.currentTime : null;
  return {t: t / 1000, code, ahead, mode: document.body.dataset.mode};
}""".replace("BITS", str(BITS))


@dataclass(frozen=True, slots=True)
class Stats:
    samples: int
    p50_ms: float
    p90_ms: float
    max_ms: float
    min_ms: float
    mean_ms: float


def stats(latencies: list[float]) -> Stats | None:
    if not latencies:
        return None
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]

    return Stats(
        samples=len(ordered),
        p50_ms=round(statistics.median(ordered) * 1000, 1),
        p90_ms=round(pct(0.9) * 1000, 1),
        max_ms=round(ordered[-1] * 1000, 1),
        min_ms=round(ordered[0] * 1000, 1),
        mean_ms=round(statistics.fmean(ordered) * 1000, 1),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Timeline:
    """When the simulator sent frame ``code`` of its loop, as seen at wall time ``at``."""

    def __init__(self, start: float, fps: int, frames: int) -> None:
        self.start = start  # wall-clock instant of frame 0 of some loop
        self.fps = fps
        self.frames = frames

    @property
    def loop(self) -> float:
        return self.frames / self.fps

    def latency(self, code: int, at: float) -> float:
        """``at`` - the latest sending of frame ``code`` up to a quarter loop after ``at``."""
        sent = self.start + code / self.fps
        loops = (at - sent + self.loop / 4) // self.loop
        return at - (sent + loops * self.loop)


# --- a minimal RTSP client: TCP interleaved, H.264 only ------------------------------------


class RawPull:
    """Pull the camera's video over RTSP/TCP; stamp each access unit when its last RTP packet
    (marker bit) arrives, decode it on another thread and read its frame code."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.units: list[tuple[float, float, int]] = []  # (received, decoded, code)
        self._stop = threading.Event()
        self._decode_queue: queue.Queue[tuple[float, bytes] | None] = queue.Queue()
        self._errors: list[BaseException] = []
        self._threads: list[threading.Thread] = []
        self._sock: socket.socket | None = None
        self._cseq = 0
        self._session = ""
        self._buffer = b""

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._guard, args=(self._receive,), daemon=True),
            threading.Thread(target=self._guard, args=(self._decode,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
        if self._errors:
            raise RuntimeError(f"raw RTSP pull failed: {self._errors[0]!r}")

    def _guard(self, target: Any) -> None:
        try:
            target()
        except BaseException as exc:  # reported by stop()
            if not self._stop.is_set():
                self._errors.append(exc)
        finally:
            if target == self._receive:
                self._decode_queue.put(None)

    def _request(self, method: str, url: str, headers: dict[str, str] | None = None) -> str:
        assert self._sock is not None
        self._cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self._cseq}", "User-Agent: vigil-bench"]
        if self._session:
            lines.append(f"Session: {self._session}")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        # The server may start sending interleaved RTP before its reply to PLAY: set those
        # frames aside and hand them back to the RTP reader once the reply is read.
        early = b""
        while True:
            while len(self._buffer) < 4:
                self._buffer += self._recv()
            if self._buffer[0] != 0x24:
                break
            end = 4 + int.from_bytes(self._buffer[2:4], "big")
            while len(self._buffer) < end:
                self._buffer += self._recv()
            early, self._buffer = early + self._buffer[:end], self._buffer[end:]
        while b"\r\n\r\n" not in self._buffer:
            self._buffer += self._recv()
        head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        text = head.decode()
        length = re.search(r"(?im)^content-length:\s*(\d+)", text)
        body = b""
        if length:
            while len(self._buffer) < int(length.group(1)):
                self._buffer += self._recv()
            body, self._buffer = (
                self._buffer[: int(length.group(1))],
                self._buffer[int(length.group(1)) :],
            )
        self._buffer = early + self._buffer
        if not text.startswith("RTSP/1.0 200"):
            raise RuntimeError(f"{method} {url}: {text.splitlines()[0]}")
        if session := re.search(r"(?im)^session:\s*([^;\r\n]+)", text):
            self._session = session.group(1).strip()
        return text + "\r\n\r\n" + body.decode(errors="replace")

    def _recv(self) -> bytes:
        assert self._sock is not None
        data = self._sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        return data

    def _receive(self) -> None:
        host = self.url.removeprefix("rtsp://").partition("/")[0]
        name, _, port = host.partition(":")
        self._sock = socket.create_connection((name, int(port or 554)), timeout=10)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sdp = self._request("DESCRIBE", self.url, {"Accept": "application/sdp"})
            video = sdp.split("\nm=video", 1)[1].split("\nm=", 1)[0]
            control = re.search(r"a=control:(\S+)", video)
            track = urljoin(self.url + "/", control.group(1)) if control else self.url
            sprop = re.search(r"sprop-parameter-sets=([^;\s]+)", video)
            params = b"".join(
                b"\0\0\0\1" + base64.b64decode(p)
                for p in (sprop.group(1) if sprop else "").split(",")
                if p
            )
            self._request("SETUP", track, {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
            self._request("PLAY", self.url, {"Range": "npt=0-"})
            self._read_rtp(params)
        finally:
            with contextlib.suppress(OSError):
                self._sock.close()

    def _read_rtp(self, params: bytes) -> None:
        unit: list[bytes] = []
        started = False
        while not self._stop.is_set():
            while len(self._buffer) < 4:
                self._buffer += self._recv()
            if self._buffer[0] != 0x24:  # an RTSP message from the server: skip its head
                while b"\r\n\r\n" not in self._buffer:
                    self._buffer += self._recv()
                self._buffer = self._buffer.partition(b"\r\n\r\n")[2]
                continue
            channel, size = self._buffer[1], int.from_bytes(self._buffer[2:4], "big")
            while len(self._buffer) < 4 + size:
                self._buffer += self._recv()
            packet, self._buffer = self._buffer[4 : 4 + size], self._buffer[4 + size :]
            if channel != 0 or len(packet) < 12:
                continue
            received = time.time()
            marker = bool(packet[1] & 0x80)
            offset = 12 + 4 * (packet[0] & 0x0F)
            if packet[0] & 0x10:  # header extension
                offset += 4 + 4 * int.from_bytes(packet[offset + 2 : offset + 4], "big")
            payload = packet[offset:]
            if packet[0] & 0x20:  # padding
                payload = payload[: -payload[-1]]
            kind = payload[0] & 0x1F
            if kind == 24:  # STAP-A
                i = 1
                while i + 2 <= len(payload):
                    n = int.from_bytes(payload[i : i + 2], "big")
                    unit.append(b"\0\0\0\1" + payload[i + 2 : i + 2 + n])
                    i += 2 + n
            elif kind == 28:  # FU-A
                if payload[1] & 0x80:
                    unit.append(b"\0\0\0\1" + bytes([(payload[0] & 0xE0) | (payload[1] & 0x1F)]))
                if unit:
                    unit[-1] += payload[2:]
            else:
                unit.append(b"\0\0\0\1" + payload)
            if marker and unit:
                data, parts, unit = b"".join(unit), unit, []
                if not started and any(n[4] & 0x1F == 5 for n in parts if len(n) > 4):
                    started = True
                    data = params + data
                if started:
                    self._decode_queue.put((received, data))

    def _decode(self) -> None:
        codec = av.CodecContext.create("h264", "r")
        codec.thread_type = "SLICE"  # frame threads would hold frames back
        while (item := self._decode_queue.get()) is not None:
            received, data = item
            for frame in codec.decode(av.Packet(data)):
                assert isinstance(frame, av.VideoFrame)
                self.units.append((received, time.time(), read_frame_code(frame)))


class FfmpegPull:
    """The same camera through libavformat's RTSP demuxer (what Vigil's ffmpeg reads)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.frames: list[tuple[float, int]] = []  # (decoded, code)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)

    def _run(self) -> None:
        options = {"rtsp_transport": "tcp", "fflags": "nobuffer"}
        with av.open(self.url, options=options, timeout=10) as container:
            stream = container.streams.video[0]
            stream.thread_type = "SLICE"
            for packet in container.demux(stream):
                if self._stop.is_set():
                    break
                for frame in packet.decode():
                    assert isinstance(frame, av.VideoFrame)
                    self.frames.append((time.time(), read_frame_code(frame)))


# --- phases -------------------------------------------------------------------------------


async def first_arrival(arrivals: list[Any], timeout: float = 30.0) -> None:
    """Wait until a pull has received something: connecting takes its time on a busy box, and
    the warm-up and the measured window count from the first frame, not from the start."""
    deadline = time.monotonic() + timeout
    while not arrivals and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def raw_phase(url: str, seconds: float, warmup: float) -> list[tuple[float, float, int]]:
    pull = RawPull(url)
    pull.start()
    try:
        await first_arrival(pull.units)
        await asyncio.sleep(warmup + seconds)
    finally:
        await asyncio.to_thread(pull.stop)
    first = pull.units[0][0] if pull.units else 0.0
    return [u for u in pull.units if u[0] >= first + warmup]


async def ffmpeg_phase(url: str, seconds: float, warmup: float) -> list[tuple[float, int]]:
    pull = FfmpegPull(url)
    pull.start()
    try:
        await first_arrival(pull.frames)
        await asyncio.sleep(warmup + seconds)
    finally:
        await asyncio.to_thread(pull.stop)
    first = pull.frames[0][0] if pull.frames else 0.0
    return [f for f in pull.frames if f[0] >= first + warmup]


def calibrate(units: list[tuple[float, float, int]], fps: int, frames: int) -> Timeline:
    """The timeline start: the earliest (arrival - number / fps), loops unwrapped."""
    if not units:
        raise RuntimeError("the raw pull received no frame")
    rough = Timeline(units[0][0] - units[0][2] / fps, fps, frames)
    delays = [rough.latency(code, received) for received, _, code in units]
    return Timeline(rough.start + min(delays), fps, frames)


async def page_phase(
    page: Page, url: str, mode: str, samples: int, interval: float, warmup: float
) -> list[dict[str, Any]]:
    await page.goto(url)
    # Functions, not expressions: Playwright evaluates a bare expression with eval(), which
    # the page's Content-Security-Policy forbids.
    await page.wait_for_function(f"() => document.body.dataset.mode === '{mode}'", timeout=30_000)
    await page.wait_for_function(
        "() => { const v = document.querySelector('video');"
        " return v.readyState >= 2 && v.currentTime > 0.2 && !v.paused; }",
        timeout=60_000,
    )
    await asyncio.sleep(warmup)
    taken: list[dict[str, Any]] = []
    start = time.monotonic()
    for n in range(samples):
        await asyncio.sleep(max(0.0, start + n * interval - time.monotonic()))
        sample = await page.evaluate(SAMPLE_JS)
        if sample is not None:
            taken.append(sample)
    return taken


async def run(args: argparse.Namespace) -> dict[str, Any]:
    if not shutil.which(CHROMIUM):
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install chromium")
    work = Path(tempfile.mkdtemp(prefix="vigil-bench-latency-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    fps, frames = args.fps, args.fps * args.loop_seconds
    if frames > 1 << BITS:
        raise SystemExit(f"the frame code holds {1 << BITS} frames: shorten --loop-seconds")
    result: dict[str, Any] = {}
    try:
        with SimulatedCameras(
            cameras=1,
            width=args.width,
            height=args.height,
            fps=fps,
            bitrate_kbps=args.bitrate_kbps,
            loop_seconds=args.loop_seconds,
        ) as sim:
            rtsp = sim.urls[0]
            env = {**os.environ, "VIGIL_DATA_DIR": str(work / "data")}
            node = subprocess.Popen(
                [sys.executable, "-m", "vigil", "serve", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                result = await measure(args, sim, rtsp, base, fps, frames)
            finally:
                node.terminate()
                try:
                    node.wait(30)
                except subprocess.TimeoutExpired:
                    node.kill()
                    node.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


async def measure(
    args: argparse.Namespace, sim: SimulatedCameras, rtsp: str, base: str, fps: int, frames: int
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/api/health")).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("vigil serve did not start")
            await asyncio.sleep(0.2)
        await set_up_admin(http)
        cookies = {
            name: value
            for name, value in http.cookies.items()
            if name in ("vigil_session", "vigil_csrf")
        }
        if len(cookies) != 2:
            raise RuntimeError("the first-run setup set no session cookies")
        created = await http.post("/api/cameras", json={"name": "latency", "main_url": rtsp})
        created.raise_for_status()
        camera = created.json()["id"]
        while not (await http.get(f"/api/cameras/{camera}/live/info")).json()["live"]:
            await asyncio.sleep(0.2)
        info = (await http.get(f"/api/cameras/{camera}/live/info")).json()

    print("reference: raw RTP pull...", flush=True)
    units = await raw_phase(rtsp, args.pull_seconds, 2.0)
    timeline = calibrate(units, fps, frames)
    print("ffmpeg pull (PyAV)...", flush=True)
    ffmpeg_frames = await ffmpeg_phase(rtsp, args.pull_seconds, 3.0)

    pages: dict[str, list[dict[str, Any]]] = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        await context.add_cookies(
            [{"name": name, "value": value, "url": base} for name, value in cookies.items()]
        )
        try:
            for mode, query in (("mse", ""), ("hls", "?hls")):
                print(f"live page, {mode}...", flush=True)
                page = await context.new_page()
                try:
                    pages[mode] = await page_phase(
                        page,
                        f"{base}/cameras/{camera}{query}",
                        mode,
                        args.samples,
                        args.interval,
                        args.page_warmup,
                    )
                finally:
                    await page.close()
        finally:
            await browser.close()
    print("reference again...", flush=True)
    after = calibrate(await raw_phase(rtsp, args.pull_seconds / 2, 2.0), fps, frames)

    rows: dict[str, Any] = {
        "raw RTP pull, frame received": stats([timeline.latency(c, r) for r, _, c in units]),
        "raw RTP pull, frame decoded": stats([timeline.latency(c, d) for _, d, c in units]),
        "ffmpeg (PyAV) RTSP pull, decoded": stats(
            [timeline.latency(c, d) for d, c in ffmpeg_frames]
        ),
    }
    misread = {mode: sum(int(s["code"]) >= frames for s in got) for mode, got in pages.items()}
    pages = {mode: [s for s in got if int(s["code"]) < frames] for mode, got in pages.items()}
    for mode, samples in pages.items():
        rows[f"live page, {mode.upper()}"] = stats(
            [timeline.latency(int(s["code"]), float(s["t"])) for s in samples]
        )
    for mode, samples in pages.items():
        # Latency less the media buffered ahead of the playhead: how old the newest buffered
        # frame is (delivery), the rest being the player's own choice of where to sit.
        rows[f"  of which delivery ({mode.upper()})"] = stats(
            [
                timeline.latency(int(s["code"]), float(s["t"])) - float(s["ahead"])
                for s in samples
                if s.get("ahead") is not None
            ]
        )
    ahead = {
        mode: stats([float(s["ahead"]) for s in samples if s.get("ahead") is not None])
        for mode, samples in pages.items()
    }
    return {
        "bench": "latency",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "camera": {
            "width": args.width,
            "height": args.height,
            "fps": fps,
            "bitrate_kbps": args.bitrate_kbps,
            "loop_seconds": args.loop_seconds,
            "gop_frames": fps,
            "codecs": info.get("codecs"),
        },
        "cpus": os.cpu_count(),
        "chromium": CHROMIUM,
        "page_misread_codes": misread,
        # Both starts are frame 0 of some loop: compare them modulo the loop.
        "timeline_drift_ms": round(
            ((after.start - timeline.start + timeline.loop / 2) % timeline.loop - timeline.loop / 2)
            * 1000,
            1,
        ),
        "latency": {k: asdict(v) if v else None for k, v in rows.items()},
        "page_buffer_ahead": {k: asdict(v) if v else None for k, v in ahead.items()},
        "page_samples": pages,
    }


def print_table(result: dict[str, Any]) -> None:
    print()
    print(f"{'':36} {'n':>4} {'p50 ms':>8} {'p90 ms':>8} {'max ms':>8} {'min ms':>8}")
    for name, row in result["latency"].items():
        if row is None:
            print(f"{name:36} no sample")
            continue
        print(
            f"{name:36} {row['samples']:4d} {row['p50_ms']:8.1f} {row['p90_ms']:8.1f} "
            f"{row['max_ms']:8.1f} {row['min_ms']:8.1f}"
        )
    for mode, row in result["page_buffer_ahead"].items():
        if row:
            print(f"{mode}: buffered ahead of the playhead p50 {row['p50_ms'] / 1000:.2f} s")
    print(f"timeline drift over the run: {result['timeline_drift_ms']} ms")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--samples", type=int, default=40, help="per page mode")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between samples")
    parser.add_argument("--page-warmup", type=float, default=5.0)
    parser.add_argument("--pull-seconds", type=float, default=20.0)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--bitrate-kbps", type=int, default=2000)
    parser.add_argument("--loop-seconds", type=int, default=60)
    parser.add_argument("--out", type=Path, default=None)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = asyncio.run(run(args))
    print_table(result)
    out = write_result(result, args.out, f"latency-{time.strftime('%Y%m%dT%H%M%S')}.json")
    print(f"written {out}")


if __name__ == "__main__":
    main()
