"""Answer queries over a built index (imports `index`, never `api`)."""

from policy_search.search.errors import ArticleNotFound, QueryError
from policy_search.search.highlight import highlight_spans
from policy_search.search.searcher import (
    MAX_K,
    MAX_QUERY_CHARS,
    ArticleRecord,
    Hit,
    Searcher,
    SearchResult,
    check_query,
)

__all__ = [
    "MAX_K",
    "MAX_QUERY_CHARS",
    "MODES",
    "ArticleNotFound",
    "ArticleRecord",
    "Explanation",
    "FusionSettings",
    "Hit",
    "QueryError",
    "SearchResult",
    "Searcher",
    "check_query",
    "highlight_spans",
]
