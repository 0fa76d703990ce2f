"""Detection benchmark: CPU per camera with detection on against recording alone, and how
many cameras with detection this box holds with no frame dropped.

Run from the repository root::

    .venv/bin/python -m bench.detection                        # 4 cameras, 40 s a phase
    .venv/bin/python -m bench.detection --cameras 8 --seconds 60 --workers 2
    .venv/bin/python -m bench.detection --max                  # 2, 4, 8, 12, 16... cameras

Simulated cameras show the walker clip (a person walks across the picture once every 20 s
loop, in sight 6 s of it), from ``--groups`` simulators whose walks are spread over the loop,
so cameras do not all see someone at once. The clip's frame code and clock (the top quarter)
change on every frame: they are masked from motion, as a user masks a camera's timestamp
(``--no-mask``: motion on every frame, every frame to the detector). Vigil's services run in
this process (SQLite in a temporary folder, the media node, no HTTP API) and record N cameras
twice, one phase after the other: **recording** (detection off: the baseline), then
**detection** (``DetectionSettings(labels={"person"})``: 5 fps at 320x180, motion, the SSD
detector in the node's worker pool, tracking, events).
The detection cost per camera is the difference. CPU (user + system) is sampled every second
for Vigil's process, its ffmpegs and its detector workers; the simulator's process (on the
same box, not Vigil's) and the whole box alongside, reported apart; rates over the window from
``--warmup`` seconds after the cameras were created to the stop. Frames read (what ffmpeg
handed detection), processed and dropped come from the node, per camera, over the same window;
detector calls are counted by wrapping ``DetectorPool.detect`` in this process.

``--max`` grows N until a step drops frames (more than 1 % of those read), reads too few
(ffmpeg behind), meets detector errors or falls back to motion only; the largest N before is
the answer. Figures, never assertions: tables printed, a JSON result in bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if not __package__:  # run as a file (python bench/detection.py): make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil

from bench.output import write_result
from bench.proctree import Sample, SystemTracker, TreeTracker, window
from bench.recording import machine, work_dir
from vigil.app import start_services, stop_services
from vigil.detect.motion import MotionSettings
from vigil.detect.objects import DetectorPool
from vigil.detect.settings import DetectionSettings
from vigil.detect.types import Bgr, Detection
from vigil.link.messages import EventStage
from vigil.node.node import MediaNode
from vigil.settings import Settings
from vigil.sim.runner import SERVER_SCRIPT, SimulatedCameras
from vigil.store.cameras import CameraFields
from vigil.store.models import Event

DEFAULT_MAX_STEPS = "2,4,8,12,16,20,24,32"
DROP_LIMIT_PCT = 1.0  # a --max step holds while detection drops at most this share of frames
READ_LIMIT_PCT = 95.0  # ... and reads at least this share of the frames it should get
# The clip's frame code and clock (the top of the picture) change on every frame: masked, as
# a user masks a camera's timestamp; else every frame has motion and goes to the detector.
OVERLAY_MASK = [(0.0, 0.0), (1.0, 0.0), (1.0, 0.24), (0.0, 0.24)]
_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)


# --- parameters ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamParams:
    """The simulated cameras: the walker clip, in ``groups`` whose walks are spread out."""

    width: int
    height: int
    fps: int
    bitrate_kbps: int
    loop_seconds: int
    walk_seconds: float
    groups: int

    def label(self) -> str:
        return (
            f"{self.width}x{self.height} {self.fps} fps {self.bitrate_kbps} kbit/s walker, "
            f"{self.loop_seconds} s loop, person in sight {self.walk_seconds:g} s of it"
        )


@dataclass(frozen=True, slots=True)
class RunParams:
    cameras: int
    seconds: float
    warmup: float
    interval: float
    segment_seconds: float
    workers: int
    detect_fps: int
    detect_width: int
    detect_height: int
    mask_overlay: bool
    baseline: bool


def walks(stream: StreamParams, groups: int) -> list[tuple[float, float]]:
    """Each group's walk (start, end) in the loop: starts spread evenly from 1 s to the last
    that fits, so groups of cameras see someone at different times, as real cameras do."""
    last = stream.loop_seconds - stream.walk_seconds - 1
    if last < 1:
        raise SystemExit(f"a {stream.walk_seconds:g} s walk needs a longer loop")
    starts = [1 + (last - 1) * g / max(1, groups - 1) for g in range(groups)]
    return [(round(s, 2), round(s + stream.walk_seconds, 2)) for s in starts]


# --- results ------------------------------------------------------------------------------


@dataclass(slots=True)
class CameraFigures:
    """One camera's detection; frame counts over the window unless said otherwise."""

    camera_id: int
    group: int
    frames_read: int  # frames its ffmpeg handed detection
    frames_processed: int
    frames_dropped: int
    dropped_whole_phase: int  # start-up included (the detector pool starting)
    detector_errors: int
    events_opened: int  # whole phase
    state: str
    restarts: int


@dataclass(slots=True)
class PhaseResult:
    """One phase on N cameras; CPU in % of one core."""

    name: str
    cameras: int
    window_s: float
    phase_s: float  # from the cameras' creation to the stop
    cpu_pct: float  # Vigil: its process, ffmpegs and detector workers
    cpu_pct_per_camera: float
    cpu_pct_by_kind: dict[str, float]  # "vigil" (the Python process), "ffmpeg", "detector"
    processes: int
    sim_cpu_pct: float
    box_busy_pct: float  # all cores: 100 % = every core busy
    other_cpu_pct: float  # the box's busy time not spent by Vigil, the simulator or sampling
    sampler_cpu_pct: float  # this benchmark's sampling (taken out of Vigil's process)
    frames_expected: float  # cameras x detect fps x window
    detector_calls: int = 0
    detector_call_errors: int = 0
    detector_p50_ms: float | None = None
    detector_p95_ms: float | None = None
    cameras_detail: list[CameraFigures] = field(default_factory=list)
    log_warnings: dict[str, int] = field(default_factory=dict)

    def total(self, name: str) -> int:
        return sum(int(getattr(c, name)) for c in self.cameras_detail)

    @property
    def drop_pct(self) -> float:
        read = self.total("frames_read")
        return 100 * self.total("frames_dropped") / read if read else 0.0

    @property
    def read_pct(self) -> float:
        return 100 * self.total("frames_read") / self.frames_expected if self.frames_expected else 0


def problems(phase: PhaseResult) -> list[str]:
    """Why a detection phase does not count as held (empty: it does)."""
    found = []
    if phase.drop_pct > DROP_LIMIT_PCT:
        found.append(f"{phase.drop_pct:.1f} % of frames dropped")
    if phase.read_pct < READ_LIMIT_PCT:
        found.append(f"only {phase.read_pct:.0f} % of the expected frames read")
    if errors := phase.total("detector_errors"):
        found.append(f"{errors} detector errors")
    if states := sorted({c.state for c in phase.cameras_detail if c.state != "running"}):
        found.append(f"detection {', '.join(states)}")
    return found


# --- sampling -----------------------------------------------------------------------------


class VigilTree:
    """This process (Vigil's services) and its descendants, the simulator's tree left out.

    Kinds: "vigil" (this process, less the sampling's own CPU), "ffmpeg", and "detector"
    (everything else it started: the detector pool's workers, multiprocessing's helper).
    """

    def __init__(self, excluded: set[int]) -> None:
        self._excluded = excluded
        self._me = psutil.Process()
        self._cpu: dict[tuple[int, float], tuple[str, float]] = {}
        self.samples: list[Sample] = []

    def sample(self, t: float, sampling_cost_s: float) -> None:
        alive = 0
        for proc in self._tree():
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    started = proc.create_time()
                    name = proc.name()
            except _GONE:
                continue
            alive += 1
            seconds = times.user + times.system
            if proc.pid == self._me.pid:
                what, seconds = "vigil", seconds - sampling_cost_s
            else:
                what = "ffmpeg" if "ffmpeg" in name else "detector"
            self._cpu[(proc.pid, started)] = (what, seconds)  # an exited one keeps its last
        by_kind: defaultdict[str, float] = defaultdict(float)
        for what, seconds in self._cpu.values():
            by_kind[what] += seconds
        self.samples.append(Sample(t, sum(by_kind.values()), 0, alive, dict(by_kind)))

    def _tree(self) -> list[psutil.Process]:
        children: defaultdict[int, list[psutil.Process]] = defaultdict(list)
        for proc in psutil.process_iter(["ppid"]):
            children[proc.info["ppid"]].append(proc)
        found, todo = [self._me], [self._me.pid]
        while todo:
            for child in children.get(todo.pop(), []):
                if child.pid not in self._excluded:
                    found.append(child)
                    todo.append(child.pid)
        return found


class Sampler:
    """Vigil's tree, the simulator and the box, every ``interval`` s on a thread of its own,
    and on demand; the CPU it spends itself is counted and taken out of Vigil's figure."""

    def __init__(self, simulator_pids: list[int], interval: float) -> None:
        self.vigil = VigilTree(set(simulator_pids))
        self.simulator = TreeTracker("simulator", simulator_pids)
        self.box = SystemTracker()
        self.cost: list[tuple[float, float]] = []  # (t, sampling CPU s so far)
        self._cost_s = 0.0
        self._interval = interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    def sample(self) -> float:
        with self._lock:
            began = time.thread_time()
            now = time.monotonic()
            self.vigil.sample(now, self._cost_s)
            self.simulator.sample(now)
            self.box.sample(now)
            self.cost.append((now, self._cost_s))
            self._cost_s += time.thread_time() - began
        return now

    def cost_pct(self, start: float, end: float) -> float:
        inside = [c for c in self.cost if start <= c[0] <= end]
        if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
            return 0.0
        return 100 * (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.sample()


class DetectorCalls:
    """Every ``DetectorPool.detect`` call in this process: when it ended, how long it took
    (waiting for an idle worker included), whether it failed."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, float, bool]] = []

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        original = DetectorPool.detect
        calls = self.calls

        async def detect(pool: DetectorPool, image: Bgr) -> list[Detection]:
            began = time.monotonic()
            ok = False
            try:
                found = await original(pool, image)
                ok = True
                return found
            finally:
                ended = time.monotonic()
                calls.append((ended, ended - began, ok))

        DetectorPool.detect = detect  # type: ignore[method-assign, assignment]
        try:
            yield
        finally:
            DetectorPool.detect = original  # type: ignore[method-assign]

    def between(self, start: float, end: float) -> list[tuple[float, float, bool]]:
        return [c for c in self.calls if start <= c[0] <= end]


class WarningCount(logging.Handler):
    """Warnings and errors logged, by logger: what detection complained about."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[f"{record.levelname.lower()} {record.name}"] += 1


# --- one phase ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Counts:
    """One camera's detection counters at one instant (all 0 with detection off)."""

    read: int = 0
    processed: int = 0
    dropped: int = 0
    errors: int = 0
    state: str = "off"


def counts(node: MediaNode, camera_id: int) -> Counts:
    stream = node.detect_frames(camera_id)
    health = node.detection_health(camera_id)
    if stream is None or health is None:
        return Counts()
    return Counts(
        stream.frames_read, health.frames, health.dropped, health.detector_errors, health.state
    )


async def run_phase(
    detect: bool,
    urls: list[str],
    camera_groups: list[int],
    params: RunParams,
    work: Path,
    sampler: Sampler,
    calls: DetectorCalls,
) -> PhaseResult:
    """Vigil's services on a fresh data folder; N cameras, with detection or not; measured."""
    name = "detection" if detect else "recording"
    settings = Settings(data_dir=work / name)
    settings.node.detector_workers = params.workers
    warnings = WarningCount()
    logging.getLogger().addHandler(warnings)
    services = await start_services(settings)
    node = services.node
    assert node is not None
    opened: Counter[int] = Counter()

    async def on_event(event: Event, stage: EventStage) -> None:
        if stage is EventStage.NEW:
            opened[event.camera_id] += 1

    services.events.listeners.append(on_event)
    detection = None
    if detect:
        detection = DetectionSettings(
            labels={"person"},
            fps=params.detect_fps,
            width=params.detect_width,
            height=params.detect_height,
            motion=MotionSettings(masks=[OVERLAY_MASK] if params.mask_overlay else []),
        )
    try:
        org = await services.auth.users.create_org("Bench")
        ids = []
        for number, url in enumerate(urls, start=1):
            fields = CameraFields(
                name=f"bench-{number}",
                main_url=url,
                segment_seconds=params.segment_seconds,
                detection=detection,
            )
            ids.append((await services.cameras.create(fields, org_id=org.id)).id)
        created = time.monotonic()
        await asyncio.sleep(params.warmup)
        start, before = sampler.sample(), {cid: counts(node, cid) for cid in ids}
        await asyncio.sleep(params.seconds)
        end, after = sampler.sample(), {cid: counts(node, cid) for cid in ids}
        restarts = {cid: services.nodes.status(cid).restarts for cid in ids}
    finally:
        await stop_services(services)
        logging.getLogger().removeHandler(warnings)
    cameras = [
        CameraFigures(
            camera_id=cid,
            group=group,
            frames_read=after[cid].read - before[cid].read,
            frames_processed=after[cid].processed - before[cid].processed,
            frames_dropped=after[cid].dropped - before[cid].dropped,
            dropped_whole_phase=after[cid].dropped,
            detector_errors=after[cid].errors - before[cid].errors,
            events_opened=opened[cid],
            state=after[cid].state,
            restarts=restarts[cid],
        )
        for cid, group in zip(ids, camera_groups, strict=True)
    ]
    return summarize(name, sampler, calls, (created, start, end), params, cameras, warnings)


def summarize(
    name: str,
    sampler: Sampler,
    calls: DetectorCalls,
    times: tuple[float, float, float],
    params: RunParams,
    cameras: list[CameraFigures],
    warnings: WarningCount,
) -> PhaseResult:
    created, start, end = times
    vigil = window(sampler.vigil.samples, start, end)
    sim = window(sampler.simulator.samples, start, end)
    box = window(sampler.box.samples, start, end)
    sampling = sampler.cost_pct(start, end)
    n = params.cameras
    made = calls.between(start, end) if name == "detection" else []
    latencies = sorted(c[1] * 1000 for c in made)
    return PhaseResult(
        name=name,
        cameras=n,
        window_s=round(vigil.seconds, 1),
        phase_s=round(end - created, 1),
        cpu_pct=round(vigil.cpu_pct, 2),
        cpu_pct_per_camera=round(vigil.cpu_pct / n, 3),
        cpu_pct_by_kind={k: round(v, 2) for k, v in vigil.cpu_pct_by_kind.items()},
        processes=vigil.procs_max,
        sim_cpu_pct=round(sim.cpu_pct, 2),
        box_busy_pct=round(box.cpu_pct / sampler.box.cores, 1),
        other_cpu_pct=round(box.cpu_pct - vigil.cpu_pct - sim.cpu_pct - sampling, 1),
        sampler_cpu_pct=round(sampling, 2),
        frames_expected=round(n * params.detect_fps * vigil.seconds, 1)
        if name == "detection"
        else 0.0,
        detector_calls=len(made),
        detector_call_errors=sum(1 for c in made if not c[2]),
        detector_p50_ms=round(statistics.median(latencies), 1) if latencies else None,
        detector_p95_ms=round(latencies[int(0.95 * len(latencies))], 1) if latencies else None,
        cameras_detail=cameras,
        log_warnings=dict(warnings.counts),
    )


# --- one step: N cameras, both phases -----------------------------------------------------


@contextlib.contextmanager
def simulators(
    cameras: int, stream: StreamParams
) -> Iterator[tuple[list[str], list[int], list[int]]]:
    """The walker cameras in groups (one simulator each, walks spread over the loop): every
    camera's URL and group, and the simulators' pids."""
    groups = max(1, min(stream.groups, cameras))
    sizes = [len(range(g, cameras, groups)) for g in range(groups)]
    with contextlib.ExitStack() as stack:
        sims = [
            stack.enter_context(
                SimulatedCameras(
                    size,
                    width=stream.width,
                    height=stream.height,
                    fps=stream.fps,
                    bitrate_kbps=stream.bitrate_kbps,
                    loop_seconds=stream.loop_seconds,
                    audio=False,
                    scene="walker",
                    walk_start=walk_start,
                    walk_end=walk_end,
                    ready_timeout=180.0,
                )
            )
            for size, (walk_start, walk_end) in zip(sizes, walks(stream, groups), strict=True)
        ]
        # Camera i comes from group i mod G: any N cameras mix the groups evenly.
        urls = [sims[i % groups].urls[i // groups] for i in range(cameras)]
        yield urls, [i % groups for i in range(cameras)], simulator_pids()


def simulator_pids() -> list[int]:
    server = str(SERVER_SCRIPT)
    pids = []
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            if server in child.cmdline():
                pids.append(child.pid)
    if not pids:
        raise SystemExit("cannot find the simulator's process")
    return pids


def run_step(
    params: RunParams, stream: StreamParams, calls: DetectorCalls, keep: bool
) -> list[PhaseResult]:
    """The baseline (recording only) then detection, on the same simulated cameras."""
    phases = []
    with (
        work_dir(keep) as work,
        simulators(params.cameras, stream) as (urls, groups, pids),
        Sampler(pids, params.interval) as sampler,
    ):
        for detect in ([False] if params.baseline else []) + [True]:
            print(
                f"  {params.cameras} cameras, {'detection' if detect else 'recording only'}: "
                f"{params.warmup:g} s warm-up, {params.seconds:g} s measured...",
                flush=True,
            )
            phase = asyncio.run(run_phase(detect, urls, groups, params, work, sampler, calls))
            phases.append(phase)
            time.sleep(2.0)  # let the simulators see the sessions go
    return phases


# --- printing -----------------------------------------------------------------------------


def describe(params: RunParams, stream: StreamParams) -> str:
    groups = min(stream.groups, params.cameras) if params.cameras else stream.groups
    overlay = "frame code and clock masked" if params.mask_overlay else "nothing masked"
    return (
        f"{stream.label()}, {groups} groups walking at different times; detect "
        f"{params.detect_fps} fps {params.detect_width}x{params.detect_height} ({overlay}), "
        f"{params.workers} detector workers, {params.segment_seconds:g} s segments"
    )


def print_step(phases: list[PhaseResult], params: RunParams, stream: StreamParams) -> None:
    det = phases[-1]
    base = phases[0] if len(phases) > 1 else None
    print()
    print(f"{params.cameras} cameras, {describe(params, stream)}")
    print(f"CPU in % of one core over {det.window_s:g} s after {params.warmup:g} s warm-up")
    names = [p.name for p in phases] + (["difference"] if base else [])
    print(f"  {'':28}" + "".join(f"{n:>14}" for n in names))

    def row(label: str, values: list[float], fmt: str = ".1f") -> None:
        cells = [format(v, fmt) for v in values]
        if base:
            cells.append(format(values[-1] - values[0], fmt))
        print(f"  {label:28}" + "".join(f"{c:>14}" for c in cells))

    row("Vigil CPU", [p.cpu_pct for p in phases])
    row("Vigil CPU per camera", [p.cpu_pct_per_camera for p in phases], ".2f")
    for kind in ("vigil", "ffmpeg", "detector"):
        row(f"  {kind}, per camera", [p.cpu_pct_by_kind.get(kind, 0) / p.cameras for p in phases],
            ".2f")  # fmt: skip
    print(
        f"  {'(not Vigil) simulator CPU':28}" + "".join(f"{p.sim_cpu_pct:>14.1f}" for p in phases)
    )
    for label, attr in (
        ("box busy, % of all cores", "box_busy_pct"),
        ("other load", "other_cpu_pct"),
        ("bench sampling", "sampler_cpu_pct"),
    ):
        print(f"  {label:28}" + "".join(f"{getattr(p, attr):>14.1f}" for p in phases))
    read, done, dropped = (
        det.total(k) for k in ("frames_read", "frames_processed", "frames_dropped")
    )
    print(
        f"  frames read / processed / dropped: {read} / {done} / {dropped} "
        f"({det.drop_pct:.2f} % dropped; read {det.read_pct:.0f} % of {det.frames_expected:g} "
        f"expected); dropped over the whole phase, start-up included: "
        f"{det.total('dropped_whole_phase')}"
    )
    window = det.window_s or 1.0
    latency = (
        f"p50 {det.detector_p50_ms:g} ms, p95 {det.detector_p95_ms:g} ms"
        if det.detector_p50_ms is not None
        else "-"
    )
    print(
        f"  detector calls: {det.detector_calls} ({det.detector_calls / window:.1f}/s, "
        f"{det.detector_calls / max(1, done):.2f} a processed frame), {latency} "
        f"(waiting for a worker included), {det.detector_call_errors} failed"
    )
    events = [c.events_opened for c in det.cameras_detail]
    print(
        f"  events opened per camera: {min(events)}-{max(events)} "
        f"(walks shown in {det.phase_s:g} s: about {det.phase_s / stream.loop_seconds:.1f}); "
        f"detector errors {det.total('detector_errors')}, ffmpeg restarts {det.total('restarts')}"
    )
    for phase in phases:
        if phase.log_warnings:
            logged = ", ".join(f"{k}: {v}" for k, v in sorted(phase.log_warnings.items()))
            print(f"  logged in {phase.name}: {logged}")
    verdict = problems(det)
    print(f"  no frame dropped: {'yes' if not verdict else 'no, ' + '; '.join(verdict)}")
    print(f"  {'camera':>8} {'group':>5} {'read':>6} {'done':>6} {'dropped':>7} "
          f"{'at start':>8} {'errors':>6} {'events':>6} {'restarts':>8}  state")  # fmt: skip
    for c in det.cameras_detail:
        print(
            f"  {c.camera_id:>8} {c.group:>5} {c.frames_read:>6} {c.frames_processed:>6} "
            f"{c.frames_dropped:>7} {c.dropped_whole_phase - c.frames_dropped:>8} "
            f"{c.detector_errors:>6} {c.events_opened:>6} {c.restarts:>8}  {c.state}"
        )


def max_row(phases: list[PhaseResult]) -> dict[str, Any]:
    det = phases[-1]
    base = phases[0] if len(phases) > 1 else None
    return {
        "cameras": det.cameras,
        "cpu_pct": det.cpu_pct,
        "cpu_pct_per_camera": det.cpu_pct_per_camera,
        "baseline_per_camera": base.cpu_pct_per_camera if base else None,
        "detection_cost_per_camera": round(det.cpu_pct_per_camera - base.cpu_pct_per_camera, 3)
        if base
        else None,
        "detector_pct": det.cpu_pct_by_kind.get("detector", 0.0),
        "drop_pct": round(det.drop_pct, 2),
        "read_pct": round(det.read_pct, 1),
        "calls_per_s": round(det.detector_calls / (det.window_s or 1.0), 1),
        "p95_ms": det.detector_p95_ms,
        "events_min": min(c.events_opened for c in det.cameras_detail),
        "sim_cpu_pct": det.sim_cpu_pct,
        "box_busy_pct": det.box_busy_pct,
        "problems": problems(det),
    }


def print_max_row(row: dict[str, Any] | None) -> None:
    if row is None:
        print(
            f"  {'N':>3} {'Vigil %':>8} {'/cam':>6} {'base/cam':>8} {'det/cam':>8} "
            f"{'workers %':>9} {'drop %':>7} {'read %':>7} {'calls/s':>8} {'p95 ms':>7} "
            f"{'events':>6} {'sim %':>6} {'box %':>6}  held"
        )
        return

    def num(value: float | None, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    print(
        f"  {row['cameras']:>3} {row['cpu_pct']:>8.1f} {row['cpu_pct_per_camera']:>6.2f} "
        f"{num(row['baseline_per_camera'], '.2f'):>8} "
        f"{num(row['detection_cost_per_camera'], '.2f'):>8} {row['detector_pct']:>9.1f} "
        f"{row['drop_pct']:>7.2f} {row['read_pct']:>7.0f} {row['calls_per_s']:>8.1f} "
        f"{num(row['p95_ms'], '.0f'):>7} {row['events_min']:>6} {row['sim_cpu_pct']:>6.1f} "
        f"{row['box_busy_pct']:>6.1f}  {'; '.join(row['problems']) or 'yes'}",
        flush=True,
    )


# --- command line -------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.detection",
        description="CPU per camera with detection on, against recording alone; --max: the "
        "most cameras with detection held with no frame dropped.",
    )
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=40.0, help="measured, per phase")
    parser.add_argument("--warmup", type=float, default=8.0, help="left out of the figures")
    parser.add_argument("--interval", type=float, default=1.0, help="sampling period")
    parser.add_argument("--workers", type=int, default=2, help="detector pool workers")
    parser.add_argument("--segment-seconds", type=float, default=10.0)
    parser.add_argument("--detect-fps", type=int, default=5)
    parser.add_argument("--detect-size", default="320x180", help="analysed frames, WxH")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--bitrate-kbps", type=int, default=2000)
    parser.add_argument("--loop-seconds", type=int, default=20, help="the walker clip's loop")
    parser.add_argument("--walk-seconds", type=float, default=6.0, help="person in sight")
    parser.add_argument(
        "--groups", type=int, default=4, help="simulators whose walks are spread over the loop"
    )
    parser.add_argument(
        "--no-mask",
        dest="mask_overlay",
        action="store_false",
        help="leave the clip's frame code and clock unmasked (motion on every frame)",
    )
    parser.add_argument("--no-baseline", dest="baseline", action="store_false")
    parser.add_argument("--max", action="store_true", help="grow N until frames drop")
    parser.add_argument("--max-steps", default=DEFAULT_MAX_STEPS, help="N to try, in order")
    parser.add_argument("--keep", action="store_true", help="keep the data folders")
    parser.add_argument("--out", type=Path, help="JSON result path")
    parser.add_argument("--note", default="", help="stored in the JSON result")
    return parser.parse_args(argv)


def run_params(args: argparse.Namespace, cameras: int) -> RunParams:
    width, height = (int(v) for v in args.detect_size.split("x"))
    return RunParams(
        cameras,
        args.seconds,
        args.warmup,
        args.interval,
        args.segment_seconds,
        args.workers,
        args.detect_fps,
        width,
        height,
        args.mask_overlay,
        args.baseline,
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    for key in [k for k in os.environ if k.startswith("VIGIL_") and k != "VIGIL_SIM_CACHE"]:
        del os.environ[key]  # Vigil's settings here are this benchmark's, not the shell's
    stream = StreamParams(
        args.width,
        args.height,
        args.fps,
        args.bitrate_kbps,
        args.loop_seconds,
        args.walk_seconds,
        args.groups,
    )
    steps = [int(n) for n in args.max_steps.split(",")] if args.max else [args.cameras]
    calls = DetectorCalls()
    outcome: dict[str, Any] = {
        "benchmark": "detection-max" if args.max else "detection",
        "params": asdict(run_params(args, 0)),
        "stream": asdict(stream),
        "machine": machine(),
        "note": args.note,
        "steps": [],
    }
    held = 0
    if args.max:
        print(f"--max: {describe(run_params(args, 0), stream)}")
        print_max_row(None)
    with calls.counting():
        for n in steps:
            params = run_params(args, n)
            phases = run_step(params, stream, calls, args.keep)
            outcome["steps"].append({"cameras": n, "phases": [asdict(p) for p in phases]})
            if not args.max:
                print_step(phases, params, stream)
                break
            row = max_row(phases)
            outcome["steps"][-1]["row"] = row
            print_max_row(row)
            if row["problems"]:
                break
            held = n
    if args.max:
        outcome["max_cameras_without_drops"] = held
        print(f"\nLargest N with detection on and no frame dropped: {held}")
    name = "detection-max.json" if args.max else f"detection-{args.cameras}.json"
    print(f"result: {write_result(outcome, args.out, name)}")


if __name__ == "__main__":
    main()
