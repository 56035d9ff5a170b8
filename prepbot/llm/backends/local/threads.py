"""How many threads llama.cpp gets, and how its OpenMP workers wait.

On a small machine the model's threads compete with whatever else is running: a thread on a core another
process keeps busy slows every other thread down (they wait for each other at each step), so the model gets
the cores nobody else is using. Busy is measured from /proc/stat over a short window: the load average of an
idle VM often reads 1.0 (threads waiting on I/O count), which would halve an idle 2-core machine.
"""

from __future__ import annotations

import os
import time

from prepbot.config import Settings


def use_passive_openmp() -> None:
    """Make llama.cpp's OpenMP workers sleep while waiting instead of spinning (their default), which steals
    the cores another busy process needs. OpenMP reads it when the library loads: call before importing
    llama_cpp."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def choose_threads(settings: Settings) -> int:
    """``settings.threads``, or the cores nobody else is using (at least 1)."""
    if settings.threads:
        return settings.threads
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    busy = busy_cores(cores)
    return max(1, min(cores, round(cores - busy)))


def busy_cores(cores: int, window_s: float = 0.25) -> float:
    """How many cores other processes keep busy: /proc/stat sampled over ``window_s``, else the load average."""

    def sample() -> tuple[int, int] | None:
        try:
            with open("/proc/stat") as stat:
                fields = [int(value) for value in stat.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields[:8]), idle

    first = sample()
    if first is not None:
        time.sleep(window_s)
        second = sample()
        if second is not None and second[0] > first[0]:
            total, idle = second[0] - first[0], second[1] - first[1]
            return cores * (1 - idle / total)
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
