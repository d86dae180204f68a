"""Errors about queries and lookups (the index's own errors live in `policy_search.index.errors`).

PolicySearchError
├── QueryError        the query or its options are invalid
└── ArticleNotFound   no article has that id
"""

from __future__ import annotations

from policy_search.index.errors import ArticleNotFound, PolicySearchError

__all__ = ["ArticleNotFound", "QueryError"]


class QueryError(PolicySearchError):
    """A query or option that cannot be answered as given."""
