"""Facets, date sorts and the new filters (country, one article, a source's short name).

Facet counts must be exactly what paging through every result gives, in every mode, grouped or
not, and the same on a sharded index. Plumbing on the fake embedder (real FAISS, real BM25, the
real country detector; only the vectors' meaning is fake).
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from pathlib import Path

import pytest

from policy_search.index.build import build_index
from policy_search.records import MAX_K, Hit, SearchResult
from policy_search.search.articles import ArticleSettings
from policy_search.search.errors import QueryError
from policy_search.search.searcher import Searcher
from tests.fakes import FakeEmbedder
from tests.search.test_paging import QUERIES, _articles
from tests.search.test_shards import cut_into_shards

FACETS = ["source", "year", "country", "tag"]
# Sentences that name countries, as a policy text would.
NAMING = [
    "Azerbaijan and Georgia opened the Middle Corridor.",
    "Officials in Baku met their counterparts from Kazakhstan.",
    "The French delegation spoke after Brazil.",
    "Tehran and Moscow signed a gas pipeline deal.",
    "Japan offered energy grid loans.",
]
SOURCES = (
    "United Nations General Debate Corpus (UNGDC), Jankin, Baturo & Dasandi, Harvard Dataverse",
    "Think Tank",
    "Desk",
)


def facet_articles(n: int, seed: int = 11) -> list:
    """`_articles(n)` with sources, dates (a tenth undated), tags, and country-naming
    sentences in about half of them."""
    rng = random.Random(seed)
    articles = _articles(n)
    for i, article in enumerate(articles):
        named = [rng.choice(NAMING) for _ in range(rng.randint(0, 2))]
        object.__setattr__(article, "text", " ".join([article.text, *named]))
        object.__setattr__(article, "source", SOURCES[i % 3])
        date = None if i % 10 == 9 else f"20{10 + i % 12}-0{1 + i % 9}-1{i % 10}"
        object.__setattr__(article, "date", date)
        object.__setattr__(
            article, "tags", ["energy"] if i % 4 == 0 else ["trade"] if i % 5 == 0 else []
        )
    return articles


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Searcher, Searcher]:
    base = tmp_path_factory.mktemp("facets")
    embedder = FakeEmbedder(max_tokens=48)  # short passages: several an article
    build_index(facet_articles(150), base / "single", embedder)
    cut_into_shards(base / "single", base / "sharded", 3)
    return Searcher.load(base / "single", embedder), Searcher.load(base / "sharded", embedder)


def every_hit(searcher: Searcher, query: str, **options: object) -> list[Hit]:
    """Every hit paging yields, page by page."""
    hits: list[Hit] = []
    while True:
        page = searcher.search(query, k=MAX_K, offset=len(hits), **options)  # type: ignore[arg-type]
        hits += page.results
        if len(page.results) < MAX_K or len(hits) >= page.total:
            return hits


def counted(hits: list[Hit], searcher: Searcher) -> dict[str, dict[str, int]]:
    """The facets that paging through `hits` shows: each value's count of distinct articles
    (a country: of the articles whose hit passages name it)."""
    articles = {h.article.id: h.article for h in hits}
    countries: dict[str, set[str]] = {}
    for h in hits:
        countries.setdefault(h.article.id, set()).update(h.passage.countries)
    return {
        "source": dict(Counter(a.source for a in articles.values() if a.source)),
        "year": dict(Counter(a.date[:4] for a in articles.values() if a.date)),
        "tag": dict(Counter(t for a in articles.values() for t in a.tags)),
        "country": dict(Counter(c for named in countries.values() for c in named)),
    }


def as_counts(result: SearchResult) -> dict[str, dict[str, int]]:
    return {name: {v.value: v.count for v in values} for name, values in result.facets.items()}


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
@pytest.mark.parametrize("query", QUERIES)
def test_facets_count_exactly_what_paging_yields(
    pair: tuple[Searcher, Searcher], query: str, mode: str
) -> None:
    single, sharded = pair
    for filters in ({}, {"source": "Desk"}, {"country": ["AZ", "JP"]}):
        first = single.search(query, mode=mode, facets=FACETS, **filters)  # type: ignore[arg-type]
        hits = every_hit(single, query, mode=mode, **filters)
        assert len(hits) == first.total
        assert as_counts(first) == counted(hits, single), (query, mode, filters)
        assert first.facets_more == dict.fromkeys(FACETS, 0)
        # The same on shards, to the value, and in the same order.
        assert sharded.search(query, mode=mode, facets=FACETS, **filters).facets == first.facets  # type: ignore[arg-type]


def test_the_facets_saw_something_to_count(pair: tuple[Searcher, Searcher]) -> None:
    single, _ = pair
    result = single.search("gas pipeline", facets=FACETS)
    counts = as_counts(result)
    assert {"AZ", "GE", "KZ", "FR", "BR", "IR", "RU", "JP"} <= set(counts["country"])
    assert len(counts["source"]) == 3 and counts["tag"].keys() == {"energy", "trade"}
    years = [v.value for v in result.facets["year"]]
    assert years == sorted(years) and len(years) > 5  # years in order
    by_count = [v.count for v in result.facets["country"]]
    assert by_count == sorted(by_count, reverse=True)  # the others by count
    names = {v.value: v.name for v in result.facets["country"]}
    assert names["AZ"] == "Azerbaijan" and names["RU"] == "Russia"
    sources = {v.name for v in result.facets["source"]}
    assert "United Nations General Debate Corpus" in sources  # its short name


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_grouped_facets_count_the_articles_grouping_pages_through(
    pair: tuple[Searcher, Searcher], mode: str
) -> None:
    single, sharded = pair
    for query in QUERIES:
        result = single.search(query, mode=mode, group=True, facets=FACETS)
        articles = every_hit(single, query, mode=mode, group=True)
        assert len(articles) == result.total
        paged = counted(articles, single)
        counts = as_counts(result)
        for name in ("source", "year", "tag"):
            assert counts[name] == paged[name], (query, mode, name)
        # A country counts the articles whose matching passages name it: at least those whose
        # best passage does, at most those that name it anywhere.
        anywhere = Counter(
            c for a in articles for c in {c for p in single.article(a.article.id).passages
                                          for c in p.countries}
        )  # fmt: skip
        for code, n in counts["country"].items():
            assert paged["country"].get(code, 0) <= n <= anywhere[code]
        assert sharded.search(query, mode=mode, group=True, facets=FACETS).facets == result.facets


def test_a_facet_is_cut_at_the_limit_and_says_how_many_more(tmp_path: Path) -> None:
    embedder = FakeEmbedder(max_tokens=48)
    build_index(facet_articles(60), tmp_path / "index", embedder)
    searcher = Searcher.load(tmp_path / "index", embedder, articles=ArticleSettings(facet_limit=2))
    result = searcher.search("gas pipeline", facets=FACETS)
    whole = Searcher.load(tmp_path / "index", embedder).search("gas pipeline", facets=FACETS)
    for name in ("source", "country"):
        assert result.facets[name] == whole.facets[name][:2]
        assert result.facets_more[name] == len(whole.facets[name]) - 2 > 0
    assert result.facets["year"] == whole.facets["year"]  # every year, for the timeline
    assert result.facets_more["year"] == 0


def test_facets_are_only_those_asked_and_none_by_default(pair: tuple[Searcher, Searcher]) -> None:
    single, _ = pair
    assert single.search("gas pipeline").facets == {}
    result = single.search("gas pipeline", facets=["year", "year", "tag"])
    assert list(result.facets) == ["year", "tag"]
    nothing = single.search("zzzz qqqq", mode="lexical", facets=FACETS)
    assert nothing.total == 0 and nothing.facets == {key: [] for key in FACETS}


# -- sort ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["hybrid", "lexical"])
@pytest.mark.parametrize("group", [False, True])
def test_date_sorts_reorder_the_same_hits_undated_last(
    pair: tuple[Searcher, Searcher], mode: str, group: bool
) -> None:
    single, sharded = pair
    query = "gas pipeline"
    relevance = every_hit(single, query, mode=mode, group=group)
    key = (lambda h: h.article.id) if group else (lambda h: h.passage.id)
    for sort in ("newest", "oldest"):
        ordered = every_hit(single, query, mode=mode, group=group, sort=sort)
        assert sorted(map(key, ordered)) == sorted(map(key, relevance))  # the same hits
        assert [h.rank for h in ordered] == list(range(1, len(ordered) + 1))
        dates = [h.article.date for h in ordered]
        dated = [d for d in dates if d]
        assert dates == dated + [None] * (len(dates) - len(dated))  # undated last
        assert dated == sorted(dated, reverse=sort == "newest")
        # Ties keep relevance order: within one date, ranks of the relevance order ascend.
        position = {key(h): i for i, h in enumerate(relevance)}
        for a, b in itertools.pairwise(ordered):
            if a.article.date == b.article.date:
                assert position[key(a)] < position[key(b)]
        page = single.search(query, mode=mode, group=group, sort=sort, k=7, offset=5)
        assert [key(h) for h in page.results] == [key(h) for h in ordered[5:12]]
        assert sharded.search(query, mode=mode, group=group, sort=sort, k=30).results == (
            single.search(query, mode=mode, group=group, sort=sort, k=30).results
        )


# -- filters ---------------------------------------------------------------------------------


def test_the_country_filter_takes_codes_and_names_and_keeps_to_passages_that_name_one(
    pair: tuple[Searcher, Searcher],
) -> None:
    single, sharded = pair
    result = single.search("gas pipeline", country=["AZ"], k=100)
    assert result.results and all("AZ" in h.passage.countries for h in result.results)
    for spelled in (["AZE"], ["azerbaijan"], ["Azerbaijan", "AZ"]):
        again = single.search("gas pipeline", country=spelled, k=100)
        assert [h.passage.id for h in again.results] == [h.passage.id for h in result.results]
    both = single.search("gas pipeline", country=["AZ", "Japan"], k=100)
    assert all({"AZ", "JP"} & set(h.passage.countries) for h in both.results)
    assert both.total > result.total
    assert sharded.search("gas pipeline", country=["AZ"], k=100).results == result.results


def test_an_unknown_country_is_a_query_error_that_says_what_is_allowed(
    pair: tuple[Searcher, Searcher],
) -> None:
    single, _ = pair
    with pytest.raises(QueryError, match=r"Narnia.*ISO 3166-1 alpha-2 or alpha-3 code"):
        single.search("gas", country=["Narnia"])
    with pytest.raises(QueryError, match="facets\\[0\\] must be one of source, year, country"):
        single.search("gas", facets=["colour"])  # type: ignore[list-item]


def test_a_source_is_found_by_its_short_name_or_acronym_and_one_article_alone(
    pair: tuple[Searcher, Searcher],
) -> None:
    single, _ = pair
    whole = single.search("gas pipeline", source=SOURCES[0], k=100)
    assert whole.results
    for name in ("United Nations General Debate Corpus", "UNGDC", "ungdc"):
        assert single.search("gas pipeline", source=name, k=100).results == whole.results
    assert whole.results[0].article.source_name == "United Nations General Debate Corpus"
    assert single.search("gas pipeline", source="United Nations", k=100).total == 0
    target = whole.results[0].article.id
    inside = every_hit(single, "gas pipeline", article=target)
    assert inside and {h.article.id for h in inside} == {target}
