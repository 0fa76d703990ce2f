"""Playback from a node on another machine, against the same node in the process.

One Vigil (`start_services`, SQLite) records nothing; a recorded segment (10 s of 1080p
H.264 at about 8 Mbit/s, made by ffmpeg) and a large file lie in its recordings folder.
The same reads go to the node directly (the in-process link, what `vigil serve` does) and
through a nats-server on loopback (`NatsNodeSide` → `NodeServer`, what `vigil app` does
with a `vigil node`), alternating round by round:

- **first picture**: what a player needs before it can show the first frame of a
  recording: the file's fragment index (for the playlist), its init part and its first
  fragment (p50/p95 over ``--samples``);
- **throughput**: a ``--megabytes`` file read whole a ``READ_LIMIT`` at a time, in order,
  as a download relays it;
- **export**: ``--export-segments`` copies of the segment (10 s each) exported as one MP4
  (stream copy), as an export's camera part is made: cut on the node and the file taken
  (moved in the process, copied and hash-checked over the bus), against what the
  application did before the node cut exports (every segment copied through the bus, then
  cut by ffmpeg on the application's side).

    .venv/bin/python -m bench.remote_reads --samples 50 --megabytes 256 --export-segments 30

Figures, never assertions: a table is printed and a JSON result written (bench/results/).
Loopback has no network delay: over a LAN add a round trip per read (or two per
`READ_LIMIT`, which the bus carries in two pieces at its 1 MiB default payload).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.output import write_result
from vigil.app import start_services, stop_services
from vigil.exports.job import CameraJob, PinnedSource, export_camera, fetch
from vigil.exports.manifest import sha256_file
from vigil.link.messages import CutOrder, CutSource
from vigil.link.nats.connection import connect
from vigil.link.nats.embedded import NatsServer
from vigil.link.nats.node_client import NatsNodeSide
from vigil.link.nats.node_server import NodeServer
from vigil.link.nats.subjects import APP_USER
from vigil.link.protocol import READ_LIMIT, MediaNotFound, NodeSide
from vigil.media.ffmpeg import find_ffmpeg
from vigil.node.layout import segment_key
from vigil.settings import Settings

SEGMENT = "1/2026-12-06/12/20261206T120000.000Z.mp4"
BASE_MS = 1_796_000_000_000  # where the export's copies of the segment are laid
LARGE = "1/2026-12-06/12/large.bin"


def make_segment(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25", "-t", "10",
         "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "8M", "-pix_fmt", "yuv420p",
         "-g", "25", "-movflags", "+frag_keyframe+empty_moov+default_base_moof", str(path)],
        check=True,
    )  # fmt: skip


async def first_picture(node: NodeSide) -> float:
    started = time.perf_counter()
    (index,) = await node.fragment_indexes([SEGMENT])
    assert index is not None
    first = index.fragments[0]
    await node.read_file(SEGMENT, 0, index.init_length - 1)
    end = first.offset + first.size - 1
    for at in range(first.offset, end + 1, READ_LIMIT):
        await node.read_file(SEGMENT, at, min(at + READ_LIMIT - 1, end))
    return (time.perf_counter() - started) * 1000


async def throughput(node: NodeSide, size: int) -> float:
    started = time.perf_counter()
    for at in range(0, size, READ_LIMIT):
        await node.read_file(LARGE, at, min(at + READ_LIMIT, size) - 1)
    return size / (1 << 20) / (time.perf_counter() - started)


async def export_on_node(node: NodeSide, order: CutOrder, out: Path, key: str) -> float:
    """An export's camera part as ``ExportService`` takes it from a node now."""
    started = time.perf_counter()
    state = await node.start_cut(key, order)
    while state.state == "running":
        await asyncio.sleep(0.02)
        state = await node.cut_state(key)
    assert state.state == "done", state.error
    assert state.file is not None
    target = out / state.file.name
    try:
        await asyncio.to_thread(shutil.move, node.cut_file(key), target)
    except MediaNotFound:
        await fetch(node.read_cut, key, state.file.size, target)
        assert await asyncio.to_thread(sha256_file, target) == state.file.sha256
    await node.drop_cut(key)
    elapsed = time.perf_counter() - started
    target.unlink()
    return elapsed


async def export_here(node: NodeSide, order: CutOrder, out: Path, ffmpeg: str) -> float:
    """The same part as the application made it before: every segment copied through the
    link into a work folder, then cut by ffmpeg here."""
    started = time.perf_counter()
    work = out / "work"
    work.mkdir()
    pinned = []
    for n, source in enumerate(order.sources):
        copy = work / f"{n:06d}.mp4"
        await fetch(node.read_file, source.path, await node.file_size(source.path), copy)
        pinned.append(PinnedSource(source, copy))
    job = CameraJob(order.camera_id, order.camera_name, order.start_ms, order.end_ms, pinned, False)
    made = await export_camera(job, work, out, ffmpeg, lambda _: None)
    elapsed = time.perf_counter() - started
    shutil.rmtree(work)
    (out / made.name).unlink()
    return elapsed


def export_order(recordings: Path, segments: int) -> CutOrder:
    """``segments`` copies of the segment laid end to end, as one camera's recordings."""
    sources = []
    for n in range(segments):
        start = BASE_MS + n * 10_000
        key = segment_key(1, start)
        (recordings / key).parent.mkdir(parents=True, exist_ok=True)
        if not (recordings / key).exists():
            os.link(recordings / SEGMENT, recordings / key)
        sources.append(CutSource(path=key, start_ms=start, end_ms=start + 10_000, height=1080))
    end = BASE_MS + segments * 10_000
    return CutOrder(
        camera_id=1, camera_name="Bench", start_ms=BASE_MS, end_ms=end, burn_in=False,
        sources=sources,
    )  # fmt: skip


def stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
    }


async def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    settings = Settings(data_dir=work / "data", secret_key="bench-key")
    make_segment(settings.recordings_dir / SEGMENT)
    size = args.megabytes << 20
    (settings.recordings_dir / LARGE).write_bytes(os.urandom(size))
    services = await start_services(settings)
    try:
        assert services.node is not None
        with NatsServer(work / "bus", "app-bench", {services.node.name: "node-bench"}) as bus:
            node_client = await connect(bus.url, services.node.name, "node-bench", "node")
            app_client = await connect(bus.url, APP_USER, "app-bench", "app")
            server = NodeServer(node_client, services.node.name, services.node)
            await server.start()
            remote = NatsNodeSide(app_client, services.node.name)
            await asyncio.sleep(0.2)
            sides: dict[str, NodeSide] = {"in-process": services.node, "over the bus": remote}
            pictures: dict[str, list[float]] = {name: [] for name in sides}
            rates: dict[str, list[float]] = {name: [] for name in sides}
            for side in sides.values():  # warm: caches, connections
                await first_picture(side)
            for round_ in range(args.samples):
                order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
                for name in order:
                    pictures[name].append(await first_picture(sides[name]))
            for round_ in range(args.rounds):
                order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
                for name in order:
                    rates[name].append(await throughput(sides[name], size))
            local: NodeSide = services.node
            cut = export_order(settings.recordings_dir, args.export_segments)
            out = work / "exports"
            out.mkdir()
            ways: dict[str, Callable[[int], Awaitable[float]]] = {
                "in-process, cut on the node": lambda n: export_on_node(
                    local, cut, out, f"bench-{n}"
                ),
                "over the bus, cut on the node": lambda n: export_on_node(
                    remote, cut, out, f"bench-{n}"
                ),
                "over the bus, segments copied (before)": lambda n: export_here(
                    remote, cut, out, find_ffmpeg()
                ),
            }
            exports: dict[str, list[float]] = {name: [] for name in ways}
            for round_ in range(args.export_rounds):
                order = list(ways) if round_ % 2 == 0 else list(reversed(ways))
                for name in order:
                    exports[name].append(await ways[name](round_))
            await server.stop()
            await app_client.close()
            await node_client.close()
    finally:
        await stop_services(services)
    return {
        "bench": "remote_reads",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "segment_bytes": (settings.recordings_dir / SEGMENT).stat().st_size,
        "file_megabytes": args.megabytes,
        "first_picture_ms": {name: stats(values) for name, values in pictures.items()},
        "throughput_mib_s": {name: statistics.median(values) for name, values in rates.items()},
        "export_segments": args.export_segments,
        "export_s": {name: statistics.median(values) for name, values in exports.items()},
    }


def print_table(result: dict[str, Any]) -> None:
    print()
    print(f"{'':<16}{'first picture p50 ms':>22}{'p95 ms':>9}{'read MiB/s':>12}")
    for name, picture in result["first_picture_ms"].items():
        rate = result["throughput_mib_s"][name]
        print(f"{name:<16}{picture['p50']:>22.1f}{picture['p95']:>9.1f}{rate:>12.0f}")
    footage = result["export_segments"] * 10
    print()
    print(f"{f'export of {footage} s of footage':<42}{'median s':>10}")
    for name, seconds in result["export_s"].items():
        print(f"{name:<42}{seconds:>10.2f}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50, help="first-picture samples")
    parser.add_argument("--megabytes", type=int, default=256, help="the file read whole")
    parser.add_argument("--rounds", type=int, default=4, help="whole-file reads of each")
    parser.add_argument(
        "--export-segments", type=int, default=30, help="10 s segments in the export"
    )
    parser.add_argument("--export-rounds", type=int, default=3, help="exports of each way")
    parser.add_argument("--out", type=Path, default=None, help="the JSON result's path")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vigil-bench-remote-") as folder:
        result = asyncio.run(measure(args, Path(folder)))
    print_table(result)
    name = f"remote_reads-{time.strftime('%Y%m%dT%H%M%S')}.json"
    print(f"written {write_result(result, args.out, name)}")


if __name__ == "__main__":
    main()
