"""Approximate vector indexes at scale: recall@10 against exact search, latency, memory.

    .venv/bin/python -m bench.ann [INDEX_DIR ...] [--size 1000000] [--queries 1000]

The vectors are every passage vector of the given indexes (real passages, default the UN and
presidential benchmark indexes and the SciFact evaluation index, whichever exist); when they are
fewer than `--size`, the rest are made from them: each a random mix w·a + (1-w)·b of two real
passage vectors (w uniform in 0.2–0.8) plus Gaussian noise (σ 0.01 a dimension), normalised, so
they lie among the real ones rather than in empty space. The queries are real: distinct phrases
from the first index's passages and a few questions, embedded with the index's model. Truth is
exact inner-product search (faiss IndexFlatIP). Latency is one query at a time on one thread,
as the server runs them (concurrent requests use the other core).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from harness.indexes import backend_of, index_manifest
from harness.query_list import make_queries
from policy_search.index.analysis.embed import load_embedder
from policy_search.index.storage.snapshot import Snapshot
from policy_search.index.storage.store import exists
from policy_search.index.storage.vectors import VECTOR_INDEXES, vector_kind

SOURCES = [Path("var/bench/un"), Path("var/bench/presidential"), Path("var/eval/scifact-onnx-int8")]


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
}


def _search_all(index, queries: np.ndarray) -> tuple[list[np.ndarray], list[float]]:  # type: ignore[no-untyped-def]
    found, latencies = [], []
    for q in queries:
        began = time.perf_counter()
        _, ids = index.search(q.reshape(1, -1), 10)
        latencies.append((time.perf_counter() - began) * 1000)
        found.append(ids[0])
    return found, latencies


def measure(kind: str, vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> list[dict]:
    """Build one kind of index and measure it at each search setting of SWEEP."""
    import faiss

    faiss.omp_set_num_threads(2)
    began = time.perf_counter()
    index = vector_kind(kind).empty(vectors.shape[1], vectors)
    index.add_with_ids(vectors, np.arange(len(vectors), dtype=np.int64))
    build = time.perf_counter() - began
    size = len(faiss.serialize_index(index)) / len(vectors)
    faiss.omp_set_num_threads(1)  # as the server runs them
    rows = []
    for setting in SWEEP.get(kind, (None,)):
        if kind == "hnsw":
            faiss.downcast_index(index.index).hnsw.efSearch = setting
        elif setting is not None:
            index.nprobe = setting
        timed = queries if kind not in ("flat", "flat-fp32") else queries[:100]
        found, latencies = _search_all(index, timed)
        recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=False)])
        p50, p95 = np.percentile(latencies, [50, 95])
        name = (
            kind if setting is None else f"{kind} {'ef' if kind == 'hnsw' else 'nprobe'} {setting}"
        )
        rows.append({"kind": name, "build_s": build, "bytes": size, "recall": recall,
                     "p50": p50, "p95": p95})  # fmt: skip
    faiss.omp_set_num_threads(2)
    return rows


def main() -> None:
    """Print the table."""
    import faiss

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dirs", nargs="*", type=Path)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--kinds", default=",".join(VECTOR_INDEXES))
    args = parser.parse_args()
    dirs = args.index_dirs or [d for d in SOURCES if exists(d)]
    real = real_vectors(dirs)
    vectors = fill(real, args.size)
    embedder = load_embedder(backend=backend_of(index_manifest(dirs[0]).model_id))
    queries = embedder.encode(make_queries(dirs[0], args.queries))
    print(f"{len(vectors):,} vectors ({min(len(real), len(vectors)):,} real passages from "
          f"{', '.join(map(str, dirs))}; the rest mixed), {len(queries)} real queries, "
          f"{faiss.omp_get_max_threads()} cores")  # fmt: skip
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(queries, 10)
    del exact
    print(f"{'index':<20} {'build s':>8} {'bytes/vec':>9} {'recall@10':>9} {'p50 ms':>7} "
          f"{'p95 ms':>7}")  # fmt: skip
    for kind in args.kinds.split(","):
        for row in measure(kind, vectors, queries, truth):
            print(f"{row['kind']:<20} {row['build_s']:>8.1f} {row['bytes']:>9.0f} "
                  f"{row['recall']:>9.3f} {row['p50']:>7.2f} {row['p95']:>7.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
