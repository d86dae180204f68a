"""A bounded, closed-loop HTTP load generator: N clients, each with one keep-alive connection.

    .venv/bin/python -m bench.load URL --clients 8 --seconds 10 --queries queries.txt

Each client sends a GET /search, waits for the answer, and sends the next, cycling through the
queries (client i starts at query i, so concurrent clients ask different things). Runs in its own
process so its CPU time is not the server's; prints one JSON object: requests, errors (non-200
or failed connections), queries/s, latency percentiles in ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
import urllib.parse
from pathlib import Path

import numpy as np

__all__ = ["percentiles", "run"]


def percentiles(latencies_ms: list[float]) -> dict[str, float]:
    """p50, p95, p99 and max of a list of latencies, in ms (0 for none)."""
    if not latencies_ms:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    values = np.asarray(latencies_ms)
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {"p50": p50, "p95": p95, "p99": p99, "max": float(values.max())}


def _client(
    url: urllib.parse.SplitResult,
    paths: list[str],
    start: int,
    deadline: float,
    latencies: list[float],
    errors: list[str],
) -> None:
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    i = start
    while time.perf_counter() < deadline:
        path = paths[i % len(paths)]
        i += 1
        began = time.perf_counter()
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            errors.append(f"{exc.__class__.__name__}: {exc}")
            conn.close()
            conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
            continue
        if response.status != 200:
            errors.append(f"HTTP {response.status} for {path}")
        else:
            latencies.append((time.perf_counter() - began) * 1000)
    conn.close()


def run(base_url: str, queries: list[str], *, clients: int, seconds: float) -> dict[str, float]:
    """Load `base_url` with `clients` concurrent clients for `seconds`; return the figures."""
    url = urllib.parse.urlsplit(base_url)
    paths = ["/search?" + urllib.parse.urlencode({"q": q}) for q in queries]
    latencies: list[float] = []  # list.append is atomic under the GIL
    errors: list[str] = []
    began = time.perf_counter()
    deadline = began + seconds
    step = max(1, len(paths) // clients)
    threads = [
        threading.Thread(target=_client, args=(url, paths, n * step, deadline, latencies, errors))
        for n in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return {
        "clients": clients,
        "requests": len(latencies) + len(errors),
        "errors": len(errors),
        "first_errors": errors[:3],
        "qps": len(latencies) / elapsed,
        **percentiles(latencies),
    }


def main() -> None:
    """Print the figures of one run as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--queries", type=Path, required=True, help="One query a line.")
    args = parser.parse_args()
    queries = [q for q in args.queries.read_text(encoding="utf-8").splitlines() if q.strip()]
    print(json.dumps(run(args.url, queries, clients=args.clients, seconds=args.seconds)))


if __name__ == "__main__":
    main()
