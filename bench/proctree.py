"""CPU time and memory of process trees (and of the whole box), sampled with psutil.

CPU time is user + system from ``/proc/PID/stat``, summed over every process ever seen in a
tree; a process that exits keeps its last sampled value (the ``children_*`` times of its
parent would count it only once reaped, so they are left out to avoid counting it twice).
Memory is PSS (``/proc/PID/smaps_rollup``): shared pages, such as the ffmpeg binary's code,
are split between the processes that map them, so the sum over a tree is what the tree costs.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import psutil

_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)


@dataclass(frozen=True, slots=True)
class Sample:
    t: float  # time.monotonic()
    cpu_s: float  # cumulative CPU seconds (user + system)
    pss: int  # bytes, over the processes alive at ``t``
    procs: int  # processes alive at ``t``
    # The same, split by kind of process ("ffmpeg", "python", ...; see ``kind``)
    cpu_by_kind: Mapping[str, float] = field(default_factory=dict)
    pss_by_kind: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WindowStats:
    """One tracker's figures over a time window."""

    seconds: float  # between the first and last sample inside the window
    cpu_s: float
    cpu_pct: float  # of one core
    pss_mean: float
    pss_peak: int
    procs_max: int
    cpu_pct_by_kind: dict[str, float] = field(default_factory=dict)
    pss_mean_by_kind: dict[str, float] = field(default_factory=dict)


class TreeTracker:
    """Processes started from some root pids, with all their descendants unless told not to."""

    def __init__(self, name: str, roots: Iterable[int] = (), descendants: bool = True) -> None:
        self.name = name
        self._descendants = descendants
        self.samples: list[Sample] = []
        self._roots: list[psutil.Process] = []
        # (pid, start time): (kind, last CPU seconds)
        self._cpu: dict[tuple[int, float], tuple[str, float]] = {}
        self.add_roots(roots)

    def add_roots(self, pids: Iterable[int]) -> None:
        for pid in pids:
            try:
                self._roots.append(psutil.Process(pid))
            except psutil.NoSuchProcess:
                continue

    def sample(self, t: float) -> Sample:
        pss: defaultdict[str, int] = defaultdict(int)
        alive = 0
        for proc in self._live():
            cpu = _cpu_seconds(proc)
            if cpu is None:
                continue
            key, what, seconds = cpu
            self._cpu[key] = (what, seconds)
            memory = _pss(proc)
            if memory is not None:
                pss[what] += memory
                alive += 1
        cpu_by_kind: defaultdict[str, float] = defaultdict(float)
        for what, seconds in self._cpu.values():
            cpu_by_kind[what] += seconds
        sample = Sample(
            t, sum(cpu_by_kind.values()), sum(pss.values()), alive, dict(cpu_by_kind), dict(pss)
        )
        self.samples.append(sample)
        return sample

    def _live(self) -> list[psutil.Process]:
        found: dict[int, psutil.Process] = {}
        for root in self._roots:
            with contextlib.suppress(*_GONE):
                if root.is_running():
                    found[root.pid] = root
        if not self._descendants:
            return list(found.values())
        # One pass over /proc for the whole tree (Process.children() makes one per root).
        children = _children_by_parent()
        todo = list(found)
        while todo:
            for child in children.get(todo.pop(), []):
                if child.pid not in found:
                    found[child.pid] = child
                    todo.append(child.pid)
        return list(found.values())


class SystemTracker:
    """The whole box: busy CPU seconds over all cores, and memory in use (as ``pss``)."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.cores = psutil.cpu_count() or 1

    def sample(self, t: float) -> Sample:
        times = psutil.cpu_times()
        # user includes guest time on Linux; idle, iowait and steal are not this box's work.
        busy = times.user + times.nice + times.system + times.irq + times.softirq
        memory = psutil.virtual_memory()
        sample = Sample(t, busy, memory.total - memory.available, 0)
        self.samples.append(sample)
        return sample


def window(samples: Sequence[Sample], start: float, end: float) -> WindowStats:
    """CPU rate between the first and last sample inside [start, end]; memory over them."""
    inside = [s for s in samples if start <= s.t <= end]
    if len(inside) < 2:
        return WindowStats(0.0, 0.0, 0.0, 0.0, 0, 0)
    first, last = inside[0], inside[-1]
    seconds = last.t - first.t
    cpu_s = last.cpu_s - first.cpu_s
    kinds = sorted(set(last.cpu_by_kind) | set(last.pss_by_kind))
    cpu_by_kind = {k: last.cpu_by_kind.get(k, 0.0) - first.cpu_by_kind.get(k, 0.0) for k in kinds}
    return WindowStats(
        seconds=seconds,
        cpu_s=cpu_s,
        cpu_pct=_pct(cpu_s, seconds),
        pss_mean=sum(s.pss for s in inside) / len(inside),
        pss_peak=max(s.pss for s in inside),
        procs_max=max(s.procs for s in inside),
        cpu_pct_by_kind={k: _pct(v, seconds) for k, v in cpu_by_kind.items()},
        pss_mean_by_kind={
            k: sum(s.pss_by_kind.get(k, 0) for s in inside) / len(inside) for k in kinds
        },
    )


def _children_by_parent() -> dict[int, list[psutil.Process]]:
    children: defaultdict[int, list[psutil.Process]] = defaultdict(list)
    for proc in psutil.process_iter(["ppid"]):
        ppid = proc.info["ppid"]
        if ppid is not None:
            children[ppid].append(proc)
    return children


def kind(name: str) -> str:
    """What a process is, from its name: "ffmpeg" (any build), "python", or the name."""
    if "ffmpeg" in name:
        return "ffmpeg"
    if name.startswith("python"):
        return "python"
    return name


def _pct(cpu_s: float, seconds: float) -> float:
    return 100 * cpu_s / seconds if seconds > 0 else 0.0


def _cpu_seconds(proc: psutil.Process) -> tuple[tuple[int, float], str, float] | None:
    """``((pid, start time), kind, CPU seconds)``; the start time tells a reused pid apart."""
    try:
        with proc.oneshot():
            times = proc.cpu_times()
            started = proc.create_time()
            name = proc.name()
    except _GONE:
        return None
    return (proc.pid, started), kind(name), times.user + times.system


def _pss(proc: psutil.Process) -> int | None:
    try:
        return int(proc.memory_full_info().pss)
    except _GONE:
        return None
