"""Cluster scale: what one application server costs per camera, and the bus traffic, with
1, 2 and 4 media nodes.

For each node count of ``--nodes`` a fresh setup, all on this one box: a nats-server (one
password per node, its HTTP monitoring on), `vigil app` (SQLite in a temporary folder, or a
new database on the PostgreSQL server of ``--pg-url``), the `vigil node`s, and
``--cameras-per-node`` cameras for each node, added over the HTTP API. The app places each new
camera on the connected node with the fewest (its default node, ``local``, is not running),
and the spread is checked from ``GET /api/cameras``. Once every camera streams and has a
segment indexed, and ``--warmup`` seconds after, the processes are sampled for ``--seconds``
(psutil, every ``--interval`` s; the bench makes no request meanwhile):

- the app's CPU (its process and any children, user + system over the wall time), in % of
  one core, and per camera;
- each node's CPU (its Python process and its ffmpegs), per camera it records, for context;
- the bus: nats-server's ``/varz`` (``in_msgs``, ``out_msgs``, ``in_bytes``, JetStream's own
  messages included) before and after, per second and per camera; ``/connz`` splits what each
  user sent (the app, the nodes);
- the segments indexed in the window against the ones expected (every camera recording).

Then the extrapolation to 1,000 cameras: the app's cores (% per camera of the largest setup
times 1000 / 100, and from a straight line fitted through the setups: fixed cost + per
camera) and the bus's messages per second (times 1000 / cameras).

The simulator is kept light so that 100 cameras fit on 2 cores: ``--sim-cameras`` (10)
simulated cameras at 320x180, 10 fps, 300 kbit/s, no audio, which the recorded cameras share
round-robin (GStreamer serves one shared media per path: a second client of a path costs far
less than a second camera); one simulator serves every setup. Segments of 2 s
(``--segment-seconds``), detection off.

    .venv/bin/python -m bench.cluster_scale                  # 1, 2, 4 nodes x 25 cameras, 60 s
    .venv/bin/python -m bench.cluster_scale --nodes 2 --cameras-per-node 10 --seconds 30
    .venv/bin/python -m bench.cluster_scale --pg-url postgresql://postgres@127.0.0.1/postgres

Everything runs on one box: the nodes, their ffmpegs and the simulator compete with the app
for the same cores. With ``--pg-url`` the database server's CPU is not in the app's figure.
Figures, never assertions: a table is printed and a JSON result written (bench/results/).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.failover import ADMIN, _env, _start, _until, signed_in
from bench.output import write_result
from bench.proctree import SystemTracker, TreeTracker, window
from vigil.link.nats.embedded import NatsServer, free_port
from vigil.sim.runner import SimulatedCameras

APP_PASSWORD = "app-bench-password"
TABLE_HEADER = (
    f"{'nodes':>5} {'cameras':>7} {'app % core':>10} {'app %/cam':>9} {'node %/cam':>10} "
    f"{'bus msg/s in':>12} {'msg/s/cam':>9} {'bus KiB/s':>9} {'indexed':>8}"
)
# Lines of a Vigil log worth reporting (its logging format: "... LEVEL name: message").
_PROBLEM = re.compile(r"\b(ERROR|CRITICAL|WARNING)\b|Traceback")


async def _poll(what: str, check: Callable[[], Awaitable[bool]], seconds: float) -> float:
    """Like failover's ``_until``, but once a second: the checks here read every camera."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > seconds:
            raise RuntimeError(f"{what}: not within {seconds:.0f} s")
        await asyncio.sleep(1.0)
    return time.monotonic() - started


def _pids_named(needle: str) -> list[int]:
    """Our own descendants whose command line contains ``needle``."""
    found = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if any(needle in part for part in child.cmdline()):
                found.append(child.pid)
    return found


def _monitor(port: int, path: str) -> dict[str, Any]:
    answer = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=10)
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    return result


def _by_user(connz: dict[str, Any]) -> dict[int, tuple[str, int, int]]:
    """Connection id: (user, messages it sent, bytes it sent)."""
    return {
        c["cid"]: (c.get("authorized_user", "?"), c["in_msgs"], c["in_bytes"])
        for c in connz.get("connections", [])
    }


def _sent_by_user(
    before: dict[int, tuple[str, int, int]], after: dict[int, tuple[str, int, int]]
) -> dict[str, float]:
    """Messages sent over the window by each user, over connections open at both ends."""
    sent: Counter[str] = Counter()
    for cid, (user, msgs, _) in after.items():
        if cid in before:
            sent[user] += msgs - before[cid][1]
    return dict(sent)


def sample_window(
    trackers: dict[str, TreeTracker],
    system: SystemTracker,
    monitor_port: int,
    seconds: float,
    interval: float,
) -> dict[str, Any]:
    """Sample the trackers every ``interval`` for ``seconds``, the bus's counters at both
    ends; the rates over the window."""
    varz = [_monitor(monitor_port, "/varz")]
    connz = [_by_user(_monitor(monitor_port, "/connz?auth=true&limit=4096"))]
    bus_started = time.monotonic()
    started = time.monotonic()
    while True:
        now = time.monotonic()
        for tracker in trackers.values():
            tracker.sample(now)
        system.sample(now)
        if now - started >= seconds:
            break
        time.sleep(max(0.0, min(interval, started + seconds - time.monotonic())))
    end = time.monotonic()
    varz.append(_monitor(monitor_port, "/varz"))
    connz.append(_by_user(_monitor(monitor_port, "/connz?auth=true&limit=4096")))
    bus_seconds = time.monotonic() - bus_started

    def rate(key: str) -> float:
        return float(varz[1][key] - varz[0][key]) / bus_seconds

    stats = {name: window(t.samples, started, end) for name, t in trackers.items()}
    box = window(system.samples, started, end)
    return {
        "seconds": end - started,
        "cpu_pct": {name: s.cpu_pct for name, s in stats.items()},
        "cpu_pct_by_kind": {name: s.cpu_pct_by_kind for name, s in stats.items()},
        "pss_mib": {name: s.pss_mean / 2**20 for name, s in stats.items()},
        "box_busy_pct": box.cpu_pct,
        "bus": {
            "seconds": bus_seconds,
            "in_msgs_per_s": rate("in_msgs"),
            "out_msgs_per_s": rate("out_msgs"),
            "in_kib_per_s": rate("in_bytes") / 1024,
            "out_kib_per_s": rate("out_bytes") / 1024,
            "sent_msgs_per_s_by_user": {
                user: n / bus_seconds for user, n in _sent_by_user(*connz).items()
            },
        },
    }


def _problems(log: Path, keep: int = 8) -> dict[str, Any]:
    """How many warning/error lines a log has, and the first few distinct ones."""
    lines = [line for line in log.read_text(errors="replace").splitlines() if _PROBLEM.search(line)]
    first: list[str] = []
    for line in lines:
        if line not in first and len(first) < keep:
            first.append(line)
    return {"lines": len(lines), "first": first}


@contextlib.contextmanager
def _database(pg_url: str | None) -> Iterator[dict[str, str]]:
    """The app's database settings: none (SQLite in its data folder), or a new database on
    the PostgreSQL server of ``pg_url``, dropped after."""
    if pg_url is None:
        yield {}
        return
    from tests.postgres import fresh_database

    with fresh_database(pg_url) as url:
        yield {"VIGIL_DATABASE__URL": url}


async def run_setup(
    args: argparse.Namespace, nodes: int, sim_urls: list[str], work: Path
) -> dict[str, Any]:
    names = [f"node-{k}" for k in range(1, nodes + 1)]
    passwords = {name: f"{name}-bench-password" for name in names}
    port, monitor_port = free_port(), free_port()
    cameras = nodes * args.cameras_per_node
    settings = argparse.Namespace(
        heartbeat_seconds=args.heartbeat_seconds, dead_seconds=args.dead_seconds
    )
    segment = {"VIGIL_CAMERAS__SEGMENT_SECONDS": f"{args.segment_seconds:g}"}
    with (
        _database(args.pg_url) as database,
        NatsServer(work / "bus", APP_PASSWORD, passwords, monitor_port=monitor_port) as bus,
    ):
        app_env = _env(
            work / "app",
            settings,
            VIGIL_BUS__URL=bus.url,
            VIGIL_BUS__PASSWORD=APP_PASSWORD,
            VIGIL_SERVER__PORT=str(port),
            **segment,
            **database,
        )
        subprocess.run(
            [sys.executable, "-m", "vigil", "users", "create-admin", "--username", ADMIN[0],
             "--password-stdin"],
            env=app_env, input=ADMIN[1] + "\n", capture_output=True, text=True, check=True,
        )  # fmt: skip
        processes = {"app": _start(["app"], app_env, work / "app.log")}

        def start_nodes() -> None:  # once the app serves: it sets up the bus's streams
            for name in names:
                env = _env(
                    work / name,
                    settings,
                    VIGIL_BUS__URL=bus.url,
                    VIGIL_BUS__PASSWORD=passwords[name],
                    VIGIL_NODE__NAME=name,
                    **segment,
                )
                processes[name] = _start(["node"], env, work / f"{name}.log")

        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
                result = await _drive(
                    args, http, processes, start_nodes, names, sim_urls, monitor_port
                )
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes.values():
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    process.kill()
    logs = {log.stem: _problems(log) for log in sorted(work.glob("*.log"))}
    logs["nats"] = _problems(work / "bus" / "nats.log")
    return {
        "nodes": nodes,
        "cameras": cameras,
        **result,
        "exit_codes": {name: p.returncode for name, p in processes.items()},
        "log_problems": logs,
    }


async def _drive(
    args: argparse.Namespace,
    http: httpx.AsyncClient,
    processes: dict[str, subprocess.Popen[bytes]],
    start_nodes: Callable[[], None],
    names: list[str],
    sim_urls: list[str],
    monitor_port: int,
) -> dict[str, Any]:
    """Sign in, start the nodes, add the cameras, wait until they all stream and index,
    then measure."""

    await _until("the app serves", signed_in(http), 90)
    start_nodes()

    async def all_joined() -> bool:
        system = (await http.get("/api/system")).json()
        return {n["name"] for n in system["nodes"] if n["connected"]} >= set(names)

    await _until(f"{len(names)} nodes join", all_joined, 90)
    cameras: int = len(names) * args.cameras_per_node
    added_at = time.time()
    started = time.monotonic()
    ids: list[int] = []
    for n in range(cameras):
        camera = {"name": f"Bench {n + 1}", "main_url": sim_urls[n % len(sim_urls)]}
        answer = await http.post("/api/cameras", json=camera)
        answer.raise_for_status()
        ids.append(answer.json()["id"])
    add_seconds = time.monotonic() - started

    async def listing() -> list[dict[str, Any]]:
        answer = await http.get("/api/cameras")
        answer.raise_for_status()
        listed: list[dict[str, Any]] = answer.json()
        return [c for c in listed if c["id"] in ids]

    spread = dict(sorted(Counter(c["node"] for c in await listing()).items()))
    print(f"  {cameras} cameras added in {add_seconds:.1f} s; on the nodes: {spread}", flush=True)
    states: Counter[str] = Counter()

    async def streaming() -> bool:
        states.clear()
        states.update(c["status"]["state"] for c in await listing())
        return states["streaming"] == cameras

    try:
        await _poll("every camera streams", streaming, args.start_timeout)
    except RuntimeError as exc:
        raise RuntimeError(f"{exc} (states: {dict(states)})") from None
    streaming_after = time.monotonic() - started
    unindexed = set(ids)

    async def indexed() -> bool:
        for cid in sorted(unindexed):
            answer = await http.get(f"/api/cameras/{cid}/recordings", params={"start": added_at})
            if answer.json()["segments"]:
                unindexed.discard(cid)
        return not unindexed

    try:
        await _poll("a segment of every camera indexed", indexed, args.start_timeout)
    except RuntimeError as exc:
        raise RuntimeError(f"{exc} ({len(unindexed)} cameras without)") from None
    indexed_after = time.monotonic() - started
    print(
        f"  every camera streaming after {streaming_after:.1f} s, indexed after "
        f"{indexed_after:.1f} s; warm-up {args.warmup:g} s, then {args.seconds:g} s measured",
        flush=True,
    )
    await asyncio.sleep(args.warmup)
    before = {c["id"]: c["status"]["restarts"] for c in await listing()}
    trackers = {name: TreeTracker(name, [processes[name].pid]) for name in ["app", *names]}
    trackers["bus"] = TreeTracker("bus", _pids_named("nats-server"), descendants=False)
    trackers["simulator"] = TreeTracker("simulator", _pids_named("rtsp_server.py"))
    trackers["bench"] = TreeTracker("bench", [os.getpid()], descendants=False)  # the sampler
    system = SystemTracker()
    window_started = time.time()
    measured = await asyncio.to_thread(
        sample_window, trackers, system, monitor_port, args.seconds, args.interval
    )
    window_ended = time.time()
    await asyncio.sleep(args.segment_seconds + 3)  # the window's last segments indexed
    after = await listing()
    restarts = sum(c["status"]["restarts"] - before.get(c["id"], 0) for c in after)
    not_streaming = sum(c["status"]["state"] != "streaming" for c in after)
    segments = 0
    for cid in ids:
        answer = await http.get(
            f"/api/cameras/{cid}/recordings",
            params={"start": window_started - 60, "end": window_ended},
        )
        for seg in answer.json()["segments"]:
            start = datetime.fromisoformat(seg["start"]).timestamp()
            segments += window_started <= start < window_ended
    expected = cameras * (window_ended - window_started) / args.segment_seconds
    return {
        "spread": spread,
        "add_seconds": add_seconds,
        "streaming_after_s": streaming_after,
        "indexed_after_s": indexed_after,
        **measured,
        "segments_indexed": segments,
        "segments_expected": expected,
        "restarts_in_window": restarts,
        "not_streaming_after": not_streaming,
    }


def figures(row: dict[str, Any]) -> dict[str, float]:
    """The table's figures of one setup."""
    cameras = row["cameras"]
    nodes = list(row["spread"])
    per_node = [row["cpu_pct"].get(name, 0.0) / row["spread"][name] for name in nodes]
    bus = row["bus"]
    return {
        "app_pct": row["cpu_pct"]["app"],
        "app_pct_per_camera": row["cpu_pct"]["app"] / cameras,
        "node_pct_per_camera": sum(per_node) / len(per_node) if per_node else 0.0,
        "bus_msgs_per_s": bus["in_msgs_per_s"],
        "bus_msgs_per_s_per_camera": bus["in_msgs_per_s"] / cameras,
        "bus_kib_per_s": bus["in_kib_per_s"],
        "indexed_pct": 100 * row["segments_indexed"] / max(row["segments_expected"], 1e-9),
    }


def extrapolate(rows: list[dict[str, Any]], target: int = 1000) -> dict[str, float]:
    """The app's cores and the bus's messages for ``target`` cameras."""
    largest = max(rows, key=lambda r: r["cameras"])
    f = figures(largest)
    result = {
        "cameras": float(target),
        "from_cameras": float(largest["cameras"]),
        "app_cores": f["app_pct_per_camera"] * target / 100,
        "bus_msgs_per_s": f["bus_msgs_per_s"] * target / largest["cameras"],
        "bus_kib_per_s": f["bus_kib_per_s"] * target / largest["cameras"],
    }
    xs = [float(r["cameras"]) for r in rows]
    if len(set(xs)) >= 2:  # app % = fixed + per camera x cameras, least squares
        ys = [figures(r)["app_pct"] for r in rows]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
            (x - mx) ** 2 for x in xs
        )
        result["fit_fixed_pct"] = my - slope * mx
        result["fit_pct_per_camera"] = slope
        result["fit_app_cores"] = (my - slope * mx + slope * target) / 100
    return result


def print_table(result: dict[str, Any]) -> None:
    rows = result["setups"]
    print()
    print(
        f"{result['cameras_per_node']} cameras a node, {result['seconds']:g} s measured, "
        f"{result['database']}, segments {result['segment_seconds']:g} s, "
        f"{result['sim_cameras']} simulated cameras shared ({result['sim']})"
    )
    print(TABLE_HEADER)
    for row in rows:
        f = figures(row)
        print(
            f"{row['nodes']:>5} {row['cameras']:>7} {f['app_pct']:>10.1f} "
            f"{f['app_pct_per_camera']:>9.3f} {f['node_pct_per_camera']:>10.2f} "
            f"{f['bus_msgs_per_s']:>12.1f} {f['bus_msgs_per_s_per_camera']:>9.2f} "
            f"{f['bus_kib_per_s']:>9.1f} {f['indexed_pct']:>7.0f}%"
        )
    print()
    for row in rows:
        cpu = row["cpu_pct"]
        by_user = row["bus"]["sent_msgs_per_s_by_user"]
        nodes_sent = sum(v for user, v in by_user.items() if user.startswith("node-"))
        node_python = [
            row["cpu_pct_by_kind"][name].get("python", 0.0) / count
            for name, count in row["spread"].items()
        ]
        problems = sum(p["lines"] for p in row["log_problems"].values())
        other = row["box_busy_pct"] - sum(cpu.values())  # the kernel, anything else running
        parts = [
            f"{row['nodes']} node(s): spread {row['spread']}",
            f"node Python %/cam {sum(node_python) / max(len(node_python), 1):.2f}",
            f"% core: bus {cpu['bus']:.1f}, simulator {cpu['simulator']:.1f}, "
            f"this bench {cpu['bench']:.1f}, other load {other:.0f}, box busy "
            f"{row['box_busy_pct']:.0f} of {100 * result['cores']}",
            f"msgs/s sent by the nodes {nodes_sent:.1f}, by the app "
            f"{by_user.get('vigil-app', 0.0):.1f}, out {row['bus']['out_msgs_per_s']:.1f}",
            f"app PSS {row['pss_mib']['app']:.0f} MiB",
            f"restarts {row['restarts_in_window']}, log warnings/errors {problems}",
        ]
        print("; ".join(parts))
    x = result["extrapolation"]
    line = (
        f"\n1,000 cameras (from {x['from_cameras']:.0f}): app {x['app_cores']:.2f} cores, "
        f"bus {x['bus_msgs_per_s']:,.0f} msgs/s in ({x['bus_kib_per_s']:,.0f} KiB/s)"
    )
    if "fit_app_cores" in x:
        line += (
            f"; a line through the setups: app {x['fit_fixed_pct']:.1f} % + "
            f"{x['fit_pct_per_camera']:.3f} % a camera = {x['fit_app_cores']:.2f} cores"
        )
    print(line)


async def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    counts = [int(n) for n in args.nodes.split(",")]
    sim_cameras = min(args.sim_cameras, max(counts) * args.cameras_per_node)
    setups = []
    with SimulatedCameras(
        sim_cameras,
        width=args.width,
        height=args.height,
        fps=args.fps,
        bitrate_kbps=args.bitrate_kbps,
        audio=False,
    ) as sim:
        for nodes in counts:
            print(f"{nodes} node(s) x {args.cameras_per_node} cameras", flush=True)
            folder = work / f"nodes-{nodes}"
            try:
                setups.append(await run_setup(args, nodes, sim.urls, folder))
            except RuntimeError:
                for log in sorted(folder.glob("*.log")):
                    tail = log.read_text(errors="replace")[-3000:]
                    print(f"--- {log.name}\n{tail}", file=sys.stderr)
                raise
    return {
        "bench": "cluster_scale",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cameras_per_node": args.cameras_per_node,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "segment_seconds": args.segment_seconds,
        "database": "postgresql" if args.pg_url else "sqlite",
        "sim_cameras": sim_cameras,
        "sim": f"{args.width}x{args.height} {args.fps} fps {args.bitrate_kbps} kbit/s",
        "cores": psutil.cpu_count(),
        "setups": setups,
        "figures": [figures(row) for row in setups],
        "extrapolation": extrapolate(setups),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="1,2,4", help="node counts, one setup each")
    parser.add_argument("--cameras-per-node", type=int, default=25)
    parser.add_argument("--seconds", type=float, default=60.0, help="the measured window")
    parser.add_argument("--warmup", type=float, default=10.0, help="after all stream, not measured")
    parser.add_argument("--interval", type=float, default=2.0, help="sampling period")
    parser.add_argument("--segment-seconds", type=float, default=2.0)
    parser.add_argument("--sim-cameras", type=int, default=10, help="shared round-robin")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=180)
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--bitrate-kbps", type=int, default=300)
    parser.add_argument("--heartbeat-seconds", type=float, default=2.0)
    parser.add_argument("--dead-seconds", type=float, default=15.0, help="bus.node_dead_seconds")
    parser.add_argument(
        "--start-timeout", type=float, default=180.0, help="for every camera to stream, index"
    )
    parser.add_argument(
        "--pg-url",
        default=None,
        help="a PostgreSQL server where a database is made for each setup (dropped after); "
        "default: SQLite",
    )
    parser.add_argument("--out", type=Path, default=None, help="the JSON result's path")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="vigil-bench-cluster-"))
    print(f"logs in {work}", flush=True)
    result = asyncio.run(measure(args, work))
    print_table(result)
    name = f"cluster_scale-{time.strftime('%Y%m%dT%H%M%S')}.json"
    print(f"written {write_result(result, args.out, name)}")


if __name__ == "__main__":
    main()
