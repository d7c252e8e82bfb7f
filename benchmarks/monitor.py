"""CPU and memory per process group (API, worker, PostgreSQL, load generator), sampled with psutil.

A group is named by a function returning its root pids; each sample walks the roots' process trees, so
gunicorn workers that are recycled, or PostgreSQL backends that come and go, are picked up. CPU over a
window is the sum over every process seen of (last CPU time seen - CPU time at the window's start, or 0
for a process born inside the window). A process that exits between two samples loses at most one
interval of CPU. Peak RSS is the largest sum of the group's resident sets in any one sample (PostgreSQL's
shared buffers count once per process that touched them, so its sum overstates real memory).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil  # type: ignore[import-untyped]

SAMPLE_INTERVAL_SECONDS = 0.25
MIB = 1024 * 1024

RootPids = Callable[[], list[int]]
MACHINE = "machine (all processes)"
OTHER = "other processes (noise)"


@dataclass
class GroupUsage:
    cpu_seconds: float
    cpu_percent: float  # of one core: 200% is both cores of a 2-core machine
    peak_rss_mb: float
    peak_process_rss_mb: float
    processes: int

    def as_dict(self) -> dict[str, float]:
        return {
            "cpu_seconds": round(self.cpu_seconds, 2),
            "cpu_percent": round(self.cpu_percent, 1),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "peak_process_rss_mb": round(self.peak_process_rss_mb, 1),
            "processes": self.processes,
        }


@dataclass
class _GroupState:
    baseline: dict[int, float] = field(default_factory=dict)  # cpu seconds at window start (or birth)
    last: dict[int, float] = field(default_factory=dict)
    peak_rss: int = 0
    peak_process_rss: int = 0
    rss_samples: list[tuple[float, int]] = field(default_factory=list)


class ResourceMonitor:
    """Samples in a background thread; ``window()`` brackets the measured interval."""

    def __init__(self, groups: dict[str, RootPids], interval: float = SAMPLE_INTERVAL_SECONDS) -> None:
        self._groups = groups
        self._interval = interval
        self._processes: dict[int, psutil.Process] = {}
        self._states: dict[str, _GroupState] = {}
        self._window_started: float | None = None
        self._machine_at_start: Any = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="resource-monitor", daemon=True)

    def __enter__(self) -> ResourceMonitor:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def start_window(self) -> None:
        with self._lock:
            self._window_started = time.monotonic()
            self._machine_at_start = psutil.cpu_times()
            self._states = {name: _GroupState() for name in self._groups}
            self._sample_locked(at_start=True)

    def stop_window(self) -> dict[str, GroupUsage]:
        with self._lock:
            self._sample_locked(at_start=False)
            started = self._window_started or time.monotonic()
            seconds = max(time.monotonic() - started, 1e-9)
            self._window_started = None
            usage = {name: self._usage(state, seconds) for name, state in self._states.items()}
            return usage | self._machine_usage(usage, seconds)

    def _machine_usage(self, groups: dict[str, GroupUsage], seconds: float) -> dict[str, GroupUsage]:
        """The whole machine's busy CPU, and what of it none of the measured groups used (noise)."""
        if self._machine_at_start is None:
            return {}
        start, end = self._machine_at_start, psutil.cpu_times()
        idle = (end.idle - start.idle) + (getattr(end, "iowait", 0.0) - getattr(start, "iowait", 0.0))
        total = sum(end) - sum(start)
        busy = max(0.0, total - idle)
        ours = sum(use.cpu_seconds for use in groups.values())
        return {
            MACHINE: GroupUsage(busy, 100.0 * busy / seconds, 0.0, 0.0, len(psutil.pids())),
            OTHER: GroupUsage(max(0.0, busy - ours), 100.0 * max(0.0, busy - ours) / seconds, 0.0, 0.0, 0),
        }

    def rss_trace(self, group: str) -> list[tuple[float, int]]:
        """(seconds into the window, group RSS in bytes) at every sample of the last window."""
        with self._lock:
            state = self._states.get(group)
            return [] if state is None else list(state.rss_samples)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                if self._window_started is not None:
                    self._sample_locked(at_start=False)

    def _sample_locked(self, *, at_start: bool) -> None:
        elapsed = 0.0 if self._window_started is None else time.monotonic() - self._window_started
        for name, roots in self._groups.items():
            state = self._states.setdefault(name, _GroupState())
            rss_total = 0
            for process in self._tree(roots):
                sample = _read(process)
                if sample is None:
                    continue
                cpu, rss, created = sample
                if process.pid not in state.baseline:
                    born_inside = not at_start and created > time.time() - elapsed
                    state.baseline[process.pid] = 0.0 if born_inside else cpu
                state.last[process.pid] = cpu
                rss_total += rss
                state.peak_process_rss = max(state.peak_process_rss, rss)
            state.peak_rss = max(state.peak_rss, rss_total)
            state.rss_samples.append((round(elapsed, 2), rss_total))

    def _tree(self, roots: RootPids) -> list[psutil.Process]:
        found = []
        try:
            root_pids = roots()
        except (OSError, psutil.Error):
            return []
        for pid in root_pids:
            root = self._process(pid)
            if root is None:
                continue
            found.append(root)
            try:
                children = root.children(recursive=True)
            except psutil.Error:
                continue
            found.extend(self._processes.setdefault(child.pid, child) for child in children)
        return found

    def _process(self, pid: int) -> psutil.Process | None:
        if pid not in self._processes:
            try:
                self._processes[pid] = psutil.Process(pid)
            except psutil.Error:
                return None
        return self._processes[pid]

    @staticmethod
    def _usage(state: _GroupState, seconds: float) -> GroupUsage:
        cpu = sum(state.last[pid] - state.baseline.get(pid, 0.0) for pid in state.last)
        return GroupUsage(
            cpu_seconds=cpu,
            cpu_percent=100.0 * cpu / seconds,
            peak_rss_mb=state.peak_rss / MIB,
            peak_process_rss_mb=state.peak_process_rss / MIB,
            processes=len(state.last),
        )


def _read(process: psutil.Process) -> tuple[float, int, float] | None:
    try:
        with process.oneshot():
            times = process.cpu_times()
            return times.user + times.system, process.memory_info().rss, process.create_time()
    except psutil.Error:
        return None
