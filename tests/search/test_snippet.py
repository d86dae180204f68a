"""Snippets: a few whole sentences of the passage, at most ~60 words, around the query's words
or, with none, nearest in meaning to the query (the real model: a question of meaning)."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from policy_search.index.analysis.chunk import sentence_spans
from policy_search.index.analysis.embed import Embedder
from policy_search.search.searcher import Searcher
from policy_search.search.snippet import SENTENCES, WORDS, make_snippet, meaning_scores

TEXT = (
    "The ministers met in the morning. Rain fell over the capital all day. "
    "They spoke of the Middle Corridor, which links China to Europe. "
    "The corridor crosses the Caspian Sea by ferry. Trade on it doubled in a year. "
    "Lunch was served at noon. The talks ended at six."
)


def marks(text: str, *words: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for w in words for m in re.finditer(rf"\b{w}\b", text)]


def test_the_snippet_is_the_run_of_sentences_with_the_query_s_words() -> None:
    snippet = make_snippet(TEXT, marks(TEXT, "Middle", "Corridor", "corridor"))
    assert snippet.text == TEXT[snippet.start : snippet.end]
    assert snippet.text.startswith("They spoke of the Middle Corridor")
    assert "Caspian" in snippet.text and "Rain" not in snippet.text
    assert [snippet.text[s:e] for s, e in snippet.highlights] == ["Middle", "Corridor", "corridor"]
    assert len(snippet.text.split()) <= WORDS


def test_a_long_sentence_is_cut_at_words_around_its_first_match() -> None:
    words = [f"w{i}" for i in range(300)]
    words[200] = "Baku"
    text = " ".join(words) + "."
    snippet = make_snippet(text, marks(text, "Baku"))
    assert len(snippet.text.split()) == WORDS
    assert "Baku" in snippet.text and snippet.text == text[snippet.start : snippet.end]
    assert [snippet.text[s:e] for s, e in snippet.highlights] == ["Baku"]


@given(st.lists(st.sampled_from(["Baku.", "oil", "gas", "Pipelines run west.", "A", "\n\n"]),
                max_size=80))  # fmt: skip
def test_a_snippet_is_always_a_span_of_whole_words_within_the_limits(parts: list[str]) -> None:
    text = " ".join(parts)
    found = marks(text, "Baku", "gas")
    snippet = make_snippet(text, found)
    assert snippet.text == text[snippet.start : snippet.end]
    assert len(snippet.text.split()) <= max(WORDS, 1)
    for s, e in snippet.highlights:
        assert (s + snippet.start, e + snippet.start) in found
    if found and text.strip():
        assert snippet.highlights  # a passage with a match shows one


def test_without_a_match_the_snippet_is_the_sentences_nearest_in_meaning(
    real_embedder: Embedder,
) -> None:
    query = real_embedder.encode(["heavy rainfall and flooding"])[0]
    sentences = sentence_spans(TEXT)
    (nearness,) = meaning_scores(real_embedder, query, [TEXT], [sentences])
    snippet = make_snippet(TEXT, [], sentences=sentences, nearness=nearness)
    assert "Rain fell over the capital" in snippet.text
    assert len(nearness) >= SENTENCES


def test_hits_carry_snippets_in_every_mode(corpus_index: Path, real_embedder: Embedder) -> None:
    searcher = Searcher.load(corpus_index, real_embedder)
    for mode in ("hybrid", "dense", "lexical"):
        for hit in searcher.search("Middle Corridor", mode=mode, k=5).results:
            s = hit.snippet
            assert hit.passage.text[s.start : s.end] == s.text
            assert len(s.text.split()) <= WORDS and s.text.strip()
    # A hit found by meaning alone has no matched word: its snippet is still its nearest part.
    meaning = searcher.search("countries that ship goods between Asia and Europe", mode="dense")
    assert all(h.snippet.text for h in meaning.results)
