"""Answer queries over a built index (imports `index` and the records, never `api`).

`Searcher.search` takes a `policy_search.records.SearchRequest` (or its text and options) and
returns a `policy_search.records.SearchResult`.
"""

from policy_search.search.errors import ArticleNotFound, QueryError
from policy_search.search.filters import Filters
from policy_search.search.fusion import FusionSettings
from policy_search.search.highlight import highlight_spans
from policy_search.search.searcher import MODES, Searcher, check_request

__all__ = [
    "MODES",
    "ArticleNotFound",
    "Filters",
    "FusionSettings",
    "QueryError",
    "Searcher",
    "check_request",
    "highlight_spans",
]
