"""Which lexical engine? This project's postings, bm25s, SQLite FTS5: nDCG@10 and queries/s.

All index the same SciFact passages (the project's chunker, title prefix included) and are
scored the same way (best passage per document). The postings and bm25s share the analyzer and
compute the same scores; FTS5 gets the same stop words and its Porter stemmer; queries are OR-ed
quoted terms, so no query text is ever FTS syntax. The postings are what the index uses: bm25s
stores precomputed scores, which every write would have to recompute for every passage.

    POLICY_SEARCH_DATA_DIR=../shared/data .venv/bin/python -m bench.lexical_engines
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytrec_eval

from policy_search.index.analysis.chunk import (
    ChunkSettings,
    chunk_article,
    embed_text,
    title_prefix,
)
from policy_search.index.analysis.embed import load_embedder
from policy_search.index.storage.lexical import LexicalIndex, LexicalSettings
from policy_search.search.evaluate import load_qrels, load_queries, read_beir_corpus


def _passages(directory: Path) -> tuple[list[str], list[str]]:
    embedder, settings = load_embedder(), ChunkSettings()
    texts, docs = [], []
    for article in read_beir_corpus(directory):
        prefix = title_prefix(article, embedder, settings)
        for passage in chunk_article(article, embedder, settings):
            texts.append(embed_text(prefix, passage.text))
            docs.append(article.id)
    return texts, docs


def _ndcg(qrels: dict, ranked: dict[str, list[int]], docs: list[str]) -> float:
    run = {}
    for qid, rows in ranked.items():
        best: dict[str, float] = {}
        for rank, row in enumerate(rows):
            if docs[row] != qid:
                best.setdefault(docs[row], -float(rank))
        run[qid] = dict(list(best.items())[:100])
    result = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
    return float(np.mean([result.get(q, {}).get("ndcg_cut_10", 0.0) for q in qrels]))


def _report(name, scorer, analyze, queries, qrels, docs, built) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    ranked = {}
    for qid, text in queries.items():
        scores = scorer(analyze(text))
        top = np.argsort(-scores)[:300]
        ranked[qid] = [int(r) for r in top if scores[r] > 0]
    rate = len(queries) / (time.perf_counter() - started)
    print(f"{name:<9}{100 * _ndcg(qrels, ranked, docs):>9.1f}{built:>9.1f}{rate:>11.0f}")


def main() -> None:
    """Print one line per engine."""
    directory = Path(os.environ.get("POLICY_SEARCH_DATA_DIR", "../shared/data")) / "beir/scifact"
    texts, docs = _passages(directory)
    qrels = load_qrels(directory, "test")
    queries = {q: t for q, t in load_queries(directory).items() if q in qrels}
    print(f"SciFact: {len(texts)} passages, {len(queries)} test queries")
    print(f"{'engine':<9}{'nDCG@10':>9}{'build s':>9}{'queries/s':>11}")

    started = time.perf_counter()
    bm25 = LexicalIndex.build(texts, np.arange(len(texts)), LexicalSettings())
    built = time.perf_counter() - started
    _report("postings", bm25.scores, bm25.analyzer.terms, queries, qrels, docs, built)

    import bm25s

    started = time.perf_counter()
    terms = [bm25.analyzer.terms(t) for t in texts]
    reference = bm25s.BM25(k1=1.2, b=0.5, method="lucene")
    reference.index(terms, show_progress=False)
    built = time.perf_counter() - started

    def bm25s_scores(words: list[str]) -> np.ndarray:
        ids = sorted({reference.vocab_dict[w] for w in words if w in reference.vocab_dict})
        return reference.get_scores_from_ids(ids) if ids else np.zeros(len(texts))

    _report("bm25s", bm25s_scores, bm25.analyzer.terms, queries, qrels, docs, built)

    started = time.perf_counter()
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE f USING fts5(t, tokenize='porter unicode61')")
    db.executemany("INSERT INTO f(rowid, t) VALUES (?, ?)", enumerate(texts))
    db.commit()
    built = time.perf_counter() - started
    stop = bm25.analyzer.stopwords
    started = time.perf_counter()
    ranked = {}
    for qid, text in queries.items():
        words = [w for w in text.lower().replace('"', " ").split() if w not in stop]
        match = " OR ".join(f'"{w}"' for w in words if w.strip("\"'.,;:!?()"))
        rows = db.execute(
            "SELECT rowid FROM f WHERE f MATCH ? ORDER BY bm25(f) LIMIT 300", (match,)
        ).fetchall()
        ranked[qid] = [r[0] for r in rows]
    rate = len(queries) / (time.perf_counter() - started)
    print(f"{'fts5':<9}{100 * _ndcg(qrels, ranked, docs):>9.1f}{built:>9.1f}{rate:>11.0f}")


if __name__ == "__main__":
    main()
