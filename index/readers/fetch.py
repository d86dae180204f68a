"""Fetch one web page or PDF by URL and read it as an article.

Every problem raises `FetchError` naming the URL, with the HTTP status an API should answer:
422 for a bad URL, an unusable answer (4xx, not HTML or PDF, too large, no article in it),
502 when the server fails (5xx) or cannot be reached, 504 when it does not answer in time.

With `public_only`, a URL (or a redirect) whose host is or resolves to a loopback, private,
link-local or otherwise non-global address is refused (422) before any connection: a server
that fetches for remote callers must not be a way into its own network. (The check resolves the
name before httpx does; a DNS server that answers differently the second time is not stopped.)
"""

from __future__ import annotations

import ipaddress
import socket
import time
from contextlib import ExitStack, suppress

import httpx

from policy_search.index.errors import CorpusError, FetchError
from policy_search.index.readers.article import Article, url_id
from policy_search.index.readers.html import article_from_html
from policy_search.index.readers.pdf import article_from_pdf

__all__ = ["MAX_REDIRECTS", "fetch_article"]

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


def _refuse_private(url: httpx.URL) -> None:
    """FetchError(422) if the host is, or resolves to, an address that is not global."""
    host = url.host
    try:
        addresses = {ipaddress.ip_address(host)}
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, url.port or 80, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise FetchError(f"cannot reach the server ({exc})", url=str(url), status=502) from None
        addresses = {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}
    for address in addresses:
        mapped = getattr(address, "ipv4_mapped", None)
        if not (mapped or address).is_global:
            raise FetchError(
                f"refusing to fetch from {address}: not a public address", url=str(url)
            )


def _fetch(
    client: httpx.Client, url: str, timeout: float, max_bytes: int, public_only: bool
) -> Article:
    """Follow redirects by hand (at most MAX_REDIRECTS, http(s) only) and read the answer."""
    # httpx's timeout bounds each wait; the deadline bounds a body that trickles in slowly.
    deadline = time.monotonic() + timeout * 3
    request = client.build_request("GET", url, headers=_HEADERS, timeout=timeout)
    for _ in range(MAX_REDIRECTS + 1):
        current = str(request.url)
        if public_only:
            _refuse_private(request.url)
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
    public_only: bool = False,
) -> Article:
    """Download `url` (HTML or PDF) and extract its article, or raise `FetchError`.

    `public_only` refuses hosts on loopback, private and other non-global addresses.
    """
    _check_url(url)
    url = url.strip()
    with ExitStack() as stack:
        if client is None:
            client = stack.enter_context(httpx.Client(timeout=timeout))
        try:
            return _fetch(client, url, timeout, max_bytes, public_only)
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
