"""Soak: the demo's server for hours under live viewers and API polling; is its memory flat?

Run from the repository root::

    .venv/bin/python -m bench.soak --minutes 130                  # the 2-hour run
    .venv/bin/python -m bench.soak --minutes 130 --tracemalloc    # and find what grows
    .venv/bin/python -m bench.soak --report bench/results/soak-.../series.json   # table again

One run: the simulator (``vigil.sim``, the demo's "walker" scene, 640x360 at 15 fps and
800 kbit/s with a label per camera, as ``vigil demo`` has it) serves ``--cameras`` cameras
from this process; ``bench/soak_server.py`` runs what ``vigil demo`` runs (SQLite in a
temporary data folder, the media node, the HTTP API) in a process of its own, with every
camera detecting people (5 fps, motion, SSD, events) and the demo's retention. It makes an
API key with every scope through the project's auth service; this process signs in with it
(``Authorization: Bearer``), as an integration would, and until the end keeps up:

- ``--viewers`` WebSocket live viewers, each joining a random camera, reading everything
  for 5-40 s, leaving and joining again 1-5 s later;
- every 5 s, a live HLS fetch (playlist, its init segment and newest media segment) and a
  snapshot of a random camera;
- every ``--poll-seconds`` (2), ``/api/health``, ``/api/cameras``, ``/api/events`` and a
  camera-day's ``/api/cameras/{id}/timeline``, one camera after the other.

Every ``--sample-seconds`` the server process is sampled with psutil: RSS, PSS and USS
(``memory_full_info``), open descriptors, threads, child processes and CPU seconds; and the
PSS of its Python children (the detector's worker processes) and of its whole tree (with
the ffmpegs). The series is written as JSON after each sample (so a run still going can be
read: ``--report``) into ``bench/results/soak-<time>/series.json`` with the server's log.
The table: memory over the run after ``--warmup-minutes`` (first, last, min, max and the
least-squares slope in MiB/hour), descriptors, threads and children min/max, and the
requests made and their failures. ``--tracemalloc`` runs the server under tracemalloc
(25 frames): the top 30 growth sites since the first snapshot after warm-up are written
every ``--snapshot-minutes`` to ``growth-MMMM.txt`` (minutes since start) in the same
folder, and tracemalloc's
own memory is sampled so that its share of the RSS slope is reported apart.
Figures, never assertions. Traffic stays on 127.0.0.1 and every loop stops at the deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from websockets.asyncio.client import connect

from bench.auth import free_port
from bench.live import wait_healthy
from bench.output import RESULTS
from bench.soak_server import growth
from vigil.sim.runner import SimulatedCameras

MIB = 2**20
START_TIMEOUT_S = 120  # the server's set-up, on a box the test suite loads
INSIDE = "inside.jsonl"  # what the server holds, seen from inside (soak_server.watch_inside)
INSIDE_KEYS = ("malloc_in_use", "malloc_free", "malloc_mmapped", "sqlite")
_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)


@dataclass
class Traffic:
    """What the load did, by kind of request: counts of answers by status."""

    answers: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    viewer_sessions: int = 0
    viewer_bytes: int = 0

    def count(self, kind: str, status: int | str) -> None:
        self.answers[kind] += 1
        if not (isinstance(status, int) and 200 <= status < 300):
            self.failures[f"{kind} {status}"] += 1


# -- load ---------------------------------------------------------------------------------


async def poll_api(
    http: httpx.AsyncClient, cameras: list[int], every: float, deadline: float, traffic: Traffic
) -> None:
    """The console's polling: health, cameras, events and a camera-day's timeline."""
    turn = 0
    while time.monotonic() < deadline:
        started = time.monotonic()
        camera = cameras[turn % len(cameras)]
        turn += 1
        for kind, path in (
            ("health", "/api/health"),
            ("cameras", "/api/cameras"),
            ("events", "/api/events?limit=50"),
            ("timeline", f"/api/cameras/{camera}/timeline"),
        ):
            try:
                status: int | str = (await http.get(path)).status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            traffic.count(kind, status)
        await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))


async def fetch_live_hls(
    http: httpx.AsyncClient, cameras: list[int], every: float, deadline: float, traffic: Traffic
) -> None:
    """A player without MSE: the live playlist, its init and newest segment; and a snapshot."""
    while time.monotonic() < deadline:
        camera = random.choice(cameras)
        try:
            playlist = await http.get(f"/api/cameras/{camera}/live.m3u8")
            traffic.count("hls playlist", playlist.status_code)
            if playlist.status_code == 200:
                await _fetch_media(http, playlist, traffic)
            snapshot = await http.get(f"/api/cameras/{camera}/snapshot.jpg")
            traffic.count("snapshot", snapshot.status_code)
        except httpx.HTTPError as exc:
            traffic.count("hls", type(exc).__name__)
        await asyncio.sleep(min(every, max(0.0, deadline - time.monotonic())))


async def _fetch_media(http: httpx.AsyncClient, playlist: httpx.Response, traffic: Traffic) -> None:
    lines = playlist.text.splitlines()
    uris = [line.split('URI="', 1)[1].split('"', 1)[0] for line in lines if "EXT-X-MAP" in line]
    media = [line for line in lines if line and not line.startswith("#")]
    if media:
        uris.append(media[-1])
    for uri in uris:
        response = await http.get(playlist.url.join(uri))
        traffic.count("hls media", response.status_code)


async def live_viewer(
    ws_base: str, key: str, cameras: list[int], deadline: float, traffic: Traffic
) -> None:
    """One seat of live viewers: join a random camera, watch 5-40 s, leave, come back."""
    headers = {"Authorization": f"Bearer {key}"}
    while time.monotonic() < deadline:
        camera = random.choice(cameras)
        watch = min(random.uniform(5, 40), max(0.0, deadline - time.monotonic()))
        try:
            async with connect(
                f"{ws_base}/api/cameras/{camera}/live", additional_headers=headers, max_size=None
            ) as socket:
                traffic.viewer_sessions += 1
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(watch):
                        async for message in socket:
                            traffic.viewer_bytes += len(message)
            traffic.count("live websocket", 200)
        except Exception as exc:  # a refused or dropped viewer is counted, not fatal
            traffic.count("live websocket", type(exc).__name__)
        await asyncio.sleep(min(random.uniform(1, 5), max(0.0, deadline - time.monotonic())))


# -- sampling -----------------------------------------------------------------------------


def sample(
    process: psutil.Process, started: float, folder: Path, trace_file: Path | None
) -> dict[str, Any]:
    """The server process now: memory, descriptors, threads, children, CPU seconds; and the
    last line of what it holds, seen from inside (``soak_server.watch_inside``)."""
    with process.oneshot():
        memory = process.memory_full_info()
        times = process.cpu_times()
        point: dict[str, Any] = {
            "t": round(time.monotonic() - started, 1),
            "rss": memory.rss,
            "pss": memory.pss,
            "uss": memory.uss,
            "fds": process.num_fds(),
            "threads": process.num_threads(),
            "cpu_s": round(times.user + times.system, 2),
        }
    point["anon"] = anonymous_bytes(process.pid)
    children = process.children(recursive=True)
    point["children"] = len(children)
    # The whole tree (its ffmpegs, the detector's worker processes): PSS, so shared pages
    # are not counted twice; and the Python children alone, whose leaks are the server's.
    point["tree_pss"] = point["pss"]
    point["workers_pss"] = 0
    for child in children:
        with contextlib.suppress(*_GONE):
            pss = child.memory_full_info().pss
            point["tree_pss"] += pss
            if "python" in child.name():
                point["workers_pss"] += pss
    inside = folder / INSIDE
    if inside.exists():
        lines = inside.read_text().splitlines()
        if lines:
            point.update({k: v for k, v in json.loads(lines[-1]).items() if k != "t"})
    if trace_file is not None and trace_file.exists():
        lines = trace_file.read_text().splitlines()
        if lines:
            last = json.loads(lines[-1])
            point["traced"] = last["traced"]
            point["tracemalloc_overhead"] = last["overhead"]
    return point


def anonymous_bytes(pid: int) -> int:
    """The process's anonymous memory (its heaps, arenas, stacks and buffers): RSS less the
    pages of files it maps (its libraries), which it shares with its children and which the
    kernel drops and reads again as it likes, so RSS moves while nothing is allocated."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Anonymous:"):
                return int(line.split()[1]) * 1024
    return 0


async def sample_until(
    process: psutil.Process,
    started: float,
    every: float,
    deadline: float,
    series: list[dict[str, Any]],
    save: Any,
    folder: Path,
    trace_file: Path | None,
    warmup_s: float,
) -> None:
    while True:
        with contextlib.suppress(*_GONE):
            point = await asyncio.to_thread(sample, process, started, folder, trace_file)
            series.append(point)
            save()
            print(
                f"{point['t'] / 60:6.1f} min  RSS {point['rss'] / MIB:7.1f} MiB"
                f"  PSS {point['pss'] / MIB:7.1f}  USS {point['uss'] / MIB:7.1f}"
                f"  fds {point['fds']}  threads {point['threads']}"
                f"  children {point['children']} (Python {point['workers_pss'] / MIB:.0f} MiB)",
                flush=True,
            )
        if trace_file is not None:
            await compare_snapshots(trace_file.parent, warmup_s)
        if time.monotonic() + every > deadline:
            return
        await asyncio.sleep(every)


async def compare_snapshots(folder: Path, warmup_s: float) -> None:
    """Growth sites of the newest snapshot the server dumped against the first one taken
    after warm-up (``growth-MMMM.txt``), compared in a process of its own (loading two
    snapshots takes memory and seconds of CPU); then every snapshot but that first one is
    deleted."""
    dumps = sorted(folder.glob("snapshot-*.dump"))
    steady = [p for p in dumps if int(p.stem.split("-")[1]) >= warmup_s]
    if len(steady) < 2:
        return
    baseline, newest = steady[0], steady[-1]
    minutes = int(newest.stem.split("-")[1]) // 60
    with (folder / f"growth-{minutes:04d}.txt").open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.soak",
            "--compare",
            str(baseline),
            str(newest),
            stdout=output,
        )
        await process.wait()
    for dump in steady[1:]:
        dump.unlink()


# -- figures ------------------------------------------------------------------------------


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, bytes), in MiB per hour."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var * 3600 / MIB


def summary(series: list[dict[str, Any]], warmup_s: float) -> dict[str, Any]:
    """Memory after warm-up (first, last, min, max, slope) and the counts' ranges."""
    steady = [p for p in series if p["t"] >= warmup_s] or series[-2:]
    figures: dict[str, Any] = {
        "samples": len(series),
        "steady_samples": len(steady),
        "steady_from_min": round(steady[0]["t"] / 60, 1) if steady else None,
        "steady_to_min": round(steady[-1]["t"] / 60, 1) if steady else None,
        "memory": {},
        "counts": {},
    }
    keys = ["rss", "anon", "pss", "uss", "workers_pss", "tree_pss", *INSIDE_KEYS]
    if steady and "traced" in steady[0]:
        keys += ["traced", "tracemalloc_overhead"]
    for key in keys:
        values = [p[key] for p in steady if key in p]
        if not values:
            continue
        figures["memory"][key] = {
            "first_mib": round(values[0] / MIB, 2),
            "last_mib": round(values[-1] / MIB, 2),
            "min_mib": round(min(values) / MIB, 2),
            "max_mib": round(max(values) / MIB, 2),
            "slope_mib_h": round(slope_per_hour([(p["t"], p[key]) for p in steady if key in p]), 2),
        }
    for key in ("fds", "threads", "children"):
        values = [p[key] for p in series]
        steady_values = [p[key] for p in steady]
        if values:
            figures["counts"][key] = {
                "min": min(values),
                "max": max(values),
                "steady_min": min(steady_values),
                "steady_max": max(steady_values),
            }
    if len(steady) >= 2:
        cpu = steady[-1]["cpu_s"] - steady[0]["cpu_s"]
        figures["cpu_pct"] = round(100 * cpu / (steady[-1]["t"] - steady[0]["t"]), 1)
    return figures


def print_table(result: dict[str, Any]) -> None:
    figures = result["summary"]
    print(
        f"\nSoak: {result['cameras']} cameras with detection, {result['viewers']} live viewer"
        f" seats, API polled every {result['poll_seconds']} s;"
        f" {figures['steady_from_min']}-{figures['steady_to_min']} min after warm-up"
        f" ({figures['steady_samples']} of {figures['samples']} samples)"
    )
    print(f"{'server process':<24}{'first':>10}{'last':>10}{'min':>10}{'max':>10}{'MiB/hour':>11}")
    for key, label in (
        ("rss", "RSS MiB"),
        ("anon", "anonymous MiB"),
        ("pss", "PSS MiB"),
        ("uss", "USS MiB"),
        ("workers_pss", "Python children PSS"),
        ("tree_pss", "whole tree PSS"),
        ("malloc_in_use", "malloc: in use"),
        ("malloc_free", "malloc: free, kept"),
        ("malloc_mmapped", "malloc: own mappings"),
        ("sqlite", "SQLite's own"),
        ("traced", "tracemalloc traced"),
        ("tracemalloc_overhead", "tracemalloc overhead"),
    ):
        row = figures["memory"].get(key)
        if row is not None:
            print(
                f"{label:<24}{row['first_mib']:>10.1f}{row['last_mib']:>10.1f}"
                f"{row['min_mib']:>10.1f}{row['max_mib']:>10.1f}{row['slope_mib_h']:>+11.2f}"
            )
    overhead = figures["memory"].get("tracemalloc_overhead")
    if overhead is not None:
        rss = figures["memory"]["rss"]["slope_mib_h"]
        print(f"{'RSS less tracemalloc':<64}{rss - overhead['slope_mib_h']:>+11.2f}")
    print(f"{'':<24}{'min':>10}{'max':>10}{'steady min':>12}{'steady max':>12}")
    for key, row in figures["counts"].items():
        print(
            f"{key:<24}{row['min']:>10}{row['max']:>10}{row['steady_min']:>12}"
            f"{row['steady_max']:>12}"
        )
    if "cpu_pct" in figures:
        print(f"server CPU after warm-up: {figures['cpu_pct']} % of one core")
    traffic = result.get("traffic")
    if traffic:
        answers = ", ".join(f"{k} {v}" for k, v in sorted(traffic["answers"].items()))
        print(f"requests: {answers}")
        print(
            f"live viewers: {traffic['viewer_sessions']} sessions,"
            f" {traffic['viewer_bytes'] / MIB:.0f} MiB received"
        )
        failures = ", ".join(f"{k} x{v}" for k, v in sorted(traffic["failures"].items()))
        print(f"failed: {failures or 'none'}")


# -- one run ------------------------------------------------------------------------------


def start_server(
    args: argparse.Namespace, folder: Path, data_dir: Path, port: int, urls: list[str]
) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    command = [
        sys.executable,
        "-m",
        "bench.soak_server",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        "--inside-file",
        str(folder / INSIDE),
        "--inside-seconds",
        str(args.sample_seconds),
    ]
    if args.tracemalloc:
        command += [
            "--tracemalloc-dir",
            str(folder),
            "--warmup-seconds",
            str(args.warmup_minutes * 60),
            "--snapshot-seconds",
            str(args.snapshot_minutes * 60),
            "--trace-seconds",
            str(args.sample_seconds),
        ]
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(command + urls, stdout=subprocess.PIPE, stderr=log)
    log.close()
    line = ready_line(process, START_TIMEOUT_S)
    if line is None:
        stop_server(process)
        raise RuntimeError(f"the server did not start; see {folder / 'server.log'}")
    ready: dict[str, Any] = json.loads(line)
    return process, ready


def ready_line(process: subprocess.Popen[bytes], timeout: float) -> bytes | None:
    """The server's first line, or None if it ends or says nothing in time. (Not a bare
    readline: its ffmpegs inherit the pipe, so a server that dies before the line would
    leave it open and the read waiting for ever.)"""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        readable, _, _ = select.select([process.stdout], [], [], 0.5)
        if readable:
            return process.stdout.readline() or None
    return None


def stop_server(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


async def load_and_sample(
    args: argparse.Namespace,
    base: str,
    ready: dict[str, Any],
    folder: Path,
    started: float,
    result: dict[str, Any],
) -> None:
    key = ready["api_key"]
    cameras = ready["cameras"]
    traffic = Traffic()
    series: list[dict[str, Any]] = result["series"]
    trace_file = folder / "traced.jsonl" if args.tracemalloc else None

    def save() -> None:
        result["traffic"] = {
            "answers": dict(traffic.answers),
            "failures": dict(traffic.failures),
            "viewer_sessions": traffic.viewer_sessions,
            "viewer_bytes": traffic.viewer_bytes,
        }
        result["summary"] = summary(series, args.warmup_minutes * 60)
        (folder / "series.json").write_text(json.dumps(result, indent=1))

    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as http:
        await wait_healthy(http, 600)  # under tracemalloc on a loaded box: minutes
        deadline = time.monotonic() + args.minutes * 60  # from the first healthy answer
        process = psutil.Process(ready["pid"])
        ws_base = base.replace("http://", "ws://", 1)
        await asyncio.gather(
            sample_until(
                process,
                started,
                args.sample_seconds,
                deadline,
                series,
                save,
                folder,
                trace_file,
                args.warmup_minutes * 60,
            ),
            poll_api(http, cameras, args.poll_seconds, deadline, traffic),
            fetch_live_hls(http, cameras, 5.0, deadline, traffic),
            *(live_viewer(ws_base, key, cameras, deadline, traffic) for _ in range(args.viewers)),
        )
    save()


def run(args: argparse.Namespace) -> dict[str, Any]:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = (args.out or RESULTS) / f"soak-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "bench": "soak",
        "when": stamp,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "cameras": args.cameras,
        "viewers": args.viewers,
        "poll_seconds": args.poll_seconds,
        "minutes": args.minutes,
        "warmup_minutes": args.warmup_minutes,
        "sample_seconds": args.sample_seconds,
        "tracemalloc": args.tracemalloc,
        "series": [],
    }
    print(f"soak: results in {folder}", flush=True)
    with (
        tempfile.TemporaryDirectory(prefix="vigil-soak-") as work,
        SimulatedCameras(
            cameras=args.cameras,
            labels=True,
            width=640,
            height=360,
            fps=15,
            bitrate_kbps=800,
            scene="walker",
        ) as sim,
    ):
        port = free_port()
        process, ready = start_server(args, folder, Path(work) / "data", port, sim.urls)
        started = time.monotonic()
        try:
            asyncio.run(
                load_and_sample(args, f"http://127.0.0.1:{port}", ready, folder, started, result)
            )
        finally:
            result["server_exit"] = stop_server(process)
            if args.tracemalloc:  # the server's last snapshot
                asyncio.run(compare_snapshots(folder, args.warmup_minutes * 60))
            (folder / "series.json").write_text(json.dumps(result, indent=1))
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=130)
    parser.add_argument("--warmup-minutes", type=float, default=15)
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--viewers", type=int, default=3, help="live WebSocket viewer seats")
    parser.add_argument("--poll-seconds", type=float, default=2)
    parser.add_argument("--sample-seconds", type=float, default=30)
    parser.add_argument("--tracemalloc", action="store_true", help="server under tracemalloc")
    parser.add_argument("--snapshot-minutes", type=float, default=10)
    parser.add_argument("--out", type=Path, help="folder for results (default bench/results)")
    parser.add_argument("--report", type=Path, help="print the table of a series.json")
    parser.add_argument("--compare", type=Path, nargs=2, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.compare is not None:
        print(growth(*args.compare), end="")
        return
    if args.report is not None:
        result = json.loads(args.report.read_text())
        result["summary"] = summary(result["series"], result["warmup_minutes"] * 60)
        print_table(result)
        return
    print_table(run(args))


if __name__ == "__main__":
    main()
