"""The FastAPI application: search, articles, health; the model and index load in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import RedirectResponse

from api.errors import error_response, install_error_handlers
from api.schemas import (
    ArticleResponse,
    ErrorResponse,
    HealthResponse,
    SearchRequest,
    SearchResponse,
)
from api.settings import Settings, force_offline
from index.embed import Embedder, load_embedder
from index.errors import IndexMissing, IndexStoreError
from search.searcher import Searcher

__all__ = ["create_app"]

log = logging.getLogger("policy_search.api")

_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (404, 413, 422, 503)
}


def get_searcher(request: Request) -> Searcher:
    """The loaded searcher, or 503 saying how to build an index."""
    searcher: Searcher | None = request.app.state.searcher
    if searcher is None:
        raise request.app.state.index_error
    return searcher


SearcherDep = Annotated[Searcher, Depends(get_searcher)]
router = APIRouter()


def _search(searcher: Searcher, req: SearchRequest) -> SearchResponse:
    result = searcher.search(
        req.q, k=req.k, offset=req.offset, mode=req.mode, explain=req.explain,
        min_score=req.min_score,
    )  # fmt: skip
    return SearchResponse.of(result)


@router.get("/search", response_model=SearchResponse, responses=_ERRORS, tags=["search"])
def search_get(searcher: SearcherDep, req: Annotated[SearchRequest, Query()]) -> SearchResponse:
    """Ranked passages for `q`."""
    return _search(searcher, req)


@router.post("/search", response_model=SearchResponse, responses=_ERRORS, tags=["search"])
def search_post(searcher: SearcherDep, req: SearchRequest) -> SearchResponse:
    """Ranked passages for a JSON query (the same fields as GET)."""
    return _search(searcher, req)


@router.get(
    "/articles/{article_id:path}", response_model=ArticleResponse, responses=_ERRORS,
    tags=["articles"],
)  # fmt: skip
def article_get(searcher: SearcherDep, article_id: str) -> ArticleResponse:
    """The whole article, with its text."""
    return ArticleResponse.of(searcher.article(article_id))


@router.get("/health", response_model=HealthResponse, responses=_ERRORS, tags=["service"])
def health(searcher: SearcherDep) -> HealthResponse:
    """Up, with an index loaded: its generation, counts and model."""
    m = searcher.manifest
    return HealthResponse(
        generation=m.generation, articles=m.articles, passages=m.passages, model=m.model_id,
        built_at=m.built_at,
    )  # fmt: skip


def create_app(settings: Settings | None = None, *, embedder: Embedder | None = None) -> FastAPI:
    """Build the app; `embedder` replaces the configured model (tests pass a fake one)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        force_offline()
        model = embedder or load_embedder(settings.model)
        app.state.searcher = None
        app.state.index_error = IndexMissing("no index loaded")
        try:
            app.state.searcher = Searcher.load(
                settings.index_dir, model, fusion=settings.fusion_settings()
            )
        except IndexStoreError as exc:
            log.warning("serving without an index: %s", exc)
            app.state.index_error = exc
        yield
        if app.state.searcher is not None:
            app.state.searcher.close()

    app = FastAPI(
        title="policy-search",
        summary="Semantic search over policy articles: ranked passages with their articles.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.searcher = None
    app.state.index_error = IndexMissing("the index is still loading")
    install_error_handlers(app)
    _limit_body(app, settings.max_body_bytes)
    app.include_router(router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    return app


def _limit_body(app: FastAPI, limit: int) -> None:
    """Refuse request bodies over `limit` bytes with 413 before reading them."""

    @app.middleware("http")
    async def body_limit(request: Request, call_next):  # type: ignore[no-untyped-def]
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                return error_response(400, "invalid Content-Length header")
            if int(length) > limit:
                return error_response(413, f"request body over the limit of {limit} bytes")
        return await call_next(request)
