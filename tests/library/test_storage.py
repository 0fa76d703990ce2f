"""Storage backends against real parts: a local folder and ``rclone serve s3``."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import logging
import os
import secrets
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import psutil
import pytest
from pydantic import ValidationError

from tests.library.conftest import S3_BUCKET, S3_SECRET_KEY, S3Server
from vigil.library import storage
from vigil.library.storage import (
    BlobNotFound,
    BlobStore,
    Lifecycle,
    LocalStore,
    S3Store,
    StorageError,
    StorageSettings,
    Tiered,
    UnknownStore,
    UnsafeKey,
    move,
)

MB = 1 << 20


@pytest.fixture(params=["local", "s3"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, s3_prefix: str
) -> AsyncIterator[BlobStore]:
    if request.param == "local":
        yield LocalStore(tmp_path / "store")
        return
    server: S3Server = request.getfixturevalue("s3_server")
    s3 = S3Store(server.settings(prefix=s3_prefix))
    try:
        yield s3
    finally:
        await s3.close()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(MB):
            digest.update(chunk)
    return digest.hexdigest()


async def read_all(store: BlobStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.read_range(key, start, end)])


async def test_a_multipart_sized_file_comes_back_identical(
    store: BlobStore, tmp_path: Path
) -> None:
    src = tmp_path / "lesson.mp4"
    src.write_bytes(os.urandom(20 * MB + 12_345))  # three parts, the last one short

    assert await store.put_file("org1/items/7/lesson.mp4", src) == 20 * MB + 12_345
    assert await store.size("org1/items/7/lesson.mp4") == 20 * MB + 12_345

    back = tmp_path / "back" / "lesson.mp4"
    await store.download_to("org1/items/7/lesson.mp4", back)
    assert sha256_of(back) == sha256_of(src)
    streamed = await read_all(store, "org1/items/7/lesson.mp4")
    assert hashlib.sha256(streamed).hexdigest() == sha256_of(src)


async def test_range_reads_return_exactly_the_bytes_asked_for(store: BlobStore) -> None:
    data = os.urandom(3 * MB + 17)
    await store.put_bytes("clip.mp4", data)
    ranges = [
        (0, 10),  # a player probing the header
        (MB - 5, 2 * MB + 5),  # the middle, across read chunks
        (len(data) - 100, None),  # to the end
        (0, None),
        (len(data) - 3, len(data) + 1000),  # past the end: what there is
        (len(data), None),  # nothing left
        (42, 42),  # empty
    ]
    for start, end in ranges:
        assert await read_all(store, "clip.mp4", start, end) == data[start:end], (start, end)


async def test_size_exists_and_delete(store: BlobStore, tmp_path: Path) -> None:
    await store.put_bytes("org1/a/thumb.jpg", b"jpeg")
    await store.put_bytes("org1/a/poster.jpg", b"poster")
    await store.put_bytes("org1/a/thumb.jpg", b"jpeg again")  # replaced, not appended

    assert await store.exists("org1/a/thumb.jpg")
    assert await store.size("org1/a/thumb.jpg") == len(b"jpeg again")
    assert not await store.exists("org1/a")  # a folder is not a blob
    assert not await store.exists("org1/a/missing.jpg")

    await store.delete("org1/a/thumb.jpg")
    await store.delete("org1/a/thumb.jpg")  # twice is fine
    assert not await store.exists("org1/a/thumb.jpg")
    assert await read_all(store, "org1/a/poster.jpg") == b"poster"

    with pytest.raises(BlobNotFound):
        await store.size("org1/a/thumb.jpg")
    with pytest.raises(BlobNotFound):
        await read_all(store, "org1/a/thumb.jpg")
    with pytest.raises(BlobNotFound):
        await read_all(store, "org1/a/thumb.jpg", 5, 5)
    with pytest.raises(BlobNotFound):
        await store.download_to("org1/a/thumb.jpg", tmp_path / "out" / "thumb.jpg")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


async def test_take_file_stores_the_bytes_and_consumes_the_source(
    store: BlobStore, tmp_path: Path
) -> None:
    src = tmp_path / "upload.bin"
    src.write_bytes(b"taken" * 1000)
    inode = src.stat().st_ino
    assert await store.take_file("org/1/original.bin", src) == 5000
    assert not src.exists()
    assert await read_all(store, "org/1/original.bin") == b"taken" * 1000
    if isinstance(store, LocalStore):  # a rename on the same disk: the same file, not a copy
        assert store.path("org/1/original.bin").stat().st_ino == inode


async def test_delete_prefix_removes_one_folder_only(store: BlobStore) -> None:
    for key in ["org1/item1/original", "org1/item1/web/video.mp4", "org1/item10/original"]:
        await store.put_bytes(key, b"x")
    await store.put_bytes("org1/item1.txt", b"x")

    assert await store.delete_prefix("org1/item1") == 2

    assert not await store.exists("org1/item1/original")
    assert not await store.exists("org1/item1/web/video.mp4")
    assert await store.exists("org1/item10/original")  # not a string prefix match
    assert await store.exists("org1/item1.txt")
    assert await store.delete_prefix("org1/item1") == 0


UNSAFE_KEYS = [
    "/etc/passwd",
    "../escape",
    "org1/../../escape",
    "org1/./x",
    "org1//x",
    "org1/",
    "..",
    ".",
    "",
    "org1\\..\\escape",
    "nul\x00byte",
    "line\nbreak",
]


@pytest.mark.parametrize("key", UNSAFE_KEYS)
async def test_unsafe_keys_are_refused(
    store: BlobStore, key: str, tmp_path: Path, s3_server: S3Server
) -> None:
    src = tmp_path / "payload"
    src.write_bytes(b"payload")
    before = sorted(tmp_path.rglob("*")), sorted(s3_server.folder.parent.rglob("*"))

    with pytest.raises(UnsafeKey):
        await store.put_file(key, src)
    with pytest.raises(UnsafeKey):
        await store.put_bytes(key, b"payload")
    with pytest.raises(UnsafeKey):
        await store.size(key)
    with pytest.raises(UnsafeKey):
        await store.exists(key)
    with pytest.raises(UnsafeKey):
        store.read_range(key, 0, None)
    with pytest.raises(UnsafeKey):
        await store.download_to(key, tmp_path / "out")
    with pytest.raises(UnsafeKey):
        await store.delete(key)
    with pytest.raises(UnsafeKey):
        await store.delete_prefix(key)

    assert (sorted(tmp_path.rglob("*")), sorted(s3_server.folder.parent.rglob("*"))) == before


async def test_s3_keys_stay_under_the_prefix(s3_server: S3Server, s3_prefix: str) -> None:
    s3 = S3Store(s3_server.settings(prefix=f"/{s3_prefix}/hot/"))  # slashes trimmed
    try:
        await s3.put_bytes("org1/a.jpg", b"jpeg")
    finally:
        await s3.close()
    assert s3_server.file(S3_BUCKET, f"{s3_prefix}/hot/org1/a.jpg").read_bytes() == b"jpeg"


async def test_local_store_leaves_no_temporary_files_or_empty_folders(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    await store.put_bytes("org1/items/1/original.jpg", b"old")
    with pytest.raises(FileNotFoundError):
        await store.put_file("org1/items/1/original.jpg", tmp_path / "no-such-file")
    assert (
        await read_all(store, "org1/items/1/original.jpg") == b"old"
    )  # the failed put changed nothing
    assert [p.name for p in (tmp_path / "store" / "org1" / "items" / "1").iterdir()] == [
        "original.jpg"
    ]

    await store.put_bytes("org1/items/2/original.jpg", b"x")
    await store.delete("org1/items/1/original.jpg")
    assert not (tmp_path / "store" / "org1" / "items" / "1").exists()
    await store.delete_prefix("org1/items/2")
    assert list((tmp_path / "store").iterdir()) == []  # pruned up to, not including, the root


async def test_a_missing_bucket_is_created_only_when_asked(s3_server: S3Server) -> None:
    bucket = f"fresh-{secrets.token_hex(4)}"
    refusing = S3Store(s3_server.settings(bucket=bucket, create_bucket=False))
    with pytest.raises(StorageError, match=bucket):
        await refusing.size("anything")
    await refusing.close()

    creating = S3Store(s3_server.settings(bucket=bucket))
    try:
        await creating.put_bytes("a.txt", b"a")
    finally:
        await creating.close()
    assert s3_server.file(bucket, "a.txt").read_bytes() == b"a"


@dataclass
class Tier:
    kind: str
    prefix: str = ""


MOVES = {
    "local to s3": (Tier("local"), Tier("s3", "hot")),
    "s3 to local cold": (Tier("s3", "hot"), Tier("local")),
    "s3 to another prefix": (Tier("s3", "hot"), Tier("s3", "cold")),
}


def make_store(tier: Tier, name: str, tmp_path: Path, server: S3Server, prefix: str) -> BlobStore:
    if tier.kind == "local":
        return LocalStore(tmp_path / name, name)
    return S3Store(server.settings(prefix=f"{prefix}/{tier.prefix}", name=name))


@pytest.mark.parametrize("tiers", MOVES.values(), ids=MOVES.keys())
async def test_lifecycle_move_keeps_bytes_and_removes_the_source(
    tiers: tuple[Tier, Tier], tmp_path: Path, s3_server: S3Server, s3_prefix: str
) -> None:
    hot = make_store(tiers[0], "hot", tmp_path, s3_server, s3_prefix)
    cold = make_store(tiers[1], "cold", tmp_path, s3_server, s3_prefix)
    src = tmp_path / "video.mp4"
    src.write_bytes(os.urandom(9 * MB + 1))  # two parts on S3
    await hot.put_file("org1/5/video.mp4", src)

    assert await move("org1/5/video.mp4", hot, cold, scratch=tmp_path) == 9 * MB + 1

    assert not await hot.exists("org1/5/video.mp4")
    back = tmp_path / "back.mp4"
    await cold.download_to("org1/5/video.mp4", back)
    assert sha256_of(back) == sha256_of(src)
    assert not (tmp_path / "hot" / "org1").exists()  # a local source's empty folders pruned
    await hot.close()
    await cold.close()


async def test_an_item_moves_whole_and_stays_findable(
    tmp_path: Path, s3_server: S3Server, s3_prefix: str
) -> None:
    settings = StorageSettings(
        root=tmp_path / "hot",
        cold=s3_server.settings(prefix=s3_prefix),
        cold_after_days=30,
    )
    tiered = Tiered.from_settings(settings, tmp_path)
    lifecycle = Lifecycle.from_settings(settings, tiered)
    assert lifecycle is not None
    assert lifecycle.cutoff_ms(40 * 86_400_000) == 10 * 86_400_000
    keys = ["org1/9/original.mov", "org1/9/web.mp4", "org1/9/thumb.jpg"]
    for key in keys:
        await tiered.hot.put_bytes(key, key.encode())

    @dataclass
    class Item:
        storage: str

    item = Item(storage=tiered.hot.name)

    async def refuse() -> None:  # e.g. the database write failed
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError):
        await lifecycle.move_item([*keys, None], on_copied=refuse)
    for key in keys:  # nothing changed: no half-moved item
        assert await tiered.hot.exists(key)
        assert not await lifecycle.cold.exists(key)

    async def record() -> None:
        for key in keys:  # copies are complete before the item is pointed at them
            assert await lifecycle.cold.exists(key)
        item.storage = lifecycle.cold.name

    moved = await lifecycle.move_item([*keys, None], on_copied=record)

    assert moved == sum(len(key) for key in keys)
    assert item.storage == "s3-cold"
    for key in keys:
        assert not await tiered.hot.exists(key)
        assert await read_all(tiered.for_item(item), key) == key.encode()
    with pytest.raises(UnknownStore):
        tiered.open("s3")
    await tiered.close()


async def test_putting_a_large_file_on_s3_keeps_memory_flat(
    s3_server: S3Server, s3_prefix: str, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:  # mostly a hole: fast to make, real bytes here and there
        handle.truncate(200 * MB)
        marker = os.urandom(64 * 1024)
        for offset in range(0, 200 * MB, 16 * MB + 4096):
            handle.seek(offset)
            handle.write(marker)
    warmup = tmp_path / "warmup.bin"
    warmup.write_bytes(os.urandom(9 * MB))
    s3 = S3Store(s3_server.settings(prefix=s3_prefix))
    try:
        await s3.put_file("warmup.bin", warmup)  # the client and the multipart path are loaded
        gc.collect()
        base = reset_peak_rss()

        assert await s3.put_file("big.bin", big) == 200 * MB

        growth = peak_rss() - base
        assert await s3.size("big.bin") == 200 * MB
        assert sha256_of(s3_server.file(S3_BUCKET, f"{s3_prefix}/big.bin")) == sha256_of(big)
    finally:
        await s3.delete("big.bin")  # 400 MB less left behind in the temporary folders
        big.unlink()
        await s3.close()
    assert growth < 64 * MB, f"memory grew by {growth / MB:.0f} MB putting 200 MB"


async def test_the_secret_key_stays_out_of_even_debug_logs(
    s3_server: S3Server, s3_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # botocore logs requests and credentials at this level
    s3 = S3Store(s3_server.settings(prefix=s3_prefix))
    try:
        await s3.put_bytes("a.txt", b"a")
        assert await s3.size("a.txt") == 1
        await s3.delete("a.txt")
    finally:
        await s3.close()
    wrong = S3Store(s3_server.settings(secret_key="not-" + S3_SECRET_KEY))
    with pytest.raises(StorageError) as refused:
        await wrong.size("a.txt")
    await wrong.close()
    assert S3_SECRET_KEY not in str(refused.value)
    assert any(r.name.startswith("botocore") for r in caplog.records)  # the check saw them
    # The autouse secret_watch fixture fails the test if any captured line has the key.


def reset_peak_rss() -> int:
    """Start measuring the peak afresh (Linux: clear_refs 5); returns the resident size now."""
    Path("/proc/self/clear_refs").write_text("5")
    return psutil.Process().memory_info().rss


def peak_rss() -> int:
    """The process's peak resident size since the last reset (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/self/status")


def test_settings_check_what_a_user_can_get_wrong(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="bucket"):
        StorageSettings(backend="s3")
    with pytest.raises(ValidationError, match="unsafe"):
        StorageSettings(backend="s3", bucket="b", prefix="media/../../other")
    with pytest.raises(ValidationError, match="cold store"):
        StorageSettings(cold_after_days=30)
    with pytest.raises(ValidationError, match="both named"):
        StorageSettings(cold={"backend": "local", "name": "local"})
    with pytest.raises(ValidationError):
        StorageSettings(backend="ftp")

    settings = StorageSettings(
        backend="s3", bucket="b", secret_key=S3_SECRET_KEY, cold={"backend": "local"}
    )
    assert (settings.name, settings.cold and settings.cold.name) == ("s3", "local-cold")
    assert S3_SECRET_KEY not in repr(settings)
    assert S3_SECRET_KEY not in settings.model_dump_json()
    tiered = Tiered.from_settings(StorageSettings(cold={"backend": "local"}), tmp_path)
    assert set(tiered.stores) == {"local", "local-cold"}
    cold = tiered.open("local-cold")
    assert isinstance(cold, LocalStore)
    assert cold.path("org1/a.jpg") == tmp_path / "library-cold" / "org1" / "a.jpg"


async def test_a_read_given_up_while_its_file_opens_leaves_no_file_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A viewer scrolls a thumbnail away while its file is being opened: the file is closed
    at once, not left to the collector (a descriptor held, a ResourceWarning)."""
    store = LocalStore(tmp_path / "store")
    await store.put_bytes("1/thumb.jpg", b"\xff\xd8 a picture")
    may_open, opened = threading.Event(), []
    real_open = storage._open_blob

    def slow_open(path: Path, key: str) -> BinaryIO:
        may_open.wait(5)
        handle = real_open(path, key)
        opened.append(handle)
        return handle

    monkeypatch.setattr(storage, "_open_blob", slow_open)
    reading = asyncio.create_task(read_all(store, "1/thumb.jpg"))
    await asyncio.sleep(0.05)  # waiting in the open
    reading.cancel()
    may_open.set()
    with pytest.raises(asyncio.CancelledError):
        await reading
    for _ in range(100):  # the thread's result comes back on the loop
        if opened and opened[0].closed:
            break
        await asyncio.sleep(0.01)
    [handle] = opened
    assert handle.closed
