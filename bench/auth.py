"""What authentication costs a request: an authenticated read against an anonymous one.

Run from the repository root::

    .venv/bin/python -m bench.auth
    .venv/bin/python -m bench.auth --seconds 10 --workers 32
    .venv/bin/python -m bench.auth --profile       # cProfile of the cases, in-process

One run: a temporary data folder (SQLite) gets an organisation, an admin, a session and an
API key (``services.auth``), then ``vigil serve`` runs on it in a process of its own on
127.0.0.1 (what a user runs, access log off). This process loads it with ``--workers``
concurrent ``httpx.AsyncClient`` requests (keep-alive) per case, after a warm-up, for
``--seconds`` each:

- ``GET /api/health``: no credentials, no database (the baseline);
- ``GET /api/me`` with the session cookie;
- ``GET /api/me`` with ``Authorization: Bearer vgl_…``.

The overhead ratio is health rps / authenticated rps (target at most 1.2). ``/api/me`` reads
the user and the organisation from the database in its handler, so the ratio holds that
route's own work as well as authentication's; ``--profile`` splits the two. Client and
server share the box, so the figures are the pair's, not the server's alone.
Figures, never assertions: the table is printed and a JSON result written to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import os
import platform
import pstats
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.output import write_result
from vigil.app import start_services, stop_services
from vigil.auth.permissions import ALL_SCOPES
from vigil.auth.tokens import new_api_key, token_hash
from vigil.settings import Settings
from vigil.store.audit import Actor
from vigil.timeutil import now_ms

PASSWORD = "bench-amber-lantern-47"
SESSION_COOKIE = "vigil_session"


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    headers: dict[str, str]
    cookies: dict[str, str]
    status: int = 200


@dataclass(frozen=True)
class Credentials:
    session: str
    key: str


async def prepare(data_dir: Path) -> Credentials:
    """An organisation, its admin, a session and an API key with every scope."""
    services = await start_services(Settings(data_dir=data_dir))
    try:
        auth = services.auth
        user = await auth.create_admin("Bench", "bench-admin", PASSWORD)
        signed_in = await auth.start_session(user, Actor(ip="127.0.0.1"))
        key = new_api_key()
        scopes = sorted(s.value for s in ALL_SCOPES)
        await auth.keys.create(user.id, "bench", token_hash(key), scopes, now_ms(), None)
        return Credentials(signed_in.token, key)
    finally:
        await stop_services(services)


def cases(credentials: Credentials) -> list[Case]:
    return [
        Case("health (anonymous)", "/api/health", {}, {}),
        Case("me (session cookie)", "/api/me", {}, {SESSION_COOKIE: credentials.session}),
        Case("me (API key)", "/api/me", {"Authorization": f"Bearer {credentials.key}"}, {}),
        # Authentication and the (cached) camera rights, then 404 without a database read:
        # what the auth path alone costs, for scale.
        Case(
            "camera 404 (session)",
            "/api/cameras/2147483647",
            {},
            {SESSION_COOKIE: credentials.session},
            status=404,
        ),
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server(data_dir: Path, port: int) -> Iterator[tuple[str, int]]:
    """``vigil serve`` on ``data_dir`` in a process of its own; yields its base URL and pid."""
    env = {**os.environ, "VIGIL_DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "vigil", "serve", "--host", "127.0.0.1", "--port", str(port)]
    log = (data_dir / "server.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # a loaded box (the suite) starts it slowly
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start; see {data_dir / 'server.log'}")
            time.sleep(0.1)
        yield base, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


async def browser_cookies(base: str, username: str, password: str) -> list[dict[str, str]]:
    """A session of ``username`` on the server at ``base``, as cookies for a browser context
    (Playwright's ``add_cookies``)."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        login = await http.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        login.raise_for_status()
        return [{"name": c.name, "value": c.value or "", "url": base} for c in http.cookies.jar]


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


async def load(
    client: httpx.AsyncClient, case: Case, workers: int, seconds: float, pid: int
) -> dict[str, Any]:
    """``workers`` request loops on ``case`` for ``seconds``: requests per second, latencies,
    and the server's own CPU time per request (the client's is not in it)."""
    cpu_before = cpu_seconds(pid)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            response = await client.get(case.path)
            latencies.append(time.perf_counter() - start)
            if response.status_code != case.status:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - started
    server_cpu = cpu_seconds(pid) - cpu_before
    latencies.sort()
    return {
        "server_cpu_s": round(server_cpu, 4),
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(elapsed, 3),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
    }


async def measure(
    base: str, pid: int, all_cases: list[Case], args: argparse.Namespace
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=args.workers, max_keepalive_connections=args.workers)
    async with contextlib.AsyncExitStack() as stack:
        clients = {}
        for case in all_cases:
            # One client (and pool of keep-alive connections) per case, credentials on it.
            client = httpx.AsyncClient(
                base_url=base, headers=case.headers, cookies=case.cookies, limits=limits, timeout=30
            )
            clients[case.name] = await stack.enter_async_context(client)
            response = await client.get(case.path)
            if response.status_code != case.status:
                raise RuntimeError(f"{case.name}: {response.status_code} {response.text}")
            await load(client, case, args.workers, args.warmup, pid)
        # Rounds interleave the cases, so other load on the box falls on each alike.
        rounds: dict[str, list[dict[str, Any]]] = {case.name: [] for case in all_cases}
        for _ in range(args.rounds):
            for case in all_cases:
                seconds = args.seconds / args.rounds
                rounds[case.name].append(
                    await load(clients[case.name], case, args.workers, seconds, pid)
                )
    figures: dict[str, Any] = {}
    for name, runs in rounds.items():
        requests = sum(r["requests"] for r in runs)
        elapsed = sum(r["seconds"] for r in runs)
        cpu = sum(r["server_cpu_s"] for r in runs)
        figures[name] = {
            "rps": round(requests / elapsed, 1),
            "server_cpu_ms_per_request": round(cpu * 1000 / max(requests, 1), 3),
            "requests": requests,
            "errors": sum(r["errors"] for r in runs),
            "p50_ms": max(r["p50_ms"] for r in runs),
            "p99_ms": max(r["p99_ms"] for r in runs),
            "rounds": runs,
        }
    return figures


async def profile(data_dir: Path, all_cases: list[Case], requests: int) -> dict[str, str]:
    """cProfile of ``requests`` in-process calls per case (no network): where the time goes."""
    from vigil.api.app import create_app

    settings = Settings(data_dir=data_dir)
    services = await start_services(settings)
    reports: dict[str, str] = {}
    try:
        app = create_app(settings, services)
        for case in all_cases:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://bench",
                headers=case.headers,
                cookies=case.cookies,
            ) as client:
                for _ in range(50):  # warm caches and imports
                    await client.get(case.path)
                profiler = cProfile.Profile()
                start = time.perf_counter()
                profiler.enable()
                for _ in range(requests):
                    await client.get(case.path)
                profiler.disable()
                per_request = (time.perf_counter() - start) * 1000 / requests
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out)
                auth_ms = _cumulative_ms(stats, "vigil/api/security.py", "_identify") / requests
                stats.sort_stats("cumulative").print_stats(r"vigil/", 20)
                reports[case.name] = (
                    f"{per_request:.3f} ms a request (profiled), of which {auth_ms:.3f} ms in "
                    f"security._identify (who is this?)\n{out.getvalue()}"
                )
    finally:
        await stop_services(services)
    return reports


def _cumulative_ms(stats: pstats.Stats, path: str, function: str) -> float:
    """Cumulative time in one function (each coroutine resumption counts as a call)."""
    table: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    return 1000 * sum(
        float(row[3])
        for (file, _, name), row in table.items()
        if file.endswith(path) and name == function
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0, help="per case, all rounds")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--warmup", type=float, default=1.0, help="per case")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--profile", action="store_true", help="cProfile in-process instead")
    parser.add_argument("--profile-requests", type=int, default=2000)
    parser.add_argument("--out", type=Path, help="JSON result path (bench/results/auth.json)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vigil-bench-auth-") as folder:
        data_dir = Path(folder)
        credentials = asyncio.run(prepare(data_dir))
        all_cases = cases(credentials)
        if args.profile:
            for name, report in asyncio.run(
                profile(data_dir, all_cases, args.profile_requests)
            ).items():
                print(f"===== {name}: {report}")
            return
        with server(data_dir, free_port()) as (base, pid):
            figures = asyncio.run(measure(base, pid, all_cases, args))
    baseline = figures[all_cases[0].name]
    ratios = {name: round(baseline["rps"] / f["rps"], 2) for name, f in figures.items()}
    cpu_ratios = {
        name: round(f["server_cpu_ms_per_request"] / baseline["server_cpu_ms_per_request"], 2)
        for name, f in figures.items()
    }
    print(f"{args.workers} workers, {args.seconds:g} s per case, {os.cpu_count()} CPUs")
    print(
        f"{'case':22} {'rps':>8} {'ratio':>6} {'server ms/req':>14} {'ratio':>6}"
        f" {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
    )
    for name, f in figures.items():
        print(
            f"{name:22} {f['rps']:>8.1f} {ratios[name]:>5.2f}x"
            f" {f['server_cpu_ms_per_request']:>14.3f} {cpu_ratios[name]:>5.2f}x"
            f" {f['p50_ms']:>8.2f} {f['p99_ms']:>8.2f} {f['errors']:>7}"
        )
    result = {
        "workers": args.workers,
        "seconds_per_case": args.seconds,
        "rounds": args.rounds,
        "figures": figures,
        "overhead_ratio": {name: r for name, r in ratios.items() if name != all_cases[0].name},
        "server_cpu_ratio": {
            name: r for name, r in cpu_ratios.items() if name != all_cases[0].name
        },
        "target_ratio": 1.2,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
    }
    out = write_result(result, args.out, "auth.json")
    print(f"written {out}")


if __name__ == "__main__":
    main()
