"""Two closed-loop load generators over one list of mixed requests (`harness.mix`).

`run_wrk` drives Debian's wrk (C, its own process, `harness/mixed.lua`): the real load proof.
`harness.load.run_threads` is the same traffic from Python threads, one keep-alive connection each:
for tests, where wrk may be absent. Both return the same figures: requests, duration, answers
that were not 2xx, socket errors (connect, read, write, timeout), latency percentiles in ms, and
a few samples of the errors (`harness.load.errors_of` counts the failures).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

__all__ = ["LUA", "run_wrk"]

LUA = Path(__file__).resolve().parent / "mixed.lua"


def run_wrk(
    base_url: str,
    requests_file: Path,
    *,
    connections: int,
    threads: int = 2,
    seconds: float,
    timeout: float = 10.0,
) -> dict:
    """Load `base_url` with wrk cycling through `requests_file` (one request a line)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed: apt-get install -y --no-install-recommends wrk")
    command = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{round(seconds)}s",
               "--timeout", f"{round(timeout)}s", "-s", str(LUA), base_url,
               "--", str(requests_file), str(threads)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    if done.returncode != 0 or "WRK_JSON " not in done.stdout:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    samples, raw = [], {}
    for line in done.stdout.splitlines():
        if line.startswith("WRK_SAMPLE\t"):
            _, status, body = line.split("\t", 2)
            samples.append(f"HTTP {status}: {body}")
        elif line.startswith("WRK_JSON "):
            raw = json.loads(line.removeprefix("WRK_JSON "))
    return {
        "generator": "wrk",
        "requests": raw["requests"],
        "seconds": raw["duration_us"] / 1e6,
        "non2xx": raw["non2xx"],
        "socket_errors": {k: raw[k] for k in ("connect", "read", "write", "timeout")},
        "latency_ms": {k: raw[f"{k}_us"] / 1000 for k in ("p50", "p90", "p99", "max")},
        "error_samples": samples,
    }
