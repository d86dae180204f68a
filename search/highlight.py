"""Highlight spans: where a passage has the words the query matched (after stemming)."""

from __future__ import annotations

from collections.abc import Iterable

from policy_search.index.lexical import Analyzer

__all__ = ["highlight_spans"]


def highlight_spans(text: str, terms: Iterable[str], analyzer: Analyzer) -> list[tuple[int, int]]:
    """Character spans `[start, end)` in `text` of words whose stem is one of `terms`."""
    wanted = set(terms)
    if not wanted:
        return []
    return analyzer.matching_spans(text, wanted)
