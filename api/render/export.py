"""A search's whole result set, streamed in an output format: page after page of one searcher.

Every page is read from the one `Searcher` the export started with, so the file is one commit's
ranking whole, however long the download takes and whatever is written meanwhile; pages of
`MAX_K` hits are rendered and dropped as they go, so memory holds one page, whatever the size.
The first page is read before the response starts, so a query the searcher refuses is a 422 in
the one error shape, not a broken download.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

from policy_search.api.render.registry import Renderer
from policy_search.records import MAX_K, Hit, SearchRequest, SearchResult
from policy_search.search.searcher import Searcher

__all__ = ["export_chunks", "export_filename", "pages"]


def pages(searcher: Searcher, request: SearchRequest, limit: int) -> Iterator[SearchResult]:
    """The query's pages of at most MAX_K hits, from its first hit, until the hits or `limit`
    run out (`request`'s own k and offset are not used)."""
    offset = 0
    while offset < limit:
        asked = min(MAX_K, limit - offset)
        page = searcher.search(dataclasses.replace(request, k=asked, offset=offset))
        yield page
        offset += len(page.hits)
        if len(page.hits) < asked or offset >= page.total:
            return


def export_chunks(
    searcher: Searcher, request: SearchRequest, renderer: Renderer, *, limit: int, base_url: str
) -> Iterator[bytes]:
    """The export's bytes in chunks; the first page is searched before this returns."""
    walk = pages(searcher, request, limit)
    first = next(walk)  # raises here, before any byte is sent, if the query is refused

    def hits() -> Iterator[Hit]:
        yield from first.hits
        for page in walk:
            yield from page.hits

    chunks = renderer.render(hits(), base_url)
    return (chunk.encode() for chunk in chunks)


def export_filename(request: SearchRequest, renderer: Renderer) -> str:
    """`policy-search-middle-corridor.csv`: the query's words, ASCII, at most 40 characters."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.q.lower()).strip("-")[:40].rstrip("-")
    return renderer.filename(f"policy-search-{slug}" if slug else "policy-search")
