"""The commands a user types: `vigil demo` end to end, `vigil migrate`."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from vigil.cli import cli


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_demo_records_simulated_cameras_and_stops_cleanly_on_sigterm(
    tmp_path: Path,
) -> None:
    port = free_port()
    data = tmp_path / "demo"
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        demo = subprocess.Popen(
            [sys.executable, "-m", "vigil", "demo", "--data-dir", str(data), "--port", str(port),
             "--cameras", "2"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # the first run encodes the simulator's clip
        streaming: list[dict[str, object]] = []
        async with httpx.AsyncClient(base_url=base) as http:
            while time.monotonic() < deadline:
                assert demo.poll() is None, log.read_text()
                credentials = re.search(r"sign in as +(\S+) / (\S+)", log.read_text())
                if credentials is not None:
                    break
                await asyncio.sleep(0.5)
            assert credentials is not None, log.read_text()
            login = {"username": credentials[1], "password": credentials[2]}
            while time.monotonic() < deadline:  # the server may not be listening yet
                assert demo.poll() is None, log.read_text()
                try:
                    signed_in = await http.post("/api/auth/login", json=login)
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.2)
            assert signed_in.status_code == 200, signed_in.text
            while time.monotonic() < deadline:
                assert demo.poll() is None, log.read_text()
                try:
                    cameras = (await http.get("/api/cameras")).json()
                except httpx.TransportError:
                    cameras = []
                streaming = [c for c in cameras if c["status"]["state"] == "streaming"]
                if len(streaming) == 2:
                    break
                await asyncio.sleep(0.5)
            assert len(streaming) == 2, log.read_text()
            assert "Demo camera 1" in {c["name"] for c in streaming}
            home = await http.get("/")  # the web app, which reads the same API
            assert home.status_code == 200
            assert 'src="/static/app/main.js"' in home.text
        printed = log.read_text()
        assert f"Open {base}/" in printed
        assert "rtsp://127.0.0.1:" in printed
        await asyncio.sleep(4)  # a few segments
    finally:
        demo.send_signal(signal.SIGTERM)
        code = demo.wait(60)
    assert code == 0, log.read_text()
    recordings = data / "recordings"
    assert list(recordings.glob("*/*/*/*.mp4")), "the demo recorded"
    assert not list(recordings.glob("*/.incoming/*")), "SIGTERM finished the last segments"


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    config = tmp_path / "vigil.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n')
    result = CliRunner().invoke(cli, ["migrate", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "vigil.db").exists()
    again = CliRunner().invoke(cli, ["migrate", "--config", str(config)])
    assert again.exit_code == 0
