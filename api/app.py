"""The FastAPI application: search, articles, health, stats.

The model and the index load in the lifespan; `LiveSearcher` follows new index generations, so
writes (here or from the CLI in another process) become visible without a restart.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import TypeAdapter

from policy_search import records
from policy_search.api.alerts import alert_matcher
from policy_search.api.alerts import router as alert_router
from policy_search.api.cursors import Pager
from policy_search.api.errors import install_error_handlers
from policy_search.api.ids import ARTICLE_ID_PATH
from policy_search.api.limits import BodyLimit
from policy_search.api.live import LiveSearcher
from policy_search.api.metrics import TimedEmbedder, count_search
from policy_search.api.metrics import install as install_metrics
from policy_search.api.outputs import EXPORT_RESPONSES, ExportFormatParam, export_response
from policy_search.api.outputs import router as output_router
from policy_search.api.schemas import ExportQuery, SearchRequest
from policy_search.api.settings import Settings, force_offline
from policy_search.api.writequeue import WriteQueue
from policy_search.api.writes import router as write_router
from policy_search.index.analysis.embed import Embedder
from policy_search.search.corpus import Corpus
from policy_search.search.searcher import Searcher
from policy_search.search.shards import open_corpus

__all__ = ["create_app", "get_searcher"]

log = logging.getLogger("policy_search.api")
STATIC = Path(__file__).resolve().parent / "static"

ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": records.ErrorBody} for code in (404, 408, 413, 422, 503)
}


async def get_searcher(request: Request) -> Searcher:
    """The current searcher, or 503 saying how to build an index."""
    # async: it only reads an attribute, and a sync dependency costs a hop to the thread pool.
    return request.app.state.live.get()


class RecordResponse(JSONResponse):
    """A search result as JSON, written by the route's own response model (pydantic-core: the
    same bytes) without validating again what the searcher built, and so without the thread
    pool hop FastAPI makes for that validation after a sync route: under load that hop waits
    behind other searches for a thread. (orjson was measured, and writes these records slower:
    0.13 ms against 0.09 on the UN index's answers.)"""

    def render(self, content: Any) -> bytes:
        """The result's JSON."""
        return _SEARCH_RESULT.dump_json(content)


_SEARCH_RESULT = TypeAdapter(records.SearchResult)


SearcherDep = Annotated[Searcher, Depends(get_searcher)]
router = APIRouter()


def _route(
    method: str,
    path: str,
    operation_id: str,
    answer: type,
    tag: str,
    more: dict[int | str, dict[str, object]] | None = None,
) -> Any:
    """A route of `router` answering the record `answer` (or what `more` adds), or an error in
    the one shape."""
    return router.api_route(
        path, methods=[method], operation_id=operation_id, response_model=answer,
        responses={**ERRORS, **(more or {})}, tags=[tag],
    )  # fmt: skip


def _page(request: Request, searcher: Searcher, query: records.SearchRequest) -> Response:
    """The page asked for: at the newest commit, or with a cursor at the cursor's."""
    live: LiveSearcher = request.app.state.live
    result = request.app.state.pager.search(query, searcher, latest=live.latest)
    count_search(result.mode)
    return RecordResponse(result)


@_route("GET", "/search", "search", records.SearchResult, "search", EXPORT_RESPONSES)
def search(
    searcher: SearcherDep, req: Annotated[ExportQuery, Query()], request: Request
) -> records.SearchResult | Response:
    """Ranked passages for `q`; with `format`, all of them as a file."""
    if req.format is not None:
        record = req.record()
        response = export_response(searcher, record, req.format, request)
        count_search(record.mode)
        return response
    return _page(request, searcher, req.record())


@_route("POST", "/search", "search_post", records.SearchResult, "search", EXPORT_RESPONSES)
def search_post(
    searcher: SearcherDep, req: SearchRequest, request: Request, format: ExportFormatParam = None
) -> records.SearchResult | Response:
    """Ranked passages for a JSON query (the same fields as GET); with `format`, all of them
    as a file."""
    if format is not None:
        record = req.record()
        response = export_response(searcher, record, format, request)
        count_search(record.mode)
        return response
    return _page(request, searcher, req.record())


@_route("GET", "/search/options", "search_options", records.SearchChoices, "search")
def search_options() -> records.SearchChoices:
    """What a search offers: its modes, orders, facets and filters (no index needed)."""
    return records.SearchChoices.offered()


@_route("GET", "/articles/{article_id:path}/similar", "get_similar", records.SimilarResult,
        "articles")  # fmt: skip
def get_similar(
    searcher: SearcherDep,
    article_id: str,
    k: Annotated[
        int, Query(ge=1, le=records.MAX_K, description="How many articles to return.")
    ] = 10,
) -> records.SimilarResult:
    """The articles nearest to this one, excluding itself."""
    return searcher.similar(article_id, k=k)


@_route("GET", f"/articles/{ARTICLE_ID_PATH}", "get_article", records.Article, "articles")
def get_article(searcher: SearcherDep, article_id: str) -> records.Article:
    """The whole article, with its text."""
    return searcher.article(article_id)


@_route("GET", "/health", "get_health", records.Health, "service")
def get_health(searcher: SearcherDep) -> records.Health:
    """Up, with an index loaded: its generation, counts and model."""
    return searcher.health()


@_route("GET", "/stats", "get_stats", records.Stats, "service")
def get_stats(searcher: SearcherDep) -> records.Stats:
    """Articles, passages, sources with counts, date range, generation, size on disk."""
    return searcher.stats()


def _serve_docs(app: FastAPI) -> None:
    """Swagger UI at /docs with its script and style from the `swagger-ui-bundle-v2` package,
    so the page works with no internet (FastAPI's own /docs loads them from a CDN)."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from swagger_ui_bundle import swagger_ui_path

    assets = "/docs-assets"
    app.mount(assets, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} – API",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
        )


def create_app(
    settings: Settings | None = None,
    *,
    embedder: Embedder | None = None,
    corpus: Callable[[Path], Corpus] | None = None,
) -> FastAPI:
    """Build the app; `embedder` replaces the configured model (tests pass a fake one), and
    `corpus` opens the index directory in place of reading it in this process (the shards of
    a sharded index on Ray Serve: api/ray_serve.py)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import faiss

        force_offline()
        # One query is one FAISS call over one vector: OpenMP adds nothing but a second thread
        # spinning after each call, stealing the core that the next request needs.
        faiss.omp_set_num_threads(1)
        # Routes run in anyio's thread pool (40 threads by default). Python runs one thread at a
        # time, so 40 searches at once share the GIL unfairly and the unlucky ones starve (a
        # 10 s answer under harness.soak); with a few threads the rest wait in arrival order.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        model = embedder or settings.embedder()
        if settings.metrics:
            model = TimedEmbedder(model)  # the model's time, for /metrics
        ranker = settings.ranker()
        if settings.learned_ranker:
            ranker.booster  # noqa: B018  the trees, built now: a bad model fails the start
        # A shard holds the commits it gave out as long as a cursor may page them.
        opened = corpus or functools.partial(
            open_corpus, timeout=settings.shard_timeout, hold=settings.cursor_ttl
        )
        live = LiveSearcher(
            settings.index_dir, model, settings.fusion_settings(), settings.article_settings(),
            corpus=opened, ranker=ranker, confidence_floor=settings.floor(ranker),
            learned_order=settings.learned_ranker,
        )  # fmt: skip
        # In a thread: opening shards on Ray Serve waits on their answers, which an event
        # loop must not do (api/ray_serve.py).
        await anyio.to_thread.run_sync(live.refresh)
        live.watch(settings.reload_seconds)
        app.state.live = live
        app.state.pager = Pager(
            settings.cursor_secret(), ttl=settings.cursor_ttl, limit=settings.cursor_points
        )
        app.state.writes = WriteQueue(live)
        app.state.percolator = alert_matcher(settings, live)  # writes match the saved alerts
        yield
        app.state.writes.close()
        live.stop()

    app = FastAPI(
        title="policy-search",
        summary="Semantic search over policy articles: ranked passages with their articles.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served below from a package's copy of Swagger UI, not from a CDN
        redoc_url=None,  # ReDoc would come from a CDN: /docs is the one reference page
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, timeout=settings.request_timeout)
    if settings.cors_origins:
        # Off unless configured: the page is served from the same origin and needs no CORS.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    if settings.metrics:
        install_metrics(app)
    app.include_router(output_router)
    app.include_router(router)
    app.include_router(write_router)
    app.include_router(alert_router)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _serve_docs(app)

    @app.get("/", operation_id="get_page", include_in_schema=False)
    def page() -> FileResponse:
        """The web page (plain HTML/CSS/JS; the URL's query string carries its state)."""
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    return app
