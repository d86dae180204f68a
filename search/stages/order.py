"""The order stage: from one query's full ranking to the page asked for.

Paging: a query's full ranking is its candidate window (`window`), which never depends on the
page asked for, so every page is the matching slice of one ranking and `total` is exactly what
paging through it yields. The window is the union of each side's best `FusionSettings.depth`
passages in hybrid and dense modes, each side's best GROUP_DEPTH when grouping by article, and
in lexical mode every passage with a query word (BM25 is exact over the whole index, so its top
passages at any depth are a prefix of the same order) up to the last page a request can reach
(`MAX_OFFSET + MAX_K`). Hits less likely than the confidence floor to answer the query are
neither counted nor paged; grouping pages through articles (each with its best passage); a date
sort reorders what passed, ties and undated articles keeping their rank order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from policy_search.records import MAX_K, MAX_OFFSET, SearchRequest
from policy_search.search.articles import ArticleSettings, rank_articles
from policy_search.search.ranking import Ranking
from policy_search.search.stages import Corpus
from policy_search.search.stages.parse import Query

__all__ = ["GROUP_DEPTH", "Page", "confidence_floor", "deeper", "order", "passes", "window"]

GROUP_DEPTH = 1000  # candidates per side when grouping, so k distinct articles can be found
REACH = MAX_OFFSET + MAX_K  # the last passage a request can page to


@dataclass(frozen=True, slots=True)
class Page:
    """What paging through a ranking yields, and the page of it asked for."""

    positions: np.ndarray  # the page's positions in the ranking, in the order shown
    total: int  # hits (articles, when grouping) past the confidence floor, as far as paging goes
    loose: int  # those the confidence floor held back
    counted: np.ndarray  # the ids of every passage paging yields: what facets count
    more: dict[int, int] | None = None  # grouping: each article's other matches, by position
    scores: dict[int, float] | None = None  # grouping: each article's score, by position


def window(query: Query, depth: int) -> int:
    """Candidates per side (`depth`: the fusion's): the same for every page of a query."""
    request = query.request
    if request.group:
        return max(depth, GROUP_DEPTH)
    if request.mode == "lexical":  # exact: a deeper page reads a longer prefix of one order
        checked = query.matching.checks_text  # total: what holds them
        if request.facets or request.sort != "relevance" or checked:
            return REACH  # counted or ordered: every passage paging yields
        return max(depth, request.offset + request.k)
    return depth


def confidence_floor(query: Query, default: float) -> float:
    """The confidence a hit needs to be counted and paged: the request's, or `default`."""
    request = query.request
    floor = default if request.min_confidence is None else request.min_confidence
    if query.matching.required and request.min_confidence is None:
        floor = 0.0  # every hit holds the quoted words: the reader's own test of relevance
    return floor


def deeper(ranking: Ranking, mode: str, depth: int, floor: float) -> bool:
    """Whether a lexical window must reach further: every candidate passed the floor, so where
    it falls lies deeper; count as far as paging goes."""
    confident = _confident(ranking, floor)
    return mode == "lexical" and confident == len(ranking.ids) < ranking.total and depth < REACH


def order(
    ranking: Ranking,
    request: SearchRequest,
    floor: float,
    *,
    corpus: Corpus,
    articles: ArticleSettings,
) -> Page:
    """The page `request` asks for of `ranking`, past the confidence `floor`."""
    if request.group:
        positions, total, loose, more, scores = _grouped(ranking, floor, corpus, articles)
        counted = ranking.ids[passes(ranking, np.arange(len(ranking.ids)), floor)]
    else:
        # Confidence never rises along the ranking: the hits past the floor are a prefix.
        # In lexical mode, with every candidate past it, every passage with a query word.
        confident = _confident(ranking, floor)
        passed = ranking.total if confident == len(ranking.ids) else confident
        loose = ranking.total - passed
        total = min(passed, REACH)  # as far as paging reaches
        positions, more, scores = np.arange(min(len(ranking.ids), total)), None, None
        counted = ranking.ids[:total]
    if request.sort != "relevance":
        positions = _by_date(corpus, ranking.ids, positions, newest=request.sort == "newest")
    page = positions[request.offset : request.offset + request.k]
    return Page(page, total, loose, counted, more, scores)


def _grouped(
    ranking: Ranking, floor: float, corpus: Corpus, articles: ArticleSettings
) -> tuple[np.ndarray, int, int, dict[int, int], dict[int, float]]:
    """Each article's best passage past the floor, articles in rank order, with how many
    articles there are and how many the floor held back, each one's other matches and score."""
    positions, more, scores = _groups(corpus, ranking, articles)
    counted = positions[passes(ranking, positions, floor)]
    return counted, len(counted), len(positions) - len(counted), more, scores


def passes(ranking: Ranking, positions: np.ndarray, floor: float) -> np.ndarray:
    """Which of these positions' passages are past the confidence floor."""
    if ranking.confidence is None or floor <= 0:
        return np.ones(len(positions), dtype=bool)
    return ranking.confidence[positions] >= floor


def _confident(ranking: Ranking, floor: float) -> int:
    """How many of the ranking's candidates are past the confidence floor."""
    return int(passes(ranking, np.arange(len(ranking.ids)), floor).sum())


def _groups(
    corpus: Corpus, ranking: Ranking, settings: ArticleSettings
) -> tuple[np.ndarray, dict[int, int], dict[int, float]]:
    """Positions of each article's best passage, articles in rank order (ArticleSettings),
    with each one's other matches and its score."""
    articles = corpus.article_keys(ranking.ids)
    ranked = rank_articles(articles, ranking.scores, settings)
    best = ranked.best.tolist()
    more = {p: int(c) - 1 for p, c in zip(best, ranked.counts.tolist(), strict=True)}
    scores = {p: float(s) for p, s in zip(best, ranked.scores.tolist(), strict=True)}
    return ranked.best, more, scores


def _by_date(corpus: Corpus, ids: np.ndarray, positions: np.ndarray, *, newest: bool) -> np.ndarray:
    """`positions` (in rank order) ordered by their articles' dates, newest or oldest
    first; ties and undated articles (last) keep their rank order."""
    days = corpus.passage_days(ids[positions])  # 2024-05-01 → 20240501, -1: undated
    dated = days >= 0
    key = np.where(dated, -days if newest else days, np.iinfo(np.int64).max)
    return positions[np.lexsort((np.arange(len(positions)), key))]
