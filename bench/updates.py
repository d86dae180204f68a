"""Live updates on a real index: the time to add one article, and search latency meanwhile.

Needs an index of the presidential speeches (built once, reused):

    .venv/bin/policy-search index --index-dir var/bench/presidential \\
        ../shared/data/policy/us-presidential-speeches/articles.jsonl.gz
    .venv/bin/python -m bench.updates [INDEX_DIR]

Works on a copy of the index. Starts `policy-search serve` on a free loopback port, measures
search latency over HTTP from this process for a few seconds with no write, then while
`policy-search add` (another process) adds one article; prints both, and their ratio.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from harness.indexes import copy_index
from harness.server import running_server
from policy_search.index.storage.store import exists

QUERIES = [
    "economic recovery and jobs", "nuclear weapons treaty", "civil rights legislation",
    "tariffs on imported goods", "war in Vietnam", "health care reform", "Middle Corridor",
]  # fmt: skip
ARTICLE = """---
id: bench-added-article
title: A note on the Middle Corridor
source: Benchmark
---
The Middle Corridor is a trade route from China to Europe across Kazakhstan, the Caspian Sea,
Azerbaijan and Georgia. It avoids Russia, and its capacity has grown since 2022.
"""


def _latencies(base: str, stop: threading.Event, out: list[float]) -> None:
    with httpx.Client(base_url=base, timeout=60) as client:
        i = 0
        while not stop.is_set():
            started = time.perf_counter()
            response = client.get("/search", params={"q": QUERIES[i % len(QUERIES)]})
            response.raise_for_status()
            out.append((time.perf_counter() - started) * 1000)
            i += 1


def _window(base: str, action) -> tuple[list[float], float]:  # type: ignore[no-untyped-def]
    stop, out = threading.Event(), []
    reader = threading.Thread(target=_latencies, args=(base, stop, out))
    reader.start()
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    stop.set()
    reader.join()
    return out, seconds


def _summary(name: str, values: list[float]) -> str:
    values = sorted(values)
    p95 = values[int(0.95 * (len(values) - 1))]
    return (f"{name:<22} n={len(values):>4}  p50 {statistics.median(values):6.1f} ms  "
            f"p95 {p95:6.1f} ms  max {values[-1]:6.1f} ms")  # fmt: skip


def main() -> None:
    """Print the figures."""
    source = Path(sys.argv[1] if len(sys.argv) > 1 else "var/bench/presidential")
    if not exists(source):
        sys.exit(f"no index at {source}; build it first (see this script's docstring)")
    work = Path(tempfile.mkdtemp(prefix="bench-updates-"))
    try:
        index_dir = copy_index(source, work / "index")
        article = work / "article.md"
        article.write_text(ARTICLE)
        add = [
            sys.executable,
            "-m",
            "policy_search",
            "add",
            str(article),
            "--index-dir",
            str(index_dir),
        ]
        with running_server(index_dir) as server:
            for q in QUERIES:  # warm up
                httpx.get(f"{server.url}/search", params={"q": q}, timeout=60)
            idle, _ = _window(server.url, lambda: time.sleep(5))
            result: list[str] = []

            def run_add() -> None:
                done = subprocess.run(add, capture_output=True, text=True, check=True)
                result.append(done.stdout)

            during, seconds = _window(server.url, run_add)
            health = httpx.get(f"{server.url}/health", timeout=60).json()
        print(f"index: {health['articles']} articles, {health['passages']} passages")
        print(f"policy-search add of one article (a new process, model load included): "
              f"{seconds:.1f} s -> {result[0].strip()}")  # fmt: skip
        print(_summary("search, no write", idle))
        print(_summary("search, during the add", during))
        print(f"p50 during / p50 idle: {statistics.median(during) / statistics.median(idle):.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
