"""Answer queries over a built index (imports `index`, never `api`)."""

from search.errors import ArticleNotFound, QueryError
from search.highlight import highlight_spans
from search.searcher import (
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
