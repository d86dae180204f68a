"""Fetch one web page or PDF by URL and read it as an article.

Every problem raises `FetchError` naming the URL, with the HTTP status an API should answer:
422 for a bad URL, an unusable answer (4xx, not HTML or PDF, too large, no article in it),
502 when the server fails (5xx) or cannot be reached, 504 when it does not answer in time.
"""

from __future__ import annotations

import hashlib
import time
from contextlib import ExitStack, suppress

import httpx

from index.article import Article, slugify
from index.errors import CorpusError, FetchError
from index.html import article_from_html
from index.pdf import article_from_pdf

__all__ = ["MAX_REDIRECTS", "fetch_article", "url_id"]

MAX_REDIRECTS = 5
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_PDF_TYPES = ("application/pdf",)
_HEADERS = {
    "User-Agent": "policy-search/0.1 (article indexer)",
    "Accept": "text/html,application/xhtml+xml,application/pdf;q=0.9,*/*;q=0.1",
}


def _check_url(url: str) -> httpx.URL:
    """The URL parsed, or FetchError(422) unless it is an absolute http(s) URL."""
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError):
        raise FetchError("not a valid URL", url=url) from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise FetchError("not an http:// or https:// URL", url=url)
    return parsed


def _body(response: httpx.Response, url: str, max_bytes: int, deadline: float) -> bytes:
    """The response body, refused once it grows past `max_bytes` or the deadline passes."""
    too_large = f"the response is larger than {max_bytes:,} bytes"
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise FetchError(f"{too_large} (Content-Length {int(length):,})", url=url)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(too_large, url=url)
        if time.monotonic() > deadline:
            raise FetchError("timed out while reading the response", url=url, status=504)
        chunks.append(chunk)
    return b"".join(chunks)


def url_id(url: str) -> str:
    """The id of an article from `url`: its slug, or a hash when the slug would be empty."""
    digest = hashlib.sha1(url.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return slugify(url) or f"url-{digest}"


def _article(response: httpx.Response, url: str, max_bytes: int, deadline: float) -> Article:
    """Read a successful response as HTML or PDF."""
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in _HTML_TYPES + _PDF_TYPES:
        raise FetchError(f"not an HTML page or PDF (content-type {kind or 'missing'})", url=url)
    data = _body(response, url, max_bytes, deadline)
    article_id = url_id(url)
    if kind in _PDF_TYPES:
        return article_from_pdf(data, path=None, url=url, default_id=article_id)
    html: str | bytes = data
    charset = response.charset_encoding
    if charset:
        # an unknown charset name leaves the bytes to the page's <meta charset>
        with suppress(LookupError):
            html = data.decode(charset, errors="replace")
    return article_from_html(html, url=url, path=None, default_id=article_id)


def _fetch(client: httpx.Client, url: str, timeout: float, max_bytes: int) -> Article:
    """Follow redirects by hand (at most MAX_REDIRECTS, http(s) only) and read the answer."""
    # httpx's timeout bounds each wait; the deadline bounds a body that trickles in slowly.
    deadline = time.monotonic() + timeout * 3
    request = client.build_request("GET", url, headers=_HEADERS, timeout=timeout)
    for _ in range(MAX_REDIRECTS + 1):
        current = str(request.url)
        response = client.send(request, stream=True, follow_redirects=False)
        try:
            if response.has_redirect_location and response.next_request is not None:
                request = response.next_request
                target = str(request.url)
                if request.url.scheme not in ("http", "https"):
                    raise FetchError(f"redirects to {target}, not an http(s) URL", url=current)
                continue
            status = response.status_code
            if not response.is_success:
                phrase = f"{status} {response.reason_phrase}".strip()
                code = 502 if status >= 500 else 422
                raise FetchError(f"the server answered {phrase}", url=current, status=code)
            return _article(response, current, max_bytes, deadline)
        finally:
            response.close()
    raise FetchError(f"more than {MAX_REDIRECTS} redirects", url=url)


def fetch_article(
    url: str,
    *,
    timeout: float = 10.0,
    max_bytes: int = 5_000_000,
    client: httpx.Client | None = None,
) -> Article:
    """Download `url` (HTML or PDF) and extract its article, or raise `FetchError`."""
    _check_url(url)
    url = url.strip()
    with ExitStack() as stack:
        if client is None:
            client = stack.enter_context(httpx.Client(timeout=timeout))
        try:
            return _fetch(client, url, timeout, max_bytes)
        except FetchError:
            raise
        except CorpusError as exc:  # the page arrived but holds no usable article
            raise FetchError(exc.reason, url=exc.path or url) from None
        except httpx.TimeoutException:
            raise FetchError(f"no answer within {timeout:g} s", url=url, status=504) from None
        except httpx.InvalidURL as exc:
            raise FetchError(f"not a valid URL ({exc})", url=url) from None
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise FetchError(f"cannot reach the server ({reason})", url=url, status=502) from None
