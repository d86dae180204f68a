"""chunk_article: offsets slice the text, passages fit, nothing is lost, overlap is bounded.

The properties run with the fake embedder (a token is a word or a punctuation mark) so that short
texts already need several passages; one test checks the same with the real model's tokenizer.
"""

from __future__ import annotations

import itertools
import logging
import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from policy_search.index.analysis.chunk import (
    ChunkSettings,
    chunk_article,
    embed_text,
    sentence_spans,
    title_prefix,
)
from policy_search.index.errors import IndexInternalError
from policy_search.index.readers import read_paths
from policy_search.index.readers.article import Article
from tests.conftest import ROOT
from tests.fakes import FakeEmbedder

DEFAULT = ChunkSettings()


class PieceEmbedder(FakeEmbedder):
    """Word pieces like a real tokenizer: a word is its first letter, then runs of three.

    So a piece cut from the middle of a word tokenizes differently on its own ("efg" inside
    "abcdefg" is one token, alone it is "e" + "fg"), as with WordPiece.
    """

    def token_spans(self, texts):
        out = []
        for text in texts:
            spans = []
            for m in re.finditer(r"\w+|[^\w\s]", text):
                start, end = m.span()
                if end - start > 1 and m.group()[0].isalnum():
                    spans.append((start, start + 1))
                    spans.extend((i, min(i + 3, end)) for i in range(start + 1, end, 3))
                else:
                    spans.append((start, end))
            out.append(spans)
        return out


def count(embedder, text):
    return len(embedder.token_spans([text])[0])


def check_invariants(article, embedder, chunk_settings):
    """Assert every invariant of chunk_article; return the passages."""
    text = article.text
    passages = chunk_article(article, embedder, chunk_settings)
    prefix = title_prefix(article, embedder, chunk_settings)
    limit = min(chunk_settings.max_tokens, embedder.max_tokens) - embedder.special_tokens

    # (d) in order, numbered 0..n-1, non-empty
    assert passages, "a non-blank text gives at least one passage"
    assert [p.ordinal for p in passages] == list(range(len(passages)))
    for p in passages:
        assert p.article_id == article.id
        assert 0 <= p.start < p.end <= len(text)
        assert p.text.strip()
        # (a) offsets slice the article text exactly
        assert text[p.start : p.end] == p.text
        # (b) the embedded text fits the model with its special tokens
        assert count(embedder, embed_text(prefix, p.text)) <= limit
    for prev, nxt in itertools.pairwise(passages):
        assert prev.start <= nxt.start
        assert prev.end < nxt.end, "every passage brings new text"
        # (e) overlap is whole trailing sentences worth at most overlap_tokens
        if nxt.start < prev.end:
            shared = text[nxt.start : prev.end]
            assert count(embedder, shared) <= chunk_settings.overlap_tokens
            assert len(shared) < len(prev.text)

    # (c) every non-whitespace character of every sentence lies in some passage
    covered = bytearray(len(text))
    for p in passages:
        covered[p.start : p.end] = b"\x01" * (p.end - p.start)
    for start, end in sentence_spans(text):
        missing = [i for i in range(start, end) if not text[i].isspace() and not covered[i]]
        assert not missing, f"characters {missing[:5]} of sentence {start}:{end} not covered"
    return passages


# Strategies

_word_chars = st.characters(codec="utf-8", categories=["L", "N", "Mn"])
words = st.one_of(
    st.text(_word_chars, min_size=1, max_size=14),
    st.sampled_from(["U.S.", "foo-bar", "don't", "3.14", "e.g.", "(see", "note)", "—", "🙂"]),
)
sentences = st.builds(
    lambda ws, end: " ".join(ws) + end,
    st.lists(words, min_size=1, max_size=80),
    st.sampled_from([".", "!", "?", "", ";", "…", "。", '."']),
)
sentence_texts = st.builds(
    lambda ss, sep: sep.join(ss),
    st.lists(sentences, min_size=1, max_size=25),
    st.sampled_from([" ", "\n", "\n\n", "  ", "\t"]),
)
titles = st.text(min_size=1, max_size=200)
any_text = st.one_of(
    st.text(min_size=1, max_size=2000),
    st.text(
        st.one_of(st.characters(codec="utf-8"), st.sampled_from(list("  \n\n.!?,;'\"-aeAE"))),
        min_size=1,
        max_size=3000,
    ),
)
chunk_settings = st.builds(
    ChunkSettings,
    max_tokens=st.integers(min_value=24, max_value=300),
    overlap_tokens=st.integers(min_value=0, max_value=40),
    title_tokens=st.integers(min_value=1, max_value=12),
    with_title=st.booleans(),
)


@settings(max_examples=800, deadline=None)
@given(text=any_text, title=titles)
def test_invariants_arbitrary_text(text, title):
    assume(text.strip())
    check_invariants(Article(id="a", title=title, text=text), FakeEmbedder(), DEFAULT)


@settings(max_examples=400, deadline=None)
@given(text=sentence_texts, title=titles)
def test_invariants_sentences(text, title):
    assume(text.strip())
    check_invariants(Article(id="a", title=title, text=text), FakeEmbedder(), DEFAULT)


@settings(max_examples=400, deadline=None)
@given(text=sentence_texts, title=titles, chunk_settings=chunk_settings)
def test_invariants_sentences_other_settings(text, title, chunk_settings):
    assume(text.strip())
    check_invariants(Article(id="a", title=title, text=text), FakeEmbedder(), chunk_settings)


@settings(max_examples=300, deadline=None)
@given(text=sentence_texts, title=titles)
def test_invariants_when_pieces_retokenize_differently(text, title):
    """Sentences cut mid-word must still fit and leave no gap (regression: pieces were measured
    in context only, so a window could overflow, be cut short, and drop text)."""
    assume(text.strip())
    check_invariants(Article(id="a", title=title, text=text), PieceEmbedder(), DEFAULT)


# Examples


def test_long_sentence_is_split_into_contiguous_pieces():
    emb = FakeEmbedder()
    text = " ".join(f"w{i}" for i in range(200)) + "."  # one sentence of 201 tokens
    article = Article(id="a", title="T", text=text)
    passages = check_invariants(article, emb, DEFAULT)
    budget = emb.max_tokens - emb.special_tokens - 1  # one token of title
    assert len(passages) == 4  # ceil(201 / 61), cut into equal pieces: no tiny tail
    sizes = [count(emb, p.text) for p in passages]
    assert sum(sizes) == 201 and max(sizes) <= budget and max(sizes) - min(sizes) <= 3
    assert " ".join(p.text for p in passages) == text
    assert passages[0].start == 0 and passages[-1].end == len(text)


def test_passages_fill_the_budget_from_whole_sentences():
    emb = FakeEmbedder()
    sentence = "Alpha beta gamma delta epsilon zeta eta theta iota."  # 10 tokens
    text = " ".join([sentence] * 20)
    passages = check_invariants(Article(id="a", title="T", text=text), emb, DEFAULT)
    assert all(p.text.startswith("Alpha") and p.text.endswith("iota.") for p in passages)
    counts = [count(emb, p.text) for p in passages]
    assert set(counts[:-1]) == {60}  # six sentences fit in 61 tokens, seven do not
    assert counts[-1] in (10, 20, 30, 40, 50, 60)


def test_overlap_repeats_trailing_sentences():
    emb = FakeEmbedder()
    sentence = "Alpha beta gamma delta epsilon zeta eta theta iota."  # 10 tokens
    text = " ".join([sentence] * 20)
    article = Article(id="a", title="T", text=text)
    overlapping = chunk_article(article, emb, ChunkSettings(overlap_tokens=32))
    for prev, nxt in itertools.pairwise(overlapping):
        assert count(emb, text[nxt.start : prev.end]) == 30  # three whole sentences carried
    disjoint = chunk_article(article, emb, ChunkSettings(overlap_tokens=0))
    assert all(nxt.start > prev.end for prev, nxt in itertools.pairwise(disjoint))
    assert len(disjoint) < len(overlapping)


def test_long_title_is_truncated_in_prefix():
    emb = FakeEmbedder()
    title = " ".join(f"t{i}" for i in range(100))
    article = Article(id="a", title=title, text="A short body.")
    prefix = title_prefix(article, emb, DEFAULT)
    assert count(emb, prefix) == DEFAULT.title_tokens
    assert prefix == " ".join(f"t{i}" for i in range(DEFAULT.title_tokens))
    [passage] = check_invariants(article, emb, DEFAULT)
    assert embed_text(prefix, passage.text) == f"{prefix}\nA short body."


def test_short_title_is_kept_whole():
    article = Article(id="a", title="Rain in spring", text="Body.")
    assert title_prefix(article, FakeEmbedder(), DEFAULT) == "Rain in spring"


def test_without_title_there_is_no_prefix_and_more_room():
    emb = FakeEmbedder()
    title = " ".join(f"t{i}" for i in range(10))
    text = " ".join(f"w{i}" for i in range(300))
    article = Article(id="a", title=title, text=text)
    off = ChunkSettings(with_title=False)
    assert title_prefix(article, emb, off) == ""
    assert embed_text("", "passage") == "passage"
    untitled = check_invariants(article, emb, off)
    titled = check_invariants(article, emb, DEFAULT)
    # 300 tokens in equal pieces: 5 of 60 under a budget of 62; 6 of 50 under 52 with the title.
    assert [count(emb, p.text) for p in untitled] == [60] * 5
    assert [count(emb, p.text) for p in titled] == [50] * 6


def test_sentence_spans_are_trimmed_ordered_and_disjoint():
    text = "  First sentence here.  Second one!\n\nThird?  "
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == ["First sentence here.", "Second one!", "Third?"]
    assert sentence_spans("   \n ") == []


@pytest.mark.model
def test_real_model_passages_fit_and_slice(real_embedder, data_dir):
    """With the real tokenizer every embedded passage has at most 256 tokens with [CLS]/[SEP]."""
    path = data_dir / "policy/us-presidential-speeches/articles.jsonl.gz"
    speech = next(iter(read_paths([path])))
    vocab = ["antidisestablishmentarianism", "Übermäßigkeit", "日本語のテキスト", "naïve", "x"]
    vocab += ["foo-bar", "https://example.org/a/b?c=d", "🙂", "counterintelligence", "Hajiyev"]
    run_on = " ".join(vocab[(i * 7) % len(vocab)] for i in range(3000))  # no sentence ends
    articles = [speech, Article(id="run-on", title="Run on " * 60, text=run_on)]
    for article in articles:
        passages = check_invariants(article, real_embedder, DEFAULT)
        prefix = title_prefix(article, real_embedder, DEFAULT)
        assert len(passages) > 5
        for p in passages:
            tokens = count(real_embedder, embed_text(prefix, p.text))
            assert tokens + real_embedder.special_tokens <= 256
            assert article.text[p.start : p.end] == p.text


def test_a_long_sentence_is_cut_into_equal_pieces():
    emb = FakeEmbedder()
    settings = ChunkSettings(overlap_tokens=0, with_title=False)
    budget = emb.max_tokens - emb.special_tokens
    text = " ".join(f"w{i}" for i in range(budget)) + " ."  # one token over the budget
    passages = chunk_article(Article(id="a", title="T", text=text), emb, settings)
    sizes = [len(emb.token_spans([p.text])[0]) for p in passages]
    assert len(sizes) == 2 and min(sizes) >= budget // 2 - 1


def test_sentence_offsets_are_blingfire_s_own_over_real_and_non_ascii_text() -> None:
    import blingfire

    from policy_search.index.analysis.chunk import _sentence_offsets, _splitter

    texts = [a.text for a in read_paths([ROOT / "corpus"])]
    texts += ["é. Ü? 中文。 Ok. 😀 done.", "Mr. Smith went to D.C. today. He left.", "x\n\ny"]
    split = _splitter()
    for text in texts:
        assert _sentence_offsets(text, split) == blingfire.text_to_sentences_and_offsets(text)[1]
    assert _sentence_offsets("", split) == []  # blingfire's own wrapper fails an assertion here


def test_a_text_blingfire_cannot_split_is_one_sentence_and_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """blingfire failing on a text (it returns -1) leaves it one sentence, and says so in the
    log: never a silent change of how a text is cut."""
    from policy_search.index.analysis import chunk

    monkeypatch.setattr(chunk, "_splitter", lambda: lambda *args: -1)
    text = "First sentence. Second one."
    with caplog.at_level(logging.WARNING, logger="policy_search.index.analysis.chunk"):
        assert sentence_spans(text) == [(0, len(text))]
    assert "taken as one sentence" in caplog.text and "returned -1" in caplog.text


def test_a_blingfire_without_its_splitter_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another blingfire whose C function is gone (a private symbol): one error that says what
    to install, raised rather than turned into one sentence a text."""
    import blingfire

    from policy_search.index.analysis import chunk

    monkeypatch.setattr(blingfire, "blingfire", object())
    chunk._splitter.cache_clear()
    try:
        with pytest.raises(IndexInternalError, match=r"install blingfire>=0\.1\.8,<0\.2"):
            sentence_spans("One. Two.")
    finally:
        chunk._splitter.cache_clear()
