"""Latency figures: percentiles of a list of timings, and `Searcher.search` timed in process."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the load generator imports this module, and needs no FAISS
    from policy_search.search.searcher import Searcher

__all__ = ["percentiles", "search_latencies"]


def percentiles(latencies_ms: list[float]) -> dict[str, float]:
    """p50, p90, p95, p99 and max of a list of latencies, in ms (0 for none)."""
    if not latencies_ms:
        return {"p50": 0.0, "p90": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    values = np.asarray(latencies_ms)
    p50, p90, p95, p99 = np.percentile(values, [50, 90, 95, 99])
    return {"p50": p50, "p90": p90, "p95": p95, "p99": p99, "max": float(values.max())}


def search_latencies(
    searcher: Searcher, queries: list[str], *, k: int = 10, warm: int = 10
) -> dict[str, float]:
    """Percentiles of `Searcher.search` (hybrid), one query at a time after `warm` to warm up."""
    for q in queries[:warm]:
        searcher.search(q, k=k)
    out = []
    for q in queries:
        began = time.perf_counter()
        searcher.search(q, k=k)
        out.append((time.perf_counter() - began) * 1000)
    return percentiles(out)
