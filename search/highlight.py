"""Highlight spans: where a passage has what the query matched, as the index reads words.

A free word is marked wherever a word of the passage has its term; a phrase is marked whole
(from its first word to its last) where its terms stand side by side in order; an excluded word
is never marked (a hit holds none, but a free word may share its term).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policy_search.index.storage.lexical import Analyzer

__all__ = ["highlight_spans"]


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
    whole = sorted({span for phrase in phrases for span in analyzer.phrase_spans(text, phrase)})
    merged: list[tuple[int, int]] = []
    for start, end in whole:  # phrases that overlap ("middle corridor" in "the middle corridor")
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    alone = [s for s in spans if not any(a <= s[0] and s[1] <= b for a, b in merged)]
    return sorted(alone + merged)
