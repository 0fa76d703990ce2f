"""Administering media nodes, as separate processes on a real bus: `vigil nodes list` shows
them; a camera pinned to a node is placed there; `vigil nodes drain` hands its cameras over
to another node, which records each before the old one stops (the timeline has no gap),
and gives it no new ones; undone, the pinned camera comes back the same way; `vigil nodes
forget` refuses a node that is alive or has footage, and forgets a dead one when told to."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.link.test_processes import (
    _app_and_two_nodes,
    _app_env,
    _files,
    _stop,
    _until,
    bus,
    signed_in_to,
)
from vigil.link.nats.embedded import NatsServer
from vigil.sim.runner import SimulatedCameras
from vigil.timeutil import iso, now_ms

__all__ = ["bus"]  # the fixture, shared with the other process tests


def _nodes(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vigil", "nodes", *args],
        env=env, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip


def _row(listing: str, node: str) -> list[str]:
    """The cells of ``node``'s row in `vigil nodes list` (split on two spaces or more)."""
    for line in listing.splitlines():
        if line.startswith(node + " "):
            return [cell.strip() for cell in line.split("  ") if cell.strip()]
    raise AssertionError(f"{node} not listed:\n{listing}")


async def test_nodes_are_listed_drained_with_no_gap_and_forgotten(
    tmp_path: Path, bus: NatsServer, silent_sim: SimulatedCameras
) -> None:
    port, app, nodes, logs, data = _app_and_two_nodes(tmp_path, bus)
    app_env = _app_env(tmp_path / "app", bus, port)  # for `vigil nodes`, as the app's
    url = silent_sim.urls[0]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            await _until("the app serves", signed_in_to(http, app, logs["app"]), 60, logs["app"])

            async def both() -> bool:
                system = (await http.get("/api/system")).json()
                return {n["name"] for n in system["nodes"] if n["connected"]} == set(data)

            await _until("both nodes join", both, 60, *logs.values())

            # Pinned to a node nobody knows: refused, with the reason.
            typo = await http.post(
                "/api/cameras", json={"name": "Dock", "main_url": url, "pinned_node": "node-z"}
            )
            assert typo.status_code == 422
            assert "no media node named 'node-z'" in typo.text
            added = await http.post(
                "/api/cameras", json={"name": "Dock", "main_url": url, "pinned_node": "node-a"}
            )
            assert added.status_code == 201, added.text
            dock = added.json()
            assert (dock["node"], dock["pinned_node"]) == ("node-a", "node-a")

            async def where(cid: int) -> tuple[str, str]:
                camera = (await http.get(f"/api/cameras/{cid}")).json()
                return camera["node"], camera["status"]["state"]

            async def streaming_on(cid: int, node: str) -> bool:
                return await where(cid) == (node, "streaming")

            await _until("recording", lambda: streaming_on(dock["id"], "node-a"), 60, logs["app"])
            on_a = data["node-a"] / "recordings" / str(dock["id"])
            await _until("segments on node-a", lambda: _files(on_a, 3), 30, logs["node-a"])

            listing = _nodes(app_env, "list")
            assert listing.returncode == 0, listing.stderr
            assert _row(listing.stdout, "node-a")[1:4] == ["alive", "1", "1"]
            assert _row(listing.stdout, "node-b")[1:4] == ["alive", "0", "0"]

            # Draining node-a: the camera is handed over to node-b with no gap.
            drained = _nodes(app_env, "drain", "node-a")
            assert drained.returncode == 0, drained.stderr
            assert "node-a is draining" in drained.stdout
            drain_at = now_ms()
            await _until(
                "the camera on node-b", lambda: streaming_on(dock["id"], "node-b"), 60,
                *logs.values(),
            )  # fmt: skip
            handed_at = now_ms()

            async def a_stopped() -> bool:  # once node-b recorded it: its beat says so
                row = _row(_nodes(app_env, "list").stdout, "node-a")
                return row[1:4] == ["alive, draining", "0", "0"]

            await _until("node-a stops recording it", a_stopped, 30, *logs.values())
            stopped = await _files(on_a, 0)
            on_b = data["node-b"] / "recordings" / str(dock["id"])
            await _until("segments on node-b", lambda: _files(on_b, 3), 30, logs["node-b"])
            assert await _files(on_a, 0) == stopped  # no new files there
            window = {"start": iso(drain_at - 3_000), "end": iso(handed_at + 2_000)}
            spans = (await http.get(f"/api/cameras/{dock['id']}/timeline", params=window)).json()
            assert len(spans["spans"]) == 1, spans["spans"]  # no gap across the hand-over

            # A new camera goes to the node taking cameras, not to the draining one.
            gate = await http.post("/api/cameras", json={"name": "Gate", "main_url": url})
            assert gate.status_code == 201, gate.text
            assert gate.json()["node"] == "node-b"

            # A node that is alive is not forgotten.
            refused = _nodes(app_env, "forget", "node-a")
            assert refused.returncode == 2
            assert "node-a is alive" in refused.stderr

            # Undrained, node-a takes cameras again: the pinned one comes back, no gap.
            undone = _nodes(app_env, "drain", "node-a", "--undo")
            assert undone.returncode == 0, undone.stderr
            back_at = now_ms()
            await _until(
                "the camera back on node-a", lambda: streaming_on(dock["id"], "node-a"), 60,
                *logs.values(),
            )  # fmt: skip
            window = {"start": iso(back_at - 3_000), "end": iso(now_ms() + 1_000)}
            spans = (await http.get(f"/api/cameras/{dock['id']}/timeline", params=window)).json()
            assert len(spans["spans"]) == 1, spans["spans"]
            assert (await where(gate.json()["id"]))[0] == "node-b"  # not pinned: stays

            def keys(folder: Path, node: str) -> set[str]:
                """Storage keys of the node's finished segment files in ``folder``."""
                root = data[node] / "recordings"
                found = folder.rglob("*.mp4")
                return {str(p.relative_to(root)) for p in found if ".incoming" not in p.parts}

            # node-b goes for good: its camera fails over to node-a; forgetting it needs
            # --footage while footage of it is indexed, then it is gone from the list.
            _stop(nodes["node-b"], logs["node-b"])
            await _until(
                "Gate fails over", lambda: streaming_on(gate.json()["id"], "node-a"), 60,
                *logs.values(),
            )  # fmt: skip
            # Once everything node-b reported is applied (in the field, forgetting comes
            # long after a node went), `vigil nodes list` counts all its footage. While both
            # nodes recorded the pinned camera around a hand-over, a segment could start at
            # the same instant on both: one path, indexed as the footage of whichever node
            # reported it first. So node-b's count lies between its own segments and all it
            # recorded, and is final once it stops changing.
            on_b_disk = keys(data["node-b"] / "recordings", "node-b")
            only_on_b = on_b_disk - keys(data["node-a"] / "recordings", "node-a")
            counted: list[int] = []

            async def all_of_b_indexed() -> bool:
                footage = _row(_nodes(app_env, "list").stdout, "node-b")[6]
                counted.append(int(footage.split(" ")[0]))
                settled = len(counted) >= 4 and len(set(counted[-4:])) == 1
                return settled and len(only_on_b) <= counted[-1] <= len(on_b_disk)

            await _until("node-b's footage indexed", all_of_b_indexed, 30, *logs.values())
            kept = _nodes(app_env, "forget", "node-b")
            assert kept.returncode == 2
            assert "add --footage" in kept.stderr
            forgotten = _nodes(app_env, "forget", "node-b", "--footage")
            assert forgotten.returncode == 0, forgotten.stderr
            assert "node node-b forgotten" in forgotten.stdout
            assert "node-b " not in _nodes(app_env, "list").stdout
            window = {"start": iso(drain_at - 60_000), "end": iso(now_ms())}
            listed = await http.get(f"/api/cameras/{dock['id']}/vod.m3u8", params=window)
            assert listed.status_code == 200, listed.text  # node-b's footage: none to ask
            only_dock_on_b = keys(on_b, "node-b") - keys(on_a, "node-a")
            assert not any(key in listed.text for key in only_dock_on_b)
            assert any(key in listed.text for key in keys(on_a, "node-a"))
    finally:
        for name, process in nodes.items():
            _stop(process, logs[name])
        _stop(app, logs["app"])
