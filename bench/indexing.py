"""Indexing throughput: `build_index` against the bare model encoding the very same passages.

    .venv/bin/python -m bench.indexing [--limit N] [--backend onnx-int8|onnx|torch] [--abba]
    .venv/bin/python -m bench.indexing --old-export [--limit N] [--corpus BEIR_FOLDER] [--no-build]

Both run in this process on the same passage texts (the project's chunker, title prefix
included), so the ratio shows what reading, chunking, storing, FAISS and BM25 cost beside the
model; absolute times on a shared 2-core machine drift, the ratio much less.

`--old-export`: `build_index` with the int8 export of before (SDPA attention, export version 1,
made here into a temporary folder) against today's (eager attention), A B B A, and how close the
two exports' vectors of the same passages are (cosine, min / 1st percentile / mean); `--corpus`
takes the passages from a BEIR folder instead (the judged set: var/judged/policy-judged), and
`--no-build` leaves the builds out. For scale, the cosine of the old export to itself, batches of
32 against 64: how much int8's own batching moves a vector.
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from policy_search.index.analysis.chunk import (
    ChunkSettings,
    chunk_article,
    embed_text,
    title_prefix,
)
from policy_search.index.analysis.embed import (
    BACKENDS,
    DEFAULT_BACKEND,
    DEFAULT_MODEL,
    Embedder,
    load_embedder,
)
from policy_search.index.analysis.onnx import OnnxEmbedder, export_onnx
from policy_search.index.build import build_index
from policy_search.index.readers import read_file
from policy_search.records import Article


def main() -> None:
    """Print passages per second of both, and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="First N articles only.")
    parser.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND)
    parser.add_argument("--abba", action="store_true", help="Each twice, in A B B A order.")
    parser.add_argument("--old-export", action="store_true", help="SDPA export against today's.")
    parser.add_argument("--corpus", type=Path, default=None, help="A BEIR folder's articles.")
    parser.add_argument("--no-build", action="store_true", help="--old-export: vectors only.")
    args = parser.parse_args()
    articles = _articles(args.corpus, args.limit)
    if args.old_export:
        _old_against_new(articles, builds=not args.no_build)
        return
    embedder = load_embedder(backend=args.backend)
    texts = _texts(articles, embedder)
    embedder.encode(texts[:64])  # warm up both paths alike
    bare_s = build_s = 0.0
    passages = 0
    # A B B A: the machine's load drifts; measured in this order, a drift weighs on both alike.
    for step in ("bare", "build", "build", "bare")[: 4 if args.abba else 2]:
        if step == "bare":
            started = time.perf_counter()
            embedder.encode(texts)
            bare_s += time.perf_counter() - started
            continue
        seconds, passages = _build(articles, embedder)
        build_s += seconds
    rounds = 2 if args.abba else 1
    bare = rounds * len(texts) / bare_s
    full = rounds * passages / build_s
    print(f"{len(articles)} articles, {len(texts)} passages, backend {args.backend}")
    print(f"bare model encode     {bare:8.1f} passages/s")
    print(f"build_index           {full:8.1f} passages/s")
    print(f"ratio                 {full / bare:8.2f}")


def _articles(corpus: Path | None, limit: int | None) -> list[Article]:
    if corpus is not None:
        from policy_search.search.evaluate import read_beir_corpus

        return list(itertools.islice(read_beir_corpus(corpus), limit))
    data = Path(os.environ.get("POLICY_SEARCH_DATA_DIR", "../shared/data"))
    source = data / "policy/us-presidential-speeches/articles.jsonl.gz"
    return list(itertools.islice(read_file(source), limit))


def _texts(articles: Sequence[Article], embedder: Embedder) -> list[str]:
    settings = ChunkSettings()
    return [
        embed_text(title_prefix(a, embedder, settings), p.text)
        for a in articles
        for p in chunk_article(a, embedder, settings)
    ]


def _build(articles: Sequence[Article], embedder: Embedder) -> tuple[float, int]:
    """Seconds and passages of one `build_index` into a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        passages = build_index(articles, Path(tmp) / "index", embedder).passages
        return time.perf_counter() - started, passages


def _old_against_new(articles: Sequence[Article], *, builds: bool) -> None:
    """The SDPA export (A) against today's (B): build speed, A B B A, then the vectors' cosine."""
    new = load_embedder(backend="onnx-int8")
    with tempfile.TemporaryDirectory() as tmp:
        export_onnx(
            load_embedder(backend="torch").model, DEFAULT_MODEL, Path(tmp), quantize=True,
            attention="sdpa",
        )  # fmt: skip
        old = OnnxEmbedder(Path(tmp))
        assert old.model_id == new.model_id  # the manifest cannot tell them apart
        texts = _texts(articles, new)
        old.encode(texts[:64])
        new.encode(texts[:64])
        seconds = {"old": 0.0, "new": 0.0}
        for step in ("old", "new", "new", "old") if builds else ():
            took, passages = _build(articles, old if step == "old" else new)
            seconds[step] += took
        vectors = old.encode(texts)
        moved = {
            "new to old": (vectors * new.encode(texts)).sum(axis=1),
            "old, batches of 32 to 64": (vectors * old.encode(texts, batch_size=32)).sum(axis=1),
        }
    print(f"{len(articles)} articles, {len(texts)} passages, onnx-int8")
    if builds:
        for step in ("old", "new"):
            print(f"build_index, {step} export  {2 * passages / seconds[step]:8.1f} passages/s")
        print(f"new / old, A B B A      {seconds['old'] / seconds['new']:8.2f}")
    for label, cosines in moved.items():
        print(
            f"cosine {label}: min {cosines.min():.4f}, 1st percentile "
            f"{np.percentile(cosines, 1):.4f}, median {np.median(cosines):.4f}, "
            f"mean {cosines.mean():.4f}"
        )


if __name__ == "__main__":
    main()
