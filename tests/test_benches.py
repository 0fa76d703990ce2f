"""Every bench/ script runs at a tiny size and prints its table, so none stops working unseen.

The benchmarks are not run by anything else (their figures are measured by hand and written
into bench/README.md), so a change to the code they drive can break them silently: the
seek bench once stopped at its first request with 401 when sign-in arrived, and nobody saw.
Each script runs here in a subprocess, as a person runs it (``python -m bench.NAME``), with
flags that make it small; the test checks that it exits with status 0, prints its table
(a line of the table's header) and writes its JSON result. Figures are not checked: the
suite never times anything. The runs are independent, so they go a few at a time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
# Runs at once: each bench is small and mostly waits (a server starting, seconds of recording
# or scrolling), half its time idle: one after another they take 385 s, 190 s of it CPU; four
# at a time 185 s (two: about 280), on a box that the soak kept busy.
PARALLEL = 4
# One bench's limit, far above a tiny run's time (a loaded box starts servers slowly); the
# first test waits for all of them (the module's fixture), hence the module's own timeout.
BENCH_TIMEOUT_S = 300
pytestmark = pytest.mark.timeout(900)


@dataclass(frozen=True, slots=True)
class Bench:
    name: str
    flags: str  # the tiny size
    table: str  # a line of the table it prints (its header, or the one line it prints)
    out: str | None = "file"  # what --out names: a JSON "file", a "folder", or None (no --out)

    @property
    def args(self) -> list[str]:
        return self.flags.split()


def _search_flags() -> str:
    """SQLite, and PostgreSQL too where the suite has one."""
    url = os.environ.get("VIGIL_TEST_DATABASE_URL")
    both = f" --backend both --pg-url {url}" if url else " --backend sqlite"
    return "--items 500 --queries 5" + both


# Slowest first, so that the pool's last runs are short ones.
BENCHES = [
    Bench("seek", "--cameras 2 --days 1 --samples 5", "| | p50 |"),
    Bench(
        "soak",
        "--minutes 0.25 --warmup-minutes 0.1 --sample-seconds 3 --cameras 1 --viewers 1",
        "SQLite's own",
        out="folder",
    ),
    Bench("console_timeline", "--draws 1", "timeline draw, Day view"),
    Bench(
        "latency",
        "--samples 2 --page-warmup 1 --pull-seconds 2 --width 320 --height 180",
        "p50 ms",
    ),
    Bench("recording", "--cameras 1 --seconds 4 --warmup 1 --rounds 2", "over all rounds"),
    Bench(
        "detection",
        "--cameras 1 --seconds 3 --warmup 1 --no-baseline --width 320 --height 180",
        "Vigil CPU per camera",
    ),
    Bench("transcode", "--sizes 320x240 --seconds 3 --warmup 1", "file wall s/s"),
    Bench("console_live", "--cameras 1 --warmup 0.5 --seconds 1", "tiles playing"),
    Bench("console_load", "--runs 1 --cameras 1", "bytes on the wire"),
    Bench("library_gallery", "--items 150 --loads 2 --scroll-seconds 1", "| median |"),
    Bench("browser_upload", "--size 0.01 --chunk-mb 1", "| client | MiB/s | seconds |"),
    Bench("live", "--viewers 0,1 --seconds 3 --warmup 1", "viewers: node"),
    Bench("uploads", "--size 0.01 --chunk-mb 1", "upload: first PATCH to 204"),
    Bench("auth", "--seconds 0.5 --warmup 0.2 --workers 2", "server ms/req"),
    Bench("search", _search_flags(), "p50 ms"),
    Bench("objects", "--seconds 0.5 --rounds 1 --workers 1", "inf/s"),
    Bench("motion", "--sizes 160x90 --repeat 1", "ms med"),
    Bench("passwords", "--samples 2 --threads 2", "median ms"),
    Bench(
        "remote_reads",
        "--samples 2 --megabytes 4 --rounds 1 --export-segments 2 --export-rounds 1",
        "segments copied (before)",
    ),
    Bench(
        "failover",
        "--kills 1 --dead-seconds 3 --heartbeat-seconds 0.5 --settle-seconds 1",
        "streaming on the other node",
    ),
    Bench(
        "cluster_scale",
        "--nodes 1 --cameras-per-node 2 --seconds 5 --warmup 1 --interval 1",
        "app %/cam node %/cam",
    ),
]
# Modules that are not run on their own: a bench runs them.
RUN_BY_OTHERS = {
    "vigil_node": "recording",  # the Vigil process recording.py drives over stdin
    "proctree": "recording",  # the process-tree sampler of recording, live and detection
    "soak_server": "soak",  # the server process soak.py starts (its tracemalloc side: below)
    "output": "recording",  # where every bench writes its JSON result
}


@dataclass(frozen=True, slots=True)
class Run:
    returncode: int | None  # None: killed at BENCH_TIMEOUT_S
    output: str
    seconds: float
    result: Path | None


def run_bench(bench: Bench, folder: Path) -> Run:
    command = [sys.executable, "-m", f"bench.{bench.name}", *bench.args]
    result = None
    if bench.out == "file":
        result = folder / f"{bench.name}.json"
        command += ["--out", str(result)]
    elif bench.out == "folder":
        result = folder / bench.name
        command += ["--out", str(result)]
    started = time.monotonic()
    try:
        done = subprocess.run(
            command,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=BENCH_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.output if isinstance(exc.output, str) else (exc.output or b"").decode()
        return Run(None, output, time.monotonic() - started, result)
    return Run(done.returncode, done.stdout, time.monotonic() - started, result)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    folder = tmp_path_factory.mktemp("benches")
    with ThreadPoolExecutor(PARALLEL) as pool:
        futures = {b.name: pool.submit(run_bench, b, folder) for b in BENCHES}
        return {name: future.result() for name, future in futures.items()}


def test_every_bench_script_is_smoke_run() -> None:
    scripts = {p.stem for p in BENCH.glob("*.py")} - {"__init__"}
    run_here = {b.name for b in BENCHES}
    assert scripts == run_here | set(RUN_BY_OTHERS)
    assert set(RUN_BY_OTHERS.values()) <= run_here


@pytest.mark.parametrize("bench", BENCHES, ids=[b.name for b in BENCHES])
def test_bench_completes_and_prints_its_table(runs: dict[str, Run], bench: Bench) -> None:
    run = runs[bench.name]
    tail = run.output[-4000:]
    assert run.returncode == 0, f"bench.{bench.name} ended with {run.returncode}:\n{tail}"
    assert bench.table in run.output, f"bench.{bench.name} printed no table:\n{tail}"
    if bench.out == "file":
        assert run.result is not None
        assert json.loads(run.result.read_text())
    elif bench.out == "folder":
        assert run.result is not None
        (series,) = run.result.glob("*/series.json")
        assert json.loads(series.read_text())["series"]


def test_soak_growth_names_the_site_that_grew(tmp_path: Path) -> None:
    """What ``bench.soak --tracemalloc`` writes every 10 minutes: the sites that grew since
    the baseline, the one that grew first (the tiny soak run above has no room for it)."""
    from bench.soak_server import growth

    kept: list[bytes] = []
    tracemalloc.start(5)
    try:
        tracemalloc.take_snapshot().dump(str(tmp_path / "baseline.dump"))
        kept.extend(bytes(1000) for _ in range(1000))  # about 1 MB that stays
        tracemalloc.take_snapshot().dump(str(tmp_path / "later.dump"))
    finally:
        tracemalloc.stop()
    report = growth(tmp_path / "baseline.dump", tmp_path / "later.dump")
    first_site = report.split("\n#2:")[0]
    assert "#1: +" in first_site
    assert "kept.extend(bytes(1000)" in first_site
