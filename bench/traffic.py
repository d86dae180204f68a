"""Two closed-loop load generators over one list of mixed requests (`bench.mix`).

`run_wrk` drives Debian's wrk (C, its own process, `bench/mixed.lua`): the real load proof.
`run_threads` is the same traffic from Python threads, one keep-alive connection each: for tests,
where wrk may be absent. Both return the same figures: requests, duration, answers that were not
2xx, socket errors (connect, read, write, timeout), latency percentiles in ms, and a few samples
of the errors.
"""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

import numpy as np

from bench.mix import Request

__all__ = ["LUA", "errors_of", "run_threads", "run_wrk"]

LUA = Path(__file__).resolve().parent / "mixed.lua"


def errors_of(figures: dict) -> int:
    """Every failed request in a generator's figures: not 2xx, or a socket error."""
    return int(figures["non2xx"]) + sum(int(v) for v in figures["socket_errors"].values())


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


class _Tally:
    """What the client threads record (list.append and += under a lock are thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.non2xx = 0
        self.socket = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
        self.samples: list[str] = []

    def failed(self, kind: str, sample: str) -> None:
        with self.lock:
            if kind == "status":
                self.non2xx += 1
            else:
                self.socket[kind] += 1
            if len(self.samples) < 5:
                self.samples.append(sample)


def _client(
    url: urllib.parse.SplitResult,
    requests: list[Request],
    start: int,
    deadline: float,
    timeout: float,
    tally: _Tally,
) -> None:
    def connect() -> http.client.HTTPConnection:
        return http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)

    conn, i = connect(), start
    while time.perf_counter() < deadline:
        request = requests[i % len(requests)]
        i += 1
        headers = {"Content-Type": "application/json"} if request.body else {}
        began = time.perf_counter()
        try:
            conn.request(request.method, request.path, request.body or None, headers)
            response = conn.getresponse()
            body = response.read()
        except TimeoutError as exc:
            tally.failed("timeout", f"{request.path}: {exc}")
            conn.close()
            conn = connect()
            continue
        except (OSError, http.client.HTTPException) as exc:
            tally.failed("read", f"{request.path}: {exc.__class__.__name__}: {exc}")
            conn.close()
            conn = connect()
            continue
        tally.latencies.append((time.perf_counter() - began) * 1000)
        if not 200 <= response.status < 300:
            tally.failed("status", f"HTTP {response.status} {request.path}: {body[:300]!r}")
    conn.close()


def run_threads(
    base_url: str,
    requests: list[Request],
    *,
    connections: int,
    seconds: float,
    timeout: float = 10.0,
) -> dict:
    """Load `base_url` from `connections` threads cycling through `requests`."""
    url = urllib.parse.urlsplit(base_url)
    tally = _Tally()
    began = time.perf_counter()
    deadline = began + seconds
    step = max(1, len(requests) // connections)
    clients = [
        threading.Thread(
            target=_client, args=(url, requests, n * step, deadline, timeout, tally), daemon=True
        )
        for n in range(connections)
    ]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    values = np.asarray(tally.latencies or [0.0])
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {
        "generator": "threads",
        "requests": len(tally.latencies) + sum(tally.socket.values()),
        "seconds": time.perf_counter() - began,
        "non2xx": tally.non2xx,
        "socket_errors": tally.socket,
        "latency_ms": {
            "p50": float(p50),
            "p90": float(p90),
            "p99": float(p99),
            "max": float(values.max()),
        },
        "error_samples": tally.samples,
    }
