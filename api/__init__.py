"""policy-search: semantic search over policy articles.

This package is the Python client (httpx alone, what `pip install policy-search` brings):

    from policy_search import Client

    with Client("http://127.0.0.1:8000") as client:
        for hit in client.search("Middle Corridor").hits:
            print(hit.rank, hit.article.title, hit.article.source)

The server is its subpackages and modules (`policy_search.index` builds the index,
`policy_search.search` ranks over it, `policy_search.app` serves it, `policy_search.cli` is the
`policy-search` command); they need the `server` extra: `pip install 'policy-search[server]'`.
"""

from policy_search.client import (
    Article,
    ArticleInput,
    ArticleLike,
    ArticleMeta,
    AsyncClient,
    Client,
    Explanation,
    Health,
    Hit,
    Passage,
    SearchAPIError,
    SearchConnectionError,
    SearchResult,
    SearchTimeout,
    Similar,
    SourceCount,
    Stats,
    WriteResult,
)

__all__ = [
    "Article",
    "ArticleInput",
    "ArticleLike",
    "ArticleMeta",
    "AsyncClient",
    "Client",
    "Explanation",
    "Health",
    "Hit",
    "Passage",
    "SearchAPIError",
    "SearchConnectionError",
    "SearchResult",
    "SearchTimeout",
    "Similar",
    "SourceCount",
    "Stats",
    "WriteResult",
]
