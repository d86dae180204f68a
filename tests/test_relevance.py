"""Relevance with the real model on the shipped corpus: names need words, paraphrase meaning."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_search.index.embed import Embedder
from policy_search.index.readers import read_paths
from policy_search.search.searcher import Searcher
from tests.conftest import CORPUS

pytestmark = pytest.mark.model

# Says "the Middle Corridor" without one word of the article's own.
PARAPHRASE = "shipping path linking China with the EU while skirting Moscow and Tehran"


@pytest.fixture(scope="module")
def searcher(corpus_index: Path, real_embedder: Embedder) -> Searcher:
    return Searcher.load(corpus_index, real_embedder)


def test_middle_corridor_ranks_its_passage_first(searcher: Searcher) -> None:
    for mode in ("hybrid", "lexical", "dense"):
        hits = searcher.search("Middle Corridor", k=5, mode=mode).hits
        assert "Middle Corridor" in hits[0].text, mode
        assert all("Middle Corridor" not in h.text for h in hits[1:]), mode
    spans = [hits[0].text[s:e] for s, e in searcher.search("Middle Corridor").hits[0].highlights]
    assert spans == ["Middle", "Corridor"]


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_a_name_finds_the_passage_naming_it(searcher: Searcher, mode: str) -> None:
    top = searcher.search("Hajiyev", mode=mode, explain=True).hits[0]
    assert "Hikmet Hajiyev" in top.text
    assert top.explanation is not None and top.explanation.lexical_rank == 1
    assert "Hajiyev" in [top.text[s:e] for s, e in top.highlights]


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_a_paraphrase_finds_the_trade_route(searcher: Searcher, mode: str) -> None:
    article = next(iter(read_paths([CORPUS])))
    analyzer = searcher.analyzer
    shared = set(analyzer.terms(PARAPHRASE)) & set(
        analyzer.terms(article.title + " " + article.text)
    )
    assert not shared, f"the paraphrase shares {shared} with the article"
    assert searcher.search(PARAPHRASE, mode="lexical").hits == []
    top = searcher.search(PARAPHRASE, mode=mode).hits[0]
    assert "Middle Corridor" in top.text


def test_a_query_about_nothing_here_returns_nothing(searcher: Searcher) -> None:
    for mode in ("hybrid", "dense", "lexical"):
        assert searcher.search("chocolate cake recipe with buttercream", mode=mode).hits == [], mode
