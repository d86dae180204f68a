"""policy-search beside txtai (same model, same texts, its hybrid mode), in the same run.

    make bench-peer            # makes var/bench/txtai-venv (torch from disk, then txtai) once
    .venv/bin/python -m bench.peer [--limit N]

SciFact: build time of each index, query latency (the 300 test queries one at a time, 100
results), nDCG@10. Presidential speeches: both index the very same passages (this project's
chunks, title prefix included; txtai does not chunk), then answer the same 300 queries (10
results). txtai runs in its own virtualenv through bench/txtai_peer.py with its default torch
backend; this project runs with its default (onnx-int8), and `--backend torch` compares like for
like on the model.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from harness.latency import search_latencies
from harness.query_list import make_queries
from policy_search.index.analysis.chunk import (
    ChunkSettings,
    chunk_article,
    embed_text,
    title_prefix,
)
from policy_search.index.analysis.embed import BACKENDS, DEFAULT_BACKEND, load_embedder
from policy_search.index.build import build_index
from policy_search.index.readers import read_file
from policy_search.search.evaluate import evaluate, load_qrels, load_queries
from policy_search.search.searcher import Searcher

PEER_PYTHON = Path("var/bench/txtai-venv/bin/python")
PEER_SCRIPT = Path(__file__).with_name("txtai_peer.py")


def peer(*args: str) -> dict:
    """Run the txtai side; its last stdout line is JSON."""
    done = subprocess.run(
        [str(PEER_PYTHON), str(PEER_SCRIPT), *args], capture_output=True, text=True, check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def ours_scifact(directory: Path, backend: str, work: Path) -> dict:
    """Build (fresh), nDCG@10 (hybrid) and latency on SciFact."""
    embedder = load_embedder(backend=backend)
    report = evaluate(directory, embedder, cache=work / "scifact")
    searcher = Searcher.load(work / "scifact", embedder)
    qrels, queries = load_qrels(directory, "test"), load_queries(directory)
    timing = search_latencies(searcher, [queries[q] for q in qrels], k=100)
    return {"build_s": report.index_seconds, "ndcg10": report.ndcg_at_10 * 100, **timing}


def ours_presidential(data: Path, backend: str, work: Path, limit: int | None) -> tuple[dict, Path]:
    """Build and latency on the speeches; also writes the same passages and queries for txtai."""
    source = data / "policy/us-presidential-speeches/articles.jsonl.gz"
    articles = list(itertools.islice(read_file(source), limit))
    embedder = load_embedder(backend=backend)
    began = time.perf_counter()
    report = build_index(articles, work / "presidential", embedder)
    build = time.perf_counter() - began
    queries = make_queries(work / "presidential", 300)
    timing = search_latencies(Searcher.load(work / "presidential", embedder), queries)
    settings, shared = ChunkSettings(), work / "presidential.jsonl"
    with shared.open("w", encoding="utf-8") as out:
        for article in articles:
            prefix = title_prefix(article, embedder, settings)
            for p in chunk_article(article, embedder, settings):
                row = {"id": f"{article.id}#{p.ordinal}", "text": embed_text(prefix, p.text)}
                out.write(json.dumps(row) + "\n")
        for q in queries:
            out.write(json.dumps({"query": q}) + "\n")
    return {"build_s": build, "passages": report.passages, **timing}, shared


def main() -> None:
    """Print the side-by-side table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="First N speeches only.")
    parser.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND)
    args = parser.parse_args()
    if not PEER_PYTHON.exists():
        raise SystemExit(f"no txtai virtualenv at {PEER_PYTHON}: run `make bench-peer`")
    data = Path(os.environ.get("POLICY_SEARCH_DATA_DIR", "../shared/data"))
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as tmp:
        work = Path(tmp)
        rows = [
            ("SciFact", "policy-search", ours_scifact(data / "beir/scifact", args.backend, work))
        ]
        rows.append(("SciFact", "txtai", peer("scifact", str(data / "beir/scifact"))))
        ours, shared = ours_presidential(data, args.backend, work, args.limit)
        rows.append(("presidential", "policy-search", ours))
        rows.append(("presidential", "txtai", peer("passages", str(shared))))
    print(f"policy-search backend {args.backend}; txtai 9 (torch); {os.cpu_count()} cores")
    print(f"{'data':<13} {'engine':<14} {'build s':>8} {'nDCG@10':>8} {'p50 ms':>7} "
          f"{'p95 ms':>7} {'p99 ms':>7}")  # fmt: skip
    for data_name, engine, row in rows:
        ndcg = f"{row['ndcg10']:.1f}" if "ndcg10" in row else "—"
        print(f"{data_name:<13} {engine:<14} {row['build_s']:>8.1f} {ndcg:>8} {row['p50']:>7.1f} "
              f"{row['p95']:>7.1f} {row['p99']:>7.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
