"""Many writes as a server makes them, then search latency: fragmented, and after `optimize`."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from bench.writes.corpus import Speeches, index_state
from bench.writes.single import measured
from harness.embedders import StandInEmbedder
from harness.latency import percentiles
from harness.writer import CYCLE
from policy_search.index.build import add_articles, remove_articles
from policy_search.index.storage.merge import optimize
from policy_search.search.searcher import Searcher

__all__ = ["query_latency", "write_load"]


def query_latency(index_dir: Path, queries: list[str], embedder: StandInEmbedder) -> dict:
    """Percentiles of Searcher.search (hybrid, k=10), one query at a time, after 10 to warm."""
    searcher = Searcher.load(index_dir, embedder)
    for q in queries[:10]:
        searcher.search(q, k=10)
    out = []
    for q in queries:
        began = time.perf_counter()
        searcher.search(q, k=10)
        out.append((time.perf_counter() - began) * 1000)
    return percentiles(out)


def write_load(
    index_dir: Path, speeches: Speeches, first: int, writes: int, embedder: StandInEmbedder,
    queries: list[str],
) -> dict:  # fmt: skip
    """`writes` single-speech writes (merging as a server does; speeches.written from `first`),
    then query latency; then the same after optimize."""
    present: list[str] = []
    nxt = first
    began = time.perf_counter()
    for step in range(writes):
        op = CYCLE[step % len(CYCLE)]
        if op == "add" or not present:
            add_articles([speeches.written(nxt)], index_dir, embedder)
            present.append(speeches.written(nxt).id)
            nxt += 1
        elif op == "replace":  # the newest, with another speech's text
            add_articles(
                [dataclasses.replace(speeches.written(nxt), id=present[-1])], index_dir, embedder
            )
            nxt += 1
        else:
            remove_articles([present.pop(0)], index_dir)
    seconds = time.perf_counter() - began
    after = index_state(index_dir)
    fragmented = query_latency(index_dir, queries, embedder)
    optimize_s = measured(index_dir, lambda: optimize(index_dir))
    merged = query_latency(index_dir, queries, embedder)
    return {
        "writes": writes, "seconds": seconds, "after_writes": after, "query_after_writes":
        fragmented, "optimize": optimize_s, "after_optimize": index_state(index_dir),
        "query_after_optimize": merged,
    }  # fmt: skip
