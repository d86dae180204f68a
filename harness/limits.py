"""The largest query the API takes, timed against the everyday one, on the UN-corpus index.

    .venv/bin/python -m harness.limits var/bench/un          # part of `make load`

A search may ask for k=100 passages with a 1,000-character query (the API's limits). Such a query
is a paragraph: ~150 words for BM25 to walk the postings of, and a model input cut at 256 tokens.
This times it, one query at a time, in process and over HTTP (`policy-search serve`), beside
short k=10 queries from the same run, and checks the big one's p99 against BUDGET_MS. Exits 1
over budget.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import httpx

from harness.indexes import backend_of, index_manifest
from harness.latency import percentiles, search_latencies
from harness.query_list import make_queries
from harness.server import running_server
from harness.writer import source_texts
from policy_search.index.analysis.embed import load_embedder
from policy_search.search.searcher import MAX_K, MAX_QUERY_CHARS, Searcher

__all__ = ["BUDGET_MS", "long_queries", "main"]

#: The most a k=100, 1,000-character query may take at p99, one at a time on 2 cores (~65 ms idle).
BUDGET_MS = 250.0


def long_queries(index_dir: Path, n: int, seed: int = 29) -> list[str]:
    """`n` queries of exactly MAX_QUERY_CHARS: stretches of real articles (`harness.writer`'s)."""
    stretches = (" ".join(text.split()) for _, text, _ in source_texts(index_dir, 3 * n, seed=seed))
    return [s[:MAX_QUERY_CHARS] for s in stretches if len(s) >= MAX_QUERY_CHARS][:n]


def _http(url: str, queries: list[str], k: int) -> dict[str, float]:
    out = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for q in queries[:5]:
            client.get("/search", params={"q": q, "k": k}).raise_for_status()
        for q in queries:
            began = time.perf_counter()
            client.get("/search", params={"q": q, "k": k}).raise_for_status()
            out.append((time.perf_counter() - began) * 1000)
    return percentiles(out)


def main(argv: list[str] | None = None) -> int:
    """Time both kinds of query both ways; print, save var/bench/limits.json; 1 if over budget."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("-n", type=int, default=100, help="Queries of each kind.")
    args = parser.parse_args(argv)
    manifest = index_manifest(args.index_dir)
    short, big = make_queries(args.index_dir, args.n), long_queries(args.index_dir, args.n)
    assert all(len(q) == MAX_QUERY_CHARS for q in big), "queries shorter than the limit"

    searcher = Searcher.load(args.index_dir, load_embedder(backend=backend_of(manifest.model_id)))
    rows = {
        "in-process short k=10": search_latencies(searcher, short, k=10),
        f"in-process 1,000 chars k={MAX_K}": search_latencies(searcher, big, k=MAX_K),
    }
    with running_server(args.index_dir) as server:
        rows["HTTP short k=10"] = _http(server.url, short, 10)
        rows[f"HTTP 1,000 chars k={MAX_K}"] = _http(server.url, big, MAX_K)

    print(f"{manifest.passages:,} passages; {args.n} queries of each kind, one at a time")
    print(f"{'':<30} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, f in rows.items():
        print(f"{name:<30} {f['p50']:>8.1f} {f['p99']:>8.1f} {f['max']:>8.1f}")
    worst = max(rows[f"in-process 1,000 chars k={MAX_K}"]["p99"],
                rows[f"HTTP 1,000 chars k={MAX_K}"]["p99"])  # fmt: skip
    ratio = rows[f"HTTP 1,000 chars k={MAX_K}"]["p50"] / rows["HTTP short k=10"]["p50"]
    within = bool(worst <= BUDGET_MS)
    print(f"big/short at p50 over HTTP: {ratio:.1f}x; p99 {worst:.0f} ms against a budget of "
          f"{BUDGET_MS:.0f} ms: {'within' if within else 'OVER'}")  # fmt: skip
    out = Path("var/bench/limits.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "budget_ms": BUDGET_MS, "within": within}, indent=2))
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
