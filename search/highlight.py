"""Highlight spans: where a passage has what the query matched, as the index reads words.

A free word is marked wherever a word of the passage has its term; a phrase is marked whole
(from its first word to its last) where its terms stand side by side in order; an excluded word
is never marked (a hit holds none, but a free word may share its term).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policy_search.index.lexical import Analyzer

__all__ = ["highlight_spans", "phrase_spans"]


def highlight_spans(
    text: str,
    terms: Iterable[str],
    analyzer: Analyzer,
    phrases: Sequence[Sequence[str]] = (),
) -> list[tuple[int, int]]:
    """Character spans `[start, end)` in `text` of words whose term is one of `terms`, and of
    each of `phrases` (its terms in order) where it occurs whole; sorted, never overlapping."""
    wanted = set(terms)
    spans = analyzer.matching_spans(text, wanted) if wanted else []
    if not phrases:
        return spans
    whole = sorted({span for phrase in phrases for span in phrase_spans(text, phrase, analyzer)})
    merged: list[tuple[int, int]] = []
    for start, end in whole:  # phrases that overlap ("middle corridor" in "the middle corridor")
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    alone = [s for s in spans if not any(a <= s[0] and s[1] <= b for a, b in merged)]
    return sorted(alone + merged)


def phrase_spans(text: str, phrase: Sequence[str], analyzer: Analyzer) -> list[tuple[int, int]]:
    """Where the terms of `phrase` occur in `text` side by side and in order, among the words
    the index reads (stop words between them aside): each span from its first word's start to
    its last word's end."""
    if not phrase:
        return []
    spans = analyzer.matching_spans(text, set(phrase))
    if len(phrase) == 1:
        return spans
    stems = [analyzer.terms(text[s:e])[:1] for s, e in spans]
    found = []
    n = len(phrase)
    for i in range(len(spans) - n + 1):
        if all(stems[i + j] == [phrase[j]] for j in range(n)) and all(
            not analyzer.terms(text[spans[i + j][1] : spans[i + j + 1][0]]) for j in range(n - 1)
        ):
            found.append((spans[i][0], spans[i + n - 1][1]))
    return found
