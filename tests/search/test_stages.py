"""The searcher's stages on their own (search/stages/): each one's contract, read from its
inputs and outputs; the whole pipeline is tested through `Searcher` (test_search, test_paging,
test_facets, test_shards...)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy_search.index.storage.lexical import Analyzer
from policy_search.records import SearchRequest
from policy_search.search.errors import QueryError
from policy_search.search.fusion import FusionSettings
from policy_search.search.language import LanguageGuess, Languages
from policy_search.search.ranking import Ranking
from policy_search.search.rerank import Ranker
from policy_search.search.searcher import Searcher
from policy_search.search.stages import order as ordering
from policy_search.search.stages.order import GROUP_DEPTH, REACH, Page, confidence_floor, window
from policy_search.search.stages.parse import Query, parse
from policy_search.search.stages.rerank import FOREIGN_CONFIDENCE, Reranking, discount_foreign
from policy_search.search.stages.restrict import restrict
from tests.fakes import FakeEmbedder

LANGUAGES = Languages()


@functools.cache
def _analyzer() -> Analyzer:
    return Analyzer()


def _query(q: str, **options: object) -> Query:
    return parse(SearchRequest.of(q, options), analyzer=_analyzer(), languages=LANGUAGES)


def _ranking(confidence: list[float], total: int | None = None) -> Ranking:
    """Candidates 10, 11, ... in rank order with these confidences (non-increasing)."""
    n = len(confidence)
    ids = np.arange(10, 10 + n, dtype=np.int64)
    scores = np.linspace(1.0, 0.5, n)
    zeros = np.zeros(n)
    ranks = np.arange(1, n + 1)
    return Ranking(ids, scores, zeros, zeros, ranks, ranks, n if total is None else total,
                   confidence=np.asarray(confidence, dtype=np.float64))  # fmt: skip


def _order(ranking: Ranking, floor: float, **options: object) -> Page:
    request = SearchRequest.of("anything", options)
    # A relevance order, ungrouped, reads nothing of the corpus.
    return ordering.order(ranking, request, floor, corpus=None, articles=None)  # type: ignore[arg-type]


# -- parse ----------------------------------------------------------------------------------


def test_parse_reads_the_text_and_says_how_in_the_reading() -> None:
    query = _query('trade -russia "middle corridor')  # a quote left open
    assert query.text == query.parsed.text
    assert query.terms == _analyzer().terms(query.text) and "russia" not in query.terms
    reading = query.reading()
    assert reading.excluded == ["russia"]
    assert any("quote" in notice for notice in reading.notices)


def test_a_foreign_query_says_so_in_its_reading() -> None:
    query = _query("la paix et la sécurité internationale des nations")
    assert query.language.foreign
    assert query.reading().language == "fr" and query.language.notice in query.reading().notices


# -- restrict -------------------------------------------------------------------------------


def test_restrict_allows_every_passage_without_filters_and_refuses_a_bad_one(
    fake_index: Path,
) -> None:
    corpus = Searcher.load(fake_index, FakeEmbedder()).snapshot
    assert restrict(corpus, _query("corridor")) is None
    allowed = restrict(corpus, _query("corridor", source="Example Wire"))
    assert allowed is not None and allowed.ids is not None
    assert 0 < len(allowed.ids) < corpus.passages
    with pytest.raises(QueryError, match="Atlantis"):
        restrict(corpus, _query("corridor country:Atlantis"))


# -- rerank ---------------------------------------------------------------------------------


def test_a_foreign_query_is_held_below_any_floor_a_person_would_set() -> None:
    ranking = _ranking([0.9, 0.5, 0.01])
    capped = discount_foreign(ranking, LanguageGuess("fr", foreign=True))
    assert capped.confidence is not None
    assert capped.confidence.tolist() == [FOREIGN_CONFIDENCE, FOREIGN_CONFIDENCE, 0.01]
    assert discount_foreign(ranking, LanguageGuess("en", foreign=False)) is ranking
    assert np.array_equal(capped.ids, ranking.ids) and np.array_equal(capped.scores, ranking.scores)


def test_a_min_score_holds_the_ranker_s_scores_not_the_fused_ones() -> None:
    learned = Reranking(Ranker.load(), learned_order=True)
    assert learned.fused_floor("hybrid", 0.4) == -np.inf  # the floor comes after the ranker
    assert learned.fused_floor("hybrid", None) is None
    assert learned.fused_floor("dense", 0.4) == 0.4  # the ranker orders hybrid mode only
    assert Reranking(Ranker.load()).fused_floor("hybrid", 0.4) == 0.4
    assert Reranking(None, learned_order=True).fused_floor("hybrid", 0.4) == 0.4


# -- order ----------------------------------------------------------------------------------


def test_the_window_never_depends_on_the_page_but_reaches_what_lexical_paging_counts() -> None:
    depth = FusionSettings().depth
    for page in ({}, {"offset": 90, "k": 10}):
        assert window(_query("corridor", **page), depth) == depth
        assert window(_query("corridor", group=True, **page), depth) == GROUP_DEPTH
    assert window(_query("corridor", mode="lexical"), depth) == depth
    assert window(_query("corridor", mode="lexical", offset=500, k=20), depth) == 520
    for counted in ({"facets": ["year"]}, {"sort": "newest"}, {"q": '"middle corridor"'}):
        assert window(_query(**{"q": "corridor", "mode": "lexical", **counted}), depth) == REACH


def test_a_quoted_phrase_lifts_the_default_confidence_floor_but_not_the_request_s() -> None:
    assert confidence_floor(_query("corridor"), 0.3) == 0.3
    assert confidence_floor(_query('"middle corridor"'), 0.3) == 0.0
    assert confidence_floor(_query('"middle corridor"', min_confidence=0.5), 0.3) == 0.5
    assert confidence_floor(_query("corridor", min_confidence=0.0), 0.3) == 0.0


def test_what_the_floor_holds_back_is_neither_counted_nor_paged() -> None:
    ranking = _ranking([0.9, 0.8, 0.6, 0.4, 0.2])
    page = _order(ranking, 0.5, k=10)
    assert (page.total, page.loose) == (3, 2)
    assert page.positions.tolist() == [0, 1, 2]
    assert page.counted.tolist() == [10, 11, 12]
    everything = _order(ranking, 0.0, k=10)
    assert (everything.total, everything.loose) == (5, 0) and len(everything.positions) == 5


def test_past_the_candidates_lexical_mode_counts_every_match_and_reaches_deeper() -> None:
    ranking = _ranking([0.9, 0.8], total=40)  # BM25 matched 40, two of them candidates
    assert _order(ranking, 0.0).total == 40
    assert ordering.deeper(ranking, "lexical", 2, 0.0)
    assert not ordering.deeper(ranking, "hybrid", 2, 0.0)
    assert not ordering.deeper(ranking, "lexical", REACH, 0.0)
    assert not ordering.deeper(_ranking([0.9, 0.1], total=40), "lexical", 2, 0.5)


@given(
    confidence=st.lists(st.floats(0, 1), max_size=60).map(lambda c: sorted(c, reverse=True)),
    floor=st.floats(0, 1),
    k=st.integers(1, 7),
)
def test_every_page_is_the_matching_slice_of_one_ranking(
    confidence: list[float], floor: float, k: int
) -> None:
    ranking = _ranking(confidence)
    pages = [_order(ranking, floor, k=k, offset=offset) for offset in range(0, 70, k)]
    total = pages[0].total
    assert all(p.total == total and p.loose == len(confidence) - total for p in pages)
    shown = np.concatenate([p.positions for p in pages])
    assert shown.tolist() == list(range(total))
    assert all(ranking.confidence[shown] >= floor) or floor <= 0  # type: ignore[index]
