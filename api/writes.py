"""Write routes: add, replace and remove articles, behind the API key.

With no key configured every write answers 403 and says how to enable writes. The key is checked
before anything else, in constant time, so an unauthenticated caller learns nothing about which
articles exist. A write answers once its commit is durable and being served; it runs on the
server's writer thread (policy_search.api.writequeue), never on a request thread.
"""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Callable
from pathlib import Path as PathType
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Path, Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from policy_search import records
from policy_search.api.errors import AuthError
from policy_search.api.ids import ARTICLE_ID_PATH
from policy_search.api.live import LiveSearcher
from policy_search.api.schemas import ArticleInput, ArticleReplacement
from policy_search.api.settings import Settings
from policy_search.api.writequeue import WriteQueue
from policy_search.index.build import BuildReport, add_articles, remove_articles
from policy_search.index.readers.article import Article, make_article, url_id
from policy_search.patterns import ARTICLE_ID
from policy_search.search.errors import QueryError

__all__ = ["require_writer", "router"]

WRITE_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": records.ErrorBody}
    for code in (401, 403, 404, 408, 409, 413, 422, 502, 503, 504)
}


_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="APIKey",
    description="The server's POLICY_SEARCH_API_KEY; without one configured, writes are off.",
)


def require_writer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
) -> None:
    """Let a write through only with `Authorization: Bearer <POLICY_SEARCH_API_KEY>`."""
    settings: Settings = request.app.state.settings
    if settings.api_key is None:
        raise AuthError(
            403,
            "writes are disabled: start the server with POLICY_SEARCH_API_KEY set to enable them",
        )
    if credentials is None or not credentials.credentials.strip():
        raise AuthError(401, "this route needs `Authorization: Bearer <API key>`")
    expected = settings.api_key.get_secret_value().encode()
    if not hmac.compare_digest(credentials.credentials.strip().encode(), expected):
        raise AuthError(403, "the API key is wrong")


Writer = Annotated[None, Depends(require_writer)]
ArticleIdParam = Annotated[str, Path(max_length=records.MAX_ARTICLE_ID, pattern=ARTICLE_ID)]
router = APIRouter(tags=["articles"], responses=WRITE_ERRORS)


def _article(
    request: Request, body: records.ArticleInput, article_id: str | None = None
) -> Article:
    settings: Settings = request.app.state.settings
    if body.is_url_only:
        from policy_search.index.readers.fetch import fetch_article

        assert body.url is not None
        article = fetch_article(
            body.url, timeout=settings.fetch_timeout, max_bytes=settings.fetch_max_bytes,
            public_only=not settings.fetch_private,
        )  # fmt: skip
        return dataclasses.replace(article, id=article_id or body.id or article.id)
    record = records.to_json(body, drop_none=True)
    if article_id is not None:
        if record.get("id", article_id) != article_id:
            raise QueryError(
                f"the body's id {record['id']!r} differs from the URL's {article_id!r}"
            )
        record["id"] = article_id
    if not record.get("id"):  # ArticleInput has made sure there is a url then
        record["id"] = url_id(record["url"])
    return make_article(record)


def _result(report: BuildReport, ids: list[str]) -> records.WriteResult:
    """A durable write, as the API answers it: the ids written and the index's report."""
    return records.WriteResult(
        ids=ids, generation=report.generation, articles=report.articles,
        passages=report.passages, added=report.added, updated=report.updated,
        removed=report.removed,
    )  # fmt: skip


async def _write(request: Request, write: Callable[[], BuildReport]) -> BuildReport:
    """Run a write on the writer thread; it answers once durable and served."""
    queue: WriteQueue = request.app.state.writes
    return await queue.run(write)


@router.post(
    "/articles", operation_id="add_article", response_model=records.WriteResult, status_code=201
)
async def add_article(_: Writer, request: Request, body: ArticleInput) -> records.WriteResult:
    """Add an article (JSON fields), or fetch one from `{"url": …}`; 409 if the id exists."""
    article = await anyio.to_thread.run_sync(_article, request, body.record())
    live = request.app.state.live
    report = await _write(request, _adding(request, live, article, replace=False))
    return _result(report, [article.id])


@router.put(
    f"/articles/{ARTICLE_ID_PATH}", operation_id="replace_article",
    response_model=records.WriteResult,
    responses={201: {"model": records.WriteResult, "description": "Created"}},
)  # fmt: skip
async def replace_article(
    _: Writer,
    request: Request,
    response: Response,
    article_id: ArticleIdParam,
    body: ArticleReplacement,
) -> records.WriteResult:
    """Create or replace the article with this id (201 when created)."""
    article = await anyio.to_thread.run_sync(_article, request, body.record(), article_id)
    live = request.app.state.live
    report = await _write(request, _adding(request, live, article, replace=True))
    response.status_code = 201 if report.added else 200
    return _result(report, [article.id])


@router.delete(
    f"/articles/{ARTICLE_ID_PATH}",
    operation_id="remove_article",
    response_model=records.WriteResult,
)
async def remove_article(_: Writer, request: Request, article_id: str) -> records.WriteResult:
    """Remove the article; 404 if there is none."""
    index_dir = request.app.state.live.index_dir
    report = await _write(request, _removing(index_dir, article_id))
    return _result(report, [article_id])


def _adding(
    request: Request, live: LiveSearcher, article: Article, *, replace: bool
) -> Callable[[], BuildReport]:
    """The write that adds `article` (to its shard, in a sharded index; merges are the write
    queue's), matching its passages against the saved alerts."""
    percolator = getattr(request.app.state, "percolator", None)
    return lambda: add_articles([article], live.index_dir, live.embedder, replace=replace,
                                merge=False, percolator=percolator)  # fmt: skip


def _removing(index_dir: PathType, article_id: str) -> Callable[[], BuildReport]:
    """The write that removes an article (from its shard, in a sharded index)."""
    return lambda: remove_articles([article_id], index_dir, merge=False)
