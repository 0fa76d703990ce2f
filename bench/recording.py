"""Recording benchmark: Vigil's node against bare ``ffmpeg -c copy -f segment``, same streams.

Run from the repository root::

    .venv/bin/python -m bench.recording --cameras 10 --seconds 60
    .venv/bin/python -m bench.recording --cameras 10 --seconds 60 --viewers 10
    .venv/bin/python -m bench.recording --max

One simulator serves N cameras. Vigil records them (its own process: database, media node,
HTTP API; see ``bench/vigil_node.py``), then N bare ffmpeg processes record them; one after
the other, never together. Every second the CPU time and PSS of each process tree are
sampled (``bench/proctree.py``); CPU rates are taken over the steady window only, from a few
seconds after the last recorder started until the stop. The simulator and the whole box are
sampled alongside and reported apart. After Vigil stops, its index is read back and checked
against the files on disk and the time recorded, so "no segment lost" is checked, not assumed.
With ``--viewers N``, N WebSocket viewers (in a thread of this process, signed in through the
first-run setup) watch the first camera (every camera with ``--viewers-each``) throughout
Vigil's phase, each reading everything; with none, nobody watches (live view stays paused).
Figures, never assertions: the table is printed and a JSON result written to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import queue
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

if not __package__:  # run as a file (python bench/recording.py): make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil

from bench.output import write_result
from bench.proctree import SystemTracker, TreeTracker, window
from vigil.media.ffmpeg import find_ffmpeg
from vigil.node.layout import RecordingsLayout
from vigil.sim import SimulatedCameras
from vigil.sim.runner import SERVER_SCRIPT
from vigil.store.database import Database
from vigil.store.segments import SPAN_TOLERANCE_MS, SegmentIndex
from vigil.timeutil import MAX_MS

REPO = Path(__file__).resolve().parents[1]
MB = 1024 * 1024
DEFAULT_MAX_STEPS = "10,25,50,75,100,125,150,200"
SATURATED_PCT = 95.0  # box CPU busy (all cores) at which a --max step counts as saturated
START_TIMEOUT_S = 60.0
EXIT_TIMEOUT_S = 40.0


class BenchError(RuntimeError):
    """A recorder or the simulator failed in a way that makes the figures meaningless."""


# --- parameters ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamParams:
    width: int
    height: int
    fps: int
    bitrate_kbps: int
    audio: bool
    sim_cameras: int = 0  # distinct simulated cameras; 0: one per recorded camera

    def label(self) -> str:
        audio = "AAC audio" if self.audio else "no audio"
        return f"{self.width}x{self.height} {self.fps} fps {self.bitrate_kbps} kbit/s, {audio}"


@dataclass(frozen=True, slots=True)
class RunParams:
    cameras: int
    seconds: float
    segment_seconds: float
    warmup: float
    interval: float
    http: bool
    viewers: int = 0  # WebSocket viewers of the first camera (of each with viewers_each)
    viewers_each: bool = False


# --- results ------------------------------------------------------------------------------


@dataclass(slots=True)
class PhaseResult:
    """One recorder (Vigil or bare ffmpeg) on N cameras; CPU % are of one core."""

    name: str
    cameras: int
    recorded_s: float  # from the last recorder started to the stop
    window_s: float  # the steady window the rates are taken over
    cpu_pct: float
    cpu_pct_per_camera: float
    cpu_window_s: float
    cpu_total_s: float  # whole phase, start-up and stop included (rusage of reaped children)
    pss_idle_mb: float | None  # before any camera (Vigil only)
    pss_mean_mb: float
    pss_peak_mb: float
    pss_per_camera_mb: float  # mean PSS / N
    processes: int
    cpu_pct_by_kind: dict[str, float]  # "python" (Vigil's own process), "ffmpeg"
    pss_mb_by_kind: dict[str, float]
    sim_cpu_pct: float
    sim_pss_mb: float
    box_busy_pct: float  # all cores: 100 % = every core busy
    other_cpu_pct: float  # the box's busy time not spent by recorders, simulator or bench
    box_memory_mb: float
    bench_cpu_pct: float  # this measuring process
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class CameraCheck:
    camera_id: int
    indexed: int
    on_disk: int
    left_incoming: int
    expected: float  # recorded time / segment length
    first_start_s: float | None  # first segment start, from camera creation
    tail_s: float | None  # stop instant minus last segment end
    max_step_s: float  # largest start-to-start interval between consecutive segments
    max_hole_s: float  # largest time between a segment's end and the next one's start
    covered_pct: float  # indexed duration over the time from the first start to the stop
    restarts: int
    problems: list[str]


@dataclass(slots=True)
class SegmentsReport:
    expected_per_camera: float
    indexed: int
    on_disk: int
    cameras_with_problems: int
    lost_segments: bool
    cameras: list[CameraCheck]


# --- sampling -----------------------------------------------------------------------------


class Probes:
    """Everything sampled during a phase: the recorders, the simulator, the box, ourselves."""

    def __init__(self, recorders: TreeTracker, simulator: TreeTracker) -> None:
        self.recorders = recorders
        self.simulator = simulator
        self.box = SystemTracker()
        self.bench = TreeTracker("bench", [os.getpid()], descendants=False)

    def sample(self) -> None:
        now = time.monotonic()
        for tracker in (self.recorders, self.simulator, self.box, self.bench):
            tracker.sample(now)


def sample_until(probes: Probes, interval: float, done: Callable[[], bool], limit: float) -> bool:
    """Sample every ``interval`` seconds until ``done()``; False if ``limit`` came first."""
    next_tick = time.monotonic()
    while not done():
        now = time.monotonic()
        if now >= limit:
            return False
        if now >= next_tick:
            probes.sample()
            next_tick += interval
        time.sleep(max(0.0, min(0.05, next_tick - time.monotonic())))
    return True


def reaped_children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- recorders ----------------------------------------------------------------------------


class Recorders(Protocol):
    name: str

    def launch(self) -> list[int]:
        """Start what runs before any camera; its root pids."""

    def begin(self) -> list[int]:
        """Start recording every camera; any new root pids."""

    def stop(self) -> None: ...

    def exited(self) -> bool: ...

    def kill(self) -> None: ...

    def close(self) -> dict[str, Any]:
        """Once exited: what the phase left to report."""


class VigilRecorders:
    """Vigil's services in ``bench.vigil_node``, one camera per URL."""

    name = "vigil"

    def __init__(self, urls: list[str], params: RunParams, work: Path) -> None:
        self._urls = urls
        self._params = params
        self.data_dir = work / "vigil"
        self._log_path = work / "vigil.log"
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.started: dict[str, Any] = {}
        self.recording: dict[str, Any] = {}
        self.viewers: LiveViewers | None = None

    def launch(self) -> list[int]:
        cmd = [sys.executable, "-m", "bench.vigil_node", "--data-dir", str(self.data_dir)]
        cmd += ["--segment-seconds", f"{self._params.segment_seconds:g}"]
        cmd += [] if self._params.http else ["--no-http"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
        with self._log_path.open("w") as log:
            self._proc = subprocess.Popen(
                [*cmd, *self._urls],
                cwd=REPO,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        assert self._proc.stdout is not None
        _pump_lines(self._proc.stdout, self._lines)
        self.started = self._expect("started", START_TIMEOUT_S)
        return [self._proc.pid]

    def begin(self) -> list[int]:
        stdin = self._process().stdin
        assert stdin is not None
        stdin.write("record\n")
        stdin.flush()
        self.recording = self._expect("recording", START_TIMEOUT_S + self._params.cameras)
        if self._params.viewers:
            port = self.started.get("http_port")
            if not port:
                raise BenchError("--viewers needs the HTTP API (drop --no-http)")
            ids = [c["id"] for c in self.recording["cameras"]]
            watched = ids if self._params.viewers_each else ids[:1]
            self.viewers = LiveViewers(f"http://127.0.0.1:{port}", watched, self._params.viewers)
            self.viewers.start()
        return []

    def stop(self) -> None:
        if self.viewers is not None:
            self.viewers.stop()
        stdin = self._process().stdin
        assert stdin is not None
        with contextlib.suppress(OSError):
            stdin.close()

    def exited(self) -> bool:
        return self._process().poll() is not None

    def kill(self) -> None:
        self._process().kill()
        self._process().wait()

    def close(self) -> dict[str, Any]:
        stopped = self._expect("stopped", 5.0)
        seen = self.viewers.report() if self.viewers is not None else {}
        return {"exit_code": self._process().returncode, **self.recording, **stopped, **seen}

    def _process(self) -> subprocess.Popen[str]:
        if self._proc is None:
            raise BenchError("vigil not launched")
        return self._proc

    def _expect(self, event: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise BenchError(f"vigil exited before {event!r}:\n{self._log_tail()}")
            with contextlib.suppress(ValueError):
                message = json.loads(line)
                if isinstance(message, dict) and message.get("event") == event:
                    return message
        raise BenchError(f"vigil: no {event!r} after {timeout:g} s:\n{self._log_tail()}")

    def _log_tail(self) -> str:
        lines = self._log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-20:])


class LiveViewers:
    """WebSocket viewers of Vigil's live view, each reading everything, in a thread of this
    process (its CPU is the bench's, not Vigil's). Signed in through the first-run setup."""

    def __init__(self, base: str, camera_ids: list[int], per_camera: int) -> None:
        self._base = base
        self._cameras = camera_ids
        self._per_camera = per_camera
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-viewers", daemon=True)
        self._received: list[int] = []
        self._seconds = 0.0
        self._error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S) or self._error is not None:
            raise BenchError(f"live viewers did not start: {self._error}")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def report(self) -> dict[str, Any]:
        rates = [8 * n / 1000 / self._seconds for n in self._received] if self._seconds else []
        return {
            "viewers": len(self._received),
            "viewer_kbps_min": round(min(rates), 1) if rates else None,
            "viewer_kbps_mean": round(sum(rates) / len(rates), 1) if rates else None,
        }

    def _run(self) -> None:
        try:
            asyncio.run(self._watch())
        except BaseException as exc:  # reported by start() or in the result
            self._error = exc
            self._ready.set()

    async def _watch(self) -> None:
        import httpx
        from websockets.asyncio.client import connect

        from bench.live import set_up_admin

        async with httpx.AsyncClient(base_url=self._base, timeout=30) as http:
            await set_up_admin(http)
            urls = []
            for camera in self._cameras:
                info = (await http.get(f"/api/cameras/{camera}/live/info")).json()
                urls += [self._base.replace("http", "ws") + info["websocket"]] * self._per_camera
        sockets = [await connect(url, max_size=None) for url in urls]
        self._received = [0] * len(sockets)

        async def read(index: int) -> None:
            with contextlib.suppress(Exception):
                async for message in sockets[index]:
                    self._received[index] += len(message)

        readers = [asyncio.create_task(read(i)) for i in range(len(sockets))]
        started = time.monotonic()
        self._ready.set()
        while not self._stop.is_set():
            await asyncio.sleep(0.2)
        self._seconds = time.monotonic() - started
        await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
        await asyncio.gather(*readers, return_exceptions=True)


def bare_command(ffmpeg: str, url: str, segment_seconds: float, out: Path) -> list[str]:
    """The baseline: a bare segmenting stream copy, quiet (no stats line) like Vigil's."""
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-nostats",
        "-rtsp_transport", "tcp", "-i", url,
        "-map", "0", "-c", "copy",
        "-f", "segment", "-segment_time", f"{segment_seconds:g}", "-segment_format", "mp4",
        "-reset_timestamps", "1",
        str(out / "%06d.mp4"),
    ]  # fmt: skip


class BareRecorders:
    """One bare ffmpeg per camera, stopped with SIGINT (ffmpeg then closes its segment)."""

    name = "bare ffmpeg"

    def __init__(self, urls: list[str], params: RunParams, work: Path) -> None:
        self._urls = urls
        self._params = params
        self._out = work / "bare"
        self._ffmpeg = find_ffmpeg()
        self._procs: list[subprocess.Popen[bytes]] = []

    def launch(self) -> list[int]:
        return []

    def begin(self) -> list[int]:
        with (self._out.parent / "bare.log").open("w") as log:
            for number, url in enumerate(self._urls, start=1):
                out = self._out / f"cam{number}"
                out.mkdir(parents=True, exist_ok=True)
                cmd = bare_command(self._ffmpeg, url, self._params.segment_seconds, out)
                proc = subprocess.Popen(
                    cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log
                )
                self._procs.append(proc)
        return [p.pid for p in self._procs]

    def stop(self) -> None:
        for proc in self._procs:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)

    def exited(self) -> bool:
        return all(p.poll() is not None for p in self._procs)

    def kill(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def close(self) -> dict[str, Any]:
        files = [len(list(d.glob("*.mp4"))) for d in sorted(self._out.iterdir())]
        return {
            "exit_codes": sorted({p.returncode for p in self._procs}),
            "segments_on_disk": sum(files),
            "segments_per_camera_min": min(files, default=0),
            "segments_per_camera_max": max(files, default=0),
        }


def _pump_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    def run() -> None:
        with stream:
            for line in stream:
                lines.put(line)
        lines.put(None)

    threading.Thread(target=run, name="vigil-stdout", daemon=True).start()


# --- one phase ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timeline:
    idle: float
    ready: float
    stopped: float
    exited: float


def measure(recorders: Recorders, probes: Probes, params: RunParams) -> Timeline:
    """Start, record ``params.seconds`` while sampling, stop; kill if the stop hangs."""
    probes.recorders.add_roots(recorders.launch())
    probes.sample()
    idle = time.monotonic()
    probes.recorders.add_roots(recorders.begin())
    ready = time.monotonic()
    probes.sample()
    sample_until(probes, params.interval, lambda: False, ready + params.seconds)
    probes.sample()
    stopped = time.monotonic()
    recorders.stop()
    if not sample_until(probes, params.interval, recorders.exited, stopped + EXIT_TIMEOUT_S):
        print(f"  {recorders.name} did not stop in {EXIT_TIMEOUT_S:g} s; killed", file=sys.stderr)
        recorders.kill()
    return Timeline(idle, ready, stopped, time.monotonic())


def run_phase(
    recorders: Recorders, simulator: TreeTracker, params: RunParams
) -> tuple[PhaseResult, dict[str, Any]]:
    probes = Probes(TreeTracker(recorders.name), simulator)
    reaped_before = reaped_children_cpu_s()
    try:
        timeline = measure(recorders, probes, params)
    except BaseException:
        with contextlib.suppress(Exception):
            recorders.kill()
        raise
    details = recorders.close()
    cpu_total = reaped_children_cpu_s() - reaped_before
    result = summarize(recorders.name, probes, timeline, params, cpu_total)
    result.details = {k: v for k, v in details.items() if k not in ("cameras", "statuses")}
    return result, details


def summarize(
    name: str, probes: Probes, timeline: Timeline, params: RunParams, cpu_total_s: float
) -> PhaseResult:
    start, end = timeline.ready + params.warmup, timeline.stopped
    rec = window(probes.recorders.samples, start, end)
    sim = window(probes.simulator.samples, start, end)
    box = window(probes.box.samples, start, end)
    bench = window(probes.bench.samples, start, end)
    idle = [s for s in probes.recorders.samples if s.t <= timeline.idle]
    n = params.cameras
    return PhaseResult(
        name=name,
        cameras=n,
        recorded_s=round(timeline.stopped - timeline.ready, 1),
        window_s=round(rec.seconds, 1),
        cpu_pct=round(rec.cpu_pct, 2),
        cpu_pct_per_camera=round(rec.cpu_pct / n, 3),
        cpu_window_s=round(rec.cpu_s, 2),
        cpu_total_s=round(cpu_total_s, 2),
        pss_idle_mb=round(idle[-1].pss / MB, 1) if idle and idle[-1].pss else None,
        pss_mean_mb=round(rec.pss_mean / MB, 1),
        pss_peak_mb=round(rec.pss_peak / MB, 1),
        pss_per_camera_mb=round(rec.pss_mean / MB / n, 2),
        processes=rec.procs_max,
        cpu_pct_by_kind={k: round(v, 2) for k, v in rec.cpu_pct_by_kind.items()},
        pss_mb_by_kind={k: round(v / MB, 1) for k, v in rec.pss_mean_by_kind.items()},
        sim_cpu_pct=round(sim.cpu_pct, 2),
        sim_pss_mb=round(sim.pss_mean / MB, 1),
        box_busy_pct=round(box.cpu_pct / probes.box.cores, 1),
        other_cpu_pct=round(box.cpu_pct - rec.cpu_pct - sim.cpu_pct - bench.cpu_pct, 1),
        box_memory_mb=round(box.pss_mean / MB),
        bench_cpu_pct=round(bench.cpu_pct, 2),
    )


# --- segments: expected vs indexed --------------------------------------------------------


def check_segments(
    vigil: VigilRecorders, details: dict[str, Any], seconds_per_segment: float
) -> SegmentsReport:
    cameras: list[dict[str, Any]] = details["cameras"]
    statuses = {s["camera_id"]: s for s in details.get("statuses", [])}
    spans = asyncio.run(indexed_spans(vigil.started["database_url"], [c["id"] for c in cameras]))
    layout = RecordingsLayout(Path(vigil.started["recordings_dir"]))
    checks = [
        check_camera(
            camera["id"],
            spans[camera["id"]],
            layout,
            camera["created_ms"],
            details["stop_ms"],
            seconds_per_segment,
            int(statuses.get(camera["id"], {}).get("restarts", 0)),
        )
        for camera in cameras
    ]
    recorded = [(details["stop_ms"] - c["created_ms"]) / 1000 for c in cameras]
    return SegmentsReport(
        expected_per_camera=round(sum(recorded) / len(recorded) / seconds_per_segment, 2),
        indexed=sum(c.indexed for c in checks),
        on_disk=sum(c.on_disk for c in checks),
        cameras_with_problems=sum(1 for c in checks if c.problems),
        lost_segments=any(c.problems for c in checks),
        cameras=checks,
    )


async def indexed_spans(
    database_url: str, camera_ids: list[int]
) -> dict[int, list[tuple[int, int]]]:
    """Each camera's indexed segments, oldest first, read back from a reopened database."""
    db = Database(database_url)
    try:
        index = SegmentIndex(db)
        return {
            cid: [(s.start_ms, s.end_ms) for s in await index.in_range(cid, 0, MAX_MS)]
            for cid in camera_ids
        }
    finally:
        await db.close()


def check_camera(
    camera_id: int,
    spans: Sequence[tuple[int, int]],
    layout: RecordingsLayout,
    created_ms: int,
    stop_ms: int,
    seconds_per_segment: float,
    restarts: int,
) -> CameraCheck:
    segment_ms = seconds_per_segment * 1000
    expected = (stop_ms - created_ms) / segment_ms
    on_disk = sum(1 for _ in layout.segments_on_disk(camera_id))
    incoming = layout.incoming_dir(camera_id)
    # Segment files only: the node keeps a note of the last finished one there too.
    left = sum(1 for p in incoming.glob("*.mp4") if p.is_file()) if incoming.is_dir() else 0
    steps = [b[0] - a[0] for a, b in itertools.pairwise(spans)]
    holes = [b[0] - a[1] for a, b in itertools.pairwise(spans)]
    first = (spans[0][0] - created_ms) / 1000 if spans else None
    tail = (stop_ms - spans[-1][1]) / 1000 if spans else None
    span_ms = max(stop_ms, spans[-1][1]) - spans[0][0] if spans else 0
    covered = 100 * sum(end - start for start, end in spans) / span_ms if span_ms > 0 else 0.0
    check = CameraCheck(
        camera_id=camera_id,
        indexed=len(spans),
        on_disk=on_disk,
        left_incoming=left,
        expected=round(expected, 2),
        first_start_s=None if first is None else round(first, 2),
        tail_s=None if tail is None else round(tail, 2),
        max_step_s=round(max(steps, default=0) / 1000, 2),
        max_hole_s=round(max(holes, default=0) / 1000, 2),
        covered_pct=round(covered, 1),
        restarts=restarts,
        problems=[],
    )
    check.problems = camera_problems(check, seconds_per_segment)
    return check


def camera_problems(check: CameraCheck, seconds_per_segment: float) -> list[str]:
    problems = []
    if abs(check.indexed - check.expected) > 1:
        problems.append(f"{check.indexed} segments indexed, expected {check.expected:g} ± 1")
    if check.indexed != check.on_disk:
        problems.append(f"{check.indexed} indexed but {check.on_disk} on disk")
    if check.left_incoming:
        problems.append(f"{check.left_incoming} files left in .incoming")
    if check.max_step_s > seconds_per_segment + 1:
        problems.append(f"{check.max_step_s:g} s between two segment starts")
    if check.max_hole_s > SPAN_TOLERANCE_MS / 1000:
        problems.append(f"a hole of {check.max_hole_s:g} s between segments")
    if check.first_start_s is not None and check.first_start_s > seconds_per_segment:
        problems.append(f"first segment starts {check.first_start_s:g} s after creation")
    if check.tail_s is not None and check.tail_s > seconds_per_segment + 1:
        problems.append(f"the last {check.tail_s:g} s before the stop are not indexed")
    if check.restarts:
        problems.append(f"ffmpeg restarted {check.restarts} times")
    return problems


# --- the simulator ------------------------------------------------------------------------


@contextlib.contextmanager
def simulator(cameras: int, stream: StreamParams) -> Iterator[tuple[SimulatedCameras, TreeTracker]]:
    """N simulated cameras, and a tracker over the simulator's own process tree."""
    sim = SimulatedCameras(
        cameras,
        width=stream.width,
        height=stream.height,
        fps=stream.fps,
        bitrate_kbps=stream.bitrate_kbps,
        audio=stream.audio,
        ready_timeout=120.0,
    )
    with sim:
        yield sim, TreeTracker("simulator", _simulator_pids())


def _simulator_pids() -> list[int]:
    server = str(SERVER_SCRIPT)
    pids = []
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            if server in child.cmdline():
                pids.append(child.pid)
    if not pids:
        raise BenchError("cannot find the simulator's process")
    return pids


# --- machine ------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    ffmpeg = find_ffmpeg()
    version = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True, check=False)
    return {
        "vigil_source": vigil_source(),
        "cores": psutil.cpu_count(),
        "cpu_model": model,
        "ram_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "ffmpeg": ffmpeg,
        "ffmpeg_version": (version.stdout.splitlines() or [""])[0],
    }


def vigil_source() -> dict[str, Any]:
    """Where the measured ``vigil`` package was imported from, and its commit if in git."""
    import vigil

    folder = Path(vigil.__file__).resolve().parent
    head = subprocess.run(
        ["git", "-C", str(folder), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    dirty = subprocess.run(
        ["git", "-C", str(folder), "status", "--porcelain", "--", "."],
        capture_output=True,
        text=True,
        check=False,
    )
    in_git = head.returncode == 0
    return {
        "path": str(folder),
        "commit": head.stdout.strip() if in_git else None,
        "uncommitted_changes": bool(dirty.stdout.strip()) if in_git else None,
    }


# --- modes --------------------------------------------------------------------------------


@contextlib.contextmanager
def work_dir(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    try:
        yield path
    finally:
        if keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def compare(
    params: RunParams, stream: StreamParams, keep: bool, baseline: bool, rounds: int = 1
) -> dict[str, Any]:
    """Vigil, then bare ffmpeg, on the same N simulated cameras; with ``rounds`` > 1, that
    many of each in alternation (Vigil, bare, bare, Vigil, ...: a drift of the box over the
    run weighs on both alike), the ratio taken over their sums."""
    phases: list[PhaseResult] = []
    served = min(stream.sim_cameras or params.cameras, params.cameras)
    order = ["vigil", "bare"]
    for n in range(1, rounds if baseline else 1):
        order += ["bare", "vigil"] if n % 2 else ["vigil", "bare"]
    if not baseline:
        order = ["vigil"]
    segments: SegmentsReport | None = None
    with work_dir(keep) as work, simulator(served, stream) as (sim, sim_tracker):
        print(f"simulator: {served} cameras ready", flush=True)
        # Recorded cameras share the simulated ones round-robin when there are fewer of those.
        urls = [sim.urls[i % served] for i in range(params.cameras)]
        for n, kind in enumerate(order):
            folder = work / f"{n:02d}"
            folder.mkdir()
            print(f"recording with {'Vigil' if kind == 'vigil' else 'bare ffmpeg'}...", flush=True)
            if kind == "vigil":
                vigil = VigilRecorders(urls, params, folder)
                result, details = run_phase(vigil, sim_tracker, params)
                checked = check_segments(vigil, details, params.segment_seconds)
                segments = checked if segments is None else _worse(segments, checked)
            else:
                result, _ = run_phase(BareRecorders(urls, params, folder), sim_tracker, params)
            phases.append(result)
            time.sleep(2.0)  # let the simulator see the sessions go
        sim_total = sim_tracker.samples[-1].cpu_s if sim_tracker.samples else 0.0
    assert segments is not None
    vigils = [p for p, kind in zip(phases, order, strict=True) if kind == "vigil"]
    bares = [p for p, kind in zip(phases, order, strict=True) if kind == "bare"]
    return {
        "benchmark": "recording",
        "params": asdict(params),
        "stream": asdict(stream),
        "machine": machine(),
        "phases": [asdict(p) for p in (vigils[:1] + bares[:1])],
        "ratios": ratios(vigils[:1] + bares[:1]),
        "rounds": [
            {"vigil_cpu_pct": v.cpu_pct, "bare_cpu_pct": b.cpu_pct, "cpu": _ratio(v, b)}
            for v, b in zip(vigils, bares, strict=False)
        ],
        "cpu_over_rounds": _ratio_of_sums(vigils, bares),
        "segments": asdict(segments),
        "simulator_cpu_total_s": round(sim_total, 2),
    }


def _ratio(vigil: PhaseResult, bare: PhaseResult) -> float | None:
    return round(vigil.cpu_pct / bare.cpu_pct, 3) if bare.cpu_pct else None


def _ratio_of_sums(vigils: list[PhaseResult], bares: list[PhaseResult]) -> float | None:
    bare = sum(p.cpu_pct for p in bares)
    return round(sum(p.cpu_pct for p in vigils) / bare, 3) if bare else None


def _worse(first: SegmentsReport, second: SegmentsReport) -> SegmentsReport:
    """Of two Vigil phases' reports, the one with more cameras with a problem (the first
    when even): the figures printed are a worst case."""
    return second if second.cameras_with_problems > first.cameras_with_problems else first


def ratios(phases: list[PhaseResult]) -> dict[str, float | None]:
    if len(phases) < 2 or not phases[1].cpu_pct or not phases[1].pss_mean_mb:
        return {"cpu": None, "pss": None}
    vigil, bare = phases
    return {
        "cpu": round(vigil.cpu_pct / bare.cpu_pct, 3),
        "pss": round(vigil.pss_mean_mb / bare.pss_mean_mb, 3),
    }


def search_max(
    steps: list[int], params: RunParams, stream: StreamParams, keep: bool, baseline: bool
) -> dict[str, Any]:
    """Vigil on growing N until a segment is lost or the box's CPU saturates."""
    rows: list[dict[str, Any]] = []
    held = 0
    print_max_rows([])
    for n in steps:
        step = RunParams(
            n, params.seconds, params.segment_seconds, params.warmup, params.interval, params.http
        )
        print(f"--max: {n} cameras, {params.seconds:g} s...", flush=True)
        try:
            outcome = compare(step, stream, keep, baseline)
        except BenchError as exc:
            rows.append({"cameras": n, "error": str(exc)})
            print(f"  failed: {exc}", flush=True)
            break
        row = max_row(outcome)
        rows.append(row)
        print_max_rows([row], header=False)
        if not row["lost_segments"]:
            held = n
        if row["lost_segments"] or row["saturated"]:
            break
    return {
        "benchmark": "recording-max",
        "params": asdict(params),
        "stream": asdict(stream),
        "machine": machine(),
        "max_cameras_without_loss": held,
        "steps": rows,
    }


def max_row(outcome: dict[str, Any]) -> dict[str, Any]:
    vigil = outcome["phases"][0]
    segments = outcome["segments"]
    return {
        "cameras": vigil["cameras"],
        "vigil_cpu_pct": vigil["cpu_pct"],
        "vigil_cpu_pct_per_camera": vigil["cpu_pct_per_camera"],
        "vigil_pss_per_camera_mb": vigil["pss_per_camera_mb"],
        "sim_cpu_pct": vigil["sim_cpu_pct"],
        "bench_cpu_pct": vigil["bench_cpu_pct"],
        "other_cpu_pct": vigil["other_cpu_pct"],
        "box_busy_pct": vigil["box_busy_pct"],
        "bare_cpu_pct": outcome["phases"][1]["cpu_pct"] if len(outcome["phases"]) > 1 else None,
        "cpu_ratio": outcome["ratios"]["cpu"],
        "indexed": segments["indexed"],
        "expected": round(segments["expected_per_camera"] * vigil["cameras"], 1),
        "cameras_with_problems": segments["cameras_with_problems"],
        "lost_segments": segments["lost_segments"],
        "saturated": vigil["box_busy_pct"] >= SATURATED_PCT,
        "problems": [
            f"camera {c['camera_id']}: {'; '.join(c['problems'])}"
            for c in segments["cameras"]
            if c["problems"]
        ][:10],
    }


# --- printing -----------------------------------------------------------------------------


# A table row: label, the value of one phase, the key of the Vigil/bare ratio shown (or "")
Row = tuple[str, Callable[[PhaseResult], object], str]


def print_comparison(outcome: dict[str, Any]) -> None:
    params, stream = outcome["params"], outcome["stream"]
    phases = [PhaseResult(**p) for p in outcome["phases"]]
    print()
    print(
        f"Recording {params['cameras']} cameras ({StreamParams(**stream).label()}"
        f"{served_by(stream['sim_cameras'], params['cameras'])}), "
        f"{params['seconds']:g} s, {params['segment_seconds']:g} s segments; "
        f"rates over the steady window (from {params['warmup']:g} s after start to the stop)"
    )
    rows: list[Row] = [
        ("CPU, % of one core", lambda p: f"{p.cpu_pct:.1f}", "cpu"),
        ("CPU per camera, %", lambda p: f"{p.cpu_pct_per_camera:.2f}", ""),
        ("CPU s in window", lambda p: f"{p.cpu_window_s:.1f}", ""),
        ("CPU s, whole run", lambda p: f"{p.cpu_total_s:.1f}", ""),
        ("PSS idle, MB", lambda p: "-" if p.pss_idle_mb is None else f"{p.pss_idle_mb:.1f}", ""),
        ("PSS mean, MB", lambda p: f"{p.pss_mean_mb:.1f}", "pss"),
        ("PSS peak, MB", lambda p: f"{p.pss_peak_mb:.1f}", ""),
        ("PSS per camera, MB", lambda p: f"{p.pss_per_camera_mb:.2f}", ""),
        ("processes", lambda p: p.processes, ""),
        *by_kind_rows(phases),
        ("simulator CPU, % core", lambda p: f"{p.sim_cpu_pct:.1f}", ""),
        ("box busy, % all cores", lambda p: f"{p.box_busy_pct:.1f}", ""),
        ("bench sampler CPU, %", lambda p: f"{p.bench_cpu_pct:.1f}", ""),
        ("other load, % core", lambda p: f"{p.other_cpu_pct:.1f}", ""),
    ]
    names = [p.name for p in phases]
    print(
        f"  {'':24}"
        + "".join(f"{n:>14}" for n in names)
        + ("  Vigil/bare" if len(phases) > 1 else "")
    )
    for label, value, ratio_key in rows:
        line = f"  {label:24}" + "".join(f"{value(p)!s:>14}" for p in phases)
        if ratio_key and outcome["ratios"].get(ratio_key) is not None:
            line += f"  {outcome['ratios'][ratio_key]:.2f}x"
        print(line)
    if params.get("viewers"):
        seen = phases[0].details
        each = "each camera" if params.get("viewers_each") else "camera 1"
        print(
            f"  live: {seen.get('viewers')} WebSocket viewers of {each}, each receiving "
            f"{seen.get('viewer_kbps_min')}-{seen.get('viewer_kbps_mean')} kbit/s"
        )
    else:
        print("  live: nobody watching")
    rounds = outcome.get("rounds") or []
    if len(rounds) > 1:
        each = " ".join(f"{r['cpu']:.2f}x" for r in rounds if r["cpu"] is not None)
        print(f"  CPU Vigil/bare, {len(rounds)} rounds in alternation: {each}")
        over = outcome["cpu_over_rounds"]
        print(f"    over all rounds (sum of Vigil / sum of bare): {over:.2f}x")
    print_segments(outcome["segments"], params["cameras"])
    print(f"  simulator CPU over its whole life: {outcome['simulator_cpu_total_s']:.1f} s")


def by_kind_rows(phases: list[PhaseResult]) -> list[Row]:
    """Table rows splitting CPU and PSS between Vigil's Python process and the ffmpegs."""
    kinds = sorted({k for p in phases for k in p.cpu_pct_by_kind})
    cpu = [(f"  CPU {k}, %", _cpu_of(k), "") for k in kinds]
    pss = [(f"  PSS {k}, MB", _pss_of(k), "") for k in kinds]
    return cpu + pss


def _cpu_of(what: str) -> Callable[[PhaseResult], object]:
    return lambda p: f"{p.cpu_pct_by_kind.get(what, 0):.1f}"


def _pss_of(what: str) -> Callable[[PhaseResult], object]:
    return lambda p: f"{p.pss_mb_by_kind.get(what, 0):.1f}"


def served_by(sim_cameras: int, cameras: int) -> str:
    if not sim_cameras or sim_cameras >= cameras:
        return ""
    return f", pulled from {sim_cameras} simulated cameras"


def print_segments(segments: dict[str, Any], cameras: int) -> None:
    print(
        f"  segments: expected {segments['expected_per_camera']:g} ± 1 per camera; "
        f"indexed {segments['indexed']}, on disk {segments['on_disk']}; "
        f"cameras with a problem: {segments['cameras_with_problems']} of {cameras}"
    )
    checks = segments["cameras"]
    if checks:
        worst_step = max(c["max_step_s"] for c in checks)
        worst_hole = max(c["max_hole_s"] for c in checks)
        worst_tail = max((c["tail_s"] or 0) for c in checks)
        first = max((c["first_start_s"] or 0) for c in checks)
        print(
            f"  worst: step {worst_step:g} s, hole {worst_hole:g} s, first segment "
            f"{first:g} s after creation, last end {worst_tail:g} s before the stop"
        )
    for check in [c for c in checks if c["problems"]][:10]:
        print(f"    camera {check['camera_id']}: {'; '.join(check['problems'])}")


def print_max_rows(rows: list[dict[str, Any]], header: bool = True) -> None:
    if header:
        print(
            f"  {'N':>4} {'Vigil %':>8} {'/cam':>6} {'PSS/cam':>8} {'sim %':>7} {'other %':>8} "
            f"{'box %':>6} {'bare %':>7} {'ratio':>6} {'indexed/exp':>12} {'bad cams':>9}"
        )
    for row in rows:
        if "error" in row:
            print(f"  {row['cameras']:>4} failed: {row['error'][:200]}")
            continue
        bare = "-" if row["bare_cpu_pct"] is None else f"{row['bare_cpu_pct']:.1f}"
        ratio = "-" if row["cpu_ratio"] is None else f"{row['cpu_ratio']:.2f}"
        print(
            f"  {row['cameras']:>4} {row['vigil_cpu_pct']:>8.1f} "
            f"{row['vigil_cpu_pct_per_camera']:>6.2f} {row['vigil_pss_per_camera_mb']:>8.2f} "
            f"{row['sim_cpu_pct']:>7.1f} {row['other_cpu_pct']:>8.1f} "
            f"{row['box_busy_pct']:>6.1f} {bare:>7} {ratio:>6} "
            f"{row['indexed']:>5}/{row['expected']:<6g} {row['cameras_with_problems']:>9}"
        )
        for problem in row["problems"][:3]:
            print(f"       {problem}")


# --- command line -------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.recording",
        description="Vigil's recording CPU and memory against bare ffmpeg; segments checked.",
    )
    parser.add_argument("--cameras", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60.0, help="recording time")
    parser.add_argument("--segment-seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=5.0, help="left out of the rates")
    parser.add_argument("--interval", type=float, default=1.0, help="sampling period")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--bitrate-kbps", type=int, default=2000)
    parser.add_argument("--no-audio", dest="audio", action="store_false")
    parser.add_argument(
        "--sim-cameras",
        type=int,
        default=0,
        help="distinct simulated cameras, shared round-robin (default: one per camera)",
    )
    parser.add_argument("--no-http", dest="http", action="store_false", help="no HTTP API")
    parser.add_argument(
        "--viewers", type=int, default=0, help="WebSocket viewers of the first camera, reading all"
    )
    parser.add_argument(
        "--viewers-each", action="store_true", help="--viewers of every camera, not only the first"
    )
    parser.add_argument("--no-baseline", dest="baseline", action="store_false")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="phases of each in alternation (Vigil, bare, bare, Vigil, ...); the ratio over all",
    )
    parser.add_argument("--max", action="store_true", help="search the largest N held")
    parser.add_argument("--max-steps", default=DEFAULT_MAX_STEPS, help="N to try, in order")
    parser.add_argument("--max-seconds", type=float, default=40.0, help="recording time a step")
    parser.add_argument("--max-baseline", action="store_true", help="bare ffmpeg at each step")
    parser.add_argument("--keep", action="store_true", help="keep the recordings and logs")
    parser.add_argument("--out", type=Path, help="JSON result path")
    parser.add_argument("--note", default="", help="stored in the JSON result")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    stream = StreamParams(
        args.width, args.height, args.fps, args.bitrate_kbps, args.audio, args.sim_cameras
    )
    if args.max:
        params = RunParams(
            0, args.max_seconds, args.segment_seconds, args.warmup, args.interval, args.http
        )
        steps = [int(n) for n in args.max_steps.split(",")]
        outcome = search_max(steps, params, stream, args.keep, args.max_baseline)
        outcome["note"] = args.note
        print(f"\nLargest N with no segment lost: {outcome['max_cameras_without_loss']}")
        print_max_rows(outcome["steps"])
        path = write_result(outcome, args.out, "recording-max.json")
    else:
        params = RunParams(
            args.cameras,
            args.seconds,
            args.segment_seconds,
            args.warmup,
            args.interval,
            args.http,
            args.viewers,
            args.viewers_each,
        )
        outcome = compare(params, stream, args.keep, args.baseline, args.rounds)
        outcome["note"] = args.note
        print_comparison(outcome)
        name = f"recording-{args.cameras}" + (f"-v{args.viewers}" if args.viewers else "")
        path = write_result(outcome, args.out, f"{name}.json")
    print(f"result: {path}")


if __name__ == "__main__":
    main()
