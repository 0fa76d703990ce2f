"""CPU time and memory of process trees (and of the whole box), sampled with psutil.

CPU time is user + system from ``/proc/PID/stat``, summed over every process ever seen in a
tree; a process that exits keeps its last sampled value (the ``children_*`` times of its
parent would count it only once reaped, so they are left out to avoid counting it twice).
Memory is PSS (``/proc/PID/smaps_rollup``): shared pages, such as the ffmpeg binary's code,
are split between the processes that map them, so the sum over a tree is what the tree costs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psutil

_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)


@dataclass(frozen=True, slots=True)
class Sample:
    t: float  # time.monotonic()
    cpu_s: float  # cumulative CPU seconds (user + system)
    pss: int  # bytes, over the processes alive at ``t``
    procs: int  # processes alive at ``t``


@dataclass(frozen=True, slots=True)
class WindowStats:
    """One tracker's figures over a time window."""

    seconds: float  # between the first and last sample inside the window
    cpu_s: float
    cpu_pct: float  # of one core
    pss_mean: float
    pss_peak: int
    procs_max: int


class TreeTracker:
    """Processes started from some root pids, with all their descendants."""

    def __init__(self, name: str, roots: Iterable[int] = ()) -> None:
        self.name = name
        self.samples: list[Sample] = []
        self._roots: list[psutil.Process] = []
        self._cpu: dict[tuple[int, float], float] = {}  # (pid, start time): last CPU seconds
        self.add_roots(roots)

    def add_roots(self, pids: Iterable[int]) -> None:
        for pid in pids:
            try:
                self._roots.append(psutil.Process(pid))
            except psutil.NoSuchProcess:
                continue

    def sample(self, t: float) -> Sample:
        pss = 0
        alive = 0
        for proc in self._live():
            cpu = _cpu_seconds(proc)
            if cpu is None:
                continue
            self._cpu[(proc.pid, proc.create_time())] = cpu
            memory = _pss(proc)
            if memory is not None:
                pss += memory
                alive += 1
        sample = Sample(t, sum(self._cpu.values()), pss, alive)
        self.samples.append(sample)
        return sample

    def _live(self) -> list[psutil.Process]:
        found: dict[int, psutil.Process] = {}
        for root in self._roots:
            try:
                if not root.is_running():
                    continue
                found.setdefault(root.pid, root)
                for child in root.children(recursive=True):
                    found.setdefault(child.pid, child)
            except _GONE:
                continue
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
    return WindowStats(
        seconds=seconds,
        cpu_s=cpu_s,
        cpu_pct=100 * cpu_s / seconds if seconds > 0 else 0.0,
        pss_mean=sum(s.pss for s in inside) / len(inside),
        pss_peak=max(s.pss for s in inside),
        procs_max=max(s.procs for s in inside),
    )


def _cpu_seconds(proc: psutil.Process) -> float | None:
    try:
        times = proc.cpu_times()
    except _GONE:
        return None
    return times.user + times.system


def _pss(proc: psutil.Process) -> int | None:
    try:
        return int(proc.memory_full_info().pss)
    except _GONE:
        return None
