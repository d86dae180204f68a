"""Sentence-aware, token-aware chunking with character offsets.

An article's text is cut into sentences (blingfire), each sentence measured with the embedding
model's own tokenizer, and whole sentences are packed into windows that fit the model's limit
together with the title that is embedded with them. A sentence longer than a window is cut at word
piece boundaries. Consecutive windows share up to `overlap_tokens` of trailing sentences.
Every passage keeps `[start, end)` such that `article.text[start:end] == passage.text`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from policy_search.index.analysis.embed import Embedder
from policy_search.index.errors import IndexInternalError
from policy_search.index.readers.article import Article

__all__ = [
    "ChunkSettings",
    "Passage",
    "chunk_article",
    "embed_text",
    "sentence_spans",
    "title_prefix",
]

logger = logging.getLogger(__name__)
SPLITTER = "TextToSentencesWithOffsets"  # blingfire's C function (blingfire.blingfire)


@dataclass(frozen=True, slots=True)
class ChunkSettings:
    """How articles are cut into passages."""

    max_tokens: int = 256  # the whole embedded text, special tokens included
    overlap_tokens: int = 32
    title_tokens: int = 48  # at most this much of the title is embedded with each passage
    with_title: bool = True


@dataclass(frozen=True, slots=True)
class Passage:
    """A window of whole sentences of one article."""

    article_id: str
    ordinal: int
    start: int  # character offsets into the article text, [start, end)
    end: int
    text: str


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence boundaries as character spans, whitespace trimmed, in order, non-overlapping.

    Every non-whitespace character is in some span: text that blingfire leaves out of its
    sentences (a leading U+200B or U+FEFF, which it takes for space) is a sentence of its own.
    """
    split = _splitter()  # outside the try: a blingfire without it is an install to fix
    try:
        offsets = _sentence_offsets(text, split)
    except Exception as exc:  # blingfire rejects some odd input; the gap below is the whole text
        logger.warning(
            "blingfire could not split a text of %d characters into sentences (%s); it is "
            "taken as one sentence",
            len(text), exc,
        )  # fmt: skip
        offsets = []
    spans: list[tuple[int, int]] = []
    last = 0
    for start, end in [*offsets, (len(text), len(text))]:
        start = min(max(start, last), len(text))
        for piece in ((last, start), (start, min(end, len(text)))):  # the gap, the sentence
            trimmed = _trim(text, *piece)
            if trimmed:
                spans.append(trimmed)
                last = trimmed[1]
    return spans


@functools.cache
def _splitter() -> Callable[..., int]:
    """blingfire's C entry point that splits sentences with offsets, or IndexInternalError
    saying what to install. It is reached past blingfire's Python wrapper (_sentence_offsets
    says why), so it is not blingfire's public API: the version is pinned (pyproject.toml) and
    the symbol checked here, on first use, rather than failing in every call."""
    import blingfire

    entry = getattr(getattr(blingfire, "blingfire", None), SPLITTER, None)
    if entry is None:
        raise IndexInternalError(
            f"the installed blingfire ({getattr(blingfire, '__version__', 'unknown version')}) "
            f"has no {SPLITTER}, which sentence splitting calls: install blingfire>=0.1.8,<0.2"
        )
    return entry  # type: ignore[no-any-return]


def _sentence_offsets(text: str, split: Callable[..., int]) -> list[tuple[int, int]]:
    """blingfire's sentences as character spans. Its own wrapper maps UTF-8 offsets to
    characters in a Python loop over every byte (half a millisecond a passage, most of a
    query's snippets); here the same map is one numpy count of the bytes that start a
    character (none for ASCII text, where a byte is a character), and blingfire writes into
    numpy buffers, which need no zeroing and are read without a Python list between."""
    from ctypes import c_char_p, c_int, c_void_p

    data = text.encode("utf-8")
    if not data:
        return []
    size = len(data) * 2
    out = np.empty(size, np.uint8)
    starts, ends = np.empty(size, np.int32), np.empty(size, np.int32)
    found = split(
        c_char_p(data), c_int(len(data)), c_void_p(out.ctypes.data),
        c_void_p(starts.ctypes.data), c_void_p(ends.ctypes.data), c_int(size),
    )  # fmt: skip
    if found == -1 or found > size:
        raise ValueError(f"{SPLITTER} returned {found}")
    written = out[:found]
    nul = np.flatnonzero(written == 0)  # the sentences end at the first NUL, as a C string
    count = int(np.count_nonzero(written[: nul[0] if len(nul) else found] == 10)) + 1
    first = np.minimum(starts[:count], len(data))
    last = np.minimum(ends[:count] + 1, len(data))  # ends inclusive
    if len(data) != len(text):  # not ASCII: byte offsets to character offsets
        leads = (np.frombuffer(data, dtype=np.uint8) & 0xC0) != 0x80  # a character's first byte
        chars_before = np.concatenate([[0], np.cumsum(leads, dtype=np.int64)])  # in data[:b]
        first, last = chars_before[first], chars_before[last]
    return list(zip(first.tolist(), last.tolist(), strict=True))


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    """`text[start:end]` without surrounding whitespace, or None when nothing else is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def embed_text(title_prefix: str, passage_text: str) -> str:
    """The text the model sees for a passage: the title as context, then the passage."""
    return f"{title_prefix}\n{passage_text}" if title_prefix else passage_text


def title_prefix(article: Article, embedder: Embedder, settings: ChunkSettings) -> str:
    """The part of the title embedded with each passage (empty when titles are off)."""
    if not settings.with_title:
        return ""
    spans = embedder.token_spans([article.title])[0]
    if len(spans) <= settings.title_tokens:
        return article.title
    return article.title[: spans[settings.title_tokens - 1][1]]


def _units(text: str, embedder: Embedder, budget: int) -> list[tuple[int, int, int]]:
    """Sentences as (start, end, tokens); sentences over the budget cut at word pieces."""
    spans = sentence_spans(text)
    token_spans = embedder.token_spans([text[s:e] for s, e in spans])
    units: list[tuple[int, int, int]] = []
    for (start, end), tokens in zip(spans, token_spans, strict=True):
        if len(tokens) <= budget:
            units.append((start, end, len(tokens)))
            continue
        # Equal pieces, so no tail of a token or two ("." alone) becomes a passage of its own.
        size = -(-len(tokens) // -(-len(tokens) // budget))
        i, piece_start = 0, start
        while i < len(tokens):
            # A piece that starts mid-word tokenizes differently on its own: measure it alone
            # too, and shrink it until it fits, so no window overflows and gets cut short later.
            take = min(size, len(tokens) - i)
            while True:
                piece_end = start + tokens[i + take - 1][1] if i + take < len(tokens) else end
                while piece_start < piece_end and text[piece_start].isspace():
                    piece_start += 1  # pieces are contiguous, so every character stays covered
                alone = len(embedder.token_spans([text[piece_start:piece_end]])[0])
                if alone <= budget or take == 1:
                    break
                take = max(1, take - (alone - budget))
            if piece_start < piece_end:
                units.append((piece_start, piece_end, max(take, alone)))
            i, piece_start = i + take, piece_end
    return units


def _windows(units: Sequence[tuple[int, int, int]], budget: int, overlap: int) -> list[range]:
    """Greedy packing of units into windows of at most `budget` tokens, with overlap."""
    windows: list[range] = []
    first = 0
    while first < len(units):
        last, used = first, 0
        while last < len(units) and used + units[last][2] <= budget:
            used += units[last][2]
            last += 1
        last = max(last, first + 1)
        windows.append(range(first, last))
        if last >= len(units):
            break
        carry, nxt = 0, last
        while nxt - 1 > first and carry + units[nxt - 1][2] <= overlap:
            carry += units[nxt - 1][2]
            nxt -= 1
        if carry + units[last][2] > budget:
            nxt = last
        first = nxt
    return windows


def chunk_article(article: Article, embedder: Embedder, settings: ChunkSettings) -> list[Passage]:
    """Cut one article into passages that fit the model with their title prefix."""
    prefix = title_prefix(article, embedder, settings)
    prefix_tokens = len(embedder.token_spans([prefix])[0]) if prefix else 0
    limit = min(settings.max_tokens, embedder.max_tokens) - embedder.special_tokens
    budget = max(limit - prefix_tokens, 8)
    units = _units(article.text, embedder, budget)
    passages: list[Passage] = []
    for window in _windows(units, budget, settings.overlap_tokens):
        start, end = units[window[0]][0], units[window[-1]][1]
        passages.append(Passage(article.id, len(passages), start, end, article.text[start:end]))
    return _enforce_limit(passages, article, embedder, prefix, limit)


def _enforce_limit(
    passages: list[Passage], article: Article, embedder: Embedder, prefix: str, limit: int
) -> list[Passage]:
    """Re-measure each passage as embedded; shrink the rare one where tokens did not add up."""
    counts = [len(s) for s in embedder.token_spans([embed_text(prefix, p.text) for p in passages])]
    fixed: list[Passage] = []
    for passage, count in zip(passages, counts, strict=True):
        while count > limit:
            spans = embedder.token_spans([passage.text])[0]
            keep = len(spans) - (count - limit)
            if keep < 1 or len(spans) <= 1:
                break
            end = passage.start + spans[max(keep, 1) - 1][1]
            passage = Passage(
                article.id, passage.ordinal, passage.start, end, article.text[passage.start : end]
            )
            count = len(embedder.token_spans([embed_text(prefix, passage.text)])[0])
        fixed.append(passage)
    return fixed
