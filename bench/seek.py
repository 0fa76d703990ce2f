"""Playback benchmark: seek in 30 days of footage to the first frame; timeline of a camera-day.

Run from the repository root::

    .venv/bin/python -m bench.seek                       # 100 cameras x 30 days, 10 s segments
    .venv/bin/python -m bench.seek --cameras 2 --days 1 --samples 5          # a few seconds
    .venv/bin/python -m bench.seek --database-url postgresql+psycopg://postgres@127.0.0.1:5432/seek

The index is synthesized, the footage is real: a few 10 s fragmented MP4 files (720p, 15 fps,
a keyframe a second, 2 Mbit/s, recorded the way the node records) are encoded once, and every
row of the measured camera points at a hard link to one of them (259,200 links for 30 days),
so each seek reads a file it has not read before, as a seek into old footage would. The other
cameras get rows only, to give the index its full size (25.9 M rows for 100 x 30 days), on
a node that is not running (so that no reconciliation drops rows whose files do not exist).
Every camera misses one segment an hour (a reconnection), so a camera-day has 24 spans.
Rows and their spans go straight into the database (``executemany`` on SQLite, ``COPY`` on
PostgreSQL, whose database must exist and be empty): the API would take hours to index that
much.

Requests go through the ASGI app in-process, as a client would send them: with an API key
made by the project's own ``AuthService`` (``Authorization: Bearer``).
- seek: a random instant in the 30 days -> GET vod.m3u8 for the next 10 minutes -> GET the
  first file's init part and first media segment (byte ranges, as a player does) -> decode
  the first frame with PyAV. Wall time of the whole.
- timeline: GET /timeline for one random camera-day of another camera (8,640 segments).
``--reuse --data-dir DIR`` (same --cameras/--days/--database-url) measures again on an
earlier run's data. Figures, never assertions: a table is printed and a JSON result written
to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import av
import httpx
import psycopg
from sqlalchemy import create_engine, make_url, text

from bench.output import write_result
from vigil.api.app import create_app
from vigil.app import Services, start_services, stop_services
from vigil.auth.permissions import ALL_SCOPES
from vigil.auth.tokens import new_api_key, token_hash
from vigil.media.ffmpeg import find_ffmpeg
from vigil.node.ffmpeg import FRAGMENTED_MP4
from vigil.node.layout import segment_key
from vigil.settings import Settings
from vigil.store.cameras import CameraFields
from vigil.store.database import sync_url
from vigil.store.segments import SPAN_TOLERANCE_MS
from vigil.timeutil import iso, now_ms

DAY_MS = 86_400_000
ROWS_ONLY = "archive"
PASSWORD = "bench-seek-password-1"


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


# One segment in this many is missing (a reconnection): 24 spans in a camera-day.
HOLE_EVERY = 360
COLUMNS = (
    "camera_id", "node", "path", "start_ms", "end_ms", "size", "video_codec", "audio_codec",
    "width", "height", "fps", "protected", "motion",
)  # fmt: skip


def camera_rows(
    camera_id: int, node: str, sizes: list[int], start_ms: int, count: int, segment_ms: int
) -> tuple[list[tuple[Any, ...]], list[tuple[int, int]]]:
    """A camera's segment rows back to back, less one in every HOLE_EVERY, and their spans."""
    rows: list[tuple[Any, ...]] = []
    spans: list[tuple[int, int]] = []
    for i in range(count):
        if i % HOLE_EVERY == HOLE_EVERY - 1:
            continue
        begin = start_ms + i * segment_ms
        end = begin + segment_ms
        which = i % len(sizes)
        rows.append(
            (camera_id, node, segment_key(camera_id, begin), begin, end, sizes[which],
             "h264", "aac", 1280, 720, 15.0, False, False)
        )  # fmt: skip
        if spans and begin - spans[-1][1] <= SPAN_TOLERANCE_MS:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((begin, end))
    return rows, spans


def link_files(recordings: Path, rows: list[tuple[Any, ...]], samples: list[Path]) -> None:
    """A hard link per row to one of the sample files, at the row's storage key."""
    made_dirs: set[Path] = set()
    sizes = [p.stat().st_size for p in samples]
    for row in rows:
        target = recordings / row[2]
        if target.parent not in made_dirs:
            target.parent.mkdir(parents=True, exist_ok=True)
            made_dirs.add(target.parent)
        os.link(samples[sizes.index(row[5])], target)


def fill_sqlite(path: Path, batches: Any) -> None:
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    segments = (
        f"INSERT INTO segments ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    )
    spans = "INSERT INTO recording_spans (camera_id, start_ms, end_ms) VALUES (?,?,?)"
    for camera_id, rows, camera_spans in batches:
        con.executemany(segments, rows)
        con.executemany(spans, [(camera_id, a, b) for a, b in camera_spans])
        con.commit()
    con.execute("UPDATE cameras SET node = ? WHERE node != 'local'", (ROWS_ONLY,))
    con.commit()
    con.close()


def fill_postgres(url: str, batches: Any) -> None:
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as con:
        for camera_id, rows, camera_spans in batches:
            with con.cursor() as cur:
                with cur.copy(f"COPY segments ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                with cur.copy(
                    "COPY recording_spans (camera_id, start_ms, end_ms) FROM STDIN"
                ) as copy:
                    for a, b in camera_spans:
                        copy.write_row((camera_id, a, b))
            con.commit()
        con.execute("UPDATE cameras SET node = %s WHERE node != 'local'", (ROWS_ONLY,))
        con.commit()
        # As autovacuum would in time: statistics, and the visibility map for index-only scans.
        con.autocommit = True
        con.execute("VACUUM ANALYZE segments")
        con.execute("VACUUM ANALYZE recording_spans")


def fill_index(
    url: str,
    recordings: Path,
    camera_ids: list[int],
    linked_camera: int,
    samples: list[Path],
    start_ms: int,
    days: int,
    segment_ms: int,
) -> int:
    """Rows and spans for every camera; hard links to real files for ``linked_camera``."""
    sizes = [p.stat().st_size for p in samples]
    per_camera = days * DAY_MS // segment_ms
    written = 0

    def batches() -> Any:
        nonlocal written
        for camera_id in camera_ids:
            node = "local" if camera_id == linked_camera else ROWS_ONLY
            rows, spans = camera_rows(camera_id, node, sizes, start_ms, per_camera, segment_ms)
            if camera_id == linked_camera:
                link_files(recordings, rows, samples)
            written += len(rows)
            yield camera_id, rows, spans

    # Cameras without files belong to a node that is not running: the local node's start-up
    # reconciliation would otherwise drop their rows as rows without files.
    if url.startswith("sqlite"):
        fill_sqlite(Path(make_url(url).database or ""), batches())
    else:
        fill_postgres(url, batches())
    return written


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
    try:
        user = await services.auth.create_admin("Bench", "bench-admin", PASSWORD)
        ids = []
        for n in range(args.cameras):
            fields = CameraFields(
                name=f"seek-{n}", main_url="rtsp://127.0.0.1:9/none", enabled=False
            )
            ids.append((await services.cameras.create(fields, org_id=user.org_id)).id)
    finally:
        await stop_services(services)

    segment_ms = round(args.segment_seconds * 1000)
    started = time.perf_counter()
    samples = encode_samples(work, 4, round(args.segment_seconds))
    end_ms = (time.time_ns() // 1_000_000) // DAY_MS * DAY_MS
    begin_ms = end_ms - args.days * DAY_MS
    rows = await asyncio.to_thread(
        fill_index,
        settings.database.url,
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


def earlier_run(url: str) -> tuple[list[int], int, int]:
    """(camera ids, rows, first instant) of the data an earlier run wrote."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as con:
            # The cameras with footage (all of them, unless that run was cut short).
            query = text("SELECT DISTINCT camera_id FROM recording_spans ORDER BY camera_id")
            ids = [row[0] for row in con.execute(query)]
            rows, begin_ms = con.execute(text("SELECT count(*), min(start_ms) FROM segments")).one()
    finally:
        engine.dispose()
    return ids, int(rows), int(begin_ms)


async def api_key(services: Services) -> str:
    """A key with every scope for the bench's admin, made as ``POST /api/me/keys`` does."""
    user = await services.auth.users.by_username("bench-admin")
    assert user is not None, "the bench's admin is made when its data is"
    key = new_api_key()
    scopes = sorted(s.value for s in ALL_SCOPES)
    await services.auth.keys.create(user.id, "bench", token_hash(key), scopes, now_ms(), None)
    return key


def box_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole box so far, from /proc/stat."""
    fields = [float(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_since(before: tuple[float, float]) -> float:
    busy, total = box_busy()
    return round(100 * (busy - before[0]) / max(1.0, total - before[1]), 1)


async def timed(samples: int, call: Any) -> list[float]:
    """Wall times of ``call(i)`` for i in range(samples), each alone."""
    times = []
    for i in range(samples):
        t0 = time.perf_counter()
        await call(i)
        times.append(time.perf_counter() - t0)
    return times


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.data_dir or tempfile.mkdtemp(prefix="vigil-seek-"))
    url = args.database_url or f"sqlite+aiosqlite:///{work / 'data' / 'vigil.db'}"
    settings = Settings(data_dir=work / "data", secret_key="bench-seek", database={"url": url})
    if args.reuse:
        # A data folder (and database) filled by an earlier run: measure again.
        ids, rows, begin_ms = earlier_run(url)
        print(f"reusing {rows:,} rows in {work}", flush=True)
    else:
        ids, rows, begin_ms = await build(args, work, settings)

    services = await start_services(settings)
    rng = random.Random(args.seed)
    try:
        key = await api_key(services)
        app = create_app(settings, services)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://bench",
            headers={"Authorization": f"Bearer {key}"},
        ) as http:
            other = ids[len(ids) // 2]
            days = [begin_ms + rng.randrange(args.days) * DAY_MS for _ in range(args.samples)]
            previews = 0

            async def timeline(i: int) -> None:
                nonlocal previews
                params = {"start": iso(days[i]), "end": iso(days[i] + DAY_MS)}
                response = await http.get(f"/api/cameras/{other}/timeline", params=params)
                response.raise_for_status()
                previews = len(response.json()["previews"])

            async def spans(i: int) -> None:
                await services.segments.spans_in_range(other, days[i], days[i] + DAY_MS)

            async def samples(i: int) -> None:
                await services.segments.preview_times(other, days[i], days[i] + DAY_MS, 720)

            async def rows_orm(i: int) -> None:
                await services.segments.in_range(other, days[i], days[i] + DAY_MS)

            async def seek(_: int) -> None:
                at = begin_ms + rng.randrange(args.days * DAY_MS - args.window_ms)
                await seek_once(http, ids[0], at, args.window_ms)

            # Not measured: the key's first use is looked up, recorded and audited.
            await timeline(0)
            # Each measured in its own loop, so that one's garbage is not collected in another.
            busy_before = box_busy()
            result = {
                "timeline_camera_day_api": percentiles(await timed(args.samples, timeline)),
                "camera_day_spans": percentiles(await timed(args.samples, spans)),
                "camera_day_preview_samples": percentiles(await timed(args.samples, samples)),
                "camera_day_rows_orm": percentiles(await timed(min(20, args.samples), rows_orm)),
                "seek_to_first_frame": percentiles(await timed(args.samples, seek)),
            }
            # The box is shared: what else ran while this measured.
            result["box_busy_percent"] = busy_since(busy_before)
            result["load_average_1min"] = round(os.getloadavg()[0], 1)
    finally:
        await stop_services(services)
    return {
        "database": make_url(url).get_backend_name(),
        "cameras": len(ids),
        "days": args.days,
        "segment_seconds": args.segment_seconds,
        "rows": rows,
        "samples": args.samples,
        "seek_window_seconds": args.window_ms / 1000,
        "previews": previews,
        **result,
        "data_dir": str(work),
    }


LABELS = {
    "seek_to_first_frame": "seek: request -> first decoded frame",
    "timeline_camera_day_api": "timeline, one camera-day, through the API",
    "camera_day_spans": "camera-day spans from the index",
    "camera_day_preview_samples": "camera-day preview samples (720) from the index",
    "camera_day_rows_orm": "camera-day segments as ORM objects (/recordings)",
}


def print_table(result: dict[str, Any]) -> None:
    print(
        f"\n{result['cameras']} cameras x {result['days']} days, {result['database']},"
        f" {result['rows']:,} rows, {result['samples']} samples (ms); box busy"
        f" {result['box_busy_percent']} %, load average {result['load_average_1min']}"
    )
    print("| | p50 | p95 | p99 |\n| --- | ---: | ---: | ---: |")
    for name, label in LABELS.items():
        figures = result[name]
        print(f"| {label} | {figures['p50_ms']} | {figures['p95_ms']} | {figures['p99_ms']} |")


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
        "--database-url",
        default=None,
        help="an empty PostgreSQL database (postgresql+psycopg://...); default: SQLite in"
        " the data folder",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="measure again on the data of an earlier run"
    )
    parser.add_argument("--out", type=Path, default=None, help="the JSON result's file")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    write_result(
        result, args.out, f"seek-{result['cameras']}x{result['days']}d-{result['database']}.json"
    )
    print_table(result)
    if args.data_dir is None:
        shutil.rmtree(result["data_dir"], ignore_errors=True)


if __name__ == "__main__":
    main()
