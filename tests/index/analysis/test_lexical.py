"""The analyzer and the BM25 index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_search.index.errors import IndexCorrupt
from policy_search.index.storage.lexical import Analyzer, LexicalIndex, LexicalSettings
from policy_search.search.highlight import highlight_spans


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


def test_terms_are_stemmed_without_stopwords(analyzer: Analyzer) -> None:
    assert analyzer.terms("The corridors AND routes of Azerbaijan") == [
        "corridor",
        "route",
        "azerbaijan",
    ]
    assert analyzer.terms("Who argues the US should follow?") == [
        "who",
        "argue",
        "us",
        "should",
        "follow",
    ]


@pytest.mark.parametrize("query", ['"quoted', "a* OR (b", "NEAR/3", "x^2 $y \\z", "\x00\u202e🙂"])
def test_syntax_characters_are_not_terms(analyzer: Analyzer, query: str) -> None:
    assert all(t.isalnum() or "_" in t for t in analyzer.terms(query))


def test_unicode_words(analyzer: Analyzer) -> None:
    assert analyzer.terms("Hajıyev Bakı Ελλάδα") == ["hajıyev", "bakı", "ελλάδα"]


def test_highlight_spans_use_the_same_stems(analyzer: Analyzer) -> None:
    text = "Corridors; the corridor. Route-building routes!"
    spans = highlight_spans(text, analyzer.terms("corridor routing"), analyzer)
    assert [text[s:e] for s, e in spans] == ["Corridors", "corridor", "Route", "routes"]
    assert highlight_spans(text, [], analyzer) == []


def test_index_round_trip(tmp_path: Path, analyzer: Analyzer) -> None:
    texts = ["Hikmet Hajiyev met Netanyahu", "the Middle Corridor trade route", "spring rain"]
    index = LexicalIndex.build(texts, np.array([10, 11, 12]), LexicalSettings())
    index.save(tmp_path / "lex")
    loaded = LexicalIndex.load(tmp_path / "lex", LexicalSettings())
    scores = loaded.scores(analyzer.terms("Hajiyev"))
    assert scores[0] > 0 and scores[1] == scores[2] == 0
    assert loaded.ids.tolist() == [10, 11, 12]
    assert not loaded.scores([]).any() and not loaded.scores(["neverseen"]).any()
    assert loaded.scores(["corridor", "corridor"])[1] == loaded.scores(["corridor"])[1]


def test_damaged_index_is_refused(tmp_path: Path) -> None:
    LexicalIndex.build(["a text"], np.array([0]), LexicalSettings()).save(tmp_path / "lex")
    (tmp_path / "lex" / "ids.npy").write_bytes(b"junk")
    with pytest.raises(IndexCorrupt, match="lexical"):
        LexicalIndex.load(tmp_path / "lex", LexicalSettings())


TEXTS = [
    "The Middle Corridor links China to Europe across the Caspian Sea",
    "Azerbaijan may join the Abraham Accords; Baku met Israeli diplomats",
    "Spring rain fell on the valley, rain and rain again",
    "Trade across the Caspian grew as shippers avoided Russia",
    "the the the",
]


def test_scores_are_lucene_bm25_as_bm25s_computes_them(analyzer: Analyzer) -> None:
    import bm25s

    terms = [analyzer.terms(t) for t in TEXTS]
    ours = LexicalIndex.from_terms(terms, np.arange(len(TEXTS)), LexicalSettings())
    reference = bm25s.BM25(k1=1.2, b=0.5, method="lucene")
    reference.index(terms, show_progress=False)
    for query in ("Caspian trade", "rain", "Baku Accords Caspian", "nothing matches"):
        words = analyzer.terms(query)
        ids = sorted({reference.vocab_dict[w] for w in words if w in reference.vocab_dict})
        expected = reference.get_scores_from_ids(ids) if ids else np.zeros(len(TEXTS))
        np.testing.assert_allclose(ours.scores(words), expected, rtol=1e-5, atol=1e-6)


def test_appending_and_removing_equal_building_from_scratch(analyzer: Analyzer) -> None:
    terms = [analyzer.terms(t) for t in TEXTS]
    ids = np.array([3, 8, 9, 20, 21])
    whole = LexicalIndex.from_terms(terms, ids, LexicalSettings())
    pieces = LexicalIndex.from_terms(terms[:2], ids[:2], LexicalSettings()).plus(terms[2:], ids[2:])
    shrunk = whole.without(np.array([8, 21, 999]))
    rebuilt = LexicalIndex.from_terms([terms[0], *terms[2:4]], ids[[0, 2, 3]], LexicalSettings())
    for query in ("Caspian trade", "rain Baku"):
        words = analyzer.terms(query)
        np.testing.assert_array_equal(pieces.scores(words), whole.scores(words))
        np.testing.assert_allclose(shrunk.scores(words), rebuilt.scores(words), rtol=1e-6)
    assert shrunk.ids.tolist() == [3, 9, 20] and whole.without(np.array([77])) is whole


@pytest.mark.parametrize(
    "text",
    [
        "Dying, lying and tying; skies early only gently. The Skis ran idly.",
        "İstanbul and ISTANBUL; Ελλάδα, ΕΛΛΆΔΑ; Bakı, BAKI; naïve Naïve; straße STRASSE",
        "Corridors; the corridor. Route-building routes! Hajiyev's Hajıyev",
    ],
)
def test_matching_spans_are_term_spans_filtered(analyzer: Analyzer, text: str) -> None:
    stems = {stem for _, _, stem in analyzer.term_spans(text)}
    for wanted in [{s} for s in stems] + [stems, {"die", "lie", "tie", "sky", "nothing"}]:
        expected = [(s, e) for s, e, stem in analyzer.term_spans(text) if stem in wanted]
        assert analyzer.matching_spans(text, wanted) == expected, wanted


def test_pairs_near_finds_phrases_in_order_across_stop_words() -> None:
    analyzer = Analyzer()
    pairs = {("law", "sea"), ("middle", "corridor")}
    text = "The Law of the Sea binds us. A corridor in the Middle East is another matter."
    assert analyzer.pairs_near(text, pairs) == {("law", "sea")}  # "corridor ... Middle": reversed
    assert analyzer.pairs_near("the Middle Corridor's ports", pairs) == {("middle", "corridor")}
    far = "the middle of a long and winding corridor"
    assert analyzer.pairs_near(far, pairs) == set()
    assert analyzer.pairs_near(far, pairs, window=4) == {("middle", "corridor")}
    assert analyzer.pairs_near("", pairs) == set()


# -- what matches (issue 26) ---------------------------------------------------------------


def judged_pairs() -> list[tuple[str, str, str]]:
    """(kind, first, second) of tests/data/stem_pairs.tsv."""
    lines = (
        (Path(__file__).resolve().parents[2] / "data" / "stem_pairs.tsv").read_text().splitlines()
    )
    rows = [line.split("\t") for line in lines if line and not line.startswith("#")]
    return [(k, a, b) for k, a, b in rows[1:]]


# The judged pairs the default stemmer gets wrong (bench/README.md has every candidate's):
# irregular plurals a suffix stripper cannot see, and Krovetz's own dictionary's choices.
KNOWN_MISSES = {
    ("commit", "committed"), ("child", "children"), ("woman", "women"),
    ("politics", "political"), ("sustainable", "sustainability"),
    ("international", "internationally"),
}  # fmt: skip


def test_inflections_meet_and_derivations_do_not(analyzer: Analyzer) -> None:
    pairs = judged_pairs()
    assert len(pairs) >= 80 and {k for k, _, _ in pairs} == {"inflection", "derivation"}
    wrong = {
        (a, b)
        for kind, a, b in pairs
        if (analyzer.terms(a) == analyzer.terms(b)) != (kind == "inflection")
    }
    assert wrong == KNOWN_MISSES  # a fix shows here: take the pair off the list


def test_the_issues_examples(analyzer: Analyzer) -> None:
    text = "According to the Accords, in accordance with what was accorded; national nationalism"
    spans = highlight_spans(text, analyzer.terms("Accords"), analyzer)
    assert [text[s:e] for s, e in spans] == ["Accords", "accorded"]
    text = "The nations, a nation, national interests and nationalism"
    spans = highlight_spans(text, analyzer.terms("nations"), analyzer)
    assert [text[s:e] for s, e in spans] == ["nations", "nation"]
    assert analyzer.terms("treaties sanctions sanctioned") == ["treaty", "sanction", "sanction"]
    assert analyzer.terms("member states, human rights") == ["member", "state", "human", "right"]


@pytest.mark.parametrize("prefix", ["non", "anti", "post", "pre", "counter", "co", "re", "de"])
def test_a_hyphenated_prefix_stays_with_its_word(analyzer: Analyzer, prefix: str) -> None:
    joined = analyzer.terms(f"{prefix}-proliferation")
    assert len(joined) == 1 and joined == analyzer.terms(f"{prefix}proliferation")
    assert joined == analyzer.terms(f"{prefix.upper()}-Proliferation")
    assert joined != analyzer.terms("proliferation")
    text = f"{prefix}-proliferation and proliferation"
    spans = analyzer.matching_spans(text, set(analyzer.terms("proliferation")))
    assert [text[s:e] for s, e in spans] == ["proliferation"]
    spans = analyzer.matching_spans(text, set(joined))
    assert [text[s:e] for s, e in spans] == [f"{prefix}-proliferation"]


def test_a_number_or_a_word_that_is_no_prefix_stays_apart(analyzer: Analyzer) -> None:
    assert analyzer.terms("post-2015 agenda") == ["post", "2015", "agenda"]
    assert analyzer.terms("cross-border route-building") == ["cross", "border", "route", "building"]
    assert analyzer.terms("a non- issue") == ["non", "issue"]


WORDS = st.sampled_from(
    ["non", "proliferation", "the", "of", "Law", "Sea", "accords", "accordance", "pre", "-",
     "nations", "national", "treaties", "x", "2015", "İ", "re", "elected", "Non-", "co"]
)  # fmt: skip
SEPARATORS = st.sampled_from([" ", "-", ", ", ".\n", "--", " - ", "'"])


@st.composite
def texts(draw: st.DrawFn) -> str:
    words = draw(st.lists(WORDS, max_size=14))
    return "".join(w + draw(SEPARATORS) for w in words)


@settings(max_examples=300, deadline=None)
@given(text=texts(), query=texts())
def test_highlights_are_exactly_the_words_that_matched(text: str, query: str) -> None:
    analyzer = Analyzer()
    stems = set(analyzer.terms(query))
    expected = [(s, e) for s, e, stem in analyzer.term_spans(text) if stem in stems]
    assert analyzer.matching_spans(text, stems) == expected
    assert [stem for _, _, stem in analyzer.term_spans(text)] == analyzer.terms(text)


def test_phrase_spans_skip_stop_words(analyzer: Analyzer) -> None:
    text = "The Law of the Sea; a law, the sea. LAW OF THE SEA"
    phrase = analyzer.terms("Law of the Sea")
    assert phrase == ["law", "sea"]
    spans = analyzer.phrase_spans(text, phrase)
    assert [text[s:e] for s, e in spans] == ["Law of the Sea", "law, the sea", "LAW OF THE SEA"]
    reversed_ = [text[s:e] for s, e in analyzer.phrase_spans(text, ["sea", "law"])]
    assert reversed_ == ["Sea; a law", "sea. LAW"]
    assert analyzer.phrase_spans(text, []) == [] and analyzer.phrase_spans("", phrase) == []
    text = "non-proliferation treaties bind; proliferation treaty"
    spans = analyzer.phrase_spans(text, analyzer.terms("non-proliferation treaty"))
    assert [text[s:e] for s, e in spans] == ["non-proliferation treaties"]


@settings(max_examples=300, deadline=None)
@given(text=texts(), phrase=texts())
def test_phrase_spans_are_runs_of_the_terms_in_order(text: str, phrase: str) -> None:
    analyzer = Analyzer()
    terms = analyzer.terms(phrase)
    words = analyzer.term_spans(text)
    spans = analyzer.phrase_spans(text, terms)
    for start, end in spans:
        inside = [w for w in words if start <= w[0] and w[1] <= end]
        assert [stem for _, _, stem in inside] == terms
        assert inside[0][0] == start and inside[-1][1] == end
    n = len(terms)
    runs = sum(
        1 for i in range(len(words) - n + 1) if n and [w[2] for w in words[i : i + n]] == terms
    )
    assert len(spans) == runs
