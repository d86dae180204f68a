"""A citation of an article, or of a span of its text: the quote, its permalink, the style."""

from __future__ import annotations

from datetime import date as Date
from urllib.parse import urlencode

from policy_search.records import Article, ArticleMeta, Citation, CiteRequest
from policy_search.search.errors import QueryError

__all__ = ["SpanError", "cite", "meta_of", "permalink"]


class SpanError(QueryError):
    """A quote's span that is not a non-empty part of the article's text (422)."""


def permalink(base_url: str, article_id: str, start: int | None, end: int | None) -> str:
    """The web page's link that opens the article with `[start, end)` highlighted (the page's
    own URL state: `/?article=ID&start=S&end=E`); `base_url` is the page's, '' for a relative
    link."""
    params: dict[str, str | int] = {"article": article_id}
    if start is not None and end is not None:
        params |= {"start": start, "end": end}
    return f"{base_url.rstrip('/')}/?{urlencode(params)}"


def meta_of(article: Article) -> ArticleMeta:
    """The article's metadata, without its text."""
    return ArticleMeta(
        id=article.id, title=article.title, source=article.source, author=article.author,
        date=article.date, url=article.url, tags=list(article.tags),
    )  # fmt: skip


def check_span(article: Article, start: int | None, end: int | None) -> None:
    """SpanError unless both or neither of start and end are given, and they make a non-empty
    span inside the article's text."""
    if start is None and end is None:
        return
    if start is None or end is None:
        raise SpanError("give both start and end to quote a span, or neither to cite the article")
    size = len(article.text)
    if not 0 <= start < end <= size:
        raise SpanError(
            f"the span [{start}, {end}) is not a non-empty part of the article's text, which "
            f"has {size} characters: give 0 ≤ start < end ≤ {size}"
        )


def cite(article: Article, request: CiteRequest, *, base_url: str, accessed: Date) -> Citation:
    """The citation of `article` (or of the span `request` names) in `request.style`."""
    from policy_search.api.render.registry import style

    check_span(article, request.start, request.end)
    meta = meta_of(article)
    text, italics = style(request.style).cite(meta, accessed)
    quoted = request.start is not None and request.end is not None
    return Citation(
        article=meta, style=request.style, text=text, italics=italics,
        quote=article.text[request.start : request.end] if quoted else "",
        start=request.start, end=request.end,
        permalink=permalink(base_url, article.id, request.start, request.end),
    )  # fmt: skip
