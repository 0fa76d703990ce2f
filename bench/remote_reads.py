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
  as a download relays it.

    .venv/bin/python -m bench.remote_reads --samples 50 --megabytes 256

Figures, never assertions: a table is printed and a JSON result written (bench/results/).
Loopback has no network delay: over a LAN add a round trip per read (or two per
`READ_LIMIT`, which the bus carries in two pieces at its 1 MiB default payload).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.output import write_result
from vigil.app import start_services, stop_services
from vigil.link.nats.connection import connect
from vigil.link.nats.embedded import NatsServer
from vigil.link.nats.node_client import NatsNodeSide
from vigil.link.nats.node_server import NodeServer
from vigil.link.nats.subjects import APP_USER
from vigil.link.protocol import READ_LIMIT, NodeSide
from vigil.media.ffmpeg import find_ffmpeg
from vigil.settings import Settings

SEGMENT = "1/2026-12-06/12/20261206T120000.000Z.mp4"
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
    }


def print_table(result: dict[str, Any]) -> None:
    print()
    print(f"{'':<16}{'first picture p50 ms':>22}{'p95 ms':>9}{'read MiB/s':>12}")
    for name, picture in result["first_picture_ms"].items():
        rate = result["throughput_mib_s"][name]
        print(f"{name:<16}{picture['p50']:>22.1f}{picture['p95']:>9.1f}{rate:>12.0f}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50, help="first-picture samples")
    parser.add_argument("--megabytes", type=int, default=256, help="the file read whole")
    parser.add_argument("--rounds", type=int, default=4, help="whole-file reads of each")
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
