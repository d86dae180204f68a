"""Every hybrid candidate of judged queries as a row of the ranker's features, with its label.

Shared by `bench.train_ranker` (which fits the ranker and its calibrations on SciFact's training
judgments and the judged benchmark's tune half) and `bench.confidence` (which measures them on
judgments they never saw). A passage is labelled relevant when its article is judged relevant
(grade ≥ 1): the judgments are of articles, not passages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from policy_search.index.embed import Embedder
from policy_search.search.evaluate import load_qrels, load_queries
from policy_search.search.features import FeatureSettings, candidate_features
from policy_search.search.searcher import Searcher

# (folder, index name under var/eval, split)
BENCHES = {
    "judged-tune": ("var/judged/policy-judged", "policy-judged", "tune"),
    "judged-report": ("var/judged/policy-judged", "policy-judged", "report"),
    "scifact-train": ("{data}/beir/scifact", "scifact", "train"),
    "scifact-test": ("{data}/beir/scifact", "scifact", "test"),
}
TRAINING = ("scifact-train", "judged-tune")  # never a test or report half


@dataclass(frozen=True, slots=True)
class Rows:
    """One benchmark's candidates: features, grades, and what calibration and floors read."""

    bench: str
    features: np.ndarray
    grades: np.ndarray  # the article's judged grade (0: unjudged or not relevant)
    queries: np.ndarray  # the query id of each row
    articles: np.ndarray  # the article id of each row
    fused: np.ndarray  # hybrid's fused score
    cosine: np.ndarray  # the query's own cosine (dense mode's score)
    bm25: np.ndarray  # lexical mode's score
    dense: np.ndarray  # proposed by the dense side (a dense-mode candidate)
    lexical: np.ndarray  # proposed by the lexical side
    relevant: dict[str, int]  # how many articles each query has judged relevant


def open_bench(
    bench: str, data: Path, embedder: Embedder, backend: str = "onnx-int8"
) -> tuple[Searcher, dict[str, str], dict[str, dict[str, int]]]:
    """A searcher without a ranker over the benchmark's cached index, its queries and qrels."""
    folder, name, split = BENCHES[bench]
    directory = Path(folder.format(data=data))
    qrels = load_qrels(directory, split)
    asked = load_queries(directory)
    queries = {q: asked[q] for q in qrels if q in asked}
    searcher = Searcher.load(Path(f"var/eval/{name}-{backend}"), embedder, ranker=None)
    return searcher, queries, qrels


def collect(
    bench: str, data: Path, embedder: Embedder, settings: FeatureSettings | None = None
) -> Rows:
    """The benchmark's hybrid candidates (as a search finds them) with their features."""
    searcher, queries, qrels = open_bench(bench, data, embedder)
    settings = settings or FeatureSettings()
    doc_of = searcher.passage_articles()
    ids = list(queries)
    vectors = embedder.encode([queries[q] for q in ids])
    columns = [k for k in Rows.__slots__ if k not in ("bench", "relevant")]  # type: ignore[attr-defined]
    parts: dict[str, list[np.ndarray]] = {k: [] for k in columns}
    for qid, vector in zip(ids, vectors, strict=True):
        terms = searcher.analyzer.terms(queries[qid])
        ranking = searcher.fused(vector, terms, mode="hybrid", depth=searcher.fusion.depth)
        features = candidate_features(
            ranking, terms, corpus=searcher.snapshot, passages=searcher.snapshot.passage_rows,
            passage_count=searcher.snapshot.passages, analyzer=searcher.analyzer,
            title_share=searcher._title_share, settings=settings,
        )  # fmt: skip
        articles = np.array([doc_of.get(int(p), "") for p in ranking.ids], dtype=object)
        judged = qrels.get(qid, {})
        parts["features"].append(features)
        parts["grades"].append(np.array([judged.get(a, 0) for a in articles], dtype=np.int64))
        parts["queries"].append(np.full(len(articles), qid, dtype=object))
        parts["articles"].append(articles)
        parts["fused"].append(ranking.scores.astype(np.float64))
        parts["cosine"].append(ranking.cosine.astype(np.float64))
        parts["bm25"].append(ranking.bm25.astype(np.float64))
        parts["dense"].append(ranking.dense_ranks > 0)
        parts["lexical"].append(ranking.lexical_ranks > 0)
    joined = {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}
    relevant = {q: sum(1 for g in qrels[q].values() if g > 0) for q in ids}
    return Rows(bench=bench, relevant=relevant, **joined)
