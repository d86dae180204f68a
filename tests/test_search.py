"""Searcher behaviour (fake embedder: plumbing, not relevance)."""

from __future__ import annotations

from pathlib import Path

import pytest

from search.errors import ArticleNotFound, QueryError
from search.fusion import FusionSettings
from search.searcher import Searcher
from tests.fakes import FakeEmbedder


@pytest.fixture
def searcher(fake_index: Path, fake_embedder: FakeEmbedder) -> Searcher:
    return Searcher.load(fake_index, fake_embedder)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_hits_carry_passage_and_article(searcher: Searcher, mode: str) -> None:
    result = searcher.search("  spring rain valley  ", k=3, mode=mode)
    assert result.query == "spring rain valley" and result.mode == mode
    top = result.hits[0]
    assert top.rank == 1 and top.article.id == "weather"
    assert [h.rank for h in result.hits] == list(range(1, len(result.hits) + 1))
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)
    assert result.total >= len(result.hits)
    assert top.article.text is None  # metadata only in hits
    assert {top.text[s:e].lower() for s, e in top.highlights} == {"spring", "rain", "valley"}


def test_default_mode_is_hybrid(searcher: Searcher) -> None:
    assert searcher.search("Azerbaijan").mode == "hybrid"


def test_lexical_returns_only_passages_with_query_words(searcher: Searcher) -> None:
    result = searcher.search("Kazakhstan", mode="lexical", k=10)
    assert result.total == len(result.hits) >= 1
    assert all("Kazakhstan" in h.text for h in result.hits)
    assert searcher.search("zzzunknownword", mode="lexical").hits == []


def test_highlights_match_stems(searcher: Searcher) -> None:
    hit = searcher.search("farmer welcoming waters", mode="lexical").hits[0]
    assert [hit.text[s:e] for s, e in hit.highlights] == ["Farmers", "welcomed", "water"]


def test_relevance_floor_drops_unrelated_passages(searcher: Searcher) -> None:
    # The fake embedder's cosine is 0 without shared words, and no word is shared: nothing passes.
    assert searcher.search("xylophone quartet", mode="hybrid").hits == []
    assert searcher.search("xylophone quartet", mode="dense").hits == []
    everything = searcher.search("xylophone quartet", mode="dense", min_score=-1.0)
    assert len(everything.hits) == searcher.manifest.passages


def test_explain_gives_both_sides(searcher: Searcher) -> None:
    hit = searcher.search("Middle Corridor Europe", explain=True).hits[0]
    why = hit.explanation
    assert why is not None and why.fusion == "score"
    assert why.dense_rank == 1 and why.lexical_rank == 1
    assert why.lexical_score > 0 and 0 < why.dense_score <= 1
    fusion = FusionSettings()
    expected = fusion.alpha * why.dense_score + (1 - fusion.alpha) * (
        why.lexical_score / (why.lexical_score + fusion.saturation)
    )
    assert hit.score == pytest.approx(expected, rel=1e-5)
    assert searcher.search("Middle Corridor").hits[0].explanation is None


def test_rrf_fusion(fake_index: Path, fake_embedder: FakeEmbedder) -> None:
    searcher = Searcher.load(fake_index, fake_embedder, fusion=FusionSettings(method="rrf"))
    hit = searcher.search("Middle Corridor Europe", explain=True).hits[0]
    assert hit.score == pytest.approx(2 / 61)
    assert hit.explanation is not None and hit.explanation.fusion == "rrf"


def test_offset_pages_through_the_same_ranking(searcher: Searcher) -> None:
    everything = searcher.search("Azerbaijan Baku", k=10, min_score=-1.0).hits
    page = searcher.search("Azerbaijan Baku", k=1, offset=1, min_score=-1.0).hits
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


@pytest.mark.parametrize(
    "query", ['"Middle Corridor', "Corridor*", "(Middle OR", "NEAR(a b)", "a\\b[c", "Corr?dor ^$"]
)
def test_query_syntax_is_just_text(searcher: Searcher, query: str) -> None:
    for mode in ("hybrid", "lexical", "dense"):
        searcher.search(query, mode=mode)  # never an error
    assert searcher.search('"Middle Corridor', mode="lexical").hits[0].article.id == "corridor"


def test_article_lookup(searcher: Searcher) -> None:
    assert searcher.article("accords").date == "2025"
    with pytest.raises(ArticleNotFound, match="nope"):
        searcher.article("nope")
