"""Searcher behaviour (fake embedder: plumbing, not relevance)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from policy_search.index.storage.snapshot import Snapshot
from policy_search.search.errors import ArticleNotFound, QueryError
from policy_search.search.fusion import FusionSettings
from policy_search.search.searcher import Searcher
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
    assert not hasattr(top.article, "text")  # metadata only in hits
    passage = top.passage
    assert {passage.text[s:e].lower() for s, e in passage.highlights} == {
        "spring",
        "rain",
        "valley",
    }


def test_default_mode_is_hybrid(searcher: Searcher) -> None:
    assert searcher.search("Azerbaijan").mode == "hybrid"


def test_lexical_returns_only_passages_with_query_words(searcher: Searcher) -> None:
    result = searcher.search("Kazakhstan", mode="lexical", k=10)
    assert result.total == len(result.hits) >= 1
    assert all("Kazakhstan" in h.passage.text for h in result.hits)
    assert searcher.search("zzzunknownword", mode="lexical").hits == []


def test_highlights_match_stems(searcher: Searcher) -> None:
    hit = searcher.search("farmer welcoming waters", mode="lexical").hits[0]
    assert [hit.passage.text[s:e] for s, e in hit.passage.highlights] == [
        "Farmers",
        "welcomed",
        "water",
    ]


def test_relevance_floor_drops_unrelated_passages(searcher: Searcher) -> None:
    # The fake embedder's cosine is 0 without shared words, and no word is shared: nothing passes.
    assert searcher.search("xylophone quartet", mode="hybrid").hits == []
    assert searcher.search("xylophone quartet", mode="dense").hits == []
    everything = searcher.search("xylophone quartet", mode="dense", min_score=-1.0)
    assert len(everything.hits) == searcher.manifest.passages


def test_explain_gives_both_sides(fake_index: Path, fake_embedder: FakeEmbedder) -> None:
    # The fused score itself: without the learned ranker (tests/search/test_rerank.py), which
    # re-scores.
    searcher = Searcher.load(fake_index, fake_embedder, ranker=None)
    hit = searcher.search("Middle Corridor Europe", explain=True).hits[0]
    why = hit.explain
    assert why is not None and why.fusion == "score"
    assert why.dense_rank == 1 and why.lexical_rank == 1
    assert why.lexical_score > 0 and 0 < why.dense_score <= 1
    # Feedback moved the query (FusionSettings.prf_weight): the fused score read the moved
    # query's cosine, which the explanation gives beside the query's own.
    assert why.feedback_score is not None and 0 < why.feedback_score <= 1
    fusion = FusionSettings()
    expected = fusion.alpha * why.feedback_score + (1 - fusion.alpha) * (
        why.lexical_score / (why.lexical_score + fusion.saturation)
    )
    assert hit.score == pytest.approx(expected, rel=1e-5)
    assert searcher.search("Middle Corridor").hits[0].explain is None


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_explain_reports_the_querys_own_scores_in_every_mode(searcher: Searcher, mode: str) -> None:
    """A passage's dense and lexical scores are the same whichever mode ranked it."""
    query = "Azerbaijan Caspian Europe"
    dense = {h.passage.id: h.score for h in searcher.search(query, mode="dense", k=100).hits}
    lexical = {h.passage.id: h.score for h in searcher.search(query, mode="lexical", k=100).hits}
    hits = searcher.search(query, mode=mode, explain=True, k=100).hits
    assert hits
    for hit in hits:
        why = hit.explain
        assert why is not None
        if mode != "lexical" and hit.passage.id in dense:
            assert why.dense_score == pytest.approx(dense[hit.passage.id], abs=1e-6)
        if mode != "dense" and hit.passage.id in lexical:
            assert why.lexical_score == pytest.approx(lexical[hit.passage.id], abs=1e-6)
        assert (why.feedback_score is not None) == (mode == "hybrid")
        if why.dense_rank is None and mode != "lexical":
            assert why.lexical_rank is not None  # proposed by the lexical side alone


def test_rrf_fusion(fake_index: Path, fake_embedder: FakeEmbedder) -> None:
    searcher = Searcher.load(fake_index, fake_embedder, fusion=FusionSettings(method="rrf"),
                             ranker=None)  # fmt: skip
    hit = searcher.search("Middle Corridor Europe", explain=True).hits[0]
    assert hit.score == pytest.approx(2 / 61)
    assert hit.explain is not None and hit.explain.fusion == "rrf"


def test_min_score_is_a_floor_on_the_scores_shown_after_feedback(searcher: Searcher) -> None:
    # Hybrid mode moves the query by feedback and scores again: the floor is on those scores.
    everything = searcher.search("Azerbaijan Caspian Europe rain", min_score=-1.0, k=20).hits
    assert len(everything) > 2
    for hit in everything:
        floored = searcher.search("Azerbaijan Caspian Europe rain", min_score=hit.score, k=20)
        assert [h.passage.id for h in floored.hits] == [
            h.passage.id for h in everything if h.score >= hit.score
        ]
        assert floored.total == len(floored.hits)


def test_offset_pages_through_the_same_ranking(searcher: Searcher) -> None:
    everything = searcher.search("Azerbaijan Baku", k=10, min_score=-1.0).hits
    page = searcher.search("Azerbaijan Baku", k=1, offset=1, min_score=-1.0).hits
    assert page[0].passage.id == everything[1].passage.id
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


# -- filters, grouping, similar articles, stats ---------------------------------------------

from policy_search.search.filters import Filters  # noqa: E402


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"source": "example wire"}, {"corridor"}),
        ({"author": "A. Writer"}, {"corridor"}),
        ({"tag": "caspian"}, {"corridor"}),
        ({"date_from": "2025"}, {"accords"}),
        ({"date_from": "2024-05-01", "date_to": "2024-05-31"}, {"corridor"}),
        ({"date_to": "2024-12"}, {"corridor"}),
        ({"date_from": "2025-06-01"}, {"accords"}),  # a year-only date overlaps June 2025
        ({"date_from": "2026"}, set()),
        ({"source": "Example Wire", "date_from": "2025"}, set()),
        # Reversed, the range is empty, even for an article whose year spans both ends.
        ({"date_from": "2025-06", "date_to": "2025-03"}, set()),
        ({"date_from": "2025", "date_to": "2024"}, set()),
    ],
)
def test_filters(searcher: Searcher, filters: dict[str, str], expected: set[str]) -> None:
    hits = searcher.search("Azerbaijan Caspian Europe rain", **filters, min_score=-1.0).hits
    assert {h.article.id for h in hits} == expected


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"date_from": "yesterday"}, "date_from"),
        ({"date_to": "2024-13"}, "date_to"),
    ],
)
def test_bad_filters_are_refused(options: dict, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        Filters(**options)


def test_grouping_gives_one_hit_per_article(tmp_path: Path, fake_embedder: FakeEmbedder) -> None:
    from policy_search.index.build import build_index
    from policy_search.index.readers.article import Article

    long_text = " ".join(f"Sentence {i} is about the Caspian pipeline." for i in range(40))
    articles = [
        Article(id="long", title="Pipeline", text=long_text),
        Article(id="short", title="Caspian", text="One line about the Caspian pipeline."),
    ]
    build_index(articles, tmp_path / "index", fake_embedder)
    searcher = Searcher.load(tmp_path / "index", fake_embedder)
    flat = searcher.search("Caspian pipeline", k=50)
    grouped = searcher.search("Caspian pipeline", k=50, group=True)
    assert [h.article.id for h in grouped.hits].count("long") == 1
    assert grouped.total == 2 and len(grouped.hits) == 2
    counts = {h.article.id: h.more for h in grouped.hits}
    assert counts["long"] == sum(h.article.id == "long" for h in flat.hits) - 1 > 0
    assert counts["short"] == 0
    second = searcher.search("Caspian pipeline", k=1, offset=1, group=True).hits
    assert second[0].rank == 2 and second[0].article.id == grouped.hits[1].article.id
    assert flat.hits[0].more is None


def test_similar_articles_exclude_itself(searcher: Searcher) -> None:
    found = searcher.similar("corridor", k=5)
    assert found.article_id == "corridor"
    similar = found.results
    assert "corridor" not in {s.article.id for s in similar}
    assert [s.score for s in similar] == sorted((s.score for s in similar), reverse=True)
    assert len(similar) == 2
    with pytest.raises(ArticleNotFound):
        searcher.similar("nope")
    with pytest.raises(QueryError):
        searcher.similar("corridor", k=0)


def test_stats(searcher: Searcher) -> None:
    stats = searcher.stats()
    assert (stats.articles, stats.generation) == (3, 1)
    assert stats.passages == searcher.manifest.passages
    assert [(s.source, s.articles) for s in stats.sources] == [
        ("Example Wire", 1),
        ("Other Source", 1),
    ]
    assert (stats.date_min, stats.date_max) == ("2024-05-01", "2025")
    assert stats.bytes_on_disk > 0 and stats.model == "fake/bow"


def test_total_counts_what_paging_yields(fake_index: Path, fake_embedder) -> None:
    """Lexical mode reaches every passage with a query word; the other modes reach their
    candidate window (one passage per side here), and `total` says so."""
    searcher = Searcher.load(fake_index, fake_embedder, fusion=FusionSettings(depth=1))
    lexical = searcher.search("the", mode="lexical", k=1)  # a stop word: nothing matches
    assert lexical.total == 0
    query = "Caspian Azerbaijan rain"
    for mode in ("lexical", "hybrid", "dense"):
        first = searcher.search(query, mode=mode, k=1)
        pages = [searcher.search(query, mode=mode, k=1, offset=n) for n in range(5)]
        walked = [h.passage.id for page in pages for h in page.hits]
        assert first.total == len(walked) == len(set(walked)), mode
        if mode == "lexical":
            assert first.total == 3  # beyond the one candidate per side


def test_a_filter_that_excludes_nothing_costs_nothing(
    tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    from policy_search.index.build import build_index
    from tests.conftest import ARTICLES

    build_index(ARTICLES[:2], tmp_path / "dated", fake_embedder)  # both articles have dates
    searcher = Searcher.load(tmp_path / "dated", fake_embedder)
    snapshot = searcher.snapshot
    assert isinstance(snapshot, Snapshot)  # one index: its filters read its view
    view = snapshot.view
    assert snapshot._meeting(Filters(date_from="2000").conditions(view)) is None  # no id list
    some = snapshot._meeting(Filters(date_from="2025").conditions(view))
    assert some is not None and len(some) == 1
    everything = searcher.search("Caspian Azerbaijan", date_from="2000")
    assert everything.hits == searcher.search("Caspian Azerbaijan").hits


@pytest.mark.parametrize(
    "filters",
    [{"source": "example wire"}, {"date_from": "2024"}, {"date_to": "2024-05-01"},
     {"source": "Other Source", "date_from": "2020"}, {"tag": "Caspian"}, {"author": "nobody"},
     {"source": "example wire", "country": "AZ"}],
)  # fmt: skip
def test_article_filters_meet_the_passages_the_catalog_names(
    fake_index: Path, fake_embedder: FakeEmbedder, filters: dict[str, str]
) -> None:
    """Filters on articles alone are met by articles, then mapped to passages by the snapshot's
    own arrays: exactly the live passages the catalog's join of both tables names."""
    import dataclasses

    from policy_search.index.build import add_articles, remove_articles
    from policy_search.index.storage.catalog import Catalog
    from tests.conftest import ARTICLES

    # One article removed and another added: the segments hold dead passages beside live ones.
    remove_articles([ARTICLES[-1].id], fake_index, merge=False)
    other = dataclasses.replace(ARTICLES[-1], id="ports", text="Ports grew.", source="Example Wire")
    add_articles([other], fake_index, fake_embedder, merge=False)
    snapshot = Searcher.load(fake_index, fake_embedder).snapshot
    assert isinstance(snapshot, Snapshot)
    conditions = Filters(**filters).conditions(snapshot.view)
    assert conditions is not None and conditions.terms
    met = snapshot._meeting(conditions)
    named = snapshot.view.read(Catalog.matching_passages, conditions)
    live = np.sort(snapshot.ids[snapshot.live])
    assert np.array_equal(live if met is None else met, named)
