"""Resumable uploads with the standard tus client (tuspy) against a real server: a 300 MB
video cut half-way and resumed, checksums, offsets, the content check, quota, expiry, and
who may touch an upload.

The library behind the uploads is a small in-test sink (the seam between the tus layer and
the library service): it admits uploads within a room of bytes and makes a real item row of
each finished file.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import random
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import select
from tusclient import client
from tusclient.exceptions import TusCommunicationError

from tests.backends import SQLITE_ONLY
from tests.conftest import SecretWatch
from tests.library.test_storage import peak_rss, reset_peak_rss
from tests.people import api_key, make_user, signed_in
from tests.serve import serving
from vigil.api.app import create_app
from vigil.api.routers.uploads import get_sink, get_uploads
from vigil.app import Services
from vigil.auth.principal import Principal
from vigil.library.service import QuotaExceeded
from vigil.library.tus import Uploads
from vigil.media.ffmpeg import find_ffmpeg
from vigil.settings import Settings
from vigil.store.database import Database
from vigil.store.models import MediaItem, Upload
from vigil.timeutil import now_ms

MB = 1 << 20
CHUNK = 8 * MB
BIG = 300 * MB
HOUR = 3_600_000


@dataclass
class Finished:
    """What the library was handed for one finished upload."""

    upload_id: str
    sha256: str  # as the server computed it
    file_sha256: str  # of the file itself, hashed here
    mime: str
    meta: dict[str, str]


class Library:
    """The library's side of uploads: admits within ``room`` bytes, keeps each finished file
    in its own folder and stores an item for it; a file it has seen is a duplicate."""

    def __init__(self, db: Database, folder: Path) -> None:
        self.db = db
        self.folder = folder
        self.room: int | None = None
        self.admitted: list[tuple[int, dict[str, str]]] = []
        self.finished: list[Finished] = []
        self.items: dict[str, MediaItem] = {}

    async def admit(self, principal: Principal, length: int, meta: dict[str, str]) -> None:
        if self.room is not None and length > self.room:
            raise QuotaExceeded(length, self.room)
        self.admitted.append((length, meta))

    async def upload_complete(
        self, principal: Principal, upload: Upload, path: Path, sha256: str, mime: str
    ) -> tuple[MediaItem, bool]:
        file_sha256 = await asyncio.to_thread(sha256_of, path)
        self.finished.append(Finished(upload.id, sha256, file_sha256, mime, dict(upload.meta)))
        if sha256 in self.items:
            return self.items[sha256], True
        self.folder.mkdir(exist_ok=True)
        kept = self.folder / upload.id
        path.rename(kept)
        now = now_ms()
        item = MediaItem(
            org_id=principal.org_id,
            kind="video" if mime.startswith("video/") else "image",
            source="upload",
            title=upload.meta.get("title") or "upload",
            tags=[],
            labels=[],
            captured_at=now,
            uploaded_by_id=principal.user_id,
            uploader=principal.username,
            group_ids=[],
            filename=upload.meta.get("filename", "upload"),
            mime=mime,
            size=upload.length,
            sha256=sha256,
            status="processing",
            progress=0.0,
            storage="local",
            key=kept.name,
            stored_bytes=upload.length,
            views=0,
            downloads=0,
            created_at=now,
            updated_at=now,
        )
        async with self.db.write() as session:
            session.add(item)
        self.items[sha256] = item
        return item, False


class Clock:
    """Now, or later: expiry without waiting a day."""

    def __init__(self) -> None:
        self.ahead_ms = 0

    def __call__(self) -> int:
        return now_ms() + self.ahead_ms


@dataclass
class Site:
    """A live server whose uploads go to ``library``; API keys (scope ``library``) of a
    teacher, a colleague (both operators), an admin and a parent (a viewer)."""

    url: str
    app: FastAPI
    services: Services
    uploads: Uploads
    library: Library
    clock: Clock
    keys: dict[str, str] = field(default_factory=dict)

    def tus(self, role: str = "teacher", base: str | None = None) -> client.TusClient:
        headers = {"Authorization": f"Bearer {self.keys[role]}"}
        return client.TusClient(f"{base or self.url}/api/uploads", headers=headers)

    def http(self, role: str = "teacher", **headers: str) -> httpx.AsyncClient:
        sent = {"Authorization": f"Bearer {self.keys[role]}", "Tus-Resumable": "1.0.0"}
        return httpx.AsyncClient(base_url=self.url, headers=sent | headers, timeout=30)

    def stored(self) -> list[str]:
        """The files in the uploads folder."""
        folder = self.uploads.folder
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
async def site(
    settings: Settings, services: Services, tmp_path: Path, secret_watch: SecretWatch
) -> AsyncIterator[Site]:
    clock = Clock()
    uploads = Uploads(services.db, tmp_path / "uploads", max_size=1 << 40, clock=clock)
    library = Library(services.db, tmp_path / "library")
    app = create_app(settings, services)
    app.dependency_overrides[get_uploads] = lambda: uploads
    app.dependency_overrides[get_sink] = lambda: library
    async with serving(app) as url:
        site = Site(url, app, services, uploads, library, clock)
        for name, role in (
            ("teacher", "operator"),
            ("colleague", "operator"),
            ("admin", "admin"),
            ("parent", "viewer"),
        ):
            user = await make_user(services, name, role)
            site.keys[name] = await api_key(services, user, ["library"], secret_watch)
        yield site


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real MP4 of a few KB (ffmpeg, H.264)."""
    path = tmp_path_factory.mktemp("tus") / "clip.mp4"
    subprocess.run(
        [find_ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error",
         "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=2",
         "-c:v", "libx264", "-crf", "10", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    data = path.read_bytes()
    assert len(data) > 8192
    return data


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(MB):
            digest.update(block)
    return digest.hexdigest()


def _metadata(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


async def _create(http: httpx.AsyncClient, length: int, **meta: str) -> str:
    headers = {"Upload-Length": str(length), "Upload-Metadata": _metadata(**meta)}
    created = await http.post("/api/uploads", headers=headers)
    assert created.status_code == 201, created.text
    assert created.headers["tus-resumable"] == "1.0.0"
    location = created.headers["location"]
    assert location.startswith("/api/uploads/")
    return location


async def _patch(
    http: httpx.AsyncClient, location: str, offset: int, body: bytes, **headers: str
) -> httpx.Response:
    sent = {
        "Upload-Offset": str(offset),
        "Content-Type": "application/offset+octet-stream",
        **headers,
    }
    return await http.patch(location, content=body, headers=sent)


def _checksum(name: str, body: bytes) -> str:
    return f"{name} {base64.b64encode(hashlib.new(name, body).digest()).decode()}"


# -- the big one


def _big_video(path: Path, clip: bytes) -> None:
    """300 MB that sniff as an MP4: a real clip's first bytes, then mostly holes with random
    blocks here and there (so a byte out of place changes the checksum)."""
    blocks = random.Random(6)
    with path.open("wb") as file:
        file.write(clip)
        file.truncate(BIG)
        for at in range(len(clip) + 12_345, BIG - MB, 5 * MB + 4321):
            file.seek(at)
            file.write(blocks.randbytes(64 * 1024))


@contextlib.asynccontextmanager
async def cutting_proxy(target: str, cut_after: int) -> AsyncIterator[str]:
    """A TCP proxy to ``target`` that drops the connection once ``cut_after`` bytes have gone
    up through it, as a dropped network would; later connections pass untouched."""
    host, port = target.removeprefix("http://").split(":")
    sent = 0

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        up_reader, up_writer = await asyncio.open_connection(host, int(port))

        async def upstream() -> None:
            nonlocal sent
            while data := await reader.read(64 * 1024):
                if sent < cut_after <= sent + len(data):
                    up_writer.write(data[: cut_after - sent])
                    sent = cut_after
                    await up_writer.drain()
                    up_writer.transport.abort()
                    writer.transport.abort()
                    return
                sent += len(data)
                up_writer.write(data)
                await up_writer.drain()
            up_writer.close()

        async def downstream() -> None:
            while data := await up_reader.read(64 * 1024):
                writer.write(data)
                await writer.drain()
            writer.close()

        await asyncio.gather(upstream(), downstream(), return_exceptions=True)

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


@SQLITE_ONLY
async def test_a_300_mb_video_cut_half_way_resumes_and_arrives_whole(
    site: Site, tmp_path: Path, clip: bytes
) -> None:
    source = tmp_path / "sports-day.mp4"
    _big_video(source, clip)
    expected = await asyncio.to_thread(sha256_of, source)
    meta = {"filename": "sports-day.mp4", "title": "Sports day"}
    try:
        with source.open("rb") as stream:  # tuspy leaves files it opens itself open
            async with cutting_proxy(site.url, cut_after=BIG // 2) as proxy:
                base = reset_peak_rss()
                first = site.tus(base=proxy).uploader(
                    file_stream=stream, chunk_size=CHUNK, metadata=meta
                )
                with pytest.raises(TusCommunicationError):
                    await asyncio.to_thread(first.upload)
                assert first.url is not None
                assert first.url.startswith(proxy)

                # A new client, the same upload URL: it asks where to go on (HEAD), then does.
                resumed = await asyncio.to_thread(
                    site.tus(base=proxy).uploader,
                    file_stream=stream,
                    url=first.url,
                    chunk_size=CHUNK,
                )
                upload_id = first.url.rsplit("/", 1)[-1]
                async with site.services.db.read() as session:
                    row = await session.get(Upload, upload_id)
                assert row is not None
                on_disk = (site.uploads.folder / upload_id).stat().st_size
                # What arrived of the chunk under way was kept: the offset is no chunk boundary.
                assert resumed.offset == row.offset == on_disk
                assert BIG // 2 - CHUNK < resumed.offset < BIG // 2
                assert resumed.offset % CHUNK != 0
                await asyncio.to_thread(resumed.upload)
                growth = peak_rss() - base
        [done] = site.library.finished
        assert done.upload_id == upload_id
        assert done.sha256 == done.file_sha256 == expected
        assert done.mime == "video/mp4"
        assert done.meta == meta
        assert resumed.request is not None
        assert resumed.request.response_headers["vigil-item"] == str(
            site.library.items[expected].id
        )
        assert site.stored() == []  # the library took the file
    finally:
        source.unlink()
        for kept in site.library.folder.glob("*"):
            kept.unlink()
    assert growth < 64 * MB, f"memory grew by {growth / MB:.0f} MB while 300 MB went up"


# -- the protocol, piece by piece


async def test_offsets_checksums_completion_and_duplicates(site: Site, clip: bytes) -> None:
    async with site.http() as http:
        location = await _create(http, len(clip), filename="clip.mp4")
        # A first part, shorter than what the content check needs: kept, not judged yet.
        sent = await _patch(http, location, 0, clip[:3000])
        assert (sent.status_code, sent.headers["upload-offset"]) == (204, "3000")
        assert "upload-expires" in sent.headers
        status = await http.head(location)
        assert status.status_code == 200
        assert status.headers["upload-offset"] == "3000"
        assert status.headers["upload-length"] == str(len(clip))
        assert status.headers["cache-control"] == "no-store"

        # From the wrong place: 409, saying where the upload stands.
        wrong = await _patch(http, location, 2000, clip[2000:5000])
        assert wrong.status_code == 409
        assert wrong.json()["upload_offset"] == 3000
        assert wrong.headers["tus-resumable"] == "1.0.0"

        # Bytes that do not match their checksum: 460, and the offset has not moved.
        part = clip[3000:6000]
        corrupted = part[:100] + b"\x00" + part[101:]
        mismatch = await _patch(
            http, location, 3000, corrupted, **{"Upload-Checksum": _checksum("sha256", part)}
        )
        assert mismatch.status_code == 460
        assert mismatch.json()["title"] == "Checksum Mismatch"
        assert (await http.head(location)).headers["upload-offset"] == "3000"
        assert (site.uploads.folder / location.rsplit("/", 1)[-1]).stat().st_size == 3000

        for name in ("md5", "sha1"):
            unsupported = await _patch(
                http, location, 3000, part, **{"Upload-Checksum": f"crc32 {name}"}
            )
            assert unsupported.status_code == 400
        checked = await _patch(
            http, location, 3000, part, **{"Upload-Checksum": _checksum("md5", part)}
        )
        assert checked.headers["upload-offset"] == "6000"

        # The last bytes: the file becomes an item, named in the answer.
        last = await _patch(
            http, location, 6000, clip[6000:], **{"Upload-Checksum": _checksum("sha1", clip[6000:])}
        )
        assert last.status_code == 204, last.text
        assert last.headers["upload-offset"] == str(len(clip))
        [finished] = site.library.finished
        assert finished.sha256 == finished.file_sha256 == hashlib.sha256(clip).hexdigest()
        item = site.library.items[finished.sha256]
        assert last.headers["vigil-item"] == str(item.id)
        assert "vigil-duplicate" not in last.headers
        # A client that lost that answer asks again: done, and which item it became.
        again = await http.head(location)
        assert again.headers["upload-offset"] == str(len(clip))
        assert again.headers["vigil-item"] == str(item.id)

        # The same file once more, sent with the creation request (creation-with-upload).
        headers = {
            "Upload-Length": str(len(clip)),
            "Content-Type": "application/offset+octet-stream",
        }
        both = await http.post("/api/uploads", headers=headers, content=clip)
        assert both.status_code == 201, both.text
        assert both.headers["upload-offset"] == str(len(clip))
        assert both.headers["vigil-item"] == str(item.id)
        assert both.headers["vigil-duplicate"] == "true"
    assert site.stored() == []


@SQLITE_ONLY
async def test_an_upload_taken_up_by_a_restarted_server_is_hashed_whole(
    site: Site, clip: bytes
) -> None:
    """The file's SHA-256 is taken as its bytes arrive; a server that starts in the middle of
    an upload (a restart) has no digest of what came before, and reads the file back."""
    async with site.http() as http:
        location = await _create(http, len(clip), filename="clip.mp4")
        first = await _patch(http, location, 0, clip[:5000])
        assert first.headers["upload-offset"] == "5000"
        restarted = Uploads(site.services.db, site.uploads.folder, max_size=1 << 40)
        site.app.dependency_overrides[get_uploads] = lambda: restarted
        assert (await http.head(location)).headers["upload-offset"] == "5000"
        last = await _patch(http, location, 5000, clip[5000:])
        assert last.status_code == 204, last.text
    [finished] = site.library.finished
    assert finished.sha256 == finished.file_sha256 == hashlib.sha256(clip).hexdigest()


async def test_tuspy_uploads_a_picture_with_checksums(site: Site, tmp_path: Path) -> None:
    picture = tmp_path / "class-photo.jpg"
    Image.effect_noise((400, 300), 60).convert("RGB").save(picture, "JPEG", quality=95)
    with picture.open("rb") as stream:
        uploader = site.tus().uploader(
            file_stream=stream, chunk_size=16 * 1024, upload_checksum=True
        )
        await asyncio.to_thread(uploader.upload)
    [finished] = site.library.finished
    assert finished.sha256 == sha256_of(picture)
    assert finished.mime == "image/jpeg"


@SQLITE_ONLY
async def test_a_pdf_named_mp4_is_refused_naming_what_it_is(site: Site, tmp_path: Path) -> None:
    disguised = tmp_path / "match.mp4"
    buffer = io.BytesIO()
    Image.effect_noise((300, 300), 60).convert("RGB").save(buffer, "PDF")
    disguised.write_bytes(buffer.getvalue())
    assert disguised.stat().st_size > 8192

    with disguised.open("rb") as stream:
        uploader = site.tus().uploader(file_stream=stream, metadata={"filename": "match.mp4"})
        with pytest.raises(TusCommunicationError) as refused:
            await asyncio.to_thread(uploader.upload)
    assert refused.value.status_code == 415
    problem = httpx.Response(415, content=refused.value.response_content).json()
    assert problem["detail"] == (
        "This file is a PDF document (application/pdf), not a picture or a video."
    )
    assert problem["detected_type"] == "application/pdf"
    assert problem["type"] == "urn:vigil:problem:not-media"
    # The upload is gone, bytes and all.
    assert site.stored() == []
    async with site.http() as http:
        assert (await http.head(uploader.url)).status_code == 404
    assert site.library.finished == []


@SQLITE_ONLY
async def test_over_quota_is_refused_before_a_byte_is_stored(
    site: Site, tmp_path: Path, clip: bytes
) -> None:
    site.library.room = 1000
    video = tmp_path / "clip.mp4"
    video.write_bytes(clip)
    with video.open("rb") as stream, pytest.raises(TusCommunicationError) as refused:
        await asyncio.to_thread(site.tus().uploader(file_stream=stream).upload)
    assert refused.value.status_code == 413
    problem = httpx.Response(413, content=refused.value.response_content).json()
    assert problem["remaining_bytes"] == 1000
    assert problem["detail"] == (
        f"The upload is {len(clip)} bytes but only 1000 bytes are left in your plan."
    )
    assert site.stored() == []
    async with site.services.db.read() as session:
        assert (await session.scalars(select(Upload))).all() == []

    # The server's own limit, whatever the plan.
    site.library.room = None
    site.uploads.max_size = 10_000
    async with site.http() as http:
        too_big = await http.post("/api/uploads", headers={"Upload-Length": "10001"})
    assert too_big.status_code == 413
    assert too_big.json()["max_bytes"] == 10_000
    assert site.stored() == []


@SQLITE_ONLY
async def test_termination_and_expiry(site: Site, clip: bytes) -> None:
    async with site.http() as http:
        dropped = await _create(http, len(clip))
        await _patch(http, dropped, 0, clip[:5000])
        assert len(site.stored()) == 1
        assert (await http.delete(dropped)).status_code == 204
        assert (await http.head(dropped)).status_code == 404
        assert site.stored() == []

        left = await _create(http, len(clip))
        await _patch(http, left, 0, clip[:5000])
        site.clock.ahead_ms = 24 * HOUR + 1  # a day untouched
        expired = await http.head(left)
        assert (expired.status_code, expired.headers["tus-resumable"]) == (410, "1.0.0")
        assert await site.uploads.sweep() == 1
        assert (await http.head(left)).status_code == 404
        assert site.stored() == []


@SQLITE_ONLY
async def test_file_names_are_only_text(site: Site, clip: bytes) -> None:
    async with site.http() as http:
        # Control characters (NUL included) are refused, naming the keys, before anything
        # is stored.
        headers = {
            "Upload-Length": str(len(clip)),
            "Upload-Metadata": _metadata(filename="../../etc/passwd\x00.mp4", title="a\x00b"),
        }
        refused = await http.post("/api/uploads", headers=headers)
        assert refused.status_code == 422
        assert [e["location"] for e in refused.json()["errors"]] == [
            "header.Upload-Metadata.filename",
            "header.Upload-Metadata.title",
        ]
        assert site.stored() == []
        location = await _create(
            http, len(clip), filename="../../etc/passwd.mp4", title="a b", tags="a, b"
        )
        assert (await _patch(http, location, 0, clip)).status_code == 204
    [finished] = site.library.finished
    assert finished.meta == {"filename": "../../etc/passwd.mp4", "title": "a b", "tags": "a, b"}
    upload_id = location.rsplit("/", 1)[-1]
    assert [f.name for f in site.library.folder.iterdir()] == [upload_id]
    assert not (site.uploads.folder / "../../etc/passwd.mp4").resolve().exists()


@SQLITE_ONLY
async def test_an_upload_is_its_creators_alone(site: Site, clip: bytes) -> None:
    async with site.http() as teacher:
        location = await _create(teacher, len(clip))
        await _patch(teacher, location, 0, clip[:5000])
    for other in ("colleague", "admin"):
        async with site.http(other) as http:
            assert (await http.head(location)).status_code == 404
            patched = await _patch(http, location, 5000, clip[5000:])
            assert (patched.status_code, patched.json()["type"]) == (
                404,
                "urn:vigil:problem:upload-not-found",
            )
            assert (await http.delete(location)).status_code == 404
    async with site.http("parent") as parent:
        refused = await parent.post("/api/uploads", headers={"Upload-Length": "100"})
        assert refused.status_code == 403
        assert refused.headers["tus-resumable"] == "1.0.0"
        assert (await parent.head(location)).status_code == 403
    async with httpx.AsyncClient(base_url=site.url) as anonymous:
        nobody = await anonymous.post("/api/uploads", headers={"Tus-Resumable": "1.0.0"})
        assert (nobody.status_code, nobody.headers["tus-resumable"]) == (401, "1.0.0")
    async with site.http() as teacher:
        assert (await teacher.head(location)).headers["upload-offset"] == "5000"


@SQLITE_ONLY
async def test_what_the_protocol_requires(site: Site, clip: bytes) -> None:
    async with httpx.AsyncClient(base_url=site.url) as anonymous:
        options = await anonymous.options("/api/uploads")
    assert options.status_code == 204
    assert options.headers["tus-version"] == "1.0.0"
    assert set(options.headers["tus-extension"].split(",")) == {
        "creation",
        "creation-with-upload",
        "termination",
        "checksum",
        "expiration",
    }
    assert options.headers["tus-max-size"] == str(site.uploads.max_size)
    assert options.headers["tus-checksum-algorithm"] == "sha1,sha256,md5"

    async with site.http() as http:
        old = await http.post(
            "/api/uploads", headers={"Tus-Resumable": "0.2.2", "Upload-Length": "10"}
        )
        assert (old.status_code, old.headers["tus-version"]) == (412, "1.0.0")
        deferred = await http.post("/api/uploads", headers={"Upload-Defer-Length": "1"})
        assert deferred.status_code == 400
        nonsense = await http.post("/api/uploads", headers={"Upload-Length": "-5"})
        assert nonsense.status_code == 400
        location = await _create(http, len(clip))
        as_json = await http.patch(
            location,
            content=b"{}",
            headers={"Upload-Offset": "0", "Content-Type": "application/json"},
        )
        assert as_json.status_code == 415
        too_long = await _patch(http, location, 0, clip + b"extra")
        assert too_long.status_code == 413
        assert (await http.head(location)).headers["upload-offset"] == "0"


@SQLITE_ONLY
async def test_one_patch_at_a_time(site: Site, clip: bytes) -> None:
    async with site.http() as http:
        location = await _create(http, len(clip))
        path = site.uploads.folder / location.rsplit("/", 1)[-1]
        gate = asyncio.Event()

        async def slow_body() -> AsyncIterator[bytes]:
            yield clip[:5000]
            await gate.wait()
            yield clip[5000:]

        first = asyncio.create_task(
            http.patch(
                location,
                content=slow_body(),
                headers={"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
            )
        )
        while path.stat().st_size < 5000:  # the first part is in: the upload is held
            await asyncio.sleep(0.01)
        second = await _patch(http, location, 5000, clip[5000:])
        assert second.status_code == 423
        assert (await http.delete(location)).status_code == 423
        gate.set()
        done = await first
        assert (done.status_code, done.headers["upload-offset"]) == (204, str(len(clip)))


@SQLITE_ONLY
async def test_browser_sessions_need_the_csrf_header(site: Site, clip: bytes) -> None:
    async with signed_in(site.app, "teacher") as browser:
        headers = {"Tus-Resumable": "1.0.0", "Upload-Length": str(len(clip))}
        created = await browser.post("/api/uploads", headers=headers)
        assert created.status_code == 201
        csrf = browser.headers.pop("X-CSRF-Token")
        refused = await browser.post("/api/uploads", headers=headers)
        assert (refused.status_code, refused.json()["type"]) == (403, "urn:vigil:problem:csrf")
        browser.headers["X-CSRF-Token"] = csrf


@SQLITE_ONLY
async def test_a_stalled_body_ends_as_if_cut(site: Site, clip: bytes) -> None:
    site.uploads.idle_seconds = 0.3
    async with site.http() as http:
        location = await _create(http, len(clip))
        path = site.uploads.folder / location.rsplit("/", 1)[-1]
        never = asyncio.Event()

        async def stalling_body() -> AsyncIterator[bytes]:
            yield clip[:5000]
            await never.wait()

        stalled = asyncio.create_task(
            http.patch(
                location,
                content=stalling_body(),
                headers={"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
            )
        )
        try:
            while path.stat().st_size < 5000:
                await asyncio.sleep(0.01)
            # HEAD waits for the stalled request to end, then says where to resume.
            assert (await http.head(location)).headers["upload-offset"] == "5000"
            resumed = await _patch(http, location, 5000, clip[5000:])
            assert (resumed.status_code, resumed.headers["upload-offset"]) == (204, str(len(clip)))
        finally:
            stalled.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await stalled
