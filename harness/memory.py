"""The server's resident memory over a run: sampled every second, summed over its processes.

Every write makes a new index generation, and while the server swaps it in, both generations are
in memory for a few seconds: resident memory is a sawtooth, its teeth as tall as an index. So
memory counts as flat when its *floor* does not rise: the floor is the lowest sample within
`FLOOR_WINDOW` seconds either side of each sample, and its least-squares line over the run's
second half (the first has the one-time growth of caches, connections and thread stacks) must
rise by less than `FLAT_FRACTION` of the floor at the start of the run. What is judged is each
process's own memory (RssAnon: its heap, where a leak lives) where the samples hold it: the
resident size (VmRSS) also counts the pages of memory-mapped segment files that queries have
touched, which grows toward the index's size on disk as a run reads more of it (an approximate
index keeps its exact vectors mapped) and is page cache the kernel can take back. VmRSS's start,
end and floor are reported beside. Memory that grows
by generation only shows over many of them: with fewer than `MIN_SWAPS` generations swapped in
during the second half, the verdict is "too short to tell", not "flat". The slope of the raw
samples is reported beside it.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

__all__ = [
    "FLAT_FRACTION", "FLOOR_WINDOW", "MIN_SWAPS", "MemorySampler", "floor_of", "memory_kb",
    "processes_of",
]  # fmt: skip

FLAT_FRACTION = 0.05
MIN_SWAPS = 8
FLOOR_WINDOW = 20.0  # seconds either side: longer than a swap's tooth and the gaps between
DEFINITION = (
    f"flat: the floor (the lowest sample within {FLOOR_WINDOW:.0f} s either side) rises by less "
    f"than {FLAT_FRACTION:.0%} of its value at the start of the run along its least-squares line "
    f"over the run's second half, with at least {MIN_SWAPS} new generations served in it"
)


def memory_kb(pid: int, fields: Iterable[str] = ("VmRSS", "VmHWM")) -> dict[str, int]:
    """`fields` of a process and its children, summed, in kB: by default its resident size now
    and at its peak (VmRSS, VmHWM of /proc/PID/status); Pss, Pss_Anon and Pss_File come from
    smaps_rollup (the segments are memory-mapped, so RSS counts page cache that Pss shares out)."""
    out = dict.fromkeys(fields, 0)
    files = ("status", "smaps_rollup") if any(f.startswith("Pss") for f in out) else ("status",)
    for process in map(str, processes_of(pid)):
        for name in files:
            for line in Path(f"/proc/{process}/{name}").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in out:
                    out[key] += int(value.split()[0])
    return out


def processes_of(pid: int) -> list[int]:
    """The process and its children (a server's workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *map(int, children)]


def floor_of(times: np.ndarray, values: np.ndarray, window: float = FLOOR_WINDOW) -> np.ndarray:
    """Each value's floor: the lowest value within `window` seconds either side of it."""
    return np.asarray([values[np.abs(times - t) <= window].min() for t in times])


def _growth(times: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """Least-squares slope in MB/min, and the rise along it over the span of `times`, in MB."""
    if len(times) < 2 or np.ptp(times) == 0:
        return 0.0, 0.0
    slope = float(np.polyfit(times / 60, values, 1)[0])
    return slope, slope * float(np.ptp(times)) / 60


class MemorySampler(threading.Thread):
    """Samples (monotonic time, kB of `fields` of a process and its children) every `every`
    seconds; the verdict (`figures`) reads RssAnon where the samples hold it, else VmRSS."""

    def __init__(
        self, pid: int, every: float = 1.0, *, fields: tuple[str, ...] = ("VmRSS", "RssAnon")
    ) -> None:
        super().__init__(name="memory-sampler", daemon=True)
        self.pid = pid
        self.every = every
        self.fields = fields
        self.samples: list[tuple[float, dict[str, int]]] = []
        self.failures: list[str] = []
        self.began = time.monotonic()
        self._halt = threading.Event()

    def mark(self) -> None:
        """The run starts now: samples before were the warm-up."""
        self.began = time.monotonic()

    def sample(self) -> None:
        """Take one sample now."""
        try:
            kb = memory_kb(self.pid, self.fields)
        except (OSError, ValueError) as exc:  # a process went away between listing and reading
            self.failures.append(f"{exc.__class__.__name__}: {exc}")
            return
        self.samples.append((time.monotonic(), kb))

    def run(self) -> None:
        self.sample()
        while not self._halt.wait(self.every):
            self.sample()

    def stop(self) -> None:
        """Stop sampling (one last sample first)."""
        self._halt.set()
        self.join()
        self.sample()

    def window(self, began: float, ended: float) -> dict:
        """Median and max (MB) of each field over the samples from `began` to `ended`."""
        picked = [kb for t, kb in self.samples if began <= t <= ended]
        out: dict = {"samples": len(picked), "seconds": ended - began}
        for key in self.fields:
            values = [kb[key] / 1024 for kb in picked]
            if values:
                out[key] = {"median": statistics.median(values), "max": max(values)}
        return out

    def figures(self, seconds: float, swaps: list[float]) -> dict:
        """Start, end, peak and floor of the run, second-half slopes, and whether it is flat
        (None: too few generations `swaps` (monotonic times) in the second half to tell)."""
        judged = "RssAnon" if self.samples and "RssAnon" in self.samples[0][1] else "VmRSS"
        series = np.asarray([(t - self.began, kb[judged] / 1024) for t, kb in self.samples])
        series = series.reshape(-1, 2)
        run = series[series[:, 0] >= 0]
        if len(run) < 3:
            return {"samples": len(run), "flat": False, "definition": "too few samples"}
        times, values = run.T
        resident = np.asarray([kb["VmRSS"] / 1024 for t, kb in self.samples if t >= self.began])
        held = floor_of(times, resident)
        floor = floor_of(times, values)
        half = times >= seconds / 2
        slope, growth = _growth(times[half], values[half])
        floor_slope, floor_growth = _growth(times[half], floor[half])
        start = float(values[0])
        late = sum(self.began + seconds / 2 <= t <= self.began + seconds for t in swaps)
        return {
            "samples": len(run),
            "judged": judged,
            "resident_mb": {
                "start": float(resident[0]),
                "end": float(resident[-1]),
                "floor_start": float(held[0]),
                "floor_end": float(held[-1]),
            },
            "start_mb": start,
            "end_mb": float(values[-1]),
            "peak_mb": float(values.max()),
            "floor_start_mb": float(floor[0]),
            "floor_end_mb": float(floor[-1]),
            "slope_mb_per_min": slope,
            "second_half_growth_mb": growth,
            "floor_slope_mb_per_min": floor_slope,
            "floor_second_half_growth_mb": floor_growth,
            "swaps_second_half": late,
            "flat": bool(floor_growth < FLAT_FRACTION * floor[0]) if late >= MIN_SWAPS else None,
            "definition": DEFINITION,
            "series": [(round(float(t), 1), round(float(m), 1)) for t, m in series],
            "sampling_failures": self.failures[:5],
        }
