"""policy-search: semantic search over policy articles.

This package is the Python client (httpx alone, what `pip install policy-search` brings):

    from policy_search import Client

    with Client("http://127.0.0.1:8000") as client:
        for hit in client.search("Middle Corridor").hits:
            print(hit.rank, hit.article.title, hit.article.source)

Its records (`SearchResult`, `Hit`, `Article`, …) are the API's own, defined once for the server
and the client in `policy_search.wire` (standard library only).

The server is its subpackages and modules (`policy_search.index` builds the index,
`policy_search.search` ranks over it, `policy_search.app` serves it, `policy_search.cli` is the
`policy-search` command); they need the `server` extra: `pip install 'policy-search[server]'`.
"""

from typing import TYPE_CHECKING, Any

from policy_search.wire import (
    Article,
    ArticleInput,
    ArticleMeta,
    Explanation,
    Health,
    Hit,
    Passage,
    SearchResult,
    Similar,
    SourceCount,
    Stats,
    WriteResult,
)

if TYPE_CHECKING:
    from policy_search.client import (
        ArticleLike,
        AsyncClient,
        Client,
        SearchAPIError,
        SearchConnectionError,
        SearchTimeout,
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

# The client's own names (`policy_search.client.__all__`, a test holds them equal) need httpx:
# imported on first use, so that the records (and every module of the server) import without it.
_CLIENT = frozenset(
    {
        "ArticleLike",
        "AsyncClient",
        "Client",
        "SearchAPIError",
        "SearchConnectionError",
        "SearchTimeout",
    }
)


def __getattr__(name: str) -> Any:
    """`Client`, `AsyncClient`, the errors and `ArticleLike`, from `policy_search.client`."""
    if name in _CLIENT:
        from policy_search import client

        return getattr(client, name)
    raise AttributeError(f"module 'policy_search' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names, the lazy ones included."""
    return sorted(__all__)
