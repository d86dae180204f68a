"""Answer queries over a built index: dense (FAISS), lexical (BM25) or hybrid (both, fused).

`Searcher.search(request) -> result` takes the query record and returns the result record of
`policy_search.records`, the ones the app serialises and the client parses: ranking is array work
over the snapshot (`rank`, a `Ranking`), then `hits` builds the records of one page, reading each
of its passages once from the snapshot's read view (the same commit as its segments).

Paging: a query's full ranking is its candidate window, which never depends on the page asked
for, so every page is the matching slice of one ranking and `total` is exactly what paging
through it yields. The window is the union of each side's best `FusionSettings.depth` passages
in hybrid and dense modes, each side's best `GROUP_DEPTH` when grouping by article, and in
lexical mode every passage with a query word (BM25 is exact over the whole index, so its top
passages at any depth are a prefix of the same order) up to the last page a request can reach
(`MAX_OFFSET + MAX_K`).
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypedDict, TypeVar, Unpack

import numpy as np

from policy_search import records
from policy_search.index.catalog import PassageRow
from policy_search.index.chunk import sentence_spans
from policy_search.index.embed import Embedder
from policy_search.index.errors import GenerationGone, ShardUnavailable
from policy_search.index.lexical import Analyzer
from policy_search.index.manifest import Manifest
from policy_search.records import (
    MAX_K,
    MAX_OFFSET,
    MAX_QUERY_CHARS,
    MODES,
    Article,
    Explanation,
    FacetCount,
    Hit,
    Mode,
    Passage,
    SearchRequest,
    SearchResult,
    Similar,
    SimilarResult,
    Snippet,
    Stats,
    short_source,
)
from policy_search.search.articles import ArticleSettings, rank_articles
from policy_search.search.cache import QueryCache
from policy_search.search.corpus import Allowed, Corpus, Evidence
from policy_search.search.errors import ArticleNotFound, QueryError
from policy_search.search.features import candidate_features
from policy_search.search.filters import Filters
from policy_search.search.fusion import FusionSettings, fuse
from policy_search.search.highlight import highlight_spans
from policy_search.search.language import Languages
from policy_search.search.query import Matching, analyze, parse_query
from policy_search.search.ranking import Ranking, rank_order
from policy_search.search.rerank import Ranker, reorder
from policy_search.search.shards import open_corpus
from policy_search.search.snippet import make_snippet, meaning_scores

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

# The default relevance floor, chosen on SciFact's training judgments (README, "Relevance floor"):
# dense mode shows passages with cosine >= DENSE_FLOOR (keeps every judged relevant pair, drops
# 97.7% of off-topic queries' best hits); hybrid mode shows passages that share a word with the
# query, or, sharing none, have cosine >= MEANING_FLOOR (keeps 99.35% of relevant pairs).
DENSE_FLOOR = 0.12
# The confidence of every hit of a query in a language the model does not read (language.py):
# its hits match by chance, below any confidence floor a person would set.
FOREIGN_CONFIDENCE = 0.05
GROUP_DEPTH = 1000  # candidates per side when grouping, so k distinct articles can be found
# Runs of one query when a shard no longer holds the commit it reads (search/shards.py): each
# run reads one commit of each shard, the next the shards' latest.
PINNED_TRIES = 3
MEANING_FLOOR = 0.30


def check_request(request: SearchRequest) -> SearchRequest:
    """The request, or QueryError naming the first rule it breaks (the rules of its record)."""
    if not isinstance(request.q, str):
        raise QueryError(f"the query must be text, not {type(request.q).__name__}")
    if broken := records.problems(request):
        raise QueryError(broken[0])
    return request


class SearcherOptions(TypedDict, total=False):
    """What a searcher may be given besides its snapshot and its model."""

    fusion: FusionSettings | None
    queries: QueryCache | None  # query vectors, shared with other searchers of the same model
    analyzer: Analyzer | None  # its cache of stems, shared likewise
    articles: ArticleSettings | None
    languages: Languages | None  # the language detector, loaded once
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
        self._titles: dict[int, frozenset[str]] = {}  # article rowid → its title's stems
        self.languages = options.get("languages") or Languages()
        self.manifest: Manifest = snapshot.manifest
        self.manifest.check(model_id=embedder.model_id, dim=embedder.dim, index_dir=self.index_dir)
        self.vector_kind = snapshot.vector_kind
        # Queries are analysed exactly as the index's passages were, or not at all.
        analyzer = options.get("analyzer")
        if analyzer is None or not analyzer.analyses(self.manifest.lexical):
            self.manifest.check_analyzer(self.index_dir)
            analyzer = Analyzer.of(self.manifest.lexical)
        self.analyzer = analyzer

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
        *,
        mode: str,
        depth: int,
        min_score: float | None = None,
        allowed: Allowed | None = None,
    ) -> Ranking:
        """All candidates for a query in rank order, after the relevance floor, each with its
        confidence; in hybrid mode ordered by the learned ranker, where there is one.

        `allowed` (the snapshot's `restrict` of the query's filters) restricts both sides
        before ranking, so a filtered query still finds its best passages among the allowed ones.
        """
        learned = mode == "hybrid" and self.ranker is not None and self.learned_order
        # A min_score is a floor on the scores shown: the ranker's, which come after fusion.
        fused_floor = -np.inf if learned and min_score is not None else min_score
        ranking = self.fused(vector, terms, mode=mode, depth=depth, min_score=fused_floor,
                             allowed=allowed)  # fmt: skip
        ranking = self._rerank(ranking, terms, mode)
        if learned and min_score is not None:
            keep = int(np.count_nonzero(ranking.scores >= min_score))  # a prefix: by score
            ranking = ranking.take(np.arange(keep))  # a prefix: by score
        return ranking

    def _rerank(self, ranking: Ranking, terms: list[str], mode: str) -> Ranking:
        """The ranking re-scored by the learned ranker (hybrid mode), with confidences."""
        ranker = self.ranker
        if ranker is None:  # no calibrations: no confidence (0 on the hits), and no floor
            return ranking
        if mode == "hybrid" and not self.learned_order:  # the fused order, its confidence
            articles = self.snapshot.article_keys(ranking.ids)
            confidence = ranker.fused_confidence(ranking, len(set(terms)), articles)
            return dataclasses.replace(ranking, confidence=confidence)
        if mode != "hybrid":  # the plain halves keep their order
            confidence = ranker.confidence(mode, ranking.scores, len(set(terms)))
            return dataclasses.replace(ranking, confidence=confidence)
        rows = candidate_features(
            ranking, terms, corpus=self.snapshot, passages=self.snapshot.passage_rows,
            passage_count=self.snapshot.passages, analyzer=self.analyzer,
            title_share=self._title_share, settings=ranker.features,
        )  # fmt: skip
        scores = ranker.score(rows)
        return reorder(ranking, scores, ranker.hybrid_confidence(rows, scores))

    def fused(
        self,
        vector: np.ndarray,
        terms: list[str],
        *,
        mode: str,
        depth: int,
        min_score: float | None = None,
        allowed: Allowed | None = None,
    ) -> Ranking:
        """rank() before the learned ranker: the fused ranking (each side's own in dense and
        lexical modes), with dense pseudo-relevance feedback in hybrid mode."""
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        # Both sides' candidates and each one's score on the other side, in one request of
        # the corpus (two rounds of calls to a sharded index's shards).
        evidence = self.snapshot.evidence(vector, terms, mode=mode, depth=depth,
                                          min_score=min_score, allowed=allowed)  # fmt: skip
        fusion = self.fusion
        args = (terms, mode, min_score)
        if mode != "hybrid" or fusion.prf_weight <= 0 or not vector.any():
            # Dense and lexical modes stay the plain halves the hybrid is measured against.
            return self._rank(evidence, *args)
        first = None
        if fusion.prf_source == "dense":
            top, _ = self.snapshot.dense_top(vector, fusion.prf_passages, allowed)
        else:
            # A min_score is a floor on the final score, which feedback moves: the first pass
            # keeps every candidate, and the final scores meet the floor.
            floor = -np.inf if min_score is not None else None
            first = self._rank(evidence, terms, mode, floor, bonuses=False)
            # All tied with the last fed back: ids (the write history) never pick among equals.
            top = first.ids[first.scores >= first.scores[: fusion.prf_passages].min(initial=np.inf)]
        if len(top) == 0:
            return first or self._rank(evidence, *args)
        moved = vector + fusion.prf_weight * self.snapshot.vectors(top).mean(axis=0)
        moved = (moved / max(float(np.linalg.norm(moved)), 1e-12)).astype(np.float32)
        if first is not None and not fusion.prf_search:
            return self._rescore(first, moved, terms, min_score)
        return self._rank(evidence.again(moved), *args, floor=vector)

    def _rescore(
        self, first: Ranking, moved: np.ndarray, terms: list[str], min_score: float | None
    ) -> Ranking:
        """The first ranking's candidates scored again with the moved vector (no new search):
        the default floor it passed stays (it reads the query's own cosine and BM25), a
        `min_score` is met by the new scores; the dense ranks are re-counted among its dense
        candidates."""
        cosine = self.snapshot.cosine(moved, first.ids).astype(np.float32)
        dense = first.dense_ranks > 0
        dense_ranks = np.zeros(len(first.ids), dtype=np.int64)
        dense_ranks[np.flatnonzero(dense)[np.argsort(-cosine[dense], kind="stable")]] = np.arange(
            1, int(dense.sum()) + 1
        )
        fused = fuse(cosine, first.bm25, dense_ranks, first.lexical_ranks, self.fusion)
        scores = self._bonuses(first.ids, fused, terms)
        keep = np.flatnonzero(scores >= min_score) if min_score is not None else None
        if keep is not None:
            first = Ranking(first.ids[keep], first.scores[keep], first.cosine[keep],
                            first.bm25[keep], first.dense_ranks[keep], first.lexical_ranks[keep],
                            len(keep))  # fmt: skip
            scores, cosine = scores[keep], cosine[keep]
        order = rank_order(first.ids, scores)
        return Ranking(first.ids[order], scores[order], first.cosine[order], first.bm25[order],
                       first.dense_ranks[order], first.lexical_ranks[order], first.total,
                       feedback=cosine[order])  # fmt: skip

    def _rank(
        self,
        evidence: Evidence,
        terms: list[str],
        mode: str,
        min_score: float | None,
        *,
        floor: np.ndarray | None = None,
        bonuses: bool = True,
    ) -> Ranking:
        """rank() for one query vector, given its evidence (both sides' candidates and their
        scores); `floor`: the vector whose cosine the relevance floor reads (the query's own,
        when feedback has moved `vector`); `bonuses`: add the phrase and title bonuses (the
        final scoring does)."""
        dense_ids, dense_scores = evidence.dense_ids, evidence.dense_scores
        lexical_ids = evidence.lexical_ids
        ids = np.unique(np.concatenate([dense_ids, lexical_ids]))
        dense_ranks = _ranks_of(ids, dense_ids)
        lexical_ranks = _ranks_of(ids, lexical_ids)
        cosine = np.zeros(len(ids), dtype=np.float32)
        if mode != "lexical":  # FAISS scored its own candidates; score the lexical side's here
            cosine[dense_ranks > 0] = dense_scores[dense_ranks[dense_ranks > 0] - 1]
            cosine[dense_ranks == 0] = evidence.cosine(ids[dense_ranks == 0])
        bm25 = evidence.bm25(ids) if mode != "dense" else np.zeros(len(ids), np.float32)
        if mode == "dense":
            scores = cosine.astype(np.float64)
        elif mode == "lexical":
            scores = bm25.astype(np.float64)
        else:
            scores = fuse(cosine, bm25, dense_ranks, lexical_ranks, self.fusion)
            if bonuses:
                scores = self._bonuses(ids, scores, terms)
        meaning = cosine if floor is None else self.snapshot.cosine(floor, ids)
        keep = self._floor(mode, scores, meaning, bm25, min_score)
        ranking = [a[keep] for a in (ids, scores, cosine, bm25, dense_ranks, lexical_ranks)]
        order = rank_order(ranking[0], ranking[1])
        total = int(keep.sum())
        if mode == "lexical":  # exact: the matches beyond the candidates
            total = evidence.matched
        ids, scores, cosine, bm25, dense_ranks, lexical_ranks = (a[order] for a in ranking)
        if floor is None:
            return Ranking(ids, scores, cosine, bm25, dense_ranks, lexical_ranks, total)
        # Feedback moved `vector`: keep the query's own cosine beside the moved one.
        own = meaning[keep][order]
        return Ranking(ids, scores, own, bm25, dense_ranks, lexical_ranks, total, feedback=cosine)

    def _bonuses(self, ids: np.ndarray, scores: np.ndarray, terms: list[str]) -> np.ndarray:
        """Fused scores after the phrase and title bonuses, where they are on."""
        if self.fusion.proximity > 0:
            scores = self._proximity(ids, scores, terms)
        if self.fusion.title > 0:
            scores = scores + self.fusion.title * self._title_share(ids, terms)
        return scores

    def _proximity(self, ids: np.ndarray, scores: np.ndarray, terms: list[str]) -> np.ndarray:
        """Scores after the phrase bonus (FusionSettings.proximity*): each of the best
        `proximity_depth` candidates gains `proximity` times the share of the query's adjacent
        word pairs it has within `proximity_window` words of each other."""
        pairs = {(a, b) for a, b in itertools.pairwise(terms) if a != b}
        if not pairs or len(ids) == 0:
            return scores
        depth = min(self.fusion.proximity_depth, len(ids))
        top = np.argpartition(-scores, depth - 1)[:depth]
        rows = self.snapshot.passage_rows([int(ids[i]) for i in top])
        scores = scores.copy()
        for i in top:
            row = rows.get(int(ids[i]))
            if row is None:
                continue
            found = self.analyzer.pairs_near(row.text, pairs, self.fusion.proximity_window)
            scores[i] += self.fusion.proximity * len(found) / len(pairs)
        return scores

    def _title_share(self, ids: np.ndarray, terms: list[str]) -> np.ndarray:
        """The share of the query's distinct words in each passage's article title."""
        wanted = set(terms)
        if not wanted or len(ids) == 0:
            return np.zeros(len(ids))
        rowids = self.snapshot.article_keys(ids)
        distinct = np.unique(rowids).tolist()
        missing = [r for r in distinct if r not in self._titles]
        if missing:
            for rowid, meta in self.snapshot.article_metas(missing).items():
                self._titles[rowid] = frozenset(self.analyzer.terms(meta.title))
        shares = {r: len(wanted & self._titles.get(r, frozenset())) / len(wanted) for r in distinct}
        return np.array([shares[r] for r in rowids.tolist()])

    @staticmethod
    def _floor(
        mode: str,
        scores: np.ndarray,
        cosine: np.ndarray,
        bm25: np.ndarray,
        min_score: float | None,
    ) -> np.ndarray:
        """Which candidates are relevant enough to show (see DENSE_FLOOR, MEANING_FLOOR)."""
        if min_score is not None:
            keep = scores >= min_score
        elif mode == "dense":
            keep = cosine >= DENSE_FLOOR
        elif mode == "lexical":
            keep = np.ones(len(scores), dtype=bool)
        else:
            keep = (bm25 > 0) | (cosine >= MEANING_FLOOR)
        if mode == "lexical":
            keep &= bm25 > 0
        return keep

    # -- the public query ----------------------------------------------------------------

    def search(self, request: SearchRequest | str, /, **options: Any) -> SearchResult:
        """Rank passages for a query record (or its text and options, the record's fields);
        return hits `offset..offset+k` and how many passed.

        With `group`, hits are articles (each with its best passage) and `total` counts articles.
        """
        return self._pinned(lambda searcher: searcher._search(request, **options))

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

    def _search(self, request: SearchRequest | str, /, **options: Any) -> SearchResult:
        started = time.perf_counter()
        request = check_request(SearchRequest.of(request, options))
        k, offset, mode = request.k, request.offset, request.mode
        parsed = parse_query(request.q)
        matching = analyze(parsed, self.analyzer)
        filters = Filters.of(request, parsed, matching)
        allowed = self.snapshot.restrict(filters) if filters.active else None
        query = parsed.text  # what is ranked: the free words and the phrases
        language = self.languages.guess(query)
        vector = self.queries.vector(query) if mode != "lexical" else self._zero()
        terms = self.analyzer.terms(query)
        floor = self.confidence_floor if request.min_confidence is None else request.min_confidence
        if matching.required and request.min_confidence is None:
            floor = 0.0  # every hit holds the quoted words: the reader's own test of relevance
        depth = self._window(request, matching)
        ranking = self._ranked(vector, terms, mode, depth, request.min_score, allowed, matching)
        if language.foreign and ranking.confidence is not None:  # it matched by chance
            ranking = dataclasses.replace(
                ranking, confidence=np.minimum(ranking.confidence, FOREIGN_CONFIDENCE)
            )
        confident = self._confident(ranking, floor)
        if (
            mode == "lexical"
            and confident == len(ranking.ids) < ranking.total
            and depth < (MAX_OFFSET + MAX_K)
        ):  # every candidate passed: where the floor falls lies deeper, count as far as paging
            depth = MAX_OFFSET + MAX_K
            ranking = self._ranked(vector, terms, mode, depth, request.min_score, allowed,
                                   matching)  # fmt: skip
            confident = self._confident(ranking, floor)
        scores = None
        if request.group:
            positions, more, scores = self._groups(ranking)
            counted = positions[self._passes(ranking, positions, floor)]
            loose, positions = len(positions) - len(counted), counted
            total = len(positions)
        else:
            # Confidence never rises along the ranking: the hits past the floor are a prefix.
            # In lexical mode, with every candidate past it, every passage with a query word.
            passed = ranking.total if confident == len(ranking.ids) else confident
            loose = ranking.total - passed
            # As far as paging reaches.
            total = min(passed, MAX_OFFSET + MAX_K)
            positions, more = np.arange(min(len(ranking.ids), total)), None
        if request.sort != "relevance":
            positions = self._by_date(ranking.ids, positions, newest=request.sort == "newest")
        page = positions[offset : offset + k]
        hits = self.hits(terms, ranking, page, first_rank=offset + 1, mode=mode,
                         explain=request.explain, more=more, scores=scores,
                         vector=vector, matching=matching)  # fmt: skip
        every = np.arange(len(ranking.ids))
        counted = (
            ranking.ids[self._passes(ranking, every, floor)]
            if request.group
            else ranking.ids[:total]
        )
        facets, facets_more = self._facets(counted, request.facets)
        notices = [*parsed.reading.notices, *matching.notices]
        if language.notice:
            notices.append(language.notice)
        reading = dataclasses.replace(parsed.reading, language=language.language,
                                      notices=notices)  # fmt: skip
        took = (time.perf_counter() - started) * 1000
        return SearchResult(query=request.q.strip(), mode=mode, took_ms=round(took, 2),
                            total=total, results=hits, facets=facets, facets_more=facets_more,
                            reading=reading, loose=loose)  # fmt: skip

    def _ranked(
        self,
        vector: np.ndarray,
        terms: list[str],
        mode: str,
        depth: int,
        min_score: float | None,
        allowed: Allowed | None,
        matching: Matching,
    ) -> Ranking:
        """rank(), then only the candidates that hold the query's phrases (and none of its
        excluded phrases), when it has any."""
        ranking = self.rank(vector, terms, mode=mode, depth=depth, min_score=min_score,
                            allowed=allowed)  # fmt: skip
        return self._phrased(ranking, matching) if matching.checks_text else ranking

    def _phrased(self, ranking: Ranking, matching: Matching) -> Ranking:
        """The ranking's candidates that hold each of the query's phrases and none of its
        excluded phrases (their words side by side, in order), read from their text."""
        rows = self.snapshot.passage_rows(ranking.ids.tolist())
        keep = np.zeros(len(ranking.ids), dtype=bool)
        for i, pid in enumerate(ranking.ids.tolist()):
            row = rows.get(pid)
            if row is None:
                continue
            text = row.text
            keep[i] = all(
                self.analyzer.phrase_spans(text, p) for p in matching.phrases
            ) and not any(self.analyzer.phrase_spans(text, p) for p in matching.excluded_phrases)
        return ranking.take(keep)

    @staticmethod
    def _passes(ranking: Ranking, positions: np.ndarray, floor: float) -> np.ndarray:
        """Which of these positions' passages are past the confidence floor."""
        if ranking.confidence is None or floor <= 0:
            return np.ones(len(positions), dtype=bool)
        return ranking.confidence[positions] >= floor

    def _confident(self, ranking: Ranking, floor: float) -> int:
        """How many of the ranking's candidates are past the confidence floor."""
        return int(self._passes(ranking, np.arange(len(ranking.ids)), floor).sum())

    def _by_date(self, ids: np.ndarray, positions: np.ndarray, *, newest: bool) -> np.ndarray:
        """`positions` (in rank order) ordered by their articles' dates, newest or oldest
        first; ties and undated articles (last) keep their rank order."""
        dates = self.snapshot.passage_dates(ids[positions])
        days = np.array([_day(dates.get(int(i))) for i in ids[positions].tolist()], np.int64)
        dated = days >= 0
        key = np.where(dated, -days if newest else days, np.iinfo(np.int64).max)
        return positions[np.lexsort((np.arange(len(positions)), key))]

    def _facets(
        self, ids: np.ndarray, asked: Sequence[str]
    ) -> tuple[dict[str, list[FacetCount]], dict[str, int]]:
        """The facet counts of the matching passages' articles, and how many values each
        facet has past the limit (years: none, all of them are given, in order)."""
        if not asked:
            return {}, {}
        names = list(dict.fromkeys(asked))
        counts = self.snapshot.facet_counts(ids, names) if len(ids) else {}
        facets: dict[str, list[FacetCount]] = {}
        for name in names:
            found = counts.get(name, {})
            if name == "year":
                ordered = sorted(found.items())
            else:
                by_count = sorted(found.items(), key=lambda item: (-item[1], item[0]))
                ordered = by_count[: self.articles.facet_limit]
            facets[name] = [FacetCount(value=v, count=n, name=_facet_name(name, v))
                            for v, n in ordered]  # fmt: skip
        more = {name: len(counts.get(name, {})) - len(facets[name]) for name in names}
        return facets, more

    def _window(self, request: SearchRequest, matching: Matching | None = None) -> int:
        """Candidates per side: the same for every page of a query (see the module docstring)."""
        if request.group:
            return max(self.fusion.depth, GROUP_DEPTH)
        if request.mode == "lexical":  # exact: a deeper page reads a longer prefix of one order
            checked = matching is not None and matching.checks_text  # total: what holds them
            if request.facets or request.sort != "relevance" or checked:
                return MAX_OFFSET + MAX_K  # counted or ordered: every passage paging yields
            return max(self.fusion.depth, request.offset + request.k)
        return self.fusion.depth

    def _groups(self, ranking: Ranking) -> tuple[np.ndarray, dict[int, int], dict[int, float]]:
        """Positions of each article's best passage, articles in rank order (ArticleSettings),
        with each one's other matches and its score."""
        articles = self.snapshot.article_keys(ranking.ids)
        ranked = rank_articles(articles, ranking.scores, self.articles)
        best = ranked.best.tolist()
        more = {p: int(c) - 1 for p, c in zip(best, ranked.counts.tolist(), strict=True)}
        scores = {p: float(s) for p, s in zip(best, ranked.scores.tolist(), strict=True)}
        return ranked.best, more, scores

    def _zero(self) -> np.ndarray:
        return np.zeros(self.embedder.dim, dtype=np.float32)

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
        ids = [int(ranking.ids[i]) for i in positions]
        if not ids:
            return []
        # The corpus reads the commit its ranking is of (one of each shard): every ranked
        # passage is there.
        rows = self.snapshot.passage_rows(ids)
        found = [
            (n, int(i), rows[pid]) for n, (i, pid) in enumerate(zip(positions, ids, strict=True))
        ]
        words, phrases = (matching.words, matching.phrases) if matching else (set(terms), ())
        marks = [highlight_spans(row.text, words, self.analyzer, phrases) for _, _, row in found]
        snippets = self._snippets([row.text for _, _, row in found], marks, vector)
        return [
            self._hit(row, first_rank + n, i, ranking, mode, explain, more, scores, spans, snippet)
            for (n, i, row), spans, snippet in zip(found, marks, snippets, strict=True)
        ]  # fmt: skip

    def _snippets(
        self, texts: list[str], marks: list[list[tuple[int, int]]], vector: np.ndarray | None
    ) -> list[Snippet]:
        """Each passage's snippet: around its matched words, or, with none, its sentences
        nearest the query (one call of the model for all of them)."""
        sentences = [sentence_spans(text) for text in texts]  # split once, for both uses
        unmatched = [j for j, spans in enumerate(marks) if not spans]
        nearness: dict[int, list[float]] = {}
        if unmatched and vector is not None and vector.any():
            scores = meaning_scores(self.embedder, vector, [texts[j] for j in unmatched],
                                    [sentences[j] for j in unmatched])  # fmt: skip
            nearness = dict(zip(unmatched, scores, strict=True))
        return [make_snippet(text, spans, sentences=sentences[j], nearness=nearness.get(j))
                for j, (text, spans) in enumerate(zip(texts, marks, strict=True))]  # fmt: skip

    def _hit(
        self,
        row: PassageRow,
        rank: int,
        i: int,
        ranking: Ranking,
        mode: str,
        explain: bool,
        more: dict[int, int] | None,
        scores: dict[int, float] | None,
        highlights: list[tuple[int, int]],
        snippet: Snippet,
    ) -> Hit:
        """The hit of the ranking's `i`-th passage, read from its row."""
        passage = Passage(id=row.id, text=row.text, start=row.start, end=row.end,
                          highlights=highlights, countries=list(row.countries))  # fmt: skip
        confidence = float(ranking.confidence[i]) if ranking.confidence is not None else 0.0
        return Hit(
            rank=rank, score=scores[i] if scores else float(ranking.scores[i]), passage=passage,
            confidence=confidence,
            snippet=snippet, article=row.article,
            explain=self._explain(ranking, i, mode) if explain else None,
            more=more.get(i) if more is not None else None,
        )  # fmt: skip

    def _explain(self, ranking: Ranking, i: int, mode: str) -> Explanation:
        feedback = ranking.feedback
        return Explanation(
            dense_rank=int(ranking.dense_ranks[i]) or None,
            dense_score=float(ranking.cosine[i]) if mode != "lexical" else None,
            lexical_rank=int(ranking.lexical_ranks[i]) or None,
            lexical_score=float(ranking.bm25[i]) if mode != "dense" else None,
            feedback_score=float(feedback[i]) if feedback is not None else None,
            fusion=self.fusion.method if mode == "hybrid" else "none",
        )

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


def _day(date: str | None) -> int:
    """A date's day as a number (2024-05-01 → 20240501) for ordering; -1 without one."""
    if not date:
        return -1
    digits = date[:10].replace("-", "")
    return int(digits.ljust(8, "0")) if digits.isdigit() else -1


def _facet_name(facet: str, value: str) -> str | None:
    """A facet value's name for display: a country's English name, a source's short name."""
    if facet == "country":
        from policy_search.index.countries import country_name

        return country_name(value)
    if facet == "source":
        return short_source(value)
    return None


def _ranks_of(ids: np.ndarray, ranked: np.ndarray) -> np.ndarray:
    """1-based rank of each of the sorted `ids` in `ranked` (a subset of them), 0 where absent."""
    ranks = np.zeros(len(ids), dtype=np.int64)
    ranks[np.searchsorted(ids, ranked)] = np.arange(1, len(ranked) + 1)
    return ranks
