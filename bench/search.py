"""Library search latency over a million generated items, on SQLite and PostgreSQL.

Run from the repository root::

    .venv/bin/python -m bench.search                          # 1,000,000 items, both
    .venv/bin/python -m bench.search --items 100000 --backend sqlite
    .venv/bin/python -m bench.search --orgs 20                # spread over 20 schools

One run per backend: a new database (SQLite: a file in a temporary folder; PostgreSQL: a new
database on the server of ``--pg-url``, dropped after, or by default on a throwaway server of
its own with 1 GB of shared buffers) is migrated, ``--items`` media items of
a school's library are generated (titles, descriptions, ~3 tags, events, uploaders, camera
clips with detection labels, shared with classes) and bulk-inserted in batches, then the
search index is built with ``SearchIndex.rebuild()`` (the index build time). Then a mix of
``--queries`` searches (single words, two words, prefixes, filters, a parent's visibility,
browsing without words, second pages, with and without facets) runs once to warm the caches
and once measured, one at a time, through ``SearchIndex.search`` (what the API calls).
p50/p95 per backend against the target p95 < 50 ms, and per kind of query. Figures, never
assertions: the table is printed and a JSON result written to bench/results/search.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from bench.output import write_result
from tests.postgres import fresh_database
from vigil.library.search import SearchIndex, SearchQuery
from vigil.store.database import Database
from vigil.store.migrate import upgrade
from vigil.store.models import Camera, LibraryEvent, MediaItem, Org, User


def vocabulary(words: str) -> list[str]:
    return words.split()


T0 = 1_600_000_000_000  # September 2020
YEAR_MS = 365 * 86_400_000
TARGET_P95_MS = 50.0

OCCASIONS = [
    "Sports Day", "Winter Concert", "Science Fair", "Spring Play", "Leavers Assembly",
    "Harvest Festival", "Book Week", "Maths Challenge", "Art Exhibition", "Swimming Gala",
    "Football Tournament", "Netball Match", "Trip to the Zoo", "Museum Visit", "Beach Trip",
    "Farm Visit", "Castle Trip", "Nativity", "Music Recital", "Chess Final", "Bake Sale",
    "Open Evening", "Residential Trip", "Sponsored Walk", "Talent Show", "Drama Workshop",
    "Coding Club", "Robotics Competition", "Garden Club", "Cross Country", "Athletics Meet",
    "Graduation", "Carol Service", "Poetry Slam", "World Book Day", "Eco Week",
    "Languages Day", "Science Week", "History Day", "Pantomime", "Summer Fair", "Prize Giving",
]  # fmt: skip
TAGS = [f"Year {n}" for n in range(1, 7)] + vocabulary(
    "Reception Nursery football netball rugby cricket hockey athletics swimming gymnastics "
    "dance music choir orchestra drama art painting pottery science chemistry physics biology "
    "maths reading writing poetry history geography french spanish german computing robotics "
    "coding gardening cooking baking trip outdoors forest beach museum zoo farm assembly awards "
    "concert play costume parents teachers staff governors charity fundraising eco recycling "
    "wildlife birds insects plants weather snow autumn spring summer winter christmas easter "
    "diwali eid halloween harvest sport team medal trophy portrait group classroom library "
    "playground hall stage field lunch breakfast club kindness wellbeing mindfulness "
    "friendship celebration festival parade display exhibition workshop visitor author "
    "scientist firefighter police nurse"
)
NOUNS = vocabulary(
    "race relay match game goal team captain coach ball bat net pool lane medal trophy stage "
    "song choir band drum violin piano guitar flute costume mask scenery painting drawing "
    "model volcano rocket robot circuit garden seed flower tree leaf pumpkin cake biscuit "
    "bread soup pizza picnic bus coach train castle museum zoo farm beach forest river hill "
    "lion tiger penguin giraffe elephant horse sheep cow chicken duck rabbit owl butterfly "
    "snowman kite lantern poster book story poem letter map globe telescope microscope magnet "
    "crystal fossil dinosaur planet moon star rainbow friends class group parents teacher "
    "visitor author champion winners runners dancers singers actors artists readers"
)
ADJECTIVES = vocabulary(
    "happy proud excited brave busy colourful bright noisy quiet sunny rainy snowy windy "
    "early late final first second great amazing wonderful tiny giant golden silver muddy "
    "messy careful creative curious clever kind funny"
)
FILLER = vocabulary(
    "the a and with of in on at for to from after before during our their everyone children "
    "pupils class year group was were had enjoyed loved tried made built showed learned "
    "played sang performed visited watched met helped won finished started together outside "
    "inside today morning afternoon evening lots very really best new old big small"
)
PLACES = [
    "the field",
    "the hall",
    "the playground",
    "the stage",
    "the pool",
    "the garden",
    "the library",
    "the classroom",
    "the park",
    "the museum",
    "the beach",
    "the track",
]
CAMERAS = ["Main Gate", "Playground North", "Playground South", "Sports Hall", "Car Park",
           "Reception", "Dining Hall", "Field East", "Library", "Bike Shed"]  # fmt: skip
LABELS = ["person", "car", "bicycle", "dog", "cat", "bus", "truck", "bird", "motorcycle"]
FIRST = vocabulary("Amy Ben Chloe Dan Ella Finn Grace Harry Isla Jack Kate Leo Mia Noah Olivia Sam")
LAST = vocabulary("Smith Jones Taylor Brown Wilson Evans Thomas Roberts Walker Wright Khan Patel")
CLASSES_PER_ORG = 14


def zipf_weights(n: int, s: float = 1.0) -> list[float]:
    return [1 / (k + 1) ** s for k in range(n)]


@dataclass
class World:
    """What was generated: ids and names the queries pick from."""

    orgs: list[int]
    events: dict[int, list[int]]  # org -> event ids
    uploaders: dict[int, list[int]]  # org -> user ids
    classes: dict[int, list[int]]  # org -> group ids


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.tag_w = zipf_weights(len(TAGS), 0.8)
        self.noun_w = zipf_weights(len(NOUNS), 0.7)
        self.filler_w = zipf_weights(len(FILLER), 0.9)

    def title(self) -> str:
        r = self.rng
        noun = r.choices(NOUNS, self.noun_w)[0]
        return (
            f"{r.choice(ADJECTIVES).capitalize()} {noun} {r.choice(['at', 'on', 'in', 'by'])} "
            f"{r.choice(PLACES)}"
        )

    def description(self) -> str:
        r = self.rng
        n = r.randint(6, 24)
        parts = r.choices(FILLER, self.filler_w, k=n)
        for _ in range(r.randint(1, 4)):
            parts.insert(r.randrange(len(parts) + 1), r.choices(NOUNS, self.noun_w)[0])
        if r.random() < 0.3:
            parts.insert(r.randrange(len(parts) + 1), r.choice(FIRST))
        return " ".join(parts).capitalize() + "."

    def tags(self) -> list[str]:
        k = self.rng.choice([1, 2, 3, 3, 3, 4, 5])
        return list(dict.fromkeys(self.rng.choices(TAGS, self.tag_w, k=k)))


async def generate(db: Database, items: int, orgs: int, seed: int) -> World:
    """Organisations, uploaders, cameras, events, then ``items`` items in batches."""
    gen = Generator(seed)
    r = gen.rng
    now = T0
    world = World([], {}, {}, {})
    async with db.write() as s:
        org_rows = [Org(name=f"School {n}", created_at=now) for n in range(orgs)]
        s.add_all(org_rows)
        await s.flush()
        world.orgs = [o.id for o in org_rows]
        per_org = max(1, items // orgs)
        cameras: dict[int, list[tuple[int, str]]] = {}
        for org in world.orgs:
            users = [User(org_id=org, username=f"{org}-{n}-{r.choice(FIRST)}".lower(),
                          display_name=f"{r.choice(FIRST)} {r.choice(LAST)}", role="operator",
                          created_at=now, updated_at=now) for n in range(40)]  # fmt: skip
            cams = [Camera(org_id=org, name=name, main_url=f"rtsp://cam/{n}", created_at=now,
                           updated_at=now) for n, name in enumerate(CAMERAS)]  # fmt: skip
            s.add_all([*users, *cams])
            await s.flush()
            world.uploaders[org] = [u.id for u in users]
            cameras[org] = [(c.id, c.name) for c in cams]
            world.classes[org] = [org * 100 + n for n in range(CLASSES_PER_ORG)]
            events = []
            for _ in range(max(1, per_org // 400)):  # ~400 items an event
                start = T0 + r.randrange(4 * YEAR_MS)
                events.append(LibraryEvent(
                    org_id=org, name=f"{r.choice(OCCASIONS)} {1970 + start // YEAR_MS}",
                    description=gen.description(), start_ms=start, end_ms=start + 3600_000,
                    group_ids=r.sample(world.classes[org], r.choice([0, 1, 1, 2, 3])),
                    created_at=now, updated_at=now,
                ))  # fmt: skip
            s.add_all(events)
            await s.flush()
            world.events[org] = [e.id for e in events]
    batch = 10_000
    done = 0
    while done < items:
        rows: list[dict[str, Any]] = []
        for _ in range(min(batch, items - done)):
            org = world.orgs[done % orgs]
            clip = r.random() < 0.1
            cam = r.choice(cameras[org]) if clip else None
            event = None if clip or r.random() < 0.15 else r.choice(world.events[org])
            uploader = None if clip else r.choice(world.uploaders[org])
            video = clip or r.random() < 0.3
            rows.append({
                "org_id": org, "event_id": event, "kind": "video" if video else "image",
                "source": "clip" if clip else "upload",
                "title": f"{cam[1]} {r.choice(LABELS)}" if cam else gen.title(),
                "description": None if clip else gen.description(),
                "tags": [] if clip else gen.tags(),
                "labels": r.sample(LABELS, r.randint(1, 3)) if clip else [],
                "camera_id": cam[0] if cam else None,
                "captured_at": T0 + r.randrange(4 * YEAR_MS),
                "uploaded_by_id": uploader, "uploader": "",
                "group_ids": r.sample(world.classes[org], 1) if r.random() < 0.1 else [],
                "filename": "f.jpg", "mime": "image/jpeg", "size": 1, "sha256": "0" * 64,
                "status": "ready", "progress": 1.0, "storage": "local", "key": "k",
                "stored_bytes": 1, "views": 0, "downloads": 0, "created_at": now,
                "updated_at": now,
            })  # fmt: skip
            done += 1
        async with db.write() as s:
            await s.execute(insert(MediaItem), rows)
    return world


@dataclass(frozen=True)
class Case:
    kind: str
    query: SearchQuery
    then_next: bool = False  # measure the second page (the first is not timed)


def queries(world: World, n: int, seed: int) -> list[Case]:
    """A mix of what teachers and parents type, with the filters the page offers."""
    r = random.Random(seed + 1)
    gen = Generator(seed + 2)
    words = [w for w in NOUNS + TAGS if " " not in w]
    cases: list[Case] = []
    kinds = ["word", "two words", "prefix", "word + filters", "parent", "browse event",
             "browse tag", "word, no facets", "next page", "newest + date range"]  # fmt: skip
    for i in range(n):
        org = r.choice(world.orgs)
        kind = kinds[i % len(kinds)]
        base = SearchQuery(org, limit=50)
        word = r.choices(words, zipf_weights(len(words), 0.5))[0].lower()
        if kind == "word":
            q = replace(base, text=word)
        elif kind == "two words":
            q = replace(base, text=r.choice([f"{r.choice(OCCASIONS)}",
                                             f"{r.choice(ADJECTIVES)} {r.choice(NOUNS)}",
                                             f"{r.choice(NOUNS)} {r.choice(TAGS)}"]))  # fmt: skip
        elif kind == "prefix":
            q = replace(base, text=word[: r.randint(2, max(2, len(word) - 1))])
        elif kind == "word + filters":
            q = replace(base, text=word, kinds=(r.choice(["image", "video"]),),
                        tags=(r.choices(TAGS, gen.tag_w)[0],))  # fmt: skip
        elif kind == "parent":
            q = replace(base, text=r.choice(["", word]), viewer_id=r.choice(world.uploaders[org]),
                        group_ids={r.choice(world.classes[org])})  # fmt: skip
        elif kind == "browse event":
            q = replace(base, event_ids=(r.choice(world.events[org]),))
        elif kind == "browse tag":
            q = replace(base, tags=(r.choices(TAGS, gen.tag_w)[0],), sort="newest")
        elif kind == "word, no facets":
            q = replace(base, text=word, facets=False)
        elif kind == "next page":
            q = replace(base, text=word)
        else:
            since = T0 + r.randrange(3 * YEAR_MS)
            q = replace(base, text=word, sort="newest", since_ms=since,
                        until_ms=since + YEAR_MS // 12)  # fmt: skip
        cases.append(Case(kind, q, then_next=kind == "next page"))
    return cases


async def run_case(index: SearchIndex, case: Case) -> tuple[float, int, bool]:
    query = case.query
    if case.then_next:
        first = await index.search(query)
        query = replace(query, cursor=first.next_cursor)
        if first.next_cursor is None:
            query = case.query
    start = time.perf_counter()
    page = await index.search(query)
    return (time.perf_counter() - start) * 1000, page.total, page.exact


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@contextlib.asynccontextmanager
async def database(
    backend: str, args: argparse.Namespace
) -> AsyncIterator[tuple[str, Path | None]]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="vigil-bench-search-", dir=args.dir) as folder:
            yield f"sqlite+aiosqlite:///{folder}/vigil.db", Path(folder) / "vigil.db"
        return
    with contextlib.ExitStack() as stack:
        server = args.pg_url or stack.enter_context(throwaway_server(args.pg_shared_buffers))
        yield stack.enter_context(fresh_database(server)), None


@contextlib.contextmanager
def throwaway_server(shared_buffers: str) -> Iterator[str]:
    """A PostgreSQL server of its own (initdb in a temporary folder), given the memory a
    server of a million items would be given: PostgreSQL's default shared_buffers (128 MB)
    is a development setting, and the index is about 600 MB. fsync is off: it is thrown
    away."""
    bindir = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="vigil-bench-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = root / "data"
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                    "--auth=trust"], check=True, capture_output=True)  # fmt: skip
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        f" -c shared_buffers={shared_buffers} -c effective_cache_size=4GB -c work_mem=16MB"
    )
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-w",
                    "start", "-l", str(root / "log")], check=True, capture_output=True)  # fmt: skip
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


async def bench_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    async with database(backend, args) as (url, path):
        await asyncio.to_thread(upgrade, url)
        db = Database(url)
        try:
            start = time.perf_counter()
            world = await generate(db, args.items, args.orgs, args.seed)
            generated_s = time.perf_counter() - start
            print(f"[{backend}] {args.items:,} items generated and inserted in {generated_s:.1f} s")
            index = SearchIndex(db)
            start = time.perf_counter()
            indexed = await index.rebuild()
            build_s = time.perf_counter() - start
            print(f"[{backend}] index built ({indexed:,} items) in {build_s:.1f} s")
            size = path.stat().st_size if path else await pg_size(db)
            cases = queries(world, args.queries, args.seed)
            for case in cases:  # warm-up: caches, and the planner's first look
                await run_case(index, case)
            timings: dict[str, list[float]] = {}
            totals: dict[str, list[int]] = {}
            broad: dict[str, int] = {}
            for case in cases:
                ms, total, exact = await run_case(index, case)
                timings.setdefault(case.kind, []).append(ms)
                totals.setdefault(case.kind, []).append(total)
                broad[case.kind] = broad.get(case.kind, 0) + (not exact)
        finally:
            await db.close()
    every = [ms for values in timings.values() for ms in values]
    return {
        "backend": backend,
        "items": args.items,
        "orgs": args.orgs,
        "insert_s": round(generated_s, 1),
        "index_build_s": round(build_s, 1),
        "database_bytes": size,
        "queries": len(every),
        "p50_ms": round(statistics.median(every), 2),
        "p95_ms": round(pct(every, 95), 2),
        "max_ms": round(max(every), 2),
        "by_kind": {
            kind: {
                "n": len(values),
                "p50_ms": round(statistics.median(values), 2),
                "p95_ms": round(pct(values, 95), 2),
                "median_total": int(statistics.median(totals[kind])),
                "broad": broad[kind],
            }
            for kind, values in timings.items()
        },
    }


async def pg_size(db: Database) -> int:
    async with db.read() as s:
        return int(await s.scalar(text("SELECT pg_database_size(current_database())")) or 0)


def print_result(result: dict[str, Any]) -> None:
    verdict = "meets" if result["p95_ms"] < TARGET_P95_MS else "misses"
    print(
        f"\n{result['backend']}: {result['items']:,} items in {result['orgs']} org(s);"
        f" insert {result['insert_s']} s, index build {result['index_build_s']} s,"
        f" database {result['database_bytes'] / 1e6:.0f} MB"
    )
    print(f"  all {result['queries']} queries: p50 {result['p50_ms']} ms, p95 {result['p95_ms']}"
          f" ms, max {result['max_ms']} ms ({verdict} p95 < {TARGET_P95_MS:.0f} ms)")  # fmt: skip
    print(f"  {'kind':<22}{'n':>4}{'p50 ms':>10}{'p95 ms':>10}{'median total':>14}{'broad':>7}")
    for kind, row in result["by_kind"].items():
        print(f"  {kind:<22}{row['n']:>4}{row['p50_ms']:>10}{row['p95_ms']:>10}"
              f"{row['median_total']:>14,}{row['broad']:>7}")  # fmt: skip


async def main_async(args: argparse.Namespace) -> None:
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = []
    for backend in backends:
        result = await bench_backend(backend, args)
        print_result(result)
        results.append(result)
    out = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "results": results,
    }
    write_result(out, args.out, "search.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--orgs", type=int, default=1, help="schools the items are spread over")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "VIGIL_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1/postgres"
        ),
        help="a server where a database may be created (and dropped after)",
    )
    parser.add_argument("--dir", default=None, help="where the SQLite file goes (temporary)")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--out", type=Path, help="JSON result path (bench/results/search.json)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
