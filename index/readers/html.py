"""HTML pages into articles: the main text and metadata, found by trafilatura."""

from __future__ import annotations

import re
from datetime import date

import trafilatura

from policy_search.index.errors import CorpusError
from policy_search.index.readers.article import Article, make_article, normalise_date
from policy_search.index.readers.metadata import clean_metadata

__all__ = ["article_from_html"]

_SPACE = re.compile(r"\s+")


def _date(value: object) -> str | None:
    """An ISO date, or None when the page's date is missing or not a real date."""
    try:
        return normalise_date(value)
    except ValueError:
        return None


def _paragraphs(text: str, title: str) -> str:
    """One paragraph per line of trafilatura's text, separated by blank lines, minus the title."""
    lines = [line.strip() for line in text.split("\n")]
    lines = [line for line in lines if line]
    if lines and _SPACE.sub(" ", lines[0]).casefold() == title.casefold():
        lines = lines[1:]  # the page's <h1> repeats the headline
    return "\n\n".join(lines)


def article_from_html(
    html: str | bytes, *, url: str | None, path: str | None, default_id: str
) -> Article:
    """Extract one article from an HTML page, or raise `CorpusError`."""
    where = path or url
    if not html.strip():
        raise CorpusError("empty HTML page", path=where)
    # Only dates the page states (meta tags, JSON-LD, <time>, the URL): a date guessed from
    # free text (a copyright line, a related link) would be worse than none.
    dates = {"original_date": True, "extensive_search": False, "max_date": date.today().isoformat()}
    meta = trafilatura.extract_metadata(html, default_url=url, date_config=dates)
    title = clean_metadata(meta.title)
    if not title:
        raise CorpusError("no title found in the page (<title>, og:title or <h1>)", path=where)
    # Precision mode leaves navigation, banners and link lists out rather than risk them.
    document = trafilatura.bare_extraction(
        html, url=url, favor_precision=True, include_comments=False, include_tables=True
    )
    raw = getattr(document, "text", None) if document is not None else None
    text = _paragraphs(raw or "", title).replace("\x00", "")
    if not text:
        raise CorpusError("the page has no article text (only menus or boilerplate)", path=where)
    page_url = clean_metadata(meta.url)
    if page_url and not page_url.lower().startswith(("http://", "https://")):
        page_url = None
    record: dict[str, object] = {
        "id": default_id,
        "title": title,
        "text": text,
        "source": clean_metadata(meta.sitename),
        "author": clean_metadata(meta.author),
        "date": _date(meta.date),
        "url": url or page_url,
    }
    return make_article(record, path=where)
