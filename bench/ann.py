"""Approximate vector indexes at scale: recall@10 against exact search, latency, memory.

    .venv/bin/python -m bench.ann [INDEX_DIR ...] [--size 1000000] [--queries 1000]

The vectors are every passage vector of the given indexes (real passages, default the UN and
presidential benchmark indexes and the SciFact evaluation index, whichever exist); when they are
fewer than `--size`, the rest are made from them: each a random mix w·a + (1-w)·b of two real
passage vectors (w uniform in 0.2–0.8) plus Gaussian noise (σ 0.01 a dimension), normalised, so
they lie among the real ones rather than in empty space. The queries are real: distinct phrases
from the first index's passages and a few questions, embedded with the index's model. Truth is
exact inner-product search (faiss IndexFlatIP). Latency is one query at a time on one thread,
as the server runs them (concurrent requests use the other core), through the kind's own search
(ivf-rerank's includes its re-rank). Memory is what a query must have resident, a passage:
FAISS's own size of the index (flat codes, graph, lists); "mapped" is what ivf-rerank keeps in
memory-mapped files and reads only at its candidates' rows (the fp16 vectors and their ids).

`--threshold` instead times the flat kind alone at growing sizes: the size past which a flat
scan on one thread passes a few milliseconds is defaults.APPROXIMATE_ABOVE.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from harness.indexes import backend_of, index_manifest
from harness.query_list import make_queries
from policy_search.index.analysis.embed import load_embedder
from policy_search.index.storage.snapshot import Snapshot
from policy_search.index.storage.store import exists
from policy_search.index.storage.vectors import VECTOR_INDEXES, Reranked, VectorKind, vector_kind

SOURCES = [
    Path("var/bench/un"),
    Path("var/bench/presidential"),
    Path("var/eval/scifact-onnx-int8"),
    Path("var/eval/policy-judged-onnx-int8"),
]


def real_vectors(index_dirs: list[Path]) -> np.ndarray:
    """Every live passage vector of these indexes (of all their segments), as one float32
    array."""
    parts = []
    for index_dir in index_dirs:
        snapshot = Snapshot.open(index_dir)
        for segment in snapshot.segments:
            ids = segment.ids
            parts.append(segment.reconstruct(ids[np.isin(ids, snapshot.live_ids(ids))]))
            segment.close()
    return np.vstack(parts)


def fill(real: np.ndarray, size: int, seed: int = 5) -> np.ndarray:
    """`real` followed by mixed vectors (see the module docstring) up to `size` rows."""
    rng = np.random.default_rng(seed)
    need = max(0, size - len(real))
    out = np.empty((len(real) + need, real.shape[1]), dtype=np.float32)
    out[: len(real)] = real
    for start in range(0, need, 100_000):
        n = min(100_000, need - start)
        a = real[rng.integers(0, len(real), n)]
        b = real[rng.integers(0, len(real), n)]
        w = rng.uniform(0.2, 0.8, (n, 1)).astype(np.float32)
        mixed = w * a + (1 - w) * b + rng.normal(0, 0.01, a.shape).astype(np.float32)
        mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
        out[len(real) + start : len(real) + start + n] = mixed
    return out[:size]


SWEEP = {
    "hnsw": (96, 256, 512, 1024, 2048),
    "ivf-sq8": (48, 128, 256, 512, 1024),
    "ivf-pq": (48, 128, 256),
    "ivf-rerank": (128, 256, 512, 1024),
}
THRESHOLD_SIZES = (10_000, 25_000, 50_000, 100_000, 200_000, 400_000)


def _search_all(kind: VectorKind, index: Any, queries: np.ndarray) -> tuple[list, list[float]]:
    found, latencies = [], []
    for q in queries:
        began = time.perf_counter()
        _, ids = kind.search(index, q, 10)
        latencies.append((time.perf_counter() - began) * 1000)
        found.append(ids)
    return found, latencies


def _sizes(index: Any, n: int) -> tuple[float, float]:
    """Bytes a passage in memory (FAISS's own size) and in memory-mapped files."""
    import faiss

    if isinstance(index, Reranked):
        return len(faiss.serialize_index(index.lists)) / n, (
            index.exact.nbytes + index.ids.nbytes
        ) / n
    return len(faiss.serialize_index(index)) / n, 0.0


def _set(kind: VectorKind, index: Any, setting: int | None) -> None:
    """Apply one search setting of SWEEP (efSearch or nprobe)."""
    import faiss

    if kind.name == "hnsw":
        faiss.downcast_index(index.index).hnsw.efSearch = setting
    elif setting is not None:
        (index.lists if isinstance(index, Reranked) else index).nprobe = setting


def measure(name: str, vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> list[dict]:
    """Build one kind of index and measure it at each search setting of SWEEP."""
    import faiss

    kind = vector_kind(name)
    faiss.omp_set_num_threads(2)
    began = time.perf_counter()
    ids = np.arange(len(vectors), dtype=np.int64)
    trained = kind.empty(vectors.shape[1], vectors) if kind.trains else None
    index = kind.build(vectors.shape[1], vectors, ids, trained)
    build = time.perf_counter() - began
    memory, mapped = _sizes(index, len(vectors))
    faiss.omp_set_num_threads(1)  # as the server runs them
    rows = []
    for setting in SWEEP.get(name, (None,)):
        _set(kind, index, setting)
        timed = queries if not kind.exact else queries[:200]
        found, latencies = _search_all(kind, index, timed)
        recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=False)])
        p50, p99 = np.percentile(latencies, [50, 99])
        label = name if setting is None else f"{name} {'ef' if name == 'hnsw' else 'nprobe'}"
        rows.append({"kind": f"{label} {setting or ''}", "build_s": build, "bytes": memory,
                     "mapped": mapped, "recall": recall, "p50": p50, "p99": p99})  # fmt: skip
    faiss.omp_set_num_threads(2)
    return rows


def threshold(vectors: np.ndarray, queries: np.ndarray) -> None:
    """Print the flat kind's p50/p99 on one thread at growing sizes, each against the smallest."""
    import faiss

    kind = vector_kind("flat")
    first = None
    print(f"{'flat at':>10} {'p50 ms':>7} {'p99 ms':>7} {'p50 / first':>11}")
    for size in (s for s in THRESHOLD_SIZES if s <= len(vectors)):
        index = kind.build(vectors.shape[1], vectors[:size], np.arange(size, dtype=np.int64))
        faiss.omp_set_num_threads(1)
        _, latencies = _search_all(kind, index, queries[:200])
        faiss.omp_set_num_threads(2)
        p50, p99 = np.percentile(latencies, [50, 99])
        first = first or p50
        print(f"{size:>10,} {p50:>7.2f} {p99:>7.2f} {p50 / first:>11.1f}")


def main() -> None:
    """Print the table."""
    import faiss

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dirs", nargs="*", type=Path)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--kinds", default=",".join(VECTOR_INDEXES))
    parser.add_argument("--threshold", action="store_true", help="time flat at growing sizes")
    args = parser.parse_args()
    dirs = args.index_dirs or [d for d in SOURCES if exists(d)]
    real = real_vectors(dirs)
    vectors = fill(real, args.size)
    embedder = load_embedder(backend=backend_of(index_manifest(dirs[0]).model_id))
    queries = embedder.encode(make_queries(dirs[0], args.queries))
    print(f"{len(vectors):,} vectors ({min(len(real), len(vectors)):,} real passages from "
          f"{', '.join(map(str, dirs))}; the rest mixed), {len(queries)} real queries, "
          f"{faiss.omp_get_max_threads()} cores")  # fmt: skip
    if args.threshold:
        threshold(vectors, queries)
        return
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(queries, 10)
    del exact
    # p50 / flat: against the first kind's p50 in this run (flat by default), as the machine's
    # load moves every time alike.
    print(f"{'index':<22} {'build s':>8} {'B/passage':>9} {'mapped':>7} {'recall@10':>9} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'p50/first':>9}")  # fmt: skip
    first = None
    for kind in args.kinds.split(","):
        for row in measure(kind, vectors, queries, truth):
            first = first or row["p50"]
            print(f"{row['kind']:<22} {row['build_s']:>8.1f} {row['bytes']:>9.0f} "
                  f"{row['mapped']:>7.0f} {row['recall']:>9.3f} {row['p50']:>7.2f} "
                  f"{row['p99']:>7.2f} {row['p50'] / first:>9.3f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
