"""Answer queries over a built index: dense (FAISS), lexical (BM25) or hybrid (both, fused).

`Searcher.search(request) -> result` takes the query record and returns the result record of
`policy_search.records`, the ones the app serialises and the client parses. It is a pipeline of
stages, a module each (`search/stages/`): parse → restrict → rank → rerank → order → collect.
Ranking is array work over the corpus (`rank`, a `Ranking`); then `hits` builds the records of
one page, reading each of its passages once from the corpus (the same commit as its segments).
Every page is the matching slice of one full ranking (`stages/order.py` says how).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict, TypeVar, Unpack

import numpy as np

from policy_search import records
from policy_search.index.analysis.embed import Embedder
from policy_search.index.errors import GenerationGone, ShardUnavailable
from policy_search.index.storage.lexical import Analyzer
from policy_search.index.storage.manifest import Manifest
from policy_search.records import (
    MAX_K,
    MAX_OFFSET,
    MAX_QUERY_CHARS,
    MODES,
    Article,
    Hit,
    Mode,
    SearchRequest,
    SearchResult,
    Similar,
    SimilarResult,
    Stats,
)
from policy_search.search.articles import ArticleSettings, rank_articles
from policy_search.search.cache import QueryCache
from policy_search.search.errors import ArticleNotFound, QueryError
from policy_search.search.filters import Filters
from policy_search.search.fusion import FusionSettings
from policy_search.search.language import Languages, shared_languages
from policy_search.search.query import Matching
from policy_search.search.ranking import Ranking
from policy_search.search.rerank import Ranker
from policy_search.search.shards import open_corpus
from policy_search.search.stages import Allowed, Corpus, Pass
from policy_search.search.stages import rank as ranking_stage
from policy_search.search.stages.collect import Collecting, Marks, collect_hits
from policy_search.search.stages.facets import collect_facets
from policy_search.search.stages.order import REACH, confidence_floor, deeper, order, window
from policy_search.search.stages.parse import Query, check_request, parse, query_vector
from policy_search.search.stages.rank import DENSE_FLOOR, MEANING_FLOOR, Scoring, holding_phrases
from policy_search.search.stages.rerank import Reranking, discount_foreign, rerank
from policy_search.search.stages.restrict import restrict

__all__ = [
    "DENSE_FLOOR",
    "MAX_K",
    "MAX_OFFSET",
    "MAX_QUERY_CHARS",
    "MEANING_FLOOR",
    "MODES",
    "Filters",
    "Mode",
    "Ranking",
    "Searcher",
    "SearcherOptions",
    "check_request",
]

T = TypeVar("T")
# Runs of one query when a shard no longer holds the commit it reads (search/shards.py): each
# run reads one commit of each shard, the next the shards' latest.
PINNED_TRIES = 3


class SearcherOptions(TypedDict, total=False):
    """What a searcher may be given besides its snapshot and its model."""

    fusion: FusionSettings | None
    queries: QueryCache | None  # query vectors, shared with other searchers of the same model
    analyzer: Analyzer | None  # its cache of stems, shared likewise
    articles: ArticleSettings | None
    languages: Languages | None  # the language detector (absent: the process's, loaded once)
    # The learned ranker and calibrations (search.rerank); absent: the shipped model; None: no
    # ranker and no confidence (every hit's 0, none held back by a floor).
    ranker: Ranker | None
    # Order hybrid mode by the ranker (absent: no, the fused ranking, its confidence calibrated).
    learned_order: bool
    # Hits less likely than this to answer the query are neither counted nor paged; absent or
    # None: 0, all of them (the edge, api/settings.py, gives the ranker model's default floor).
    confidence_floor: float | None


class Searcher:
    """Ranks over one snapshot of an index; safe to share between threads."""

    def __init__(
        self,
        snapshot: Corpus,
        embedder: Embedder,
        **options: Unpack[SearcherOptions],
    ) -> None:
        self.snapshot = snapshot
        self.index_dir = snapshot.index_dir
        self.embedder = embedder
        self.queries = options.get("queries") or QueryCache(embedder)
        self.fusion = options.get("fusion") or FusionSettings()
        self.articles = options.get("articles") or ArticleSettings()
        self.ranker = options["ranker"] if "ranker" in options else Ranker.load()
        self.learned_order = bool(options.get("learned_order", False))
        self.confidence_floor = options.get("confidence_floor") or 0.0
        self.languages = options.get("languages") or shared_languages()
        self.manifest: Manifest = snapshot.manifest
        self.manifest.check(model_id=embedder.model_id, dim=embedder.dim, index_dir=self.index_dir)
        self.vector_kind = snapshot.vector_kind
        # Queries are analysed exactly as the index's passages were, or not at all.
        analyzer = options.get("analyzer")
        if analyzer is None or not analyzer.analyses(self.manifest.lexical):
            self.manifest.check_analyzer(self.index_dir)
            analyzer = Analyzer.of(self.manifest.lexical)
        self.analyzer = analyzer
        # What the stages read; the title stems cached in `scoring` are this commit's.
        self.scoring = Scoring(snapshot, self.fusion, analyzer)
        self.reranking = Reranking(self.ranker, self.learned_order)
        self.collecting = Collecting(snapshot, analyzer, embedder, self.fusion.method)

    @classmethod
    def load(
        cls, index_dir: Path, embedder: Embedder, **options: Unpack[SearcherOptions]
    ) -> Searcher:
        """Open the latest commit of `index_dir` (one index or the shards of one, read in this
        process), checking it against the embedder."""
        return cls(open_corpus(index_dir), embedder, **options)

    def refreshed(self) -> Searcher:
        """A searcher over the latest commit (this one when nothing changed), sharing the
        segments it already has open."""
        snapshot = self.snapshot.refresh()
        if snapshot is self.snapshot:
            return self
        # The analyzer (its cache of stems) outlives each commit, as the query cache does.
        return Searcher(snapshot, self.embedder, fusion=self.fusion, queries=self.queries,
                        analyzer=self.analyzer, articles=self.articles, ranker=self.ranker,
                        learned_order=self.learned_order, confidence_floor=self.confidence_floor,
                        languages=self.languages)  # fmt: skip

    @property
    def generation(self) -> int:
        """The number of the commit being searched."""
        return self.snapshot.generation

    # -- ranking -------------------------------------------------------------------------

    def rank(
        self,
        vector: np.ndarray,
        terms: list[str],
        **options: Unpack[Pass],
    ) -> Ranking:
        """All candidates for a query in rank order, after the relevance floor, each with its
        confidence; in hybrid mode ordered by the learned ranker, where there is one.

        `allowed` (the snapshot's `restrict` of the query's filters) restricts both sides
        before ranking, so a filtered query still finds its best passages among the allowed ones.
        """
        mode, min_score = options["mode"], options.get("min_score")
        floor = self.reranking.fused_floor(mode, min_score)
        ranking = self.fused(
            vector, terms, **(options | Pass(mode=mode, depth=options["depth"], min_score=floor))
        )
        return rerank(self.scoring, self.reranking, ranking, terms, mode, min_score)

    def fused(
        self,
        vector: np.ndarray,
        terms: list[str],
        **options: Unpack[Pass],
    ) -> Ranking:
        """rank() before the learned ranker: the fused ranking (each side's own in dense and
        lexical modes), with dense pseudo-relevance feedback in hybrid mode."""
        return ranking_stage.rank(self.scoring, vector, terms, **options)

    # -- the public query ----------------------------------------------------------------

    def search(self, request: SearchRequest | str, /, **options: Any) -> SearchResult:
        """Rank passages for a query record (or its text and options, the record's fields);
        return hits `offset..offset+k` and how many passed.

        With `group`, hits are articles (each with its best passage) and `total` counts articles.
        """
        return self._pinned(lambda searcher: searcher._search(request, options))

    def answer(self, request: SearchRequest) -> tuple[Searcher, SearchResult]:
        """`search`, with the searcher whose commit answered: this one, or one over the shards'
        latest commits when a shard no longer held this one's (a cursor pages that one)."""
        return self._pinned(lambda searcher: (searcher, searcher._search(request, {})))

    def search_here(self, request: SearchRequest) -> SearchResult:
        """`search` at this searcher's commit alone: GenerationGone, never another commit, when
        a shard no longer holds it (a cursor's page is of its first page's commit or none)."""
        return self._search(request, {})

    def _pinned(self, run: Callable[[Searcher], T]) -> T:
        """`run(self)`; when a shard no longer holds the commit it reads, `run` again on a
        searcher over the shards' latest commits (each run reads one commit of each shard)."""
        searcher = self
        for _ in range(PINNED_TRIES - 1):
            try:
                return run(searcher)
            except GenerationGone:
                searcher = searcher.refreshed()
        try:
            return run(searcher)
        except GenerationGone as exc:
            raise ShardUnavailable(
                f"the shards of the index at {self.index_dir} moved to new commits "
                f"{PINNED_TRIES} times during one query ({exc}); try again"
            ) from None

    def _search(self, request: SearchRequest | str, options: dict[str, Any]) -> SearchResult:
        started = time.perf_counter()
        request = check_request(SearchRequest.of(request, options))
        query = parse(request, analyzer=self.analyzer, languages=self.languages)
        allowed = restrict(self.snapshot, query)
        vector = query_vector(query, self.queries, self.embedder.dim)
        floor = confidence_floor(query, self.confidence_floor)
        depth = window(query, self.fusion.depth)
        ranking = discount_foreign(self._ranked(query, vector, depth, allowed), query.language)
        if deeper(ranking, request.mode, depth, floor):
            ranking = discount_foreign(self._ranked(query, vector, REACH, allowed), query.language)
        page = order(ranking, request, floor, corpus=self.snapshot, articles=self.articles)
        hits = self.hits(query.terms, ranking, page.positions, first_rank=request.offset + 1,
                         mode=request.mode, explain=request.explain, more=page.more,
                         scores=page.scores, vector=vector, matching=query.matching)  # fmt: skip
        facets, facets_more = collect_facets(self.snapshot, page.counted, request.facets,
                                             limit=self.articles.facet_limit)  # fmt: skip
        took = (time.perf_counter() - started) * 1000
        return SearchResult(query=request.q.strip(), mode=request.mode, took_ms=round(took, 2),
                            total=page.total, results=hits, facets=facets,
                            facets_more=facets_more, reading=query.reading(),
                            loose=page.loose)  # fmt: skip

    def _ranked(
        self, query: Query, vector: np.ndarray, depth: int, allowed: Allowed | None
    ) -> Ranking:
        """rank(), then only the candidates that hold the query's phrases (and none of its
        excluded phrases), when it has any."""
        ranking = self.rank(vector, query.terms, mode=query.request.mode, depth=depth,
                            min_score=query.request.min_score, allowed=allowed)  # fmt: skip
        if query.matching.checks_text:
            return holding_phrases(self.scoring, ranking, query.matching)
        return ranking

    def hits(
        self,
        terms: list[str],
        ranking: Ranking,
        positions: np.ndarray,
        *,
        first_rank: int = 1,
        mode: str = "hybrid",
        explain: bool = False,
        more: dict[int, int] | None = None,
        scores: dict[int, float] | None = None,
        vector: np.ndarray | None = None,
        matching: Matching | None = None,
    ) -> list[Hit]:
        """Turn positions of a ranking into hits (ranked from `first_rank`) with their articles;
        `scores` replaces the passages' own (an article's score when grouping); `vector`: the
        query's, for the snippets of passages that matched by meaning alone; `matching`: the
        query's phrases (marked whole) and free words (excluded words are never marked)."""
        words, phrases = (matching.words, matching.phrases) if matching else (set(terms), ())
        return collect_hits(self.collecting, ranking, positions, Marks(words, phrases, vector),
                            first_rank=first_rank, mode=mode, explain=explain, more=more,
                            scores=scores)  # fmt: skip

    # -- articles ------------------------------------------------------------------------

    def passage_articles(self) -> dict[int, str]:
        """Every passage id with its article id (for evaluation over a whole index)."""
        return self._pinned(lambda searcher: searcher.snapshot.passage_articles())

    def similar(self, article_id: str, *, k: int = 10) -> SimilarResult:
        """The `k` articles nearest to this one (by the mean of its passage vectors), not itself."""
        if not 1 <= k <= MAX_K:
            raise QueryError(f"k must be between 1 and {MAX_K}, not {k}")
        return self._pinned(lambda searcher: searcher._similar(article_id, k))

    def _similar(self, article_id: str, k: int) -> SimilarResult:
        found = self.snapshot.centroid(article_id)
        if found is None:
            raise ArticleNotFound(f"no article with id {article_id!r}")
        key, own, centroid = found
        if own == 0:
            return SimilarResult(article_id=article_id, results=[])
        ids, scores = self.snapshot.dense_top(centroid, own + 20 * k + 50)
        article_of = self.snapshot.article_keys(ids)
        others = article_of != key
        ranked = rank_articles(article_of[others], scores[others], self.articles)
        best = dict(zip(ranked.articles[:k].tolist(), ranked.scores[:k].tolist(), strict=True))
        metas = self.snapshot.article_metas(list(best))
        results = [Similar(score=s, article=metas[r]) for r, s in best.items() if r in metas]
        return SimilarResult(article_id=article_id, results=results)

    def stats(self) -> Stats:
        """Counts, sources, date range, generation and size on disk."""
        return self._pinned(lambda searcher: searcher.snapshot.stats())

    def health(self) -> records.Health:
        """The served commit's generation, counts and model."""
        m = self.manifest
        return records.Health(generation=m.generation, articles=m.articles, passages=m.passages,
                              model=m.model_id, built_at=m.built_at)  # fmt: skip

    def article(self, article_id: str) -> Article:
        """The whole article, or ArticleNotFound."""
        article = self._pinned(lambda searcher: searcher.snapshot.article(article_id))
        if article is None:
            raise ArticleNotFound(f"no article with id {article_id!r}")
        return article
