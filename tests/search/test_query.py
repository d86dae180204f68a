"""The query syntax: how a query's text is read, and what each part does to the hits.

The parser's own tests need no index; the searcher's use the fake embedder (plumbing: what is
required, excluded and restricted is decided by words and metadata, not by meaning).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy_search.index.build import build_index
from policy_search.index.storage.lexical import Analyzer
from policy_search.records import Restriction
from policy_search.search.errors import QueryError
from policy_search.search.query import analyze, parse_query
from policy_search.search.searcher import Searcher
from tests.conftest import ARTICLES
from tests.fakes import FakeEmbedder

# -- reading --------------------------------------------------------------------------------


def test_phrases_exclusions_restrictions_and_free_words() -> None:
    parsed = parse_query(
        'energy "Middle Corridor" -Russia NOT Iran -"cold war" country:AZ year:2020..2024 '
        'source:"World Israel News" routes'
    )
    reading = parsed.reading
    assert reading.words == ["energy", "routes"]
    assert reading.phrases == ["Middle Corridor"]
    assert reading.excluded == ["Russia", "Iran", '"cold war"']
    assert reading.restrictions == [
        Restriction(name="country", value="AZ"),
        Restriction(name="year", value="2020..2024"),
        Restriction(name="source", value="World Israel News"),
    ]
    assert reading.text == "energy Middle Corridor routes"  # what is ranked: no exclusion
    assert reading.notices == []


def test_hyphenated_words_and_negative_numbers_are_words() -> None:
    reading = parse_query("non-proliferation of E2f-1, -2 and post-war").reading
    assert reading.excluded == [] and "non-proliferation" in reading.words
    assert reading.text == "non-proliferation of E2f-1, -2 and post-war"


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ('"Middle Corridor', "quote at character 1 is not closed"),
        ("https://example.org/x corridor", "https: is not a field"),
        ("note:this corridor", "note: is not a field"),
    ],
)
def test_what_is_read_as_words_says_so(query: str, fragment: str) -> None:
    reading = parse_query(query).reading
    assert reading.phrases == [] and reading.restrictions == []
    assert any(fragment in notice for notice in reading.notices), reading.notices
    assert "corridor" in reading.text.lower()


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("-Russia", "nothing is left to rank"),
        ('-"cold war" NOT Iran', "only excludes"),
        ("country:AZ", "excludes and restricts"),
        ('""', "nothing to rank"),
        ("corridor year:20x4", "at character 9 ('year:20x4')"),
        ("corridor year:2024..2020x", "year: must be a year or a range"),
        ("corridor year:0", "no year 0"),
        ("corridor country:", "country: needs a value"),
        ('corridor source:"Example', "not closed"),
        ("corridor -country:AZ", "cannot be excluded"),
    ],
)
def test_what_cannot_be_read_is_a_query_error_at_the_spot(query: str, fragment: str) -> None:
    with pytest.raises(QueryError, match=r"^q: ") as caught:
        parse_query(query)
    assert fragment in str(caught.value)


@given(st.text(max_size=200))
def test_any_text_parses_or_is_a_query_error(text: str) -> None:
    try:
        parsed = parse_query(text)
    except QueryError:
        return
    assert parsed.text.strip()  # something to rank
    for phrase in parsed.reading.phrases:
        assert phrase in " ".join(text.split())


_WORDS = st.sampled_from(["corridor", "Middle", "Russia", "rain", "the", "Baku", "accords"])
_PART = st.one_of(
    _WORDS,
    _WORDS.map(lambda w: f"-{w}"),
    st.lists(_WORDS, min_size=1, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"'),
    st.sampled_from(["country:AZ", "year:2024", "year:2020..", "tag:trade", "NOT", '"', "-"]),
)


@given(st.lists(_PART, min_size=1, max_size=6).map(" ".join))
def test_grammar_parses_or_is_a_query_error(text: str) -> None:
    try:
        parsed = parse_query(text)
    except QueryError as exc:
        assert str(exc).startswith("q: ")
        return
    assert parsed.text.strip()


# -- searching ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    index_dir = tmp_path_factory.mktemp("syntax") / "index"
    embedder = FakeEmbedder()
    build_index(ARTICLES, index_dir, embedder)
    return Searcher.load(index_dir, embedder)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_a_phrase_is_required_whole_and_marked_whole(searcher: Searcher, mode: str) -> None:
    loose = searcher.search("middle corridor", mode=mode, k=20)
    result = searcher.search('"Middle Corridor"', mode=mode, k=20)
    assert result.reading.phrases == ["Middle Corridor"]
    assert [h.article.id for h in result.hits] == ["corridor"]
    assert result.total == 1 <= loose.total
    hit = result.hits[0]
    marked = [hit.passage.text[s:e] for s, e in hit.passage.highlights]
    assert marked == ["Middle Corridor"]
    assert [hit.snippet.text[s:e] for s, e in hit.snippet.highlights] == ["Middle Corridor"]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_a_phrase_in_another_order_or_apart_matches_nothing(searcher: Searcher, mode: str) -> None:
    assert searcher.search('"corridor middle"', mode=mode).total == 0
    assert searcher.search('"Middle China"', mode=mode).total == 0  # both words, not together


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_an_exclusion_removes_every_passage_holding_it(searcher: Searcher, mode: str) -> None:
    every = searcher.search("Azerbaijan", mode=mode, k=20)
    assert "corridor" in {h.article.id for h in every.hits}
    for query in ("Azerbaijan -Russia", "Azerbaijan NOT russia", 'Azerbaijan -"avoids Russia"'):
        result = searcher.search(query, mode=mode, k=20)
        texts = [h.passage.text.lower() for h in result.hits]
        assert texts and not any("russia" in t for t in texts), query
        assert result.reading.text == "Azerbaijan"
        assert result.total < every.total or every.total == len(texts)


def test_an_excluded_word_is_never_marked(searcher: Searcher) -> None:
    result = searcher.search("Abraham accords -Abraham", mode="lexical")
    assert result.total == 0  # every passage naming accords here names Abraham
    result = searcher.search("Caspian corridor -Abraham")
    for hit in result.hits:
        assert "abraham" not in {hit.passage.text[s:e].lower() for s, e in hit.passage.highlights}


def test_restrictions_are_the_filters(searcher: Searcher) -> None:
    pairs = [
        ("Azerbaijan country:GE", {"country": ["GE"]}),
        ("Azerbaijan year:2025", {"date_from": "2025", "date_to": "2025"}),
        ("Azerbaijan year:2020..2024", {"date_from": "2020", "date_to": "2024"}),
        ('Azerbaijan source:"Other Source"', {"source": "Other Source"}),
        ("Azerbaijan tag:trade", {"tag": "trade"}),
        ('Azerbaijan author:"A. Writer"', {"author": "A. Writer"}),
    ]
    for query, filters in pairs:
        by_text = searcher.search(query)
        by_filter = searcher.search("Azerbaijan", **filters)  # type: ignore[arg-type]
        assert [h.passage.id for h in by_text.hits] == [h.passage.id for h in by_filter.hits]
        assert by_text.total == by_filter.total >= 1, query


def test_restrictions_narrow_the_filters_and_share_their_errors(searcher: Searcher) -> None:
    assert searcher.search("Azerbaijan year:2024", date_from="2025").total == 0
    with pytest.raises(QueryError, match="Narnia"):
        searcher.search("Azerbaijan country:Narnia")
    with pytest.raises(QueryError, match="disagree"):
        searcher.search("Azerbaijan tag:trade", tag="energy")


def test_a_phrase_of_stop_words_says_it_was_ignored(searcher: Searcher) -> None:
    result = searcher.search('corridor "of the"')
    assert any("too common" in n for n in result.reading.notices)
    assert result.total >= 1


def test_a_query_in_another_script_is_said_to_be_foreign(searcher: Searcher) -> None:
    result = searcher.search("الممر الأوسط")
    assert result.reading.language == "ar"
    assert any("reads English" in n for n in result.reading.notices)
    english = searcher.search("who argues the US should follow Israel's lead in Baku?")
    assert english.reading.notices == [] and english.reading.language == "en"
    assert searcher.search("Middle Corridor").reading.language is None  # too short to tell


_TEXT = st.text(alphabet=st.sampled_from(list("abc xyz")), min_size=1, max_size=60)


@given(_TEXT, st.lists(st.sampled_from(["ab", "abc", "xyz", "a"]), min_size=1, max_size=3))
def test_phrase_spans_are_the_phrase_words_side_by_side(text: str, words: list[str]) -> None:
    analyzer = Analyzer()
    terms = analyzer.terms(" ".join(words))
    for start, end in analyzer.phrase_spans(text, terms):
        assert analyzer.terms(text[start:end]) == terms
    tokens, n = text.split(), len(words)
    if terms and any(tokens[i : i + n] == words for i in range(len(tokens))):
        assert analyzer.phrase_spans(text, terms)


def test_analyze_turns_phrases_and_exclusions_into_terms() -> None:
    analyzer = Analyzer()
    matching = analyze(
        parse_query('"Middle Corridor" "the sea" -Russia -"cold war" energy'), analyzer
    )
    assert matching.required == ("middle", "corridor", "sea")
    assert matching.phrases == (("middle", "corridor"),)
    assert matching.excluded == ("russia",)
    assert matching.excluded_phrases == (("cold", "war"),)
    assert matching.words == {"energy", "sea"}


def test_paging_a_phrase_query_is_slices_of_one_ranking(tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    articles = [
        a.__class__(id=f"a{i}", title=f"Note {i}",
                    text=("The Middle Corridor grows. " if i % 2 else "Middle East corridor. ")
                    + "Trade " * (i % 5))
        for i, a in enumerate([ARTICLES[0]] * 30)
    ]  # fmt: skip
    build_index(articles, tmp_path / "index", embedder)
    searcher = Searcher.load(tmp_path / "index", embedder)
    for mode in ("hybrid", "lexical", "dense"):
        whole = searcher.search('"middle corridor"', mode=mode, k=100)
        assert whole.total == 15 == len(whole.hits)
        pages = [
            searcher.search('"middle corridor"', mode=mode, k=4, offset=o) for o in (0, 4, 8, 12)
        ]
        assert [h.passage.id for p in pages for h in p.hits] == [h.passage.id for h in whole.hits]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from policy_search.api.app import create_app
    from policy_search.api.settings import Settings

    index_dir = tmp_path_factory.mktemp("syntax-api") / "index"
    build_index(ARTICLES, index_dir, FakeEmbedder())
    app = create_app(Settings(index_dir=index_dir), embedder=FakeEmbedder())
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@given(
    st.lists(_PART, min_size=1, max_size=6).map(" ".join), st.sampled_from(["hybrid", "lexical"])
)
def test_any_query_is_answered_or_refused_cleanly(client, text: str, mode: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/search", params={"q": text, "mode": mode, "k": 20})
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert response.json()["error"].startswith("q: ")
        return
    body = response.json()
    analyzer = Analyzer()
    parsed = parse_query(text)
    matching = analyze(parsed, analyzer)
    for hit in body["results"]:
        passage = hit["passage"]["text"]
        for phrase in matching.phrases:
            assert analyzer.phrase_spans(passage, phrase), (text, passage)
        terms = set(analyzer.terms(passage))
        assert not terms & set(matching.excluded), (text, passage)
        for phrase in matching.excluded_phrases:
            assert not analyzer.phrase_spans(passage, phrase)
        assert set(matching.required) <= terms


def test_an_excluded_country_removes_the_passages_naming_it_any_way(tmp_path: Path) -> None:
    embedder = FakeEmbedder()
    articles = [
        *ARTICLES,
        ARTICLES[0].__class__(
            id="pipeline", title="Gas routes",
            text="Gas from the Russian Federation reaches Europe through Turkey.",
        ),
        ARTICLES[0].__class__(
            id="lng", title="Gas routes too", text="Gas from Qatar reaches Europe by sea.",
        ),
    ]  # fmt: skip
    build_index(articles, tmp_path / "index", embedder)
    searcher = Searcher.load(tmp_path / "index", embedder)
    ids = {h.article.id for h in searcher.search("gas Europe", k=20).hits}
    assert {"pipeline", "lng"} <= ids
    without = searcher.search("gas Europe -Russia", k=20)
    assert "pipeline" not in {h.article.id for h in without.hits}  # "Russian Federation"
    assert "lng" in {h.article.id for h in without.hits}
    assert all("RU" not in h.passage.countries for h in without.hits)
