"""The soak benchmark's server: what ``vigil demo`` runs, in a process of its own, optionally
under tracemalloc to find what grows.

Started by ``bench/soak.py`` (not meant to be run by hand). It starts the services on SQLite
in ``--data-dir`` (``start_services``, as ``vigil demo`` does), makes an organisation, its
admin and an API key with every scope through ``services.auth`` (a real client's
credentials), creates one camera per simulator URL with the demo's detection settings
(people in the right half of the picture) and the demo's retention, then serves the HTTP API
with ``serve_http`` until SIGTERM. One JSON line on stdout says it is ready::

    {"event": "ready", "api_key": "vgl_...", "cameras": [1, 2, 3, 4], "pid": 1234}

Every ``--inside-seconds`` it appends what it holds, seen from inside, to ``--inside-file``:
glibc's ``mallinfo2`` (bytes in use, free but kept in the arenas, in mappings of their own),
SQLite's own allocations (``sqlite3_memory_used``: page caches, prepared statements) and
Python's allocated blocks; so the growth of RSS can be told apart: C libraries' memory, freed
memory glibc keeps, or Python's objects.

With ``--tracemalloc-dir`` the process runs under ``tracemalloc`` (``--frames`` deep). Every
``--trace-seconds`` it appends the traced size and tracemalloc's own overhead
(``tracemalloc.get_tracemalloc_memory()``) to ``traced.jsonl``; it dumps a snapshot to
``snapshot-SSSSSS.dump`` (seconds since start) at half ``--warmup-seconds``, at
``--warmup-seconds`` (the baseline) and every ``--snapshot-seconds`` after, which
``bench.soak`` compares (``growth``: ``compare_to(baseline, "traceback")``, top 30 sites) in a
process of its own. Snapshots are taken on a thread of their own; they hold the GIL while
they run (a second or two), which the API waits out.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import logging
import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

from vigil import allocator, logs
from vigil.app import Services, start_services, stop_services
from vigil.auth.permissions import ALL_SCOPES
from vigil.auth.tokens import new_api_key, token_hash
from vigil.demo import DEMO_DETECTION, DEMO_RETENTION_DAYS, DEMO_SIZE_CAP
from vigil.server import serve_http
from vigil.settings import Settings
from vigil.store.cameras import CameraFields
from vigil.timeutil import now_ms

log = logging.getLogger(__name__)

PASSWORD = "soak-amber-lantern-47"
TOP_SITES = 30


async def prepare(services: Services, urls: list[str], detection: bool) -> tuple[str, list[int]]:
    """The demo's organisation, its admin, an API key with every scope, and the cameras."""
    auth = services.auth
    user = await auth.create_admin("Soak", "soak-admin", PASSWORD)
    key = new_api_key()
    scopes = sorted(s.value for s in ALL_SCOPES)
    await auth.keys.create(user.id, "soak", token_hash(key), scopes, now_ms(), None)
    ids = []
    for index, url in enumerate(urls, start=1):
        camera = await services.cameras.create(
            CameraFields(
                name=f"Soak camera {index}",
                main_url=url,
                segment_seconds=services.settings.cameras.segment_seconds,
                retention_days=DEMO_RETENTION_DAYS,
                retention_max_bytes=DEMO_SIZE_CAP,
                detection=DEMO_DETECTION if detection else None,
            ),
            user.org_id,
        )
        ids.append(camera.id)
    return key, ids


class GrowthTracer:
    """tracemalloc's figures over time, and snapshots dumped to files for ``bench.soak``.

    A snapshot with deep tracebacks holds much memory while it lives, and Python keeps the
    arenas it used: so snapshots are dumped to disk and dropped at once, compared by another
    process, and a first one is taken at half the warm-up, so that the high-water mark they
    raise is reached before the steady window that the slope is taken over."""

    def __init__(
        self,
        folder: Path,
        warmup_s: float,
        snapshot_s: float,
        trace_s: float,
        stop: threading.Event,
    ) -> None:
        self.folder = folder
        self.warmup_s = warmup_s
        self.snapshot_s = snapshot_s
        self.trace_s = trace_s
        self.stop = stop
        self.started = time.monotonic()

    def run(self) -> None:
        due = [self.started + self.warmup_s / 2, self.started + self.warmup_s]
        while not self.stop.wait(self.trace_s):
            now = time.monotonic()
            self._trace_line(now)
            if now < due[0]:
                continue
            self._dump(now)
            due.pop(0)
            if not due:
                due.append(now + self.snapshot_s)

    def _trace_line(self, now: float) -> None:
        current, peak = tracemalloc.get_traced_memory()
        line = {
            "t": round(now - self.started, 1),
            "traced": current,
            "traced_peak": peak,
            "overhead": tracemalloc.get_tracemalloc_memory(),
        }
        with (self.folder / "traced.jsonl").open("a") as handle:
            handle.write(json.dumps(line) + "\n")

    def _dump(self, now: float) -> None:
        seconds = round(now - self.started)
        path = self.folder / f"snapshot-{seconds:06d}.dump"
        snapshot = tracemalloc.take_snapshot()
        snapshot.dump(str(path.with_suffix(".part")))
        del snapshot
        path.with_suffix(".part").rename(path)


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _inside_probe() -> Any:
    """A function giving what the process holds by allocator, seen from inside."""
    import _sqlite3

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    sqlite = ctypes.CDLL(_sqlite3.__file__)
    sqlite.sqlite3_memory_used.restype = ctypes.c_int64

    def probe() -> dict[str, int]:
        info = libc.mallinfo2()
        return {
            "malloc_in_use": info.uordblks + info.hblkhd,
            "malloc_free": info.fordblks,
            "malloc_mmapped": info.hblkhd,
            "sqlite": sqlite.sqlite3_memory_used(),
            # Not gc.get_objects(): from another thread it can catch a tuple the main
            # thread is still building, which then fails to resize (SystemError).
            "py_blocks": sys.getallocatedblocks(),
        }

    return probe


def watch_inside(path: Path, every: float, stop: threading.Event) -> None:
    probe = _inside_probe()
    started = time.monotonic()
    while not stop.wait(every):
        line = {"t": round(time.monotonic() - started, 1), **probe()}
        with path.open("a") as handle:
            handle.write(json.dumps(line) + "\n")


def growth(baseline: Path, current: Path) -> str:
    """The top growth sites of ``current`` against ``baseline`` (dumped snapshots)."""
    before = tracemalloc.Snapshot.load(str(baseline))
    after = tracemalloc.Snapshot.load(str(current))
    stats = after.compare_to(before, "traceback")
    total = sum(s.size_diff for s in stats)
    lines = [
        f"{current.name} against {baseline.name}: {total / 2**20:+.3f} MiB over all sites (traced)"
    ]
    for rank, stat in enumerate(stats[:TOP_SITES], start=1):
        lines.append(
            f"\n#{rank}: {stat.size_diff / 2**10:+.1f} KiB ({stat.count_diff:+d} blocks),"
            f" now {stat.size / 2**10:.1f} KiB in {stat.count} blocks"
        )
        lines.extend(stat.traceback.format(most_recent_first=True))
    return "\n".join(lines) + "\n"


async def run(args: argparse.Namespace) -> None:
    settings = Settings(data_dir=args.data_dir)
    settings.server.host = "127.0.0.1"
    settings.server.port = args.port
    services = await start_services(settings)
    try:
        key, ids = await prepare(services, args.urls, args.detection)
        line = {"event": "ready", "api_key": key, "cameras": ids, "pid": os.getpid()}
        print(json.dumps(line), flush=True)
        await serve_http(settings, services)
    finally:
        await stop_services(services)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--no-detection", dest="detection", action="store_false")
    parser.add_argument("--tracemalloc-dir", type=Path, help="run under tracemalloc, write here")
    parser.add_argument("--frames", type=int, default=25, help="tracemalloc traceback depth")
    parser.add_argument("--warmup-seconds", type=float, default=900)
    parser.add_argument("--snapshot-seconds", type=float, default=600)
    parser.add_argument("--trace-seconds", type=float, default=60)
    parser.add_argument("--inside-file", type=Path, help="append what is held inside here")
    parser.add_argument("--inside-seconds", type=float, default=30)
    parser.add_argument("urls", nargs="+")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logs.configure(False)
    allocator.tune()  # as `vigil serve` does, before any thread starts
    stop = threading.Event()
    if args.inside_file is not None:
        threading.Thread(
            target=watch_inside,
            args=(args.inside_file, args.inside_seconds, stop),
            name="soak-inside",
            daemon=True,
        ).start()
    if args.tracemalloc_dir is not None:
        args.tracemalloc_dir.mkdir(parents=True, exist_ok=True)
        tracemalloc.start(args.frames)
        tracer = GrowthTracer(
            args.tracemalloc_dir,
            args.warmup_seconds,
            args.snapshot_seconds,
            args.trace_seconds,
            stop,
        )
        threading.Thread(target=tracer.run, name="soak-tracemalloc", daemon=True).start()
    try:
        asyncio.run(run(args))
    finally:
        stop.set()
    sys.exit(0)


if __name__ == "__main__":
    main()
