"""Indexing throughput: `build_index` against the bare model encoding the very same passages.

    .venv/bin/python -m bench.indexing [--limit N] [--backend onnx-int8|onnx|torch]

Both run in this process on the same passage texts (the project's chunker, title prefix
included), so the ratio shows what reading, chunking, storing, FAISS and BM25 cost beside the
model; absolute times on a shared 2-core machine drift, the ratio much less.
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
import time
from pathlib import Path

from policy_search.index.analysis.chunk import (
    ChunkSettings,
    chunk_article,
    embed_text,
    title_prefix,
)
from policy_search.index.analysis.embed import BACKENDS, DEFAULT_BACKEND, load_embedder
from policy_search.index.build import build_index
from policy_search.index.readers import read_file


def main() -> None:
    """Print passages per second of both, and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="First N speeches only.")
    parser.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND)
    parser.add_argument("--abba", action="store_true", help="Each twice, in A B B A order.")
    args = parser.parse_args()
    data = Path(os.environ.get("POLICY_SEARCH_DATA_DIR", "../shared/data"))
    source = data / "policy/us-presidential-speeches/articles.jsonl.gz"
    articles = list(itertools.islice(read_file(source), args.limit))
    embedder = load_embedder(backend=args.backend)
    settings = ChunkSettings()
    texts = [
        embed_text(title_prefix(a, embedder, settings), p.text)
        for a in articles
        for p in chunk_article(a, embedder, settings)
    ]
    embedder.encode(texts[:64])  # warm up both paths alike
    bare_s = build_s = 0.0
    passages = 0
    # A B B A: the machine's load drifts; measured in this order, a drift weighs on both alike.
    for step in ("bare", "build", "build", "bare")[: 4 if args.abba else 2]:
        started = time.perf_counter()
        if step == "bare":
            embedder.encode(texts)
            bare_s += time.perf_counter() - started
            continue
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            passages = build_index(articles, Path(tmp) / "index", embedder).passages
            build_s += time.perf_counter() - started
    rounds = 2 if args.abba else 1
    bare = rounds * len(texts) / bare_s
    full = rounds * passages / build_s
    print(f"{len(articles)} speeches, {len(texts)} passages, backend {args.backend}")
    print(f"bare model encode     {bare:8.1f} passages/s")
    print(f"build_index           {full:8.1f} passages/s")
    print(f"ratio                 {full / bare:8.2f}")


if __name__ == "__main__":
    main()
