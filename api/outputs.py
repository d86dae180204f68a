"""Routes that write the API's answers in other formats: exports of a search (`format=` on
/search), citations of an article or a span of it, and what formats and styles there are.

The formats and styles themselves are the registry's (policy_search.api.render).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from policy_search import records
from policy_search.api.render.cite import cite
from policy_search.api.render.export import export_chunks, export_filename
from policy_search.api.render.registry import RENDERERS, formats, renderer
from policy_search.api.schemas import EXPORT_FORMAT, CiteQuery
from policy_search.api.settings import Settings
from policy_search.search.searcher import Searcher

__all__ = ["EXPORT_RESPONSES", "ExportFormatParam", "export_response", "router"]

router = APIRouter()
_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": records.ErrorBody} for code in (404, 422, 503)
}
# The spec's word on /search's other answers: a file of each format.
EXPORT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "A page of hits (JSON), or with `format` the export as a file.",
        "content": {r.media_type.split(";")[0]: {} for r in RENDERERS.values()},
    }
}
# POST /search's `format`: a query parameter, as the body is the query itself.
ExportFormatParam = Annotated[
    records.ExportFormat | None, Query(description=EXPORT_FORMAT.description)
]


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _searcher(request: Request) -> Searcher:
    return request.app.state.live.get()


def export_response(
    searcher: Searcher, query: records.SearchRequest, name: str, request: Request
) -> StreamingResponse:
    """The query's whole result set (up to the export limit) as a file in format `name`."""
    settings = _settings(request)
    chosen = renderer(name)
    chunks = export_chunks(
        searcher, query, chosen, limit=settings.export_limit,
        base_url=settings.page_url(str(request.base_url)),
    )  # fmt: skip
    filename = export_filename(query, chosen)
    return StreamingResponse(
        chunks, media_type=chosen.media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )  # fmt: skip


@router.get(
    "/articles/{article_id:path}/cite", operation_id="cite_article",
    response_model=records.Citation, responses=_ERRORS, tags=["articles"],
)  # fmt: skip
def cite_article(
    request: Request,
    article_id: str,
    searcher: Annotated[Searcher, Depends(_searcher)],
    req: Annotated[CiteQuery, Query()],
) -> records.Citation:
    """The article (or the span `[start, end)` of its text) cited in a style, with the exact
    quote and a permalink that shows it highlighted."""
    article = searcher.article(article_id)
    base = _settings(request).page_url(str(request.base_url))
    return cite(article, req.record(), base_url=base, accessed=datetime.now(UTC).date())


@router.get(
    "/formats", operation_id="get_formats", response_model=records.Formats, tags=["service"]
)
def get_formats(request: Request) -> records.Formats:
    """The export formats of /search's `format` and the citation styles of /cite's `style`."""
    return formats(_settings(request).export_limit)
