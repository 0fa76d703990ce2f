"""Library uploads: tus throughput over loopback against the disk's own write speed, and the
server's memory during a large upload.

Run from the repository root::

    .venv/bin/python -m bench.uploads                  # 2 GiB, 64 MiB chunks: about 30 s
    .venv/bin/python -m bench.uploads --size 4 --chunk-mb 16

One run, in one temporary data folder (SQLite, the local library store) on the disk the
library uses:

1. **Disk**: ``--size`` GiB written with 8 MiB ``os.write`` calls and one ``fsync`` at the
   end, then deleted: the speed any upload path on this disk is held against. Twice in a
   row, because on a VM the first run can be several times slower than the second (writing
   into memory the guest has not touched lately; the upload, right after, reuses the pages
   the second run freed). The ratio is taken against the faster run, the stricter figure,
   and against the first.
2. **Upload**: ``vigil serve`` in a process of its own on 127.0.0.1 (started before the disk
   runs); the standard tus client (tuspy) sends a file of the same size with an API key of
   the ``library`` scope, one PATCH per ``--chunk-mb``. Throughput is taken from the first
   PATCH to the final 204, the POST that creates the upload left out; the target is at least
   80 % of the disk's speed. The
   file is a real tiny MP4 (ffmpeg) followed by seeded random bytes, served from memory (so the
   client does not read the disk the server writes to): it sniffs as a video, and its hash is
   new. The source's own read speed is measured too.
3. Meanwhile the server's ``/proc/<pid>/io`` (bytes read and written through ``read``/``write``
   calls) and memory are sampled every 20 ms. Its written bytes say when the last byte of the
   upload reached the file; what follows until the 204 is the *tail*, split by the same
   counters into the file's fsync and SHA-256 (the file read back), the copy into the store
   (written a second time, fsynced) and the rest (database, search index).
4. **Memory**: the server's peak resident size (VmHWM) is reset (``/proc/<pid>/clear_refs``
   ``5``) just before the upload: resident size before, peak up to the 204, growth. After the
   204 the item's processing (a copy of the original, probe, poster) is awaited and the peak
   through it noted apart.

Figures, never assertions: a table is printed and a JSON result written to bench/results/.
Other work on the box shares the disk and the 2 cores: the load average and the box's busy
time during the upload are printed with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

if not __package__:  # run as a file (python bench/uploads.py): make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import psutil
from tusclient import client as tus

from bench.auth import free_port, server
from bench.output import write_result
from vigil.app import start_services, stop_services
from vigil.auth.permissions import Scope
from vigil.auth.tokens import new_api_key, token_hash
from vigil.media.ffmpeg import find_ffmpeg
from vigil.settings import Settings
from vigil.timeutil import now_ms

MIB = 1 << 20
GIB = 1 << 30
DISK_BLOCK = 8 * MIB
SAMPLE_S = 0.02
PROCESSING_TIMEOUT_S = 120.0
TARGET_RATIO = 0.8
PASSWORD = "bench-amber-lantern-47"


# --- the file -----------------------------------------------------------------------------


def tiny_mp4(folder: Path) -> bytes:
    """One second of a 160x120 H.264 test pattern, index first, its media box open-ended:
    what the upload starts with."""
    out = folder / "head.mp4"
    args = "-hide_banner -loglevel error -nostdin -y -f lavfi -i testsrc=size=160x120:rate=10"
    args += " -t 1 -c:v libx264 -pix_fmt yuv420p -movflags +faststart"
    subprocess.run([find_ffmpeg(""), *args.split(), str(out)], check=True)
    head = bytearray(out.read_bytes())
    out.unlink()
    # The media box is last (faststart); size 0 makes it run to the end of the file, so the
    # filler after it is the tail of the media data and the whole file stays a valid MP4.
    offset = 0
    while offset + 8 <= len(head):
        length = int.from_bytes(head[offset : offset + 4], "big")
        if head[offset + 4 : offset + 8] == b"mdat" and offset + length == len(head):
            head[offset : offset + 4] = bytes(4)
            return bytes(head)
        if length < 8:
            break
        offset += length
    raise RuntimeError("ffmpeg's MP4 does not end with its media box (mdat)")


class SyntheticVideo(io.RawIOBase):
    """``size`` bytes: ``head`` then a seeded random block over and over, read from memory.

    Seekable, so tuspy can take it as ``file_stream`` (it seeks to each chunk's offset)."""

    def __init__(self, head: bytes, size: int, block: bytes) -> None:
        super().__init__()
        self._head = head
        self._size = size
        self._block = block
        self._at = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._at

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._at, os.SEEK_END: self._size}[whence]
        self._at = max(0, base + offset)
        return self._at

    def read(self, size: int = -1) -> bytes:
        end = self._size if size < 0 else min(self._size, self._at + size)
        parts: list[bytes | memoryview] = []
        at = self._at
        if at < len(self._head):
            parts.append(self._head[at : min(end, len(self._head))])
            at += len(parts[-1])
        block = memoryview(self._block)
        while at < end:
            start = (at - len(self._head)) % len(block)
            take = min(len(block) - start, end - at)
            parts.append(block[start : start + take])
            at += take
        self._at = at
        return b"".join(parts)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def source_speed(source: SyntheticVideo, chunk: int) -> float:
    """MiB/s of reading the whole source in ``chunk`` reads, as tuspy does."""
    source.seek(0)
    total = 0
    start = time.perf_counter()
    while data := source.read(chunk):
        total += len(data)
    elapsed = time.perf_counter() - start
    source.seek(0)
    return _mib(total) / elapsed


# --- the disk -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiskFigures:
    write_s: float  # the writes (mostly into the page cache)
    fsync_s: float  # until the disk has it all
    mib_s: float  # size / (write + fsync)


def disk_speed(folder: Path, size: int, block: bytes) -> DiskFigures:
    """Sequential write of ``size`` bytes in ``DISK_BLOCK`` writes, one fsync, file dropped."""
    path = folder / "disk-speed.bin"
    view = memoryview(block)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        start = time.perf_counter()
        done = 0
        while done < size:
            piece = view[: min(DISK_BLOCK, size - done)]
            done += len(piece)
            while piece:
                piece = piece[os.write(fd, piece) :]
        written = time.perf_counter()
        os.fsync(fd)
        synced = time.perf_counter()
    finally:
        os.close(fd)
        path.unlink()
    return DiskFigures(written - start, synced - written, _mib(size) / (synced - start))


# --- the server ---------------------------------------------------------------------------


async def prepare(data_dir: Path) -> str:
    """An organisation, its admin and an API key of the ``library`` scope."""
    services = await start_services(Settings(data_dir=data_dir))
    try:
        user = await services.auth.create_admin("Bench", "bench-admin", PASSWORD)
        key = new_api_key()
        await services.auth.keys.create(
            user.id, "uploads bench", token_hash(key), [Scope.LIBRARY.value], now_ms(), None
        )
        return key
    finally:
        await stop_services(services)


@dataclass(frozen=True, slots=True)
class Sample:
    t: float  # perf_counter
    rchar: int  # bytes read through read()/pread() (files; sockets are recv()'d: not counted)
    wchar: int
    rss: int
    hwm: int
    user_s: float  # CPU, all threads
    system_s: float

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.system_s


_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def sample(pid: int) -> Sample:
    counters = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    status = Path(f"/proc/{pid}/status").read_text()
    stat = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return Sample(
        time.perf_counter(),
        int(counters["rchar"]),
        int(counters["wchar"]),
        _status_bytes(status, "VmRSS"),
        _status_bytes(status, "VmHWM"),
        int(stat[11]) * _TICK_S,  # utime, field 14
        int(stat[12]) * _TICK_S,  # stime, field 15
    )


def _status_bytes(status: str, name: str) -> int:
    for line in status.splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {name} in /proc/<pid>/status")


class Sampler(threading.Thread):
    """The server's I/O counters and memory every ``SAMPLE_S`` until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[Sample] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.samples.append(sample(self.pid))
            self._stop_event.wait(SAMPLE_S)

    def stop(self) -> list[Sample]:
        self._stop_event.set()
        self.join()
        self.samples.append(sample(self.pid))
        return self.samples


def reset_peak(pid: int) -> None:
    """Start the process's VmHWM afresh (Linux: clear_refs 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


# --- the upload ---------------------------------------------------------------------------


@dataclass(slots=True)
class UploadFigures:
    seconds: float  # first PATCH to the final 204
    mib_s: float
    chunks: int
    chunk_s: list[float]
    item_id: int
    receive_s: float | None  # first PATCH to the last byte written to the upload's file
    receive_mib_s: float | None
    fsync_and_hash_s: float | None  # last byte written to the file read back whole
    copy_s: float | None  # file read back to the store's copy written
    rest_s: float | None  # store's copy written to the 204 (its fsync, database, index)
    tail_s: float | None  # last byte written to the 204
    server_cpu_s: float  # first PATCH to the 204
    server_system_s: float  # of which in the kernel
    receive_cpu_s: float | None  # of which while receiving
    receive_system_s: float | None  # of that, in the kernel
    client_cpu_s: float  # tuspy's thread: reading the source, sending
    box_busy_pct: float
    rss_before: int
    rss_peak: int


def upload(
    base: str, key: str, pid: int, source: SyntheticVideo, size: int, chunk: int
) -> UploadFigures:
    """Send ``source`` with tuspy; time it and split the server's side with its counters."""
    client = tus.TusClient(f"{base}/api/uploads", headers={"Authorization": f"Bearer {key}"})
    uploader = client.uploader(
        file_stream=source, chunk_size=chunk, metadata={"filename": "bench-upload.mp4"}
    )
    uploader.set_url(uploader.create_url())
    reset_peak(pid)
    before = sample(pid)
    box_before = psutil.cpu_times()
    sampler = Sampler(pid)
    sampler.start()
    chunk_s: list[float] = []
    client_cpu = time.thread_time()
    start = time.perf_counter()
    while uploader.offset < size:
        began = time.perf_counter()
        uploader.upload_chunk()  # type: ignore[no-untyped-call]
        chunk_s.append(time.perf_counter() - began)
    done = time.perf_counter()
    client_cpu = time.thread_time() - client_cpu
    samples = sampler.stop()
    box = _busy_pct(box_before, psutil.cpu_times())
    headers: dict[str, str] = uploader.request.response_headers if uploader.request else {}
    seconds = done - start
    figures = UploadFigures(
        seconds=seconds,
        mib_s=_mib(size) / seconds,
        chunks=len(chunk_s),
        chunk_s=[round(s, 3) for s in chunk_s],
        item_id=int(headers["vigil-item"]),
        receive_s=None,
        receive_mib_s=None,
        fsync_and_hash_s=None,
        copy_s=None,
        rest_s=None,
        tail_s=None,
        server_cpu_s=samples[-1].cpu_s - before.cpu_s,
        server_system_s=samples[-1].system_s - before.system_s,
        receive_cpu_s=None,
        receive_system_s=None,
        client_cpu_s=client_cpu,
        box_busy_pct=box,
        rss_before=before.rss,
        rss_peak=max(s.hwm for s in samples),
    )
    split_tail(figures, before, samples, start, done, size)
    return figures


def split_tail(
    figures: UploadFigures,
    before: Sample,
    samples: list[Sample],
    start: float,
    done: float,
    size: int,
) -> None:
    """Where the server's time went, from its I/O counters (to the nearest sample).

    The file's bytes are written once (``wchar`` + size: the last byte is in), read back
    whole for SHA-256 (``rchar`` + size after that), then written again as the store's copy
    (``wchar`` + twice the size). Sockets are read with ``recv``, which ``rchar`` does not count."""

    def first(after: float, test: Any) -> Sample | None:
        return next((s for s in samples if s.t >= after and test(s)), None)

    received = first(start, lambda s: s.wchar - before.wchar >= size)
    if received is None:
        return
    hashed = first(received.t, lambda s: s.rchar - received.rchar >= size)
    copied = first(received.t, lambda s: s.wchar - before.wchar >= 2 * size)
    figures.receive_s = received.t - start
    figures.receive_cpu_s = received.cpu_s - before.cpu_s
    figures.receive_system_s = received.system_s - before.system_s
    figures.receive_mib_s = _mib(size) / figures.receive_s
    figures.tail_s = done - received.t
    if hashed is not None:
        figures.fsync_and_hash_s = hashed.t - received.t
    if hashed is not None and copied is not None:
        figures.copy_s = copied.t - hashed.t
        figures.rest_s = done - copied.t


def _busy_pct(before: Any, after: Any) -> float:
    """Busy share of all cores between two ``psutil.cpu_times()``."""
    idle = (after.idle + after.iowait) - (before.idle + before.iowait)
    total = sum(after) - sum(before)
    return 100.0 * (1 - idle / total) if total > 0 else 0.0


@dataclass(frozen=True, slots=True)
class ProcessingFigures:
    status: str
    seconds: float  # from the 204 to the item's status leaving "processing"
    rss_peak: int  # the server's, from before the upload through processing


def await_processing(base: str, key: str, pid: int, item_id: int) -> ProcessingFigures:
    """Wait for the uploaded item to leave ``processing`` (copied, probed, poster made)."""
    start = time.perf_counter()
    status = "processing"
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        while time.perf_counter() - start < PROCESSING_TIMEOUT_S:
            response = http.get(f"/api/library/items/{item_id}")
            response.raise_for_status()
            status = str(response.json()["status"])
            if status != "processing":
                break
            time.sleep(0.2)
    return ProcessingFigures(status, time.perf_counter() - start, sample(pid).hwm)


# --- the run ------------------------------------------------------------------------------


def _mib(size: float) -> float:
    return size / MIB


def room_needed(size: int) -> int:
    """The upload's file and the store's copy are on the disk together for a moment, then
    the store's copy and processing's own copy of it; and some margin."""
    return 2 * size + GIB


def run(args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    size = round(args.size * GIB)
    chunk = args.chunk_mb * MIB
    block = random.Random(6).randbytes(16 * MIB)
    head = tiny_mp4(data_dir)
    source = SyntheticVideo(head, size, block)
    source_mib_s = source_speed(source, chunk)
    key = asyncio.run(prepare(data_dir))
    load_before = os.getloadavg()
    with server(data_dir, free_port()) as (base, pid):
        # Twice, the upload right after: on a VM the first write into memory the guest has
        # not used for a while is much slower than a write into pages just freed (see
        # bench/README.md), and the upload reuses the pages the second run frees.
        disk = disk_speed(data_dir, size, block)
        disk_again = disk_speed(data_dir, size, block)
        figures = upload(base, key, pid, source, size, chunk)
        processing = await_processing(base, key, pid, figures.item_id)
    best = max(disk.mib_s, disk_again.mib_s)
    return {
        "size_bytes": size,
        "chunk_bytes": chunk,
        "source_mib_s": round(source_mib_s, 1),
        "disk": asdict(disk),
        "disk_again": asdict(disk_again),
        "upload": asdict(figures),
        "ratio": figures.mib_s / best,  # against the faster disk run: the stricter figure
        "ratio_first_disk_run": figures.mib_s / disk.mib_s,
        "target_ratio": TARGET_RATIO,
        "processing": asdict(processing),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "tuspy": version("tuspy"),
    }


def _total_s(disk: dict[str, float]) -> float:
    return disk["write_s"] + disk["fsync_s"]


def report(result: dict[str, Any]) -> None:
    disk, up, proc = result["disk"], result["upload"], result["processing"]
    again = result["disk_again"]
    size = result["size_bytes"]

    def secs(value: float | None) -> str:
        return "?" if value is None else f"{value:.2f}"

    def rate(value: float | None) -> str:
        return "?" if not value else f"{_mib(size) / value:.0f}"

    print(
        f"{size / GIB:.2f} GiB, tuspy {result['tuspy']}, {up['chunks']} PATCHes of "
        f"{_mib(result['chunk_bytes']):.0f} MiB, {result['cpus']} CPUs, load average "
        f"{result['load_average_before'][0]:.2f} before, {result['load_average_after'][0]:.2f} "
        f"after; box busy during the upload {up['box_busy_pct']:.0f} %"
    )
    rows = [
        ("disk: 8 MiB writes, fsync at the end", secs(_total_s(disk)), f"{disk['mib_s']:.0f}"),
        ("  of which writes / fsync", "", f"{disk['write_s']:.2f} / {disk['fsync_s']:.2f} s"),
        ("disk: the same again at once", secs(_total_s(again)), f"{again['mib_s']:.0f}"),
        ("  of which writes / fsync", "", f"{again['write_s']:.2f} / {again['fsync_s']:.2f} s"),
        ("source read (memory, tuspy's reads)", "", f"{result['source_mib_s']:.0f}"),
        ("upload: first PATCH to 204", secs(up["seconds"]), f"{up['mib_s']:.0f}"),
        ("  ratio to the faster disk run (>= 0.80)", "", f"{result['ratio']:.2f}"),
        ("  ratio to the first disk run", "", f"{result['ratio_first_disk_run']:.2f}"),
        ("  receive: to the last byte in file", secs(up["receive_s"]), rate(up["receive_s"])),
        ("  tail: last byte in file to 204", secs(up["tail_s"]), ""),
        (
            "    fsync + SHA-256 read back",
            secs(up["fsync_and_hash_s"]),
            rate(up["fsync_and_hash_s"]),
        ),
        ("    copy into the store", secs(up["copy_s"]), rate(up["copy_s"])),
        ("    rest (fsync, database, index)", secs(up["rest_s"]), ""),
    ]
    print(f"{'':40} {'seconds':>8} {'MiB/s':>16}")
    for name, seconds, value in rows:
        print(f"{name:40} {seconds:>8} {value:>16}")
    chunks = sorted(up["chunk_s"])
    print(
        f"PATCH seconds: min {chunks[0]:.2f}, median {chunks[len(chunks) // 2]:.2f}, "
        f"max {chunks[-1]:.2f}, last {up['chunk_s'][-1]:.2f}"
    )
    print(
        f"server CPU {up['server_cpu_s']:.2f} s (kernel {up['server_system_s']:.2f}), of which "
        f"receiving {secs(up['receive_cpu_s'])} s (kernel {secs(up['receive_system_s'])}); "
        f"client (tuspy) CPU {up['client_cpu_s']:.2f} s; first PATCH to 204"
    )
    print(
        f"server RSS before {_mib(up['rss_before']):.1f} MiB, peak to the 204 "
        f"{_mib(up['rss_peak']):.1f} MiB, growth {_mib(up['rss_peak'] - up['rss_before']):.1f} MiB"
    )
    print(
        f"processing after the 204: {proc['status']} in {proc['seconds']:.1f} s, "
        f"server peak RSS through it {_mib(proc['rss_peak']):.1f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size", type=float, default=2.0, help="GiB to write and upload (2)")
    parser.add_argument("--chunk-mb", type=int, default=64, help="MiB per PATCH (64)")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    parser.add_argument("--out", type=Path, help="JSON result path (bench/results/uploads.json)")
    args = parser.parse_args()
    if args.size <= 0 or args.chunk_mb <= 0:
        parser.error("--size and --chunk-mb must be positive")
    needed = room_needed(round(args.size * GIB))
    free = shutil.disk_usage(tempfile.gettempdir()).free
    if free < needed:
        parser.exit(
            1,
            f"Not enough room in {tempfile.gettempdir()}: a {args.size:g} GiB run needs about "
            f"{needed / GIB:.1f} GiB free and there are {free / GIB:.1f} GiB. Try a smaller "
            "--size, or point TMPDIR at a disk with room.\n",
        )
    data_dir = Path(tempfile.mkdtemp(prefix="vigil-bench-uploads-"))
    try:
        result = run(args, data_dir)
    finally:
        if args.keep:
            print(f"kept {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    report(result)
    out = write_result(result, args.out, "uploads.json")
    print(f"written {out}")


if __name__ == "__main__":
    main()
