"""Errors about queries and lookups (the index's own errors live in `policy_search.index.errors`).

PolicySearchError
├── QueryError        the query or its options are invalid
├── ArticleNotFound   no article has that id
└── RankerError       a ranker model file that cannot be read or does not fit this searcher
"""

from __future__ import annotations

from policy_search.index.errors import ArticleNotFound, PolicySearchError

__all__ = ["ArticleNotFound", "QueryError", "RankerError"]


class QueryError(PolicySearchError):
    """A query or option that cannot be answered as given."""


class RankerError(PolicySearchError):
    """A learned ranker's model file that is missing, malformed or of another feature set."""
