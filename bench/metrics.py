"""What `GET /metrics` costs a query: the app in process with metrics on and off, same run.

Two apps on one index (stand-in encoder), one with POLICY_SEARCH_METRICS on, one off; each
query of a round is asked of both, which first alternating, so a noisy machine weighs on both
alike. Prints each app's p50 and p90 over every query (GET /search, hybrid, k = 10, through
Starlette's TestClient: the whole app, routing and JSON included, no socket), the ratio of the
p50s, the median of each query's difference (its two timings taken back to back), and what
the metrics themselves do per request (the middleware's counters, the search counter) in
microseconds, in one process and in prometheus_client's multiprocess mode (files, as under
`serve --workers`).

    .venv/bin/python -m bench.metrics [INDEX_DIR ...]

Without INDEX_DIR (`make bench-metrics`): a copy of the UN index `make bench-writes` builds with
the stand-in (var/bench/writes/un-11500, 197,185 passages; left out if absent), and the demo
corpus indexed with the stand-in in a temporary folder (1,600 passages: a query of a millisecond
or so, where a fixed cost shows most).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from harness.embedders import StandInEmbedder
from harness.latency import percentiles
from harness.query_list import make_queries
from policy_search.api.app import create_app
from policy_search.api.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
UN = ROOT / "var/bench/writes/un-11500"  # made by `make bench-writes`; never written here
UN_COPY = ROOT / "var/bench/metrics/un"
MICRO_ROUNDS = 20_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dirs", type=Path, nargs="*")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--queries", type=int, default=100, help="distinct queries a round")
    parser.add_argument("--micro", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.micro:  # in a child process whose environment chose the value class
        print(f"{_micro_us():.2f}")
        return
    with tempfile.TemporaryDirectory() as scratch:
        dirs = args.index_dirs or [*_un_copy(), _demo_index(Path(scratch))]
        for index_dir in dirs:
            _compare(index_dir, args.rounds, args.queries)
    print("\nThe metrics' own work per request (middleware counters and histogram, the search "
          "counter):")  # fmt: skip
    print(f"  one process:        {_micro_child(None):.2f} µs")
    with tempfile.TemporaryDirectory() as files:
        print(f"  multiprocess mode:  {_micro_child(files):.2f} µs")


def _un_copy() -> list[Path]:
    """The stand-in UN index, copied once (a reader may write the catalog's log)."""
    from harness.indexes import copy_index

    if not UN_COPY.is_dir() and UN.is_dir():
        copy_index(UN, UN_COPY)
    return [UN_COPY] if UN_COPY.is_dir() else []


def _demo_index(scratch: Path) -> Path:
    """The demo corpus (some 1,600 passages) indexed with the stand-in: queries of ~1 ms."""
    from policy_search.index.build import build_index
    from policy_search.index.readers import read_paths

    index_dir = scratch / "demo"
    build_index(read_paths([ROOT / "corpus"]), index_dir, StandInEmbedder())
    return index_dir


def _compare(index_dir: Path, rounds: int, per_round: int) -> None:
    """Each query asked of both apps, alternating which first; p50 and p90 of each."""
    queries = make_queries(index_dir, rounds * per_round + 20)
    apps = {
        on: create_app(Settings(index_dir=index_dir, metrics=on), embedder=StandInEmbedder())
        for on in (True, False)
    }
    times: dict[bool, list[float]] = {True: [], False: []}
    with TestClient(apps[True]) as with_metrics, TestClient(apps[False]) as without:
        clients = {True: with_metrics, False: without}
        for q in queries[:20]:  # warm both up
            for client in clients.values():
                client.get("/search", params={"q": q})
        for i, q in enumerate(queries[20:]):
            for on in (True, False) if i % 2 else (False, True):
                began = time.perf_counter()
                response = clients[on].get("/search", params={"q": q, "k": 10})
                times[on].append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200, response.text
    on, off = percentiles(times[True]), percentiles(times[False])
    print(f"\n{index_dir} ({len(times[True])} queries each, hybrid, k = 10, in process):")
    print(f"  metrics off: p50 {off['p50']:.2f} ms, p90 {off['p90']:.2f} ms")
    print(f"  metrics on:  p50 {on['p50']:.2f} ms, p90 {on['p90']:.2f} ms")
    print(f"  on / off:    p50 {on['p50'] / off['p50']:.3f}×, p90 {on['p90'] / off['p90']:.3f}×")
    # Each query's two timings were taken back to back: their difference drifts less with the
    # machine's load than either percentile does.
    paired = statistics.median(a - b for a, b in zip(times[True], times[False], strict=True))
    print(f"  median of each query's (on − off): {paired * 1000:+.0f} µs "
          f"({paired / off['p50']:+.2%} of the p50 off)")  # fmt: skip


def _micro_child(files: str | None) -> float:
    """`_micro_us` in a fresh process: prometheus_client picks its value class on import."""
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    if files is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = files
    command = [sys.executable, "-m", "bench.metrics", "--micro"]
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _micro_us() -> float:
    """Microseconds of what the metrics do for one search request, best of five runs."""
    from policy_search.api import metrics

    labels = ("/search", "GET", "200")
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(MICRO_ROUNDS):
            metrics.IN_PROGRESS.inc()
            start = time.perf_counter()
            metrics.count_search("hybrid")
            metrics.IN_PROGRESS.dec()
            metrics.LATENCY.labels(*labels).observe(time.perf_counter() - start)
            metrics.REQUESTS.labels(*labels).inc()
        best = min(best, (time.perf_counter() - began) / MICRO_ROUNDS * 1e6)
    return best


if __name__ == "__main__":
    main()
