"""`vigil app` and `vigil node` as separate processes joined by a real nats-server: a camera
added through the application is placed on the node, recorded there, and its recordings
play through the application, which never opens a recording file; the node listens on no
port; a node that stops is taken for dead and its recordings are unavailable, not lost."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.backends import SQLITE_ONLY
from tests.postgres import fresh_database
from tests.serve import free_port
from vigil.link.nats.embedded import NatsServer
from vigil.sim.runner import SimulatedCameras
from vigil.timeutil import iso, now_ms

pytestmark = SQLITE_ONLY  # the processes bring their own database

APP_PASSWORD = "app-bus-secret"
NODE_PASSWORD = "node-a-bus-secret"
ADMIN = ("admin", "a long admin password")


def _env(data: Path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    return {
        **env,
        "VIGIL_DATA_DIR": str(data),
        "VIGIL_SECRET_KEY": "process-test-key",
        "VIGIL_CAMERAS__SEGMENT_SECONDS": "1",
        "VIGIL_BUS__HEARTBEAT_SECONDS": "0.5",
        "VIGIL_BUS__NODE_DEAD_SECONDS": "3",
        **values,
    }


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[NatsServer]:
    nodes = {"node-a": NODE_PASSWORD, "node-b": NODE_PASSWORD + "-b"}
    with NatsServer(tmp_path / "bus", APP_PASSWORD, nodes) as server:
        yield server


def _node_env(data: Path, bus: NatsServer, name: str) -> dict[str, str]:
    password = bus.node_passwords[name]
    return _env(data, VIGIL_BUS__URL=bus.url, VIGIL_BUS__PASSWORD=password, VIGIL_NODE__NAME=name)


def _app_env(data: Path, bus: NatsServer, port: int) -> dict[str, str]:
    return _env(
        data, VIGIL_BUS__URL=bus.url, VIGIL_BUS__PASSWORD=APP_PASSWORD, VIGIL_SERVER__PORT=str(port)
    )


def _create_admin(env: dict[str, str]) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "vigil", "users", "create-admin", "--username", ADMIN[0],
         "--password-stdin"],
        env=env, input=ADMIN[1] + "\n", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr


def _app_and_two_nodes(
    tmp_path: Path, bus: NatsServer
) -> tuple[
    int,
    subprocess.Popen[bytes],
    dict[str, subprocess.Popen[bytes]],
    dict[str, Path],
    dict[str, Path],
]:
    """`vigil app` (an admin made, the newest schema) and nodes node-a and node-b, started:
    the app's port, its process, the nodes' processes, everyone's logs, the nodes' data."""
    port = free_port()
    app_env = _app_env(tmp_path / "app", bus, port)
    _create_admin(app_env)
    logs = {name: tmp_path / f"{name}.log" for name in ("app", "node-a", "node-b")}
    data = {name: tmp_path / name for name in ("node-a", "node-b")}
    app = _start(["app"], app_env, logs["app"])
    nodes = {name: _start(["node"], _node_env(data[name], bus, name), logs[name]) for name in data}
    return port, app, nodes, logs, data


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "vigil", *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _stop(process: subprocess.Popen[bytes], log: Path) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"did not stop:\n{log.read_text()[-3000:]}") from None
    assert code == 0, log.read_text()[-3000:]


async def _until(
    what: str, check: Callable[[], Awaitable[object]], seconds: float, *logs: Path
) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.25)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs)
    raise AssertionError(f"{what}: not within {seconds:.0f} s\n{tails}")


def signed_in_to(
    http: httpx.AsyncClient, app: subprocess.Popen[bytes], log: Path
) -> Callable[[], Awaitable[bool]]:
    """A check that signs ``http`` in as the admin once the app serves."""

    async def check() -> bool:
        assert app.poll() is None, log.read_text()[-3000:]
        try:
            login = {"username": ADMIN[0], "password": ADMIN[1]}
            response = await http.post("/api/auth/login", json=login)
        except httpx.TransportError:
            return False
        if response.status_code != 200:
            return False
        http.headers["X-CSRF-Token"] = http.cookies["vigil_csrf"]
        return True

    return check


async def test_a_camera_records_on_its_node_and_plays_through_the_app(
    tmp_path: Path, bus: NatsServer, silent_sim: SimulatedCameras
) -> None:
    app_data, node_data = tmp_path / "app", tmp_path / "node"
    port = free_port()
    app_env = _app_env(app_data, bus, port)
    node_env = _node_env(node_data, bus, "node-a")
    _create_admin(app_env)
    app_log, node_log = tmp_path / "app.log", tmp_path / "node.log"
    app = _start(["app"], app_env, app_log)
    node = _start(["node"], node_env, node_log)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            await _until("the app serves", signed_in_to(http, app, app_log), 60, app_log)

            async def node_joined() -> bool:
                system = (await http.get("/api/system")).json()
                return any(n["name"] == "node-a" and n["connected"] for n in system["nodes"])

            await _until("node-a joins", node_joined, 60, app_log, node_log)
            added = await http.post(
                "/api/cameras", json={"name": "Gate", "main_url": silent_sim.urls[0]}
            )
            assert added.status_code == 201, added.text
            camera = added.json()
            assert camera["node"] == "node-a"  # placed on the node that is there
            cid = camera["id"]
            since = now_ms() - 5_000
            window = {"start": iso(since), "end": iso(since + 120_000)}

            async def playable() -> str | None:
                listed = await http.get(f"/api/cameras/{cid}/vod.m3u8", params=window)
                if listed.status_code != 200 or listed.text.count("#EXTINF:") < 3:
                    return None
                return listed.text

            playlist = str(await _until("3 segments indexed", playable, 60, app_log, node_log))
            first = next(line for line in playlist.splitlines() if line.startswith("files/"))
            media = await http.get(f"/api/cameras/{cid}/{first}")
            assert media.status_code == 200
            key = re.sub(r"^files/|\?.*$", "", first)
            assert media.content == (node_data / "recordings" / key).read_bytes()
            assert not (app_data / "recordings" / key).exists()  # the app holds no footage
            timeline = (await http.get(f"/api/cameras/{cid}/timeline", params=window)).json()
            at = timeline["spans"][0]["start"]  # the first recorded instant
            picture = await http.get(f"/api/cameras/{cid}/frame.jpg", params={"at": at})
            assert (picture.status_code, picture.content[:2]) == (200, b"\xff\xd8"), picture.text

            # The node dials out: it listens on no port.
            listening = [
                c
                for c in psutil.Process(node.pid).net_connections(kind="inet")
                if c.status == psutil.CONN_LISTEN
            ]
            assert listening == []

            # The node stops: taken for dead, its recordings unavailable (not an error).
            _stop(node, node_log)

            async def node_gone() -> bool:
                system = (await http.get("/api/system")).json()
                return not any(n["name"] == "node-a" and n["connected"] for n in system["nodes"])

            await _until("node-a taken for dead", node_gone, 15, app_log)
            away = await http.get(f"/api/cameras/{cid}/vod.m3u8", params=window)
            assert away.status_code == 503
            assert away.json()["type"].endswith("node-unavailable")

        # The application and the bus go away; the node starts again meanwhile and records
        # from its own copy of its cameras. When they are back, every segment it recorded
        # meanwhile is indexed and plays.
        _stop(app, app_log)
        bus.stop()
        node = _start(["node"], node_env, node_log)
        folder = node_data / "recordings" / str(cid)

        def finished() -> set[Path]:
            return {path for path in folder.rglob("*.mp4") if ".incoming" not in path.parts}

        before = finished()

        async def recorded_meanwhile() -> set[Path]:
            assert node.poll() is None, node_log.read_text()[-3000:]
            new = finished() - before
            return new if len(new) >= 3 else set()

        meanwhile = await _until("recording with the bus away", recorded_meanwhile, 60, node_log)
        assert isinstance(meanwhile, set)
        bus.start()  # the same port and JetStream folder: the bus restarting
        app = _start(["app"], app_env, app_log)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            await _until("the app serves again", signed_in_to(http, app, app_log), 60, app_log)
            window = {"start": iso(since), "end": iso(now_ms() + 60_000)}

            async def all_indexed() -> bool:
                listed = await http.get(f"/api/cameras/{cid}/vod.m3u8", params=window)
                return listed.status_code == 200 and all(
                    str(path.relative_to(node_data / "recordings")) in listed.text
                    for path in meanwhile
                )

            await _until("what was recorded meanwhile indexed", all_indexed, 60, app_log, node_log)
    finally:
        _stop(node, node_log)
        _stop(app, app_log)


async def test_a_killed_nodes_cameras_record_on_another_and_it_takes_none_back(
    tmp_path: Path, bus: NatsServer, silent_sim: SimulatedCameras
) -> None:
    port, app, nodes, logs, data = _app_and_two_nodes(tmp_path, bus)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            await _until("the app serves", signed_in_to(http, app, logs["app"]), 60, logs["app"])

            async def connected() -> set[str]:
                system = (await http.get("/api/system")).json()
                return {n["name"] for n in system["nodes"] if n["connected"]}

            async def both() -> bool:
                return await connected() == {"node-a", "node-b"}

            await _until("both nodes join", both, 60, *logs.values())
            added = await http.post(
                "/api/cameras", json={"name": "Hall", "main_url": silent_sim.urls[0]}
            )
            assert added.status_code == 201, added.text
            cid, first_node = added.json()["id"], added.json()["node"]
            other = ({"node-a", "node-b"} - {first_node}).pop()

            async def state() -> tuple[str, str]:
                camera = (await http.get(f"/api/cameras/{cid}")).json()
                return camera["node"], camera["status"]["state"]

            async def recording_on_first() -> bool:
                return await state() == (first_node, "streaming")

            await _until("recording", recording_on_first, 60, *logs.values())
            folder = data[first_node] / "recordings" / str(cid)
            await _until("a segment", lambda: _files(folder, 2), 30, logs[first_node])

            nodes[first_node].kill()  # SIGKILL: no goodbye
            killed = time.monotonic()
            nodes[first_node].wait(10)

            async def recording_on_other() -> bool:
                return await state() == (other, "streaming")

            await _until("recording on the other node", recording_on_other, 60, *logs.values())
            failover = time.monotonic() - killed
            assert failover < 30, f"failover took {failover:.1f} s"
            moved = data[other] / "recordings" / str(cid)
            await _until("segments on the other node", lambda: _files(moved, 2), 30, logs[other])

            # The killed node returns: it takes nothing back, and its footage plays again.
            nodes[first_node] = _start(
                ["node"], _node_env(data[first_node], bus, first_node), logs[first_node]
            )
            await _until("the killed node back", both, 60, *logs.values())
            before = await _files(folder, 0)
            await asyncio.sleep(3)  # segments are 1 s: a node recording it would add some
            assert await _files(folder, 0) == before
            assert await state() == (other, "streaming")
            window = {"start": iso(now_ms() - 300_000), "end": iso(now_ms())}
            listed = await http.get(f"/api/cameras/{cid}/vod.m3u8", params=window)
            assert listed.status_code == 200, listed.text
            keys = [str(p.relative_to(data[first_node] / "recordings")) for p in before]
            assert all(key in listed.text for key in keys)  # both nodes' footage, one timeline
            assert any(
                str(p.relative_to(data[other] / "recordings")) in listed.text
                for p in await _files(moved, 0)
            )
    finally:
        for name, process in nodes.items():
            _stop(process, logs[name])
        _stop(app, logs["app"])


async def _files(folder: Path, at_least: int) -> set[Path]:
    """The finished segment files in ``folder``, if there are ``at_least`` of them."""
    found = {p for p in folder.rglob("*.mp4") if ".incoming" not in p.parts}
    return found if len(found) >= at_least else set()


def test_a_node_without_the_bus_or_with_a_wrong_password_says_so(
    tmp_path: Path, bus: NatsServer
) -> None:
    unset = subprocess.run(
        [sys.executable, "-m", "vigil", "node"],
        env=_env(tmp_path / "n1"), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert unset.returncode == 2
    assert "vigil node needs the bus: set bus.url and bus.password" in unset.stderr
    wrong = "not-node-a's-password"
    env = {**_node_env(tmp_path / "n2", bus, "node-a"), "VIGIL_BUS__PASSWORD": wrong}
    refused = subprocess.run(
        [sys.executable, "-m", "vigil", "node"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode == 2, refused.stderr
    assert re.search(r"(?i)authorization violation", refused.stderr), refused.stderr
    assert wrong not in refused.stderr + refused.stdout


async def test_two_applications_share_the_nodes_and_the_survivor_fails_over(
    tmp_path: Path, bus: NatsServer, silent_sim: SimulatedCameras, postgres_server: str
) -> None:
    """Two `vigil app`s on one PostgreSQL database: the leader is killed, cameras record on
    and are indexed through the other, which then moves a killed node's camera itself."""
    with fresh_database(postgres_server) as database:
        ports = [free_port(), free_port()]
        envs = [
            {**_app_env(tmp_path / f"app{i}", bus, port), "VIGIL_DATABASE__URL": database}
            for i, port in enumerate(ports)
        ]
        _create_admin(envs[0])  # also brings the database to the newest schema
        logs = {name: tmp_path / f"{name}.log" for name in ("app0", "app1", "node-a", "node-b")}
        processes = {"app0": _start(["app"], envs[0], logs["app0"])}
        data = {name: tmp_path / name for name in ("node-a", "node-b")}
        try:
            async with (
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[0]}", timeout=30) as first,
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[1]}", timeout=30) as second,
            ):
                await _until("app0", signed_in_to(first, processes["app0"], logs["app0"]), 60)
                processes["app1"] = _start(["app"], envs[1], logs["app1"])
                await _until("app1", signed_in_to(second, processes["app1"], logs["app1"]), 60)
                for name in data:
                    processes[name] = _start(["node"], _node_env(data[name], bus, name), logs[name])

                async def both(http: httpx.AsyncClient) -> bool:
                    system = (await http.get("/api/system")).json()
                    return {n["name"] for n in system["nodes"] if n["connected"]} == set(data)

                # Each instance attaches a node at its own next check: wait for both.
                for http in (first, second):
                    await _until("both nodes join", lambda h=http: both(h), 60, *logs.values())
                added = await first.post(
                    "/api/cameras", json={"name": "Yard", "main_url": silent_sim.urls[0]}
                )
                assert added.status_code == 201, added.text
                cid, holder = added.json()["id"], added.json()["node"]

                async def state() -> tuple[str, str]:
                    camera = (await second.get(f"/api/cameras/{cid}")).json()
                    return camera["node"], camera["status"]["state"]

                async def streaming_on(node: str) -> bool:
                    return await state() == (node, "streaming")

                await _until("streaming", lambda: streaming_on(holder), 60, *logs.values())

                async def someone_leads() -> str:
                    return _leading(logs)

                said = await _until("a leader", someone_leads, 30, *logs.values())
                leader = "app0" if said == "app0 leads" else "app1"
                survivor = second if leader == "app0" else first
                processes[leader].kill()
                processes[leader].wait(10)

                # No camera stops: segments keep being indexed, through the survivor.
                window = {"start": iso(now_ms() - 60_000), "end": iso(now_ms() + 120_000)}

                async def indexed() -> int:
                    listed = await survivor.get(f"/api/cameras/{cid}/vod.m3u8", params=window)
                    return listed.text.count("#EXTINF:") if listed.status_code == 200 else 0

                before = await indexed()

                async def more() -> bool:
                    return await indexed() >= before + 3

                await _until("recording on after the leader died", more, 30, *logs.values())

                # The survivor leads now: it moves the camera off a killed node.
                other = ({"node-a", "node-b"} - {holder}).pop()
                processes[holder].kill()
                processes[holder].wait(10)
                killed = time.monotonic()

                async def moved() -> bool:
                    camera = (await survivor.get(f"/api/cameras/{cid}")).json()
                    return (camera["node"], camera["status"]["state"]) == (other, "streaming")

                await _until("moved by the survivor", moved, 60, *logs.values())
                assert time.monotonic() - killed < 30
        finally:
            for name, process in processes.items():
                if process.poll() is None:
                    _stop(process, logs[name])


def _leading(logs: dict[str, Path]) -> str:
    """Which application instance's log said last that it leads (on a loaded machine, an
    instance slow to renew its entry can lose the lead to the other)."""
    said = [
        (line[:23], name)
        for name in ("app0", "app1")
        for line in logs[name].read_text().splitlines()
        if line.endswith(" leads the scheduling") and " INFO " in line
    ]
    return f"{max(said)[1]} leads" if said else ""
