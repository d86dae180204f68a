"""Highlight spans: where the query's words occur in a passage."""

from __future__ import annotations

import re

__all__ = ["STOPWORDS", "highlight_spans", "query_terms"]

_WORD = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    "a an and are as at be but by for from has have he her his i if in into is it its of on or our "
    "she so than that the their them then there these they this to was we were what when where "
    "which who whom why will with would you your".split()
)


def query_terms(query: str) -> set[str]:
    """The query's words, case-folded, without stop words."""
    words = (m.group().casefold() for m in _WORD.finditer(query))
    return {w for w in words if len(w) > 1 and w not in STOPWORDS}


def highlight_spans(query: str, text: str) -> list[tuple[int, int]]:
    """Character spans `[start, end)` in `text` of words that occur in the query."""
    terms = query_terms(query)
    if not terms:
        return []
    return [m.span() for m in _WORD.finditer(text) if m.group().casefold() in terms]
