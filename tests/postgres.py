"""A PostgreSQL server for the tests: the one named by VIGIL_TEST_DATABASE_URL, or a throwaway
one started here (installed with apt-get if the machine has none)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        if os.geteuid() != 0:
            raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql")
        subprocess.run(["apt-get", "install", "-y", "-q", "postgresql"], check=True)
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent


@dataclass
class PostgresServer:
    """A server of the tests' own, which a test may stop and start again."""

    url: str
    _pg_ctl: list[str]
    _options: str
    _log: Path

    def stop(self) -> None:
        subprocess.run([*self._pg_ctl, "-m", "fast", "-w", "stop"], check=True, capture_output=True)

    def start(self) -> None:
        subprocess.run(
            [*self._pg_ctl, "-o", self._options, "-w", "start", "-l", str(self._log)],
            check=True,
            capture_output=True,
        )


@contextlib.contextmanager
def own_server() -> Iterator[PostgresServer]:
    """initdb + pg_ctl in a temporary folder; removes it all after."""
    bindir = _pg_bin()
    root = Path(tempfile.mkdtemp(prefix="vigil-pg-"))
    port = _free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data = root / "data"
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    server = PostgresServer(
        f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
        [*as_user, str(bindir / "pg_ctl"), "-D", str(data)],
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
        root / "log",
    )
    server.start()
    try:
        yield server
    finally:
        subprocess.run([*server._pg_ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def throwaway_server() -> Iterator[str]:
    """A server started for the test run; yields its URL."""
    with own_server() as server:
        yield server.url


def _conninfo(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


@contextlib.contextmanager
def fresh_database(server_url: str, template: str | None = None) -> Iterator[str]:
    """A new database on the server for one test, empty or a copy of the database named
    ``template``; dropped afterwards."""
    name = f"vigil_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(_conninfo(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield (
            make_url(server_url)
            .set(drivername="postgresql+psycopg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        for _ in range(5):
            try:
                with psycopg.connect(_conninfo(server_url), autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                break
            except psycopg.OperationalError:
                time.sleep(0.5)
