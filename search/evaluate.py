"""Retrieval quality on a BEIR-layout benchmark: nDCG@10, P@5, Recall@100, MRR@10.

Each corpus entry becomes one article (title + text), chunked and indexed like any other; a
document's score for a query is its best passage's score. A query never counts itself as a hit.
Metrics come from pytrec_eval (trec_eval's own code).
"""

from __future__ import annotations

import csv
import gzip
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from policy_search.index.analysis.chunk import ChunkSettings
from policy_search.index.analysis.embed import Embedder
from policy_search.index.build import build_index
from policy_search.index.errors import CorpusError, IndexStoreError
from policy_search.index.readers.article import Article
from policy_search.index.storage.lexical import LexicalSettings
from policy_search.index.storage.reanalyze import reanalyze
from policy_search.index.storage.store import manifest_of
from policy_search.index.storage.upgrade import upgrade
from policy_search.search.articles import ArticleSettings, rank_articles
from policy_search.search.errors import QueryError
from policy_search.search.fusion import FusionSettings
from policy_search.search.rerank import Ranker
from policy_search.search.searcher import MODES, Searcher

__all__ = [
    "REFERENCES",
    "EvalReport",
    "evaluate",
    "load_qrels",
    "load_queries",
    "measure",
    "read_beir_corpus",
]

# Published nDCG@10 (×100) to print beside ours.
REFERENCES = {
    "scifact": {
        "dense": "64.5 all-MiniLM-L6-v2 (MTEB)",
        "lexical": "66.5 BM25 (BEIR) / 68.7 (bm25s)",
        "hybrid": "74.2 best published hybrid, model 4x larger",
    }
}
DOC_DEPTH = 100  # documents ranked per query
PASSAGE_DEPTH = 300  # passages fetched to fill them


@dataclass(frozen=True, slots=True)
class EvalReport:
    """Figures for one mode on one dataset (fractions 0–1)."""

    dataset: str
    mode: str
    queries: int
    ndcg_at_10: float
    p_at_5: float
    recall_at_100: float
    mrr_at_10: float
    index_seconds: float  # how long the dataset's index took to build
    search_seconds: float
    index_cached: bool = False  # the index was built by an earlier run

    def as_json(self) -> dict[str, object]:
        """The `--json` object."""
        return {
            "dataset": self.dataset,
            "mode": self.mode,
            "queries": self.queries,
            "ndcg@10": round(self.ndcg_at_10, 4),
            "p@5": round(self.p_at_5, 4),
            "recall@100": round(self.recall_at_100, 4),
            "mrr@10": round(self.mrr_at_10, 4),
            "index_seconds": round(self.index_seconds, 1),
            "index_cached": self.index_cached,
            "search_seconds": round(self.search_seconds, 2),
        }


def _find(directory: Path, *names: str) -> Path:
    for name in names:
        if (directory / name).is_file():
            return directory / name
    raise CorpusError(f"not a BEIR directory: none of {', '.join(names)} in {directory}")


def read_beir_corpus(directory: Path) -> Iterator[Article]:
    """Articles from corpus.jsonl(.gz): `_id`, `title`, `text`."""
    path = _find(directory, "corpus.jsonl.gz", "corpus.jsonl")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            doc = json.loads(line)
            title = (doc.get("title") or "").strip()
            text = (doc.get("text") or "").strip() or title
            if not text:
                continue  # an empty document can never be retrieved; BEIR has a few
            yield Article(id=str(doc["_id"]), title=title or str(doc["_id"]), text=text)


def load_queries(directory: Path) -> dict[str, str]:
    """Query id → text."""
    path = _find(directory, "queries.jsonl", "queries.jsonl.gz")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return {str(q["_id"]): q["text"] for q in map(json.loads, handle) if q}


def load_qrels(directory: Path, split: str = "test") -> dict[str, dict[str, int]]:
    """Query id → {document id → relevance} from qrels/<split>.tsv."""
    path = _find(directory / "qrels", f"{split}.tsv")
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8") as handle:
        rows = csv.reader(handle, delimiter="\t")
        next(rows, None)  # header: query-id corpus-id score
        for query_id, doc_id, score in rows:
            qrels.setdefault(query_id, {})[doc_id] = int(score)
    return qrels


def _ensure_index(
    directory: Path,
    cache: Path,
    embedder: Embedder,
    settings: ChunkSettings,
    fusion: FusionSettings,
    batch_size: int,
    articles: ArticleSettings | None = None,
    lexical: LexicalSettings | None = None,
    ranker: Ranker | None = None,
) -> tuple[Searcher, bool]:
    """Reuse a cached index of the dataset built by this model and settings, or build one.

    A cached index of an older format is upgraded first, and one analysed otherwise than
    `lexical` says is re-analysed in place (vectors kept): what is measured is always `lexical`'s
    analyzer, never the cache's."""
    try:
        lexical = lexical or LexicalSettings()
        upgrade(cache, embedder=embedder)
        manifest = manifest_of(cache)
        if manifest.chunking == settings and manifest.lexical != lexical:
            reanalyze(cache, lexical, embedder=embedder)
        searcher = Searcher.load(cache, embedder, fusion=fusion, articles=articles, ranker=ranker,
                                 learned_order=ranker is not None)  # fmt: skip
        if searcher.manifest.chunking == settings and searcher.manifest.lexical == lexical:
            return searcher, True
    except IndexStoreError:
        pass
    build_index(
        read_beir_corpus(directory), cache, embedder, settings=settings, lexical=lexical,
        batch_size=batch_size, progress=True,
    )  # fmt: skip
    searcher = Searcher.load(cache, embedder, fusion=fusion, articles=articles, ranker=ranker,
                             learned_order=ranker is not None)  # fmt: skip
    return searcher, False


def _run(
    searcher: Searcher, queries: dict[str, str], *, mode: str, batch_size: int
) -> dict[str, dict[str, float]]:
    ids = list(queries)
    if mode == "lexical":
        vectors = np.zeros((len(ids), searcher.embedder.dim), dtype=np.float32)
    else:
        vectors = searcher.embedder.encode([queries[q] for q in ids], batch_size=batch_size)
    doc_of = searcher.passage_articles()
    run: dict[str, dict[str, float]] = {}
    for qid, vector in zip(ids, vectors, strict=True):
        terms = searcher.analyzer.terms(queries[qid])
        ranking = searcher.rank(
            vector, terms, mode=mode, depth=PASSAGE_DEPTH, min_score=float("-inf")
        )
        known = [(doc_of.get(int(p)), s) for p, s in zip(ranking.ids, ranking.scores, strict=True)]
        # A query never retrieves itself; a passage a commit removed meanwhile is left out.
        kept = [(d, s) for d, s in known if d is not None and d != qid]
        ranked = rank_articles(
            np.array([d for d, _ in kept], dtype=object), np.array([s for _, s in kept]),
            searcher.articles,
        )  # fmt: skip
        docs = {
            str(d): float(s)
            for d, s in zip(ranked.articles[:DOC_DEPTH], ranked.scores, strict=False)
        }
        run[qid] = docs
    return run


def evaluate(
    directory: Path,
    embedder: Embedder,
    *,
    cache: Path,
    mode: str = "hybrid",
    split: str = "test",
    settings: ChunkSettings | None = None,
    fusion: FusionSettings | None = None,
    batch_size: int = 64,
    articles: ArticleSettings | None = None,
    lexical: LexicalSettings | None = None,
    ranker: Ranker | None = None,
) -> EvalReport:
    """Index the dataset (cached) and score every judged query of `split` (hybrid mode: ordered
    by `ranker`, or fused alone without one)."""
    if mode not in MODES:
        raise QueryError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    qrels = load_qrels(directory, split)
    all_queries = load_queries(directory)
    queries = {q: all_queries[q] for q in qrels if q in all_queries}
    searcher, cached = _ensure_index(
        directory, cache, embedder, settings or ChunkSettings(), fusion or FusionSettings(),
        batch_size, articles, lexical, ranker,
    )  # fmt: skip
    started = time.perf_counter()
    figures, _ = measure(searcher, queries, qrels, mode=mode, batch_size=batch_size)
    search_seconds = time.perf_counter() - started
    n = len(queries)
    return EvalReport(
        dataset=directory.name,
        mode=mode if mode != "hybrid" else _hybrid_label(searcher.fusion, ranker),
        queries=n,
        ndcg_at_10=figures["ndcg_cut_10"],
        p_at_5=figures["P_5"],
        recall_at_100=figures["recall_100"],
        mrr_at_10=figures["recip_rank"],
        index_seconds=searcher.manifest.build_seconds,
        index_cached=cached,
        search_seconds=search_seconds,
    )


def _hybrid_label(fusion: FusionSettings, ranker: Ranker | None) -> str:
    """`hybrid (score)`, `hybrid + ranker` ordered by the learned ranker, or `(rrf, plain)` for
    RRF without feedback (the baseline)."""
    if ranker is not None:
        return "hybrid + ranker"
    plain = ", plain" if fusion.prf_weight <= 0 else ""
    return f"hybrid ({fusion.method}{plain})"


def measure(
    searcher: Searcher,
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    *,
    mode: str,
    batch_size: int = 64,
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Mean nDCG@10, P@5, Recall@100 and MRR@10 over `queries` (as trec_eval names them:
    `ndcg_cut_10`, `P_5`, `recall_100`, `recip_rank`), and each query's own."""
    import pytrec_eval

    run = _run(searcher, queries, mode=mode, batch_size=batch_size)
    top10 = {q: dict(sorted(d.items(), key=lambda x: -x[1])[:10]) for q, d in run.items()}
    each = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100", "P.5"}).evaluate(run)
    mrr = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top10)
    for query, figures in mrr.items():
        each.setdefault(query, {}).update(figures)
    names = ("ndcg_cut_10", "P_5", "recall_100", "recip_rank")
    return {name: _mean(each, name, queries) for name in names}, each


def _mean(results: dict[str, dict[str, float]], measure: str, queries: dict[str, str]) -> float:
    """Mean over all judged queries; a query with no results scores 0."""
    return sum(results.get(q, {}).get(measure, 0.0) for q in queries) / max(len(queries), 1)
