"""Shared fixtures: settings on a fresh SQLite or PostgreSQL database, running services."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.backends import BACKENDS, only_sqlite
from tests.postgres import fresh_database, throwaway_server
from vigil.app import Services, start_services, stop_services
from vigil.auth.tokens import token_hash
from vigil.link.messages import SegmentRecord
from vigil.logs import install_redaction
from vigil.media.ffmpeg import find_ffmpeg
from vigil.node.layout import segment_key
from vigil.settings import Settings
from vigil.sim.runner import SimulatedCameras
from vigil.store.migrate import upgrade


@pytest.hookimpl(tryfirst=True)  # before the marks are read and the fixture's params apply
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if only_sqlite(metafunc):
        metafunc.definition.add_marker(
            pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
        )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    url = os.environ.get("VIGIL_TEST_DATABASE_URL")
    if url:
        yield url
        return
    with throwaway_server() as started:
        yield started


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database at the newest schema, copied for each test (migrating each
    test's own would take a fifth of a second, a thousand times)."""
    path = tmp_path_factory.mktemp("template") / "vigil.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> Iterator[str]:
    """The name of a database at the newest schema on the test server, which each test's
    database is created from."""
    with fresh_database(postgres_server) as url:
        upgrade(url)
        yield str(make_url(url).database)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new database on each backend the suite covers, at the newest schema; without
    any table for a test marked ``empty_database`` (the migrations' own)."""
    empty = request.node.get_closest_marker("empty_database") is not None
    if request.param == "sqlite":
        path = tmp_path / "vigil.db"
        if not empty:
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    server = request.getfixturevalue("postgres_server")
    template = None if empty else request.getfixturevalue("postgres_template")
    with fresh_database(server, template) as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings for a test: its own data folder and database, fast timings."""
    return Settings(
        data_dir=tmp_path / "data",
        secret_key="test-secret-key",
        database={"url": database_url},
        node={
            "connect_timeout_seconds": 3,
            "stall_timeout_seconds": 3,
            "reconnect_min_seconds": 0.5,
            "reconnect_max_seconds": 2,
            "outbox_retry_seconds": 0.2,
        },
        retention={"interval_seconds": 3600, "min_free_bytes": 0},
        cameras={"segment_seconds": 2},
    )


# The organisation every test's services start with (the first one on a fresh database).
TEST_ORG = 1


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    running = await start_services(settings)
    org = await running.auth.users.create_org("Test school")
    assert org.id == TEST_ORG
    try:
        yield running
    finally:
        await stop_services(running)


class SecretWatch:
    """The secrets a test has seen (passwords, session tokens, keys, TOTP secrets) and the
    hashes kept of tokens: none may show up in a log line or (but where it is revealed once,
    by design) an API response. Nor may anything shaped like a password hash or a key."""

    def __init__(self) -> None:
        self.secrets: set[str] = set(SECRETS)

    def add(self, *secrets: str) -> None:
        for secret in secrets:
            if secret:
                self.secrets.update((secret, token_hash(secret)))

    def check(self, text: str, where: str) -> None:
        for secret in self.secrets:
            assert secret not in text, f"a secret leaked into {where}: {text[:300]!r}"
        shape = SECRET_SHAPES.search(text)
        assert shape is None, f"{shape.group()!r} leaked into {where}: {text[:300]!r}"


# Password hashes and API keys, whoever made them.
SECRET_SHAPES = re.compile(r"\$argon2(?:id|i|d)\$|\bvgl_(?!\[redacted\])[\w\-]{8,}")

# The sign-in and live test modules run with every library's debug lines on, as
# `vigil serve -v` logs: not one of those lines may carry a secret either.
VERBOSE_MODULES = (
    "tests/auth/",
    "tests/api/test_login.py",
    "tests/api/test_sessions.py",
    "tests/api/test_mfa.py",
    "tests/api/test_keys.py",
    "tests/api/test_links.py",
    "tests/api/test_users.py",
    "tests/api/test_live.py",
    "tests/e2e/test_signin.py",
    "tests/e2e/test_live.py",
)


@pytest.fixture(scope="session", autouse=True)
def redacted_logs() -> None:
    """Log records are redacted as they are made, as every vigil command sets up."""
    install_redaction()


@pytest.fixture(autouse=True)
def secret_watch(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> Iterator[SecretWatch]:
    """Every test: no line logged may carry a secret the test used."""
    watch = SecretWatch()
    where = request.node.path.relative_to(request.config.rootpath).as_posix()
    if where.startswith(VERBOSE_MODULES):
        caplog.set_level(logging.DEBUG)
    else:
        caplog.set_level(logging.INFO)
        caplog.set_level(logging.DEBUG, logger="vigil")
    yield watch
    for record in caplog.get_records("call") + caplog.get_records("setup"):
        watch.check(record.getMessage(), "a log line")


# Passwords and keys the tests use; none of them may ever appear in a log line.
SECRETS = ("s3cret-Pa55", "test-secret-key", "hunter2-camera")


@pytest.fixture(scope="session")
def sim() -> Iterator[SimulatedCameras]:
    """Four simulated cameras with audio, shared by the suite (faults are undone per test)."""
    with SimulatedCameras(cameras=4, **SMALL_CLIP) as cameras:
        yield cameras


@pytest.fixture(scope="session")
def silent_sim() -> Iterator[SimulatedCameras]:
    """One simulated camera without audio."""
    with SimulatedCameras(cameras=1, audio=False, **SMALL_CLIP) as cameras:
        yield cameras


@pytest.fixture(scope="session")
def auth_sim() -> Iterator[SimulatedCameras]:
    """One simulated camera that wants credentials."""
    with SimulatedCameras(cameras=1, auth=AUTH_SIM_CREDENTIALS, **SMALL_CLIP) as cameras:
        yield cameras


@pytest.fixture(scope="session")
def hevc_sim() -> Iterator[SimulatedCameras]:
    """Two simulated cameras sending H.265, which most browsers cannot decode."""
    with SimulatedCameras(cameras=2, codec="h265", **SMALL_CLIP) as cameras:
        yield cameras


AUTH_SIM_CREDENTIALS = "viewer:s3cret-Pa55"
SMALL_CLIP = {"width": 320, "height": 240, "fps": 10, "bitrate_kbps": 300, "loop_seconds": 20}


def write_sample_mp4(path: Path) -> bytes:
    """Two seconds of fragmented MP4 (H.264, 160x120, 10 fps), as the recorder writes them."""
    subprocess.run(
        [find_ffmpeg(), "-hide_banner", "-loglevel", "error",
         "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "2",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "10",
         "-movflags", "+frag_keyframe+empty_moov+default_base_moof", str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


@pytest.fixture(scope="session")
def sample_mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Two seconds of fragmented MP4, as the recorder writes them."""
    return write_sample_mp4(tmp_path_factory.mktemp("footage") / "sample.mp4")


Seed = Callable[[int, list[tuple[int, int]]], Awaitable[list[SegmentRecord]]]


@pytest.fixture
def seed(services: Services, settings: Settings, sample_mp4: bytes) -> Seed:
    """Index segments at (start_ms, end_ms) for a camera, each with a real file on disk."""

    async def add(camera_id: int, times: list[tuple[int, int]]) -> list[SegmentRecord]:
        records = []
        for start_ms, end_ms in times:
            key = segment_key(camera_id, start_ms)
            path = settings.recordings_dir / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(sample_mp4)
            records.append(
                SegmentRecord(
                    camera_id=camera_id,
                    path=key,
                    start_ms=start_ms,
                    end_ms=end_ms,
                    size=len(sample_mp4),
                    video_codec="h264",
                    width=160,
                    height=120,
                    fps=10.0,
                )
            )
        assert services.node is not None
        await services.segments.add(services.node.name, records)
        return records

    return add
