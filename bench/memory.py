"""The server's resident memory over a run: sampled every second, summed over its processes.

Flat, as `bench.soak` means it: the least-squares line through the samples of the run's second
half (the first half has the one-time growth of caches, connections and thread stacks) rises by
less than `FLAT_FRACTION` of the resident size at the start of the run.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from bench.queries import memory_kb

__all__ = ["FLAT_FRACTION", "MemorySampler", "processes_of"]

FLAT_FRACTION = 0.05


def processes_of(pid: int) -> list[int]:
    """The process and its children (a server's workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *map(int, children)]


class MemorySampler(threading.Thread):
    """Samples (seconds since `mark()`, resident MB of the process and its children)."""

    def __init__(self, pid: int, every: float = 1.0) -> None:
        super().__init__(name="memory-sampler", daemon=True)
        self.pid = pid
        self.every = every
        self.samples: list[tuple[float, float]] = []
        self.failures: list[str] = []
        self._origin = time.monotonic()
        self._halt = threading.Event()

    def mark(self) -> None:
        """Start the run's clock: samples before this have negative times (the warm-up)."""
        self._origin = time.monotonic()

    def sample(self) -> float:
        """Take one sample now; return it in MB."""
        try:
            mb = memory_kb(self.pid)["VmRSS"] / 1024
        except (OSError, ValueError) as exc:  # a process went away between listing and reading
            self.failures.append(f"{exc.__class__.__name__}: {exc}")
            return float("nan")
        self.samples.append((time.monotonic() - self._origin, mb))
        return mb

    def run(self) -> None:
        while not self._halt.wait(self.every):
            self.sample()

    def stop(self) -> None:
        """Stop sampling (one last sample first)."""
        self.sample()
        self._halt.set()
        self.join()

    def figures(self, seconds: float) -> dict:
        """Start, end, peak of the run (t ≥ 0), the second half's slope, and whether it is flat."""
        run = [(t, mb) for t, mb in self.samples if t >= 0]
        if len(run) < 3:
            return {"samples": len(run), "flat": False, "why": "too few samples"}
        start, end = run[0][1], run[-1][1]
        half = [(t, mb) for t, mb in run if t >= seconds / 2] or run[-2:]
        t, mb = np.asarray(half).T
        slope = float(np.polyfit(t / 60, mb, 1)[0]) if np.ptp(t) > 0 else 0.0
        growth = slope * (float(np.ptp(t)) / 60)
        return {
            "samples": len(run),
            "start_mb": start,
            "end_mb": end,
            "peak_mb": max(m for _, m in run),
            "min_mb": min(m for _, m in run),
            "slope_mb_per_min": slope,
            "second_half_growth_mb": growth,
            "flat": bool(growth < FLAT_FRACTION * start),
            "definition": f"flat: the least-squares line over the run's second half rises by less "
            f"than {FLAT_FRACTION:.0%} of the resident size at the start",
            "series": [(round(t, 1), round(m, 1)) for t, m in self.samples],
            "sampling_failures": self.failures[:5],
        }
