"""The acceptance test of running Vigil apart: PostgreSQL, a nats-server, two `vigil app`
and three `vigil node` processes (no node listening on any port) with 12 simulated cameras,
while a client keeps playing one camera live and another from the timeline through the apps:

- a node is SIGKILLed: its cameras record on the other nodes within 30 s (measured: from the
  kill until every one of them has a segment from another node indexed), and the live client,
  polling the same playlist as before, gets new fragments again without starting over;
- the leading application instance is SIGKILLed: the other one leads the scheduling, and no
  camera stops (its footage around the kill is one span, without a gap);
- both applications and the bus stop for 2 minutes: every node records on; when they are
  back every segment file written meanwhile is indexed and plays through the applications,
  byte for byte (counted: none lost);
- the killed node comes back with its data: it records none of the cameras that moved (no
  file of theirs from after the kill on its disk), and a segment it recorded before plays.

The timeline client gets footage all along but while both applications are away.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.backends import SQLITE_ONLY
from tests.link.test_processes import (
    APP_PASSWORD,
    _app_env,
    _create_admin,
    _node_env,
    _start,
    _stop,
    _until,
    signed_in_to,
)
from tests.postgres import fresh_database
from tests.serve import free_port
from vigil.link.nats.embedded import NatsServer
from vigil.node.layout import start_from_key
from vigil.sim.runner import SimulatedCameras
from vigil.timeutil import iso, now_ms, parse_instant

# The processes bring their own database (PostgreSQL, shared by both applications): the
# test runs once, not once per backend of the suite.
pytestmark = [SQLITE_ONLY, pytest.mark.alone, pytest.mark.timeout(900)]

APPS = ("app0", "app1")
NODES = ("node-a", "node-b", "node-c")
CAMERAS = 12
SEGMENT_SECONDS = 2
OUTAGE_SECONDS = 120
FAILOVER_LIMIT = 30.0
# Once its camera records on another node, the live client plays on within this long.
LIVE_RESUME = 10.0
# The timeline client may wait this long for footage, but while the applications are away.
TIMELINE_PAUSE = 10.0


@pytest.fixture(scope="module")
def twelve() -> Iterator[SimulatedCameras]:
    """Twelve small silent cameras (320x240, 10 fps, one keyframe a second)."""
    with SimulatedCameras(
        CAMERAS, width=320, height=240, fps=10, bitrate_kbps=300, loop_seconds=20, audio=False
    ) as cameras:
        yield cameras


@dataclass
class Cluster:
    """The processes, their folders and logs (a numbered log per run of each)."""

    root: Path
    bus: NatsServer
    database: str
    ports: dict[str, int]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)
    runs: dict[str, int] = field(default_factory=dict)

    def env(self, name: str) -> dict[str, str]:
        timing = {
            "VIGIL_CAMERAS__SEGMENT_SECONDS": str(SEGMENT_SECONDS),
            "VIGIL_RETENTION__MIN_FREE_BYTES": "0",  # a full test disk must delete nothing
        }
        if name in NODES:
            return {**_node_env(self.root / name, self.bus, name), **timing}
        app = _app_env(self.root / name, self.bus, self.ports[name])
        return {**app, **timing, "VIGIL_DATABASE__URL": self.database}

    def start(self, name: str) -> None:
        self.runs[name] = self.runs.get(name, 0) + 1
        self.logs[name] = self.root / f"{name}.{self.runs[name]}.log"
        self.processes[name] = _start(
            ["node" if name in NODES else "app"], self.env(name), self.logs[name]
        )

    def kill(self, name: str) -> None:
        """SIGKILL: no goodbye."""
        self.processes[name].kill()
        self.processes[name].wait(10)

    def stop(self, name: str) -> None:
        """SIGTERM, and a clean exit."""
        _stop(self.processes[name], self.logs[name])

    def up(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    def all_logs(self) -> list[Path]:
        return sorted(self.root.glob("*.log"))

    def recordings(self, node: str) -> Path:
        return self.root / node / "recordings"

    def finished(self, node: str) -> dict[str, Path]:
        """The node's finished segment files by storage key (``.incoming`` holds the ones
        being written)."""
        folder = self.recordings(node)
        return {str(path.relative_to(folder)): path for path in folder.glob("*/*/*/*.mp4")}

    def leader(self) -> str | None:
        """The application instance whose own log says last that it leads the scheduling."""
        for app in APPS:
            if not self.up(app):
                continue
            lines = [
                line
                for line in self.logs[app].read_text(errors="replace").splitlines()
                if "leads the scheduling" in line or "no longer leading" in line
            ]
            me = f":{self.ports[app]}:{self.processes[app].pid} leads the scheduling"
            if lines and me in lines[-1]:
                return app
        return None


@dataclass
class Fetches:
    """What a client got: when each media fetch succeeded, and what failed when."""

    got: list[float] = field(default_factory=list)
    errors: list[tuple[float, str]] = field(default_factory=list)

    def after(self, moment: float) -> list[float]:
        return [at for at in self.got if at > moment]

    def longest_pause(self, start: float, end: float, away: tuple[float, float]) -> float:
        """The longest time between media fetched from ``start`` to ``end``, leaving out
        pauses that overlap ``away`` (when no application was there to ask)."""
        times = [start, *(at for at in self.got if start < at < end), end]
        pauses = [b - a for a, b in itertools.pairwise(times) if b <= away[0] or a >= away[1]]
        return max(pauses)

    def failed(self, error: Exception | str) -> None:
        self.errors.append((time.monotonic(), str(error)[:200]))


class Unexpected(Exception):
    """An answer a player cannot use."""


def _answer(response: httpx.Response, *expected: int) -> httpx.Response:
    if response.status_code not in expected:
        raise Unexpected(
            f"{response.request.url.path}: {response.status_code} {response.text[:120]}"
        )
    return response


async def _first(
    clients: list[httpx.AsyncClient], path: str, **params: str
) -> tuple[httpx.AsyncClient, httpx.Response]:
    """Ask each application in turn; the first that answers."""
    for http in clients[:-1]:
        try:
            return http, await http.get(path, params=params)
        except httpx.TransportError:
            continue
    return clients[-1], await clients[-1].get(path, params=params)


class LivePlayer:
    """Plays a camera live as an HLS player does: reloads the same playlist every half
    second and fetches each segment newer than the last it played (its init segment when
    that changes). It never starts over: no reload, no new URL."""

    def __init__(self, clients: list[httpx.AsyncClient], camera_id: int) -> None:
        self.clients = clients
        self.base = f"/api/cameras/{camera_id}/"
        self.fetches = Fetches()
        self.last = -1  # the media sequence number played last
        self.init = ""

    async def run(self) -> None:
        while True:
            try:
                await self._reload()
            except (httpx.TransportError, Unexpected) as exc:
                self.fetches.failed(exc)
            await asyncio.sleep(0.5)

    async def _reload(self) -> None:
        http, response = await _first(self.clients, self.base + "live.m3u8")
        playlist = _answer(response, 200).text
        init = self.init
        for line in playlist.splitlines():
            if line.startswith("#EXT-X-MAP:"):
                init = line.split('URI="', 1)[1].split('"', 1)[0]
                continue
            found = re.match(r"live/(\d+)\.m4s", line)
            if found is None or int(found[1]) <= self.last:
                continue
            if init.split("?")[0] != self.init:  # the query: a signed link, renewed
                _answer(await http.get(self.base + init), 200)
                self.init = init.split("?")[0]
            _answer(await http.get(self.base + line), 200)
            self.last = int(found[1])
            self.fetches.got.append(time.monotonic())


@dataclass(frozen=True)
class _Part:
    file_start: int
    uri: str
    offset: int
    size: int


class TimelinePlayer:
    """Plays a camera's recorded footage from the timeline, behind live: asks for the VOD
    playlist from where it is, fetches the next media segment (a byte range of a recorded
    file) and moves on, a segment a second at most. It asks the applications in turn (the
    other when one does not answer)."""

    def __init__(self, clients: list[httpx.AsyncClient], camera_id: int, from_ms: int) -> None:
        self.clients = clients
        self.base = f"/api/cameras/{camera_id}/"
        self.cursor = from_ms
        self.played: set[tuple[str, int]] = set()
        self.fetches = Fetches()
        self.turn = 0

    async def run(self) -> None:
        while True:
            self.turn += 1
            try:
                await self._step()
            except (httpx.TransportError, Unexpected) as exc:
                self.fetches.failed(exc)
            await asyncio.sleep(1.0)

    async def _step(self) -> None:
        at = self.turn % len(self.clients)
        clients = self.clients[at:] + self.clients[:at]
        window = {"start": iso(self.cursor), "end": iso(self.cursor + 60_000)}
        http, response = await _first(clients, self.base + "vod.m3u8", **window)
        parts = _parts(_answer(response, 200).text)
        part = next((p for p in parts if (p.uri.split("?")[0], p.offset) not in self.played), None)
        if part is None:
            return  # caught up with the footage: wait for the next segment
        last = part.offset + part.size - 1
        headers = {"Range": f"bytes={part.offset}-{last}"}
        media = _answer(await http.get(self.base + part.uri, headers=headers), 206)
        if len(media.content) != part.size:
            raise Unexpected(f"{part.uri}: {len(media.content)} bytes, not {part.size}")
        self.played.add((part.uri.split("?")[0], part.offset))
        self.cursor = part.file_start
        self.fetches.got.append(time.monotonic())


def _parts(playlist: str) -> list[_Part]:
    """The media segments of a VOD playlist, each with its file's wall-clock start."""
    parts: list[_Part] = []
    start, size, offset = 0, 0, 0
    for line in playlist.splitlines():
        if line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            start = parse_instant(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-BYTERANGE:"):
            size, offset = (int(n) for n in line.split(":", 1)[1].split("@"))
        elif line.startswith("files/"):
            parts.append(_Part(start, line, offset, size))
    return parts


async def _cameras(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    listed = _answer(await http.get("/api/cameras"), 200).json()
    assert isinstance(listed, list)
    return listed


async def _paths(http: httpx.AsyncClient, camera_id: int, since_ms: int) -> dict[str, int]:
    """The camera's indexed segments from ``since_ms`` on: start (ms) by storage key."""
    window = {"start": iso(since_ms), "end": iso(now_ms() + 60_000)}
    listed = _answer(await http.get(f"/api/cameras/{camera_id}/recordings", params=window), 200)
    return {seg["path"]: parse_instant(seg["start"]) for seg in listed.json()["segments"]}


async def _connected(http: httpx.AsyncClient) -> set[str]:
    system = _answer(await http.get("/api/system"), 200).json()
    return {node["name"] for node in system["nodes"] if node["connected"]}


def _camera_of(key: str) -> int:
    return int(key.split("/", 1)[0])


async def _plays(http: httpx.AsyncClient, key: str, path: Path) -> bool:
    """Whether the recorded file comes through the application as it is on the node."""
    response = await http.get(f"/api/cameras/{_camera_of(key)}/files/{key}")
    return response.status_code == 200 and response.content == path.read_bytes()


async def test_twelve_cameras_record_on_through_a_node_an_application_and_the_bus_dying(
    tmp_path: Path, twelve: SimulatedCameras, postgres_server: str
) -> None:
    with (
        fresh_database(postgres_server) as database,
        NatsServer(
            tmp_path / "bus", APP_PASSWORD, {node: f"{node}-bus-secret" for node in NODES}
        ) as bus,
    ):
        cluster = Cluster(tmp_path, bus, database, {app: free_port() for app in APPS})
        _create_admin(cluster.env("app0"))  # also brings the database to the newest schema
        players: list[asyncio.Task[None]] = []
        told = False  # the story ended: a process that does not stop cleanly is a failure
        try:
            async with (
                httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{cluster.ports['app0']}", timeout=30
                ) as first,
                httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{cluster.ports['app1']}", timeout=30
                ) as second,
            ):
                clients = {"app0": first, "app1": second}
                await _story(cluster, twelve, clients, players)
                told = True
        finally:
            for task in players:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            unclean = []
            for name in cluster.processes:
                if cluster.up(name):
                    try:
                        cluster.stop(name)
                    except AssertionError as exc:
                        unclean.append(f"{name}: {exc}")
            if told and unclean:  # else the story's own failure is the one to show
                raise AssertionError("\n".join(unclean))


async def _story(
    cluster: Cluster,
    sim: SimulatedCameras,
    clients: dict[str, httpx.AsyncClient],
    players: list[asyncio.Task[None]],
) -> None:
    logs = cluster.all_logs

    async def until(what: str, check: Callable[[], Awaitable[object]], seconds: float) -> object:
        return await _until(what, check, seconds, *logs())

    # --- Two applications on one database, three nodes, twelve cameras --------------------
    for app in APPS:
        cluster.start(app)
        await until(
            f"{app} serves",
            signed_in_to(clients[app], cluster.processes[app], cluster.logs[app]),
            60,
        )
    for node in NODES:
        cluster.start(node)
    for app in APPS:  # each instance attaches a node at its own next check
        http = clients[app]

        async def all_nodes(http: httpx.AsyncClient = http) -> bool:
            return await _connected(http) == set(NODES)

        await until(f"the nodes join {app}", all_nodes, 60)
    for node in NODES:  # a node dials out: it listens on no port
        process = psutil.Process(cluster.processes[node].pid)
        listening = [
            c for c in process.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN
        ]
        assert listening == [], f"{node} listens: {listening}"
    began = now_ms()
    for n, url in enumerate(sim.urls):
        added = await clients[APPS[n % 2]].post(
            "/api/cameras", json={"name": f"Camera {n + 1}", "main_url": url}
        )
        assert added.status_code == 201, added.text

    async def all_recording() -> list[dict[str, Any]]:
        cameras = await _cameras(clients["app1"])
        for camera in cameras:
            if not await _paths(clients["app0"], camera["id"], began):
                return []
        return cameras if len(cameras) == CAMERAS else []

    cameras = await until("a segment of each of the 12 cameras indexed", all_recording, 90)
    assert isinstance(cameras, list)
    holder = {int(c["id"]): str(c["node"]) for c in cameras}
    on = {node: sorted(cid for cid, n in holder.items() if n == node) for node in NODES}
    assert all(on[node] for node in NODES), f"a node without cameras: {on}"
    victim = max(NODES, key=lambda node: len(on[node]))
    survivors = [node for node in NODES if node != victim]
    moved = on[victim]
    live_camera, timeline_camera = moved[0], on[survivors[0]][0]
    leader = str(await until("an application leads", _async(cluster.leader), 30))
    other = next(app for app in APPS if app != leader)

    # --- The client plays one camera live and another from the timeline -------------------
    live = LivePlayer([clients[other], clients[leader]], live_camera)
    timeline = TimelinePlayer([clients[app] for app in APPS], timeline_camera, began)
    players += [asyncio.create_task(live.run()), asyncio.create_task(timeline.run())]
    played_from = time.monotonic()

    async def playing() -> bool:  # long enough for a player to have a place in the stream
        return len(live.fetches.got) >= 15 and len(timeline.fetches.got) >= 3

    await until("the client plays", playing, 60)

    # --- A node is killed: its cameras record on the others, the live client goes on -------
    cluster.kill(victim)
    killed, killed_ms = time.monotonic(), now_ms()
    recorded_elsewhere: dict[int, float] = {}

    async def all_moved() -> bool:
        for cid in moved:
            if cid in recorded_elsewhere:
                continue
            indexed = await _paths(clients[other], cid, killed_ms)
            on_disk = {key for node in survivors for key in cluster.finished(node)}
            if any(start >= killed_ms and key in on_disk for key, start in indexed.items()):
                recorded_elsewhere[cid] = time.monotonic()
        return len(recorded_elsewhere) == len(moved)

    await until(f"{victim}'s cameras recording elsewhere", all_moved, 60)
    failover = max(recorded_elsewhere.values()) - killed
    print(
        f"\nfailover: {victim}'s {len(moved)} cameras recording on {survivors} "
        f"{failover:.1f} s after its SIGKILL"
    )
    assert failover < FAILOVER_LIMIT, f"failover took {failover:.1f} s"
    now_on = {int(c["id"]): c["node"] for c in await _cameras(clients[leader])}
    assert all(now_on[cid] in survivors for cid in moved), now_on
    resumed_after = max(recorded_elsewhere.values())

    async def live_again() -> bool:
        return len(live.fetches.after(resumed_after)) >= 3

    await until("the live client playing again", live_again, 60)
    again = live.fetches.after(killed)[0]
    print(
        f"live: the client, polling the same playlist, played new fragments {again - killed:.1f}"
        f" s after the kill"
    )
    late = again - recorded_elsewhere[live_camera]
    assert late < LIVE_RESUME, f"live fragments came {late:.1f} s after the camera had moved"

    # --- The leading application is killed: the other leads, no camera stops -------------
    cluster.kill(leader)
    leader_killed, leader_killed_ms = time.monotonic(), now_ms()

    async def other_leads() -> bool:
        return cluster.leader() == other

    await until(f"{other} leads the scheduling", other_leads, 30)
    print(
        f"leadership: {other} leads {time.monotonic() - leader_killed:.1f} s after {leader}'s "
        f"SIGKILL"
    )
    later = leader_killed_ms + 10_000

    async def recorded_past_the_kill() -> bool:
        for cid in holder:
            starts = (await _paths(clients[other], cid, leader_killed_ms)).values()
            if not any(start >= later for start in starts):
                return False
        return True

    await until("every camera recording on after the leader died", recorded_past_the_kill, 60)
    around = {"start": iso(leader_killed_ms - 4_000), "end": iso(later)}
    for cid in holder:
        listed = await clients[other].get(f"/api/cameras/{cid}/recordings", params=around)
        assert listed.json()["gaps"] == [], f"camera {cid} stopped: {listed.json()['gaps']}"
    cluster.start(leader)  # it comes back as a follower, for what follows
    await until(
        f"{leader} serves again",
        signed_in_to(clients[leader], cluster.processes[leader], cluster.logs[leader]),
        60,
    )

    # --- Both applications and the bus stop for 2 minutes: the nodes record on ------------
    before = {node: set(cluster.finished(node)) for node in survivors}
    away = time.monotonic()
    for app in APPS:
        cluster.stop(app)
    cluster.bus.stop()
    bus_stopped = time.monotonic()
    while time.monotonic() - bus_stopped < OUTAGE_SECONDS:  # the outage lasts this long
        for node in survivors:
            assert cluster.up(node), cluster.logs[node].read_text()[-3000:]
        await asyncio.sleep(1)
    meanwhile: dict[str, Path] = {}
    for node in survivors:
        files = cluster.finished(node)
        meanwhile |= {key: files[key] for key in set(files) - before[node]}
    expected = 0.75 * OUTAGE_SECONDS / SEGMENT_SECONDS
    for cid in holder:
        count = sum(1 for key in meanwhile if _camera_of(key) == cid)
        assert count >= expected, f"camera {cid}: {count} segments in the outage"
    cluster.bus.start()  # the same port and JetStream folder
    for app in APPS:
        cluster.start(app)
    for app in APPS:
        await until(
            f"{app} serves again",
            signed_in_to(clients[app], cluster.processes[app], cluster.logs[app]),
            60,
        )
    returned = time.monotonic()
    missing: set[str] = set(meanwhile)

    async def all_meanwhile_indexed() -> bool:
        for cid in holder:
            indexed = await _paths(clients["app0"], cid, killed_ms)
            missing.difference_update(indexed)
        return not missing

    await until("every segment of the outage indexed", all_meanwhile_indexed, 120)
    limit = asyncio.Semaphore(4)

    async def play(n: int, key: str) -> bool:
        async with limit:
            return await _plays(clients[APPS[n % 2]], key, meanwhile[key])

    played = await asyncio.gather(*(play(n, key) for n, key in enumerate(sorted(meanwhile))))
    lost = len(meanwhile) - sum(played)
    print(
        f"outage: {len(meanwhile)} segments recorded in {OUTAGE_SECONDS} s without the "
        f"applications and the bus, {len(meanwhile) - len(missing)} indexed after, "
        f"{sum(played)} played, {lost} lost"
    )
    assert lost == 0

    async def timeline_again() -> bool:
        return len(timeline.fetches.after(returned)) >= 3

    await until("the timeline client playing again", timeline_again, 60)
    pause = timeline.fetches.longest_pause(played_from, time.monotonic(), (away, returned))
    errors = [error for at, error in timeline.fetches.errors if not away <= at <= returned]
    assert pause < TIMELINE_PAUSE, f"the timeline client waited {pause:.1f} s: {errors[-5:]}"

    # --- The killed node returns: it records nothing twice, its footage plays -------------
    left = cluster.finished(victim)
    before_kill = [key for key in left if _camera_of(key) == live_camera]
    assert before_kill, f"{victim} had recorded nothing of camera {live_camera}"
    cluster.start(victim)
    for app in APPS:
        http = clients[app]

        async def rejoined(http: httpx.AsyncClient = http) -> bool:
            return victim in await _connected(http)

        await until(f"{victim} back on {app}", rejoined, 60)
    rejoined_ms = now_ms()

    async def recorded_since() -> bool:  # the others go on recording them meanwhile
        for cid in moved:
            if len(await _paths(clients["app1"], cid, rejoined_ms)) < 5:
                return False
        return True

    await until("the moved cameras recording on for 10 s", recorded_since, 60)
    # Footage it had left unfinished when it died may be placed now; nothing from later.
    new = set(cluster.finished(victim)) - set(left)
    twice = sorted(key for key in new if (start_from_key(key) or killed_ms) >= killed_ms)
    assert twice == [], f"{victim} recorded again what moved: {twice[:5]}"
    now_on = {int(c["id"]): c["node"] for c in await _cameras(clients["app1"])}
    assert victim not in now_on.values(), now_on
    key = before_kill[-1]

    async def earlier_plays() -> bool:
        return await _plays(clients["app0"], key, left[key])

    await until(f"{victim}'s earlier footage playing", earlier_plays, 30)


def _async(check: Callable[[], object]) -> Callable[[], Awaitable[object]]:
    async def wrapped() -> object:
        return check()

    return wrapped
