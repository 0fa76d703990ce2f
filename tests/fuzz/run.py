"""The API fuzz run: a real Vigil server on 127.0.0.1 with a fresh SQLite data folder, and
schemathesis against its OpenAPI document in three passes: an admin's API key with every
scope, another admin's browser session (``/api/me``, ``/api/auth``), no credentials.

``python -m tests.fuzz.run WORK [--seed N] [--max-examples N] [-- schemathesis options]``
writes into the folder WORK: ``result.json`` (what ``test_api_fuzz.py`` reads), each pass's
schemathesis output (``NAME.txt``) and reports (``NAME/``), ``server.log`` and
``server-errors.jsonl``. Generated requests carry the schema's example URLs and the server
dials them (cameras, storage), so it runs only in a network namespace of its own, where
nothing has a route out: ``unshare --net`` (or ``unshare --map-root-user --net``).
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import logging
import socket
import struct
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import write_sample_mp4
from tests.fuzz.guard import Fuzzer, Guard
from tests.fuzz.server_errors import Operations, ServerErrorLog
from tests.people import PASSWORD, api_key, make_user
from tests.serve import serving
from vigil.api.app import create_app
from vigil.api.security import CSRF_HEADER, SESSION_COOKIE
from vigil.app import Services, start_services, stop_services
from vigil.auth.permissions import ALL_SCOPES
from vigil.link.messages import BoxAt, EventKind, EventRecord, EventStage, SegmentRecord
from vigil.node.layout import segment_key
from vigil.settings import Settings
from vigil.store.cameras import CameraFields
from vigil.timeutil import now_ms

CONFIG = Path(__file__).with_name("schemathesis.toml")
# CI's bounds: the same requests on every run, about a minute and a half on 2 cores.
SEED = 20_240_611
MAX_EXAMPLES = 20
PASS_TIMEOUT = 300.0
# Nothing listens on the discard port in the namespace: the camera fails to connect, fast.
DEAD_URL = "rtsp://127.0.0.1:9/fuzz"
SERVER_ERRORS = "server-errors.jsonl"


class NotIsolated(Exception):
    """The run would reach beyond this machine."""


def isolate() -> None:
    """Check that ``lo`` is the only network interface, as in a new network namespace, where
    nothing has a route out; then bring it up (a new namespace's ``lo`` is down)."""
    names = sorted(name for _, name in socket.if_nameindex())
    if names != ["lo"]:
        raise NotIsolated(
            f"network interfaces {names}: run this only in a network namespace of its own "
            "(unshare --net, or unshare --map-root-user --net when not root)"
        )
    # ip link set lo up, without needing iproute2: SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        (flags,) = struct.unpack_from("16xH", fcntl.ioctl(sock, 0x8913, request))
        fcntl.ioctl(sock, 0x8914, struct.pack("16sH22x", b"lo", flags | 0x1))


@dataclass(slots=True)
class Pass:
    """One schemathesis run against the server."""

    name: str
    exit_code: int
    seconds: float
    operations: int
    test_cases: int
    failures: list[dict[str, Any]] = field(default_factory=list)


async def prepare(services: Services, settings: Settings) -> Fuzzer:
    """An organisation with two admins and a camera with footage and an event; an API key
    with every scope for the first admin."""
    org = await services.auth.users.create_org("Fuzz school")
    key_admin = await make_user(services, "fuzz-admin", "admin", org.id)
    session_admin = await make_user(services, "fuzz-session", "admin", org.id)
    key = await api_key(services, key_admin, sorted(ALL_SCOPES))
    (stored,) = await services.auth.keys.of_users([key_admin.id])
    camera = await services.cameras.create(
        CameraFields(name="Fuzz camera", main_url=DEAD_URL), org_id=org.id
    )
    await seed_footage(services, settings, camera.id)
    return Fuzzer(key_admin.id, key, stored.id, session_admin.id)


async def seed_footage(services: Services, settings: Settings, camera_id: int) -> None:
    """Two 2 s segments an hour ago, and a person seen in them, as the node reports one."""
    data = await asyncio.to_thread(write_sample_mp4, settings.data_dir / "sample.mp4")
    base = now_ms() - 3_600_000
    records = []
    for start_ms in (base, base + 2000):
        key = segment_key(camera_id, start_ms)
        path = settings.recordings_dir / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        records.append(
            SegmentRecord(
                camera_id=camera_id, path=key, start_ms=start_ms, end_ms=start_ms + 2000,
                size=len(data), video_codec="h264", width=160, height=120, fps=10.0,
            )
        )  # fmt: skip
    assert services.node is not None
    await services.segments.add(services.node.name, records)
    box = BoxAt(time_ms=base + 500, x1=0.1, y1=0.2, x2=0.3, y2=0.6)
    event = EventRecord(
        uid=uuid.uuid4().hex, camera_id=camera_id, stage=EventStage.END, kind=EventKind.OBJECT,
        label="person", score=0.8, zones=[], start_ms=base + 500, end_ms=base + 3500,
        last_ms=base + 3500, pre_ms=0, post_ms=0, boxes=[box], snapshot=None,
    )  # fmt: skip
    await services.nodes.events_reported(services.node.name, [event])


async def seed_library(base_url: str, key: str) -> None:
    """Through the API, as a user would: an export of the footage, a library item made from
    it in a library event, and a share link to the item."""
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as http:

        async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = await http.post(path, json=body)
            if not response.is_success:
                raise RuntimeError(f"POST {path}: {response.status_code} {response.text}")
            return dict(response.json())

        (footage,) = (await http.get("/api/cameras/1/recordings")).json()["spans"]
        span = {"start": footage["start"], "end": footage["end"]}
        export = await post("/api/exports", {"camera_ids": [1], **span})
        deadline = time.monotonic() + 30
        while export["status"] not in ("done", "failed") and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            export = (await http.get(f"/api/exports/{export['id']}")).json()
        if export["status"] != "done":
            raise RuntimeError(f"the seed export did not finish: {export}")
        event = await post("/api/library/events", {"name": "Fuzz day", "start": footage["start"]})
        item = await post(
            "/api/library/items/from-export",
            {"export_id": export["id"], "library_event_id": event["id"]},
        )
        await post("/api/library/shares", {"item_id": item["id"], "days": 7})


async def sign_in(base_url: str, username: str) -> tuple[str, int, str]:
    """A browser session: its cookie, its id and its CSRF token."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        response = await http.post(
            "/api/auth/login", json={"username": username, "password": PASSWORD}
        )
        response.raise_for_status()
        body = response.json()
        return http.cookies[SESSION_COOKIE], int(body["session_id"]), str(body["csrf_token"])


def write_config(operations: Operations, path: Path) -> None:
    """``schemathesis.toml`` beside this file, plus: a 5xx answer fails the run unless its
    operation documents that status (503 "no live picture" for an offline camera, say)."""
    lines = [CONFIG.read_text(encoding="utf-8")]
    documented: dict[int, list[str]] = {}
    for name, statuses in operations.server_errors.items():
        for status in statuses:
            documented.setdefault(status, []).append(name)
    for status, names in sorted(documented.items()):
        lines += [
            "[[operations]]",
            f"include-name = {json.dumps(sorted(names))}",
            f'checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", {status}]',
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")


async def schemathesis(
    name: str, base_url: str, work: Path, max_examples: int, seed: int, options: list[str]
) -> Pass:
    """Run the schemathesis CLI once, with ``options`` added (headers, filters); its console
    output goes to ``work/NAME.txt``, its reports into ``work/NAME/``."""
    reports = work / name
    args = [
        sys.executable, "-m", "schemathesis.cli",
        "--config-file", str(work / "schemathesis.toml"), "--no-color",
        "run", f"{base_url}/openapi.json",
        "--max-examples", str(max_examples), "--seed", str(seed),
        "--report", "json,ndjson", "--report-dir", str(reports),
        *options,
    ]  # fmt: skip
    started = time.monotonic()
    with (work / f"{name}.txt").open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *args, stdout=out, stderr=subprocess.STDOUT, cwd=work
        )
        try:
            exit_code = await asyncio.wait_for(process.wait(), PASS_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
    seconds = time.monotonic() - started
    found = sorted(reports.glob("*.json"))
    if not found:
        output = (work / f"{name}.txt").read_text(encoding="utf-8", errors="replace")
        raise RuntimeError(f"schemathesis ({name}) made no report:\n{output[-2000:]}")
    report = json.loads(found[0].read_text(encoding="utf-8"))
    return Pass(
        name=name,
        exit_code=exit_code,
        seconds=round(seconds, 1),
        operations=(report.get("operations") or {}).get("tested", 0),
        test_cases=report["test_cases"]["generated"],
        failures=report["failures"],
    )


async def run(
    work: Path, max_examples: int, seed: int, more: list[str], database_url: str = ""
) -> dict[str, Any]:
    """Serve, seed, fuzz in three passes (``more`` options for each), stop."""
    isolate()
    settings = Settings(
        data_dir=work / "data",
        database={"url": database_url},
        secret_key="fuzz-secret-key",
        retention={"min_free_bytes": 0},
        # The fuzz turns detection on for its cameras: one detector process is enough.
        node={"detector_workers": 1},
    )
    services = await start_services(settings)
    try:
        fuzzer = await prepare(services, settings)
        app = create_app(settings, services)
        operations = Operations(app.openapi())
        write_config(operations, work / "schemathesis.toml")
        app.add_middleware(ServerErrorLog, path=work / SERVER_ERRORS, operations=operations)
        app.add_middleware(Guard, fuzzer=fuzzer)
        passes = []
        async with serving(app) as base_url:
            await seed_library(base_url, fuzzer.key)
            fuzzer.session, fuzzer.session_id, fuzzer.csrf = await sign_in(base_url, "fuzz-session")
            cookie = f"Cookie: {SESSION_COOKIE}={fuzzer.session}"
            for name, options in (
                ("api-key", ["--header", f"Authorization: Bearer {fuzzer.key}"]),
                # What only a browser session may do: the signed-in user's own account.
                ("session", ["--header", cookie, "--header", f"{CSRF_HEADER}: {fuzzer.csrf}",
                             "--include-path-regex", "^/api/(me|auth)(/|$)"]),
                # The key pass covers every operation's inputs, public ones included; without
                # credentials most answer 401 at once, so generated requests are enough here.
                ("anonymous", ["--phases", "examples,fuzzing"]),
            ):  # fmt: skip
                options += more
                passes.append(await schemathesis(name, base_url, work, max_examples, seed, options))
    finally:
        await stop_services(services)
    return {"seed": seed, "max_examples": max_examples, "passes": [asdict(p) for p in passes]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("work", type=Path, help="an empty folder for the run")
    parser.add_argument("--max-examples", type=int, default=MAX_EXAMPLES)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--database-url",
        default="",
        help="an empty database instead of SQLite in WORK; from inside the namespace "
        "PostgreSQL is reached over its Unix socket: postgresql+psycopg://postgres@/NAME"
        "?host=/var/run/postgresql",
    )
    parser.epilog = "Options after -- go to `schemathesis run` as they are (e.g. -- --checks all)."
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    options = parser.parse_args(argv[:split])
    more = argv[split + 1 :]
    work: Path = options.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=work / "server.log",
        level=logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    try:
        result = asyncio.run(
            run(work, options.max_examples, options.seed, more, options.database_url)
        )
    except NotIsolated as exc:
        sys.exit(f"fuzz: {exc}")
    (work / "result.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
