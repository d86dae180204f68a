"""Snippets: the two or three sentences of a passage that answer its query.

A passage is a 256-token window, a wall of text on a results page. Its snippet is a run of at
most `SENTENCES` consecutive sentences of it, at most about `WORDS` words: the run with the most
distinct query words (then the most matches, then the earliest), or, for a passage that matched
by meaning alone, the run whose sentences are nearest in meaning to the query (the caller scores
them: the model's static vectors, index/analysis/static.py, with no model call; `meaning_scores`
embeds them with the model itself, the choice those are measured against: bench/snippets.py).
A run longer than `WORDS` words is cut at words around its first match.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from policy_search.index.analysis.chunk import sentence_spans
from policy_search.index.analysis.embed import Embedder
from policy_search.records import Snippet

__all__ = ["SENTENCES", "WORDS", "make_snippet", "meaning_scores"]

SENTENCES = 3
WORDS = 60
_WORD = re.compile(r"\S+")


def make_snippet(
    text: str,
    highlights: Sequence[tuple[int, int]],
    *,
    sentences: Sequence[tuple[int, int]] | None = None,
    nearness: Sequence[float] | None = None,
) -> Snippet:
    """The snippet of a passage `text` with the query's word spans `highlights`; `nearness`: one
    score per sentence of `sentences` (cosine to the query) for a passage without matches."""
    spans = list(sentences) if sentences is not None else sentence_spans(text)
    if not spans:
        return Snippet(text=text, start=0, end=len(text), highlights=list(highlights))
    if highlights:
        matched = _matched_words(text, spans, highlights)
        key = _by_matches(matched)
    else:
        key = _by_nearness(list(nearness) if nearness is not None else [0.0] * len(spans))
    first, last = _best_run(spans, key, text)
    start, end = _cut(text, spans[first][0], spans[last][1], highlights)
    inside = [(s - start, e - start) for s, e in highlights if s >= start and e <= end]
    return Snippet(text=text[start:end], start=start, end=end, highlights=inside)


def meaning_scores(
    embedder: Embedder,
    vector: np.ndarray,
    texts: Sequence[str],
    sentences: Sequence[Sequence[tuple[int, int]]],
) -> list[list[float]]:
    """For each passage text, the cosine of each of its `sentences` to the query `vector`: one
    call of the model for all of them (the reference the static vectors are measured against)."""
    flat = [t[s:e] for t, ss in zip(texts, sentences, strict=True) for s, e in ss]
    if not flat:
        return [[] for _ in texts]
    cosines = (embedder.encode(flat) @ np.asarray(vector, dtype=np.float32)).tolist()
    out, at = [], 0
    for ss in sentences:
        out.append(cosines[at : at + len(ss)])
        at += len(ss)
    return out


def _matched_words(
    text: str, spans: Sequence[tuple[int, int]], highlights: Sequence[tuple[int, int]]
) -> list[list[str]]:
    """Per sentence, its matched words, lower-cased."""
    words: list[list[str]] = [[] for _ in spans]
    starts = [s for s, _ in spans]
    for s, e in highlights:
        i = int(np.searchsorted(starts, s, side="right")) - 1
        if i >= 0 and s < spans[i][1]:
            words[i].append(text[s:e].lower())
    return words


RunKey = Callable[[int, int], tuple[float, float, int]]


def _by_matches(matched: list[list[str]]) -> RunKey:
    """A run's worth: its distinct matched words, then its matches, then fewer sentences
    without one (`_widen` adds the context back); earlier runs win ties."""

    def key(first: int, last: int) -> tuple[float, float, int]:
        run = matched[first : last + 1]
        distinct = len({w for ws in run for w in ws})
        return (distinct + 0.0, sum(map(len, run)) - sum(not ws for ws in run) / 10, -first)

    return key


def _by_nearness(nearness: list[float]) -> RunKey:
    """A run's worth: its sentence nearest the query, then their mean; earlier runs win ties."""

    def key(first: int, last: int) -> tuple[float, float, int]:
        run = nearness[first : last + 1] or [0.0]
        return (max(run), sum(run) / len(run), -first)

    return key


def _best_run(spans: Sequence[tuple[int, int]], key: RunKey, text: str) -> tuple[int, int]:
    """The first and last sentence of the best run of at most SENTENCES sentences that keeps
    within WORDS words (a single sentence may exceed it: `_cut` trims it)."""
    lengths = [len(_WORD.findall(text, s, e)) for s, e in spans]
    best: tuple[float, float, int] | None = None
    chosen = (0, 0)
    for first in range(len(spans)):
        words = 0
        for last in range(first, min(first + SENTENCES, len(spans))):
            words += lengths[last]
            if last > first and words > WORDS:
                break
            worth = key(first, last)
            if best is None or worth > best:
                best, chosen = worth, (first, last)
    return _widen(*chosen, lengths)


def _widen(first: int, last: int, lengths: Sequence[int]) -> tuple[int, int]:
    """The run with its neighbours added (the next, then the one before) while it keeps within
    SENTENCES sentences and WORDS words: context around the matches."""
    words = sum(lengths[first : last + 1])
    while last - first + 1 < SENTENCES:
        if last + 1 < len(lengths) and words + lengths[last + 1] <= WORDS:
            last += 1
            words += lengths[last]
        elif first > 0 and words + lengths[first - 1] <= WORDS:
            first -= 1
            words += lengths[first]
        else:
            break
    return first, last


def _cut(text: str, start: int, end: int, highlights: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """`[start, end)` cut to at most WORDS words, keeping its first match in view."""
    words = list(_WORD.finditer(text, start, end))
    if len(words) <= WORDS:
        return start, end
    first = next((s for s, _ in highlights if start <= s < end), start)
    at = next((i for i, w in enumerate(words) if w.end() > first), 0)
    begin = max(0, min(at - WORDS // 4, len(words) - WORDS))
    return words[begin].start(), words[begin + WORDS - 1].end()
