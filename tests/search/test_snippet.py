"""Snippets: a few whole sentences of the passage, at most ~60 words, around the query's words
or, with none, nearest in meaning to the query by the model's static vectors, without a model call
(the real model: a question of meaning)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from policy_search.index.analysis.chunk import sentence_spans
from policy_search.index.analysis.embed import Embedder
from policy_search.index.analysis.static import StaticVectors, static_vectors_of
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


# Queries that share no word with TEXT, some with the sentence they are about.
MEANINGS = {
    "heavy rainfall and flooding": "Rain fell over the capital",
    "boats carrying cargo over water": "The corridor crosses the Caspian",
    "government officials gathered": "The ministers met",
    "a meal in the middle of the day": "Lunch was served",
    "weather in the city": "Rain fell over the capital",
    "when the negotiations finished": "",
    "a railway joining Asia and the West": "",
    "a route from the Far East to the West": "",
    "commerce grew quickly": "",
    "a trade route linking China with Europe": "",
}


def static_of(embedder: Embedder) -> StaticVectors:
    static = static_vectors_of(embedder)
    assert static is not None, "the real model has static vectors"
    return static


def test_without_a_match_the_snippet_is_the_sentences_nearest_in_meaning(
    real_embedder: Embedder,
) -> None:
    """The static vectors mostly pick the run the model picks by embedding each sentence (7 of
    these 10; about half of the judged index's passages: bench/README.md)."""
    sentences = sentence_spans(TEXT)
    agree = 0
    for query, sentence in MEANINGS.items():
        vector = real_embedder.encode([query])[0]
        (by_model,) = meaning_scores(real_embedder, vector, [TEXT], [sentences])
        (by_static,) = static_of(real_embedder).nearness([TEXT], [sentences], vector)
        assert len(by_static) == len(sentences) >= SENTENCES
        model = make_snippet(TEXT, [], sentences=sentences, nearness=by_model)
        static = make_snippet(TEXT, [], sentences=sentences, nearness=by_static)
        assert sentence in model.text and sentence in static.text, query
        agree += (static.start, static.end) == (model.start, model.end)
    assert agree >= 6


def test_static_vectors_are_unit_means_of_word_pieces_and_zero_without_one(
    real_embedder: Embedder,
) -> None:
    static = static_of(real_embedder)
    text = "Rain fell. ... Trade doubled."
    vectors = static.sentence_vectors(text, [(0, 10), (10, 11), (11, 14), (15, 29)])
    assert np.allclose(np.linalg.norm(vectors, axis=1), [1, 0, 1, 1], atol=1e-5)
    pieces = static.tokenizer.encode("Trade doubled.", add_special_tokens=False).ids
    mean = np.asarray(static.table)[pieces].mean(axis=0)
    assert np.allclose(vectors[3], mean / np.linalg.norm(mean), atol=1e-5)


class NoModelCalls:
    """The real model whose `encode` fails: what builds snippets must not call it."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    def __getattr__(self, name: str) -> Any:
        return getattr(self._embedder, name)

    def encode(self, *args: object, **kwargs: object) -> np.ndarray:
        raise AssertionError("a model call while building snippets")


def test_snippets_by_meaning_call_no_model_and_lie_within_their_passage(
    corpus_index: Path, real_embedder: Embedder
) -> None:
    searcher = Searcher.load(corpus_index, real_embedder)
    # Trade routes between Asia and Europe, in Russian: no word of it is in the English corpus,
    # so every hit matched by meaning alone.
    query = "торговые пути между Азией и Европой"
    searcher.collecting = dataclasses.replace(
        searcher.collecting, embedder=NoModelCalls(real_embedder)
    )
    hits = searcher.search(query, mode="dense", k=10).results
    meaning = [h for h in hits if not h.passage.highlights]
    assert len(meaning) >= 5, "hits matched by meaning alone"
    for hit in hits:
        s = hit.snippet
        assert hit.passage.text[s.start : s.end] == s.text and s.text.strip()
        assert len(s.text.split()) <= WORDS


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
