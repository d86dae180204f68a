"""Searcher behaviour (fake embedder: plumbing, not relevance)."""

from __future__ import annotations

from pathlib import Path

import pytest

from search.errors import ArticleNotFound, QueryError
from search.highlight import highlight_spans, query_terms
from search.searcher import Searcher
from tests.fakes import FakeEmbedder


@pytest.fixture
def searcher(fake_index: Path, fake_embedder: FakeEmbedder) -> Searcher:
    return Searcher.load(fake_index, fake_embedder)


def test_hits_carry_passage_and_article(searcher: Searcher) -> None:
    result = searcher.search("  spring rain valley  ", k=3)
    assert result.query == "spring rain valley"
    assert result.mode == "dense"
    assert result.total == searcher.manifest.passages
    top = result.hits[0]
    assert top.rank == 1 and top.article.id == "weather"
    assert [h.rank for h in result.hits] == list(range(1, len(result.hits) + 1))
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)
    assert top.article.text is None  # metadata only in hits
    assert all(top.text[s:e].lower() in {"spring", "rain", "valley"} for s, e in top.highlights)


def test_offset_pages_through_the_same_ranking(searcher: Searcher) -> None:
    everything = searcher.search("Azerbaijan", k=10).hits
    page = searcher.search("Azerbaijan", k=1, offset=1).hits
    assert page[0].passage_id == everything[1].passage_id
    assert page[0].rank == 2
    assert searcher.search("Azerbaijan", k=5, offset=100).hits == []


@pytest.mark.parametrize(
    ("query", "options", "message"),
    [
        ("", {}, "empty"),
        ("   \n\t", {}, "empty"),
        ("x" * 1001, {}, "limit is 1000"),
        ("ok", {"k": 0}, "k must be"),
        ("ok", {"k": 101}, "k must be"),
        ("ok", {"offset": -1}, "offset"),
        ("ok", {"mode": "fuzzy"}, "mode"),
    ],
)
def test_bad_queries_are_refused(
    searcher: Searcher, query: str, options: dict, message: str
) -> None:
    with pytest.raises(QueryError, match=message):
        searcher.search(query, **options)


def test_query_with_no_words_still_answers(searcher: Searcher) -> None:
    result = searcher.search('"*(( AND OR ))', k=2)
    assert len(result.hits) == 2
    assert all(h.highlights == [] for h in result.hits)


def test_article_lookup(searcher: Searcher) -> None:
    assert searcher.article("accords").date == "2025"
    with pytest.raises(ArticleNotFound, match="nope"):
        searcher.article("nope")


def test_highlights_are_whole_words_case_insensitive() -> None:
    text = "The Middle Corridor; middle-income corridors. THE MIDDLE."
    spans = highlight_spans("the middle corridor", text)
    assert [text[s:e] for s, e in spans] == ["Middle", "Corridor", "middle", "MIDDLE"]
    assert query_terms("Who is Hajiyev?") == {"hajiyev"}
    assert highlight_spans("the of and", text) == []
