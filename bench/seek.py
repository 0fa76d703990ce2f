"""Playback benchmark: seek in 30 days of footage to the first frame; timeline of a camera-day.

Run from the repository root::

    .venv/bin/python -m bench.seek                       # 100 cameras x 30 days, 10 s segments
    .venv/bin/python -m bench.seek --cameras 10 --days 7 --samples 50

The index is synthesized, the footage is real: a few 10 s fragmented MP4 files (720p, 15 fps,
a keyframe a second, 2 Mbit/s, recorded the way the node records) are encoded once, and every
row of the measured camera points at a hard link to one of them (259,200 links for 30 days),
so each seek reads a file it has not read before, as a seek into old footage would. The other
cameras get rows only, to give the index its full size (25.9 M rows for 100 x 30 days), on
a node that is not running (so that no reconciliation drops rows whose files do not exist).
Rows go straight into SQLite with executemany (the API would take hours to index that much).

- seek: a random instant in the 30 days -> GET vod.m3u8 for the next 10 minutes -> GET the
  first file's init part and first media segment (byte ranges, as a player does) -> decode
  the first frame with PyAV. Wall time of the whole, through the ASGI app in-process.
- timeline: GET /timeline for one random camera-day of another camera (8,640 segments).
``--reuse --data-dir DIR`` (same --cameras/--days) measures again on an earlier run's data.
Figures, never assertions: the table is printed and a JSON result written to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import sqlite3
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import av
import httpx

from vigil.api.app import create_app
from vigil.app import start_services, stop_services
from vigil.node.ffmpeg import FRAGMENTED_MP4, find_ffmpeg
from vigil.node.layout import segment_key
from vigil.settings import Settings
from vigil.store.cameras import CameraFields
from vigil.timeutil import iso

DAY_MS = 86_400_000
ROWS_ONLY = "archive"
RESULTS = Path(__file__).parent / "results"


def encode_samples(folder: Path, count: int, seconds: int) -> list[Path]:
    """``count`` different fragmented MP4 files as the recorder writes them."""
    files = []
    for n in range(count):
        path = folder / f"sample{n}.mp4"
        subprocess.run(
            [find_ffmpeg(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
             "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=15,hue=h={n * 40}",
             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
             "-t", str(seconds), "-map", "0:v", "-map", "1:a",
             "-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-g", "15",
             "-b:v", "2M", "-c:a", "aac", "-ac", "1",
             "-f", "mp4", "-movflags", FRAGMENTED_MP4.removeprefix("movflags="), str(path)],
            check=True,
        )  # fmt: skip
        files.append(path)
    return files


def fill_index(
    db_path: Path,
    recordings: Path,
    camera_ids: list[int],
    linked_camera: int,
    samples: list[Path],
    start_ms: int,
    days: int,
    segment_ms: int,
) -> int:
    """Rows for every camera, back to back; hard links to real files for ``linked_camera``."""
    sizes = [p.stat().st_size for p in samples]
    per_camera = days * DAY_MS // segment_ms
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    sql = (
        "INSERT INTO segments (camera_id, node, path, start_ms, end_ms, size, video_codec,"
        " audio_codec, width, height, fps, protected) VALUES (?,?,?,?,?,?,?,?,?,?,?,0)"
    )
    made_dirs: set[Path] = set()
    for camera_id in camera_ids:
        rows = []
        for i in range(per_camera):
            begin = start_ms + i * segment_ms
            key = segment_key(camera_id, begin)
            which = i % len(samples)
            node = "local" if camera_id == linked_camera else ROWS_ONLY
            rows.append(
                (camera_id, node, key, begin, begin + segment_ms, sizes[which],
                 "h264", "aac", 1280, 720, 15.0)
            )  # fmt: skip
            if camera_id == linked_camera:
                target = recordings / key
                if target.parent not in made_dirs:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    made_dirs.add(target.parent)
                os.link(samples[which], target)
        con.executemany(sql, rows)
        con.commit()
    # Cameras without files belong to a node that is not running: the local node's start-up
    # reconciliation would otherwise drop their rows as rows without files.
    con.execute("UPDATE cameras SET node = ? WHERE id != ?", (ROWS_ONLY, linked_camera))
    con.commit()
    con.close()
    return per_camera * len(camera_ids)


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {
        "p50_ms": round(at(0.50) * 1000, 2),
        "p95_ms": round(at(0.95) * 1000, 2),
        "p99_ms": round(at(0.99) * 1000, 2),
        "mean_ms": round(statistics.fmean(values) * 1000, 2),
    }


def first_media(playlist: str) -> tuple[str, tuple[int, int], tuple[int, int]]:
    """URI, init byte range and first media byte range (size, offset) of a playlist."""
    lines = playlist.splitlines()
    map_line = next(line for line in lines if line.startswith("#EXT-X-MAP:"))
    uri = map_line.split('URI="')[1].split('"')[0]
    init = map_line.split('BYTERANGE="')[1].split('"')[0]
    media = next(line for line in lines if line.startswith("#EXT-X-BYTERANGE:")).split(":")[1]

    def pair(text: str) -> tuple[int, int]:
        size, offset = text.split("@")
        return int(size), int(offset)

    return uri, pair(init), pair(media)


async def fetch_range(http: httpx.AsyncClient, url: str, size: int, offset: int) -> bytes:
    response = await http.get(url, headers={"Range": f"bytes={offset}-{offset + size - 1}"})
    response.raise_for_status()
    return response.content


def decode_first(data: bytes) -> tuple[int, int]:
    with av.open(io.BytesIO(data)) as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


async def seek_once(http: httpx.AsyncClient, camera_id: int, at_ms: int, window_ms: int) -> None:
    base = f"/api/cameras/{camera_id}"
    response = await http.get(
        f"{base}/vod.m3u8", params={"start": iso(at_ms), "end": iso(at_ms + window_ms)}
    )
    response.raise_for_status()
    uri, (init_size, init_offset), (size, offset) = first_media(response.text)
    url = f"{base}/{uri}"
    init = await fetch_range(http, url, init_size, init_offset)
    media = await fetch_range(http, url, size, offset)
    await asyncio.to_thread(decode_first, init + media)


async def build(
    args: argparse.Namespace, work: Path, settings: Settings
) -> tuple[list[int], int, int]:
    """Cameras, sample files and the index; (camera ids, rows, first instant)."""
    services = await start_services(settings)
    users = services.auth.users
    org = await users.org_named("Bench") or await users.create_org("Bench")
    try:
        ids = []
        for n in range(args.cameras):
            fields = CameraFields(
                name=f"seek-{n}", main_url="rtsp://127.0.0.1:9/none", enabled=False
            )
            ids.append((await services.cameras.create(fields, org_id=org.id)).id)
    finally:
        await stop_services(services)

    segment_ms = round(args.segment_seconds * 1000)
    started = time.perf_counter()
    samples = encode_samples(work, 4, round(args.segment_seconds))
    end_ms = (time.time_ns() // 1_000_000) // DAY_MS * DAY_MS
    begin_ms = end_ms - args.days * DAY_MS
    rows = await asyncio.to_thread(
        fill_index,
        work / "data" / "vigil.db",
        settings.recordings_dir,
        ids,
        ids[0],
        samples,
        begin_ms,
        args.days,
        segment_ms,
    )
    print(f"indexed {rows:,} rows in {time.perf_counter() - started:.0f} s", flush=True)
    return ids, rows, begin_ms


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.data_dir or tempfile.mkdtemp(prefix="vigil-seek-"))
    settings = Settings(data_dir=work / "data", secret_key="bench-seek")
    database = work / "data" / "vigil.db"
    if args.reuse and database.is_file():
        # A data folder filled by an earlier run: measure again without indexing again.
        with sqlite3.connect(database) as con:
            ids = [row[0] for row in con.execute("SELECT id FROM cameras ORDER BY id")]
            rows, begin_ms = con.execute("SELECT count(*), min(start_ms) FROM segments").fetchone()
        print(f"reusing {rows:,} rows in {work}", flush=True)
    else:
        ids, rows, begin_ms = await build(args, work, settings)

    services = await start_services(settings)
    rng = random.Random(args.seed)
    try:
        app = create_app(settings, services)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            other = ids[len(ids) // 2]
            days = [begin_ms + rng.randrange(args.days) * DAY_MS for _ in range(args.samples)]
            # Each measured alone, so that one's garbage is not collected during another.
            timeline: list[float] = []
            for day in days:
                t0 = time.perf_counter()
                response = await http.get(
                    f"/api/cameras/{other}/timeline",
                    params={"start": iso(day), "end": iso(day + DAY_MS)},
                )
                response.raise_for_status()
                timeline.append(time.perf_counter() - t0)
            store: list[float] = []
            for day in days:
                t0 = time.perf_counter()
                await services.segments.times_in_range(other, day, day + DAY_MS)
                store.append(time.perf_counter() - t0)
            store_orm: list[float] = []
            for day in days[:20]:
                t0 = time.perf_counter()
                await services.segments.in_range(other, day, day + DAY_MS)
                store_orm.append(time.perf_counter() - t0)
            previews = len(response.json()["previews"])
            seeks: list[float] = []
            for _ in range(args.samples):
                at = begin_ms + rng.randrange(args.days * DAY_MS - args.window_ms)
                t0 = time.perf_counter()
                await seek_once(http, ids[0], at, args.window_ms)
                seeks.append(time.perf_counter() - t0)
    finally:
        await stop_services(services)
    return {
        "cameras": args.cameras,
        "days": args.days,
        "segment_seconds": args.segment_seconds,
        "rows": rows,
        "samples": args.samples,
        "seek_window_seconds": args.window_ms / 1000,
        "seek_to_first_frame": percentiles(seeks),
        "timeline_camera_day_api": percentiles(timeline) | {"previews": previews},
        "camera_day_times_core": percentiles(store),
        "camera_day_rows_orm": percentiles(store_orm),
        "data_dir": str(work),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cameras", type=int, default=100)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--segment-seconds", type=float, default=10.0)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--window-ms", type=int, default=600_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument(
        "--reuse", action="store_true", help="measure again on the data of an earlier run"
    )
    result = asyncio.run(run(parser.parse_args()))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"seek-{result['cameras']}x{result['days']}d.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
