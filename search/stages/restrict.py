"""The restrict stage: the request's filters and its text's restrictions (`country:AZ`,
`year:2020..2024`, the words its phrases require and its exclusions forbid) turned into the
passages a query may rank, before ranking, so a filtered query still finds k of them."""

from __future__ import annotations

from typing import Any

from policy_search.search.filters import Filters
from policy_search.search.stages import Corpus
from policy_search.search.stages.parse import Query

__all__ = ["restrict"]


def restrict(corpus: Corpus, query: Query) -> Any:
    """The passages the query may rank (the corpus's own form of them), or None: every one;
    QueryError for a filter that cannot be (an unknown country)."""
    filters = Filters.of(query.request, query.parsed, query.matching)
    return corpus.restrict(filters) if filters.active else None
