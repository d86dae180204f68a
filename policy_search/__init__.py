"""policy-search: semantic search over policy articles.

The root package holds what every layer shares and what a client-only install needs (httpx
alone, what `pip install policy-search` brings): the records (`policy_search.records`, standard
library only: the article, the query, the hit, the result, the stats, the error body) and the
Python client (`policy_search.client`, imported on first use):

    from policy_search import Client

    with Client("http://127.0.0.1:8000") as client:
        for hit in client.search("Middle Corridor").hits:
            print(hit.rank, hit.article.title, hit.article.source)

The server is its subpackages, each a folder at the top of the checkout: `policy_search.index`
(index/) builds the index, `policy_search.search` (search/) ranks over it, `policy_search.api`
(api/) serves it over HTTP, with the web page and the `policy-search` command. They need the
`server` extra: `pip install 'policy-search[server]'`.
"""

from typing import TYPE_CHECKING, Any

from policy_search.records import (
    Alert,
    AlertCreated,
    AlertList,
    AlertRequest,
    Article,
    ArticleInput,
    ArticleMeta,
    ArticlePassage,
    Citation,
    Explanation,
    FacetCount,
    Health,
    Hit,
    Passage,
    SearchRequest,
    SearchResult,
    Similar,
    Snippet,
    SourceCount,
    Stats,
    WriteResult,
)

if TYPE_CHECKING:
    from policy_search.client import (
        AlertOptions,
        ArticleLike,
        AsyncClient,
        Client,
        QueryOptions,
        SearchAPIError,
        SearchConnectionError,
        SearchOptions,
        SearchTimeout,
    )

__all__ = [
    "Alert",
    "AlertCreated",
    "AlertList",
    "AlertOptions",
    "AlertRequest",
    "Article",
    "ArticleInput",
    "ArticleLike",
    "ArticleMeta",
    "ArticlePassage",
    "AsyncClient",
    "Citation",
    "Client",
    "Explanation",
    "FacetCount",
    "Health",
    "Hit",
    "Passage",
    "QueryOptions",
    "SearchAPIError",
    "SearchConnectionError",
    "SearchOptions",
    "SearchRequest",
    "SearchResult",
    "SearchTimeout",
    "Similar",
    "Snippet",
    "SourceCount",
    "Stats",
    "WriteResult",
]


def __getattr__(name: str) -> Any:
    """The client's names (`policy_search.client.__all__`), imported on first use: they need
    httpx, and the records (and every module of the server) import without it."""
    if name in __all__:  # every other name of __all__ is bound above
        from policy_search import client

        return getattr(client, name)
    raise AttributeError(f"module 'policy_search' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names, the lazy ones included."""
    return sorted(__all__)
