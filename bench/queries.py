"""Query latency over HTTP at 1, 8 and 32 clients, in-process latency, memory and disk.

    .venv/bin/python -m bench.queries [INDEX_DIR] [--clients 1,8,32] [--seconds 15]

Against an existing index (default var/bench/un, the whole UN General Debate corpus; `make
bench-queries` builds it once). The queries are distinct (2–4 consecutive words from random
passages of the index, seeded, plus a few questions), so no cache flatters the figures. Starts
`policy-search serve` on a free loopback port with the backend the index was built with; the load
comes from `harness.load` in a separate process. Prints, per client count, requests, errors,
queries/s and p50/p95/p99; `Searcher.search` in this process on the same queries (the HTTP
overhead is the difference); the server's resident memory; bytes on disk per passage.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from harness.indexes import backend_of, index_manifest
from harness.latency import percentiles, search_latencies
from harness.memory import memory_kb
from harness.query_list import make_queries
from harness.server import running_server
from policy_search.index.analysis.embed import load_embedder
from policy_search.search.searcher import Searcher


def in_process(index_dir: Path, backend: str, queries: list[str]) -> dict[str, float]:
    """Latency of `Searcher.search` (k=10, hybrid) and of the query embedding alone."""
    embedder = load_embedder(backend=backend)
    searcher = Searcher.load(index_dir, embedder)
    figures = search_latencies(searcher, queries, warm=20)
    encode_ms = []
    for q in queries:
        began = time.perf_counter()
        embedder.encode([q])
        encode_ms.append((time.perf_counter() - began) * 1000)
    figures["encode_p50"] = percentiles(encode_ms)["p50"]
    return figures


def disk(index_dir: Path, passages: int) -> dict[str, float]:
    """Bytes per passage on disk, in all and by part (a top-level entry of the index directory;
    inside a folder of folders, such as the segments, by the name within each)."""
    parts: dict[str, float] = {}
    for path in index_dir.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            names = path.relative_to(index_dir).parts
            part = names[0] if len(names) < 3 else f"{names[0]}/*/{names[2]}"
            parts[part] = parts.get(part, 0) + path.stat().st_size
    return {"total": sum(parts.values()) / passages} | {
        k: v / passages for k, v in sorted(parts.items())
    }


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir", nargs="?", type=Path, default=Path("var/bench/un"))
    parser.add_argument("--clients", default="1,8,32")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--queries", type=int, default=3000)
    parser.add_argument("--in-process", type=int, default=300, help="Queries timed in-process.")
    args = parser.parse_args()
    manifest = index_manifest(args.index_dir)
    backend = backend_of(manifest.model_id)
    queries = make_queries(args.index_dir, args.queries)
    print(f"index {args.index_dir}: {manifest.articles} articles, {manifest.passages} "
          f"passages, {manifest.faiss_index}, model {manifest.model_id}; "
          f"built in {manifest.build_seconds:.0f} s")  # fmt: skip
    own = in_process(args.index_dir, backend, queries[: args.in_process])
    print(f"in-process Searcher.search (1 thread, {args.in_process} queries): p50 "
          f"{own['p50']:.1f}  p95 {own['p95']:.1f}  p99 {own['p99']:.1f} ms; "
          f"of which query embedding p50 {own['encode_p50']:.1f} ms")  # fmt: skip
    env = {"POLICY_SEARCH_BACKEND": backend}
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as file:
        file.write("\n".join(queries))
        file.flush()
        with running_server(args.index_dir, env=env) as server:
            for q in queries[-20:]:  # warm up on queries the runs reach last, if at all
                httpx.get(f"{server.url}/search", params={"q": q}, timeout=60)
            print(
                f"server resident after start: {memory_kb(server.proc.pid)['VmRSS'] / 1024:.0f} MB"
            )
            print(f"{'clients':>7} {'requests':>8} {'errors':>6} {'q/s':>7} {'p50':>7} {'p95':>7} "
                  f"{'p99':>7} {'max':>7}  (ms)")  # fmt: skip
            rows = []
            for clients in [int(c) for c in args.clients.split(",")]:
                load = [sys.executable, "-m", "harness.load", server.url, "--clients", str(clients),
                        "--seconds", str(args.seconds), "--queries", file.name]  # fmt: skip
                result = json.loads(subprocess.run(load, capture_output=True, check=True).stdout)
                rows.append(result)
                print(f"{clients:>7} {result['requests']:>8} {result['errors']:>6} "
                      f"{result['qps']:>7.1f} {result['p50']:>7.1f} {result['p95']:>7.1f} "
                      f"{result['p99']:>7.1f} {result['max']:>7.1f}")  # fmt: skip
                for error in result["first_errors"]:
                    print(f"        error: {error}")
            memory = memory_kb(server.proc.pid)
    print(f"server resident after the runs: {memory['VmRSS'] / 1024:.0f} MB "
          f"(peak {memory['VmHWM'] / 1024:.0f} MB), "
          f"{memory['VmRSS'] * 1024 / manifest.passages:.0f} bytes per passage")  # fmt: skip
    if rows:
        print(f"HTTP overhead at 1 client (p50 HTTP - p50 in-process): "
              f"{rows[0]['p50'] - own['p50']:.1f} ms")  # fmt: skip
    parts = disk(args.index_dir, manifest.passages)
    print("bytes on disk per passage: " + ", ".join(f"{k} {v:.0f}" for k, v in parts.items()))


if __name__ == "__main__":
    main()
