"""A Python client of the policy-search HTTP API, built on httpx alone.

    from policy_search.client import Client

    with Client("http://127.0.0.1:8000") as client:
        for hit in client.search("Middle Corridor").hits:
            print(hit.rank, hit.article.title, hit.article.source)

`Client` is synchronous; `AsyncClient` has the same methods as coroutines (and `iter_search` as
an async iterator). A search's options are the fields of the query record,
`policy_search.records.SearchRequest`: as keywords (`search("Baku", k=5, tag="energy")`, typed by
`SearchOptions`), or as the record itself (`search(SearchRequest(q="Baku", k=5))`).

Results are the API's own records (`policy_search.records`, frozen dataclasses shaped as its
JSON), read strictly: a body of the wrong shape is a SearchAPIError, while keys the client does
not know are ignored. Writes (`add`, `update`, `remove`) and saved searches (`follow`, `alerts`,
`unfollow`) send `Authorization: Bearer <api_key>`; other reads never send the key, nor does
`feed`, whose URL (the alert's random id) is what a feed reader holds.

Every failure is one exception family:

    SearchAPIError              the server answered with a non-2xx status (.status, .message),
    │                           or with a body that is not the expected JSON
    ├── SearchConnectionError   no answer: refused, unknown host, connection dropped (.status 0)
    └── SearchTimeout           no answer within the timeout (.status 0)

This module imports only httpx, the standard library and `policy_search.records` (standard library
only), so importing it is instant.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import typing
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypedDict, TypeVar, Unpack
from urllib.parse import quote

import httpx

from policy_search.facets import FilterOptions
from policy_search.records import (
    Alert,
    AlertCreated,
    AlertList,
    AlertRequest,
    Article,
    ArticleInput,
    Citation,
    CiteStyle,
    ExportFormat,
    Facet,
    Health,
    Hit,
    Mode,
    SearchRequest,
    SearchResult,
    Similar,
    SimilarResult,
    Sort,
    Stats,
    WireError,
    WriteResult,
    parse,
    to_json,
)

# The client's own names; its records are the wire's (`policy_search` exports both).
__all__ = [
    "AlertOptions",
    "ArticleLike",
    "AsyncClient",
    "Client",
    "QueryOptions",
    "SearchAPIError",
    "SearchConnectionError",
    "SearchOptions",
    "SearchTimeout",
]

DEFAULT_URL = "http://127.0.0.1:8000"
_T = TypeVar("_T")
_H = TypeVar("_H", httpx.Client, httpx.AsyncClient)
ArticleLike = Article | ArticleInput | Mapping[str, Any] | str
_ARTICLE_FIELDS = tuple(f.name for f in dataclasses.fields(ArticleInput))


# -- errors ------------------------------------------------------------------------------


class SearchAPIError(Exception):
    """The API answered with an error status (or a body that is not its JSON)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        """The message, with the HTTP status when there is one."""
        return f"{self.message} (HTTP {self.status})" if self.status else self.message


class SearchConnectionError(SearchAPIError):
    """The server could not be reached, or dropped the connection (status 0)."""


class SearchTimeout(SearchAPIError):
    """The server did not answer within the timeout (status 0)."""


# -- requests ----------------------------------------------------------------------------


class QueryOptions(FilterOptions, total=False):
    """What a query asks besides its text and its page: the other fields of `SearchRequest`.

    Each key is a field of `policy_search.records.SearchRequest`, which holds its meaning, its
    default and its rules (a test holds the two equal); a key left out is that default. The
    filters' keys are `FilterOptions`', the registry of filters (`policy_search.facets`).
    """

    mode: Mode
    explain: bool
    min_score: float | None
    min_confidence: float | None
    group: bool
    sort: Sort
    facets: list[Facet]


class SearchOptions(QueryOptions, total=False):
    """One page of a query: `QueryOptions`, and how many hits (`k`) after how many (`offset`),
    or after the previous page's `next_cursor` (`cursor`: the same ranking at the same commit)."""

    k: int
    offset: int
    cursor: str | None


# What `iter_search` sets itself, page after page (from page_size and limit).
_PAGING = SearchOptions.__optional_keys__ - QueryOptions.__optional_keys__


@dataclass(frozen=True, slots=True)
class _Call(Generic[_T]):
    """One API request, before it is sent, and the record its answer is read as."""

    method: str
    path: str
    record: type[_T]
    params: dict[str, str | list[str]] | None = None
    body: dict[str, Any] | None = None
    write: bool = False  # sends the API key: a write, or the list of saved alerts


def _path(article_id: str, suffix: str = "") -> str:
    """`/articles/{id}{suffix}` with the id quoted (its '/' kept: the route takes a path)."""
    return f"/articles/{quote(article_id, safe='/')}{suffix}"


def _search(request: SearchRequest) -> _Call[SearchResult]:
    """GET /search with the query's fields as parameters, leaving out the unset ones."""
    params: dict[str, str | list[str]] = {}
    for name, value in to_json(request, drop_none=True).items():
        if isinstance(value, bool):
            if value:
                params[name] = "true"
        elif isinstance(value, list):  # repeated: `country=AZ&country=AM`
            if value:
                params[name] = [str(v) for v in value]
        else:
            params[name] = repr(value) if isinstance(value, float) else str(value)
    return _Call("GET", "/search", SearchResult, params=params)


class CiteOptions(TypedDict, total=False):
    """What `cite` may be given: the span [start, end) of the text (both or neither) and the
    style (APA by default)."""

    start: int
    end: int
    style: CiteStyle


def _cite(article_id: str, options: CiteOptions) -> _Call[Citation]:
    """GET /articles/{id}/cite: the span [start, end) (both or neither) in a style."""
    params: dict[str, str | list[str]] = {"style": options.get("style", "apa")}
    for name in ("start", "end"):
        if (value := options.get(name)) is not None:
            params[name] = str(value)
    return _Call("GET", _path(article_id, "/cite"), Citation, params)


def _export(request: SearchRequest, format: str) -> _Call[bytes]:
    """GET /search with `format`: the whole result set as a file (read as a stream)."""
    params = dict(_search(request).params or {})
    params["format"] = format
    return _Call("GET", "/search", bytes, params=params)


def _similar(article_id: str, k: int) -> _Call[SimilarResult]:
    return _Call("GET", _path(article_id, "/similar"), SimilarResult, {"k": str(k)})


def _write(method: str, path: str, article: ArticleLike | None = None) -> _Call[WriteResult]:
    body = _body(article) if article is not None else None
    return _Call(method, path, WriteResult, body=body, write=True)


class AlertOptions(FilterOptions, total=False):
    """What a saved search keeps besides its text: the other fields of `AlertRequest` (its
    mode, its confidence floor and the filters, as `QueryOptions` has them)."""

    mode: Mode
    min_confidence: float | None


def _follow(q: str | AlertRequest, options: Mapping[str, Any]) -> _Call[AlertCreated]:
    """POST /alerts: the query and its filters, saved; the answer names its feed."""
    if isinstance(q, AlertRequest):
        request = dataclasses.replace(q, **options) if options else q
    else:
        request = AlertRequest(q=q, **options)
    body = to_json(request, drop_none=True)
    return _Call("POST", "/alerts", AlertCreated, body=body, write=True)


def _alert_path(alert_id: str, suffix: str = "") -> str:
    return f"/alerts/{quote(alert_id, safe='')}{suffix}"


_ALERTS = _Call("GET", "/alerts", AlertList, write=True)


def _unfollow(alert_id: str) -> _Call[None]:
    return _Call("DELETE", _alert_path(alert_id), type(None), write=True)


def _feed(alert_id: str) -> _Call[str]:
    return _Call("GET", _alert_path(alert_id, "/feed"), str)


class _Pager:
    """Where `iter_search` stands: the call for the next page, until the hits (or limit) end.

    The first page is asked at offset 0, and each next one with the page before's
    `next_cursor`: every page is then a slice of one ranking at one commit of the index, so
    writes made meanwhile neither repeat nor skip a hit.
    """

    def __init__(self, request: SearchRequest, page_size: int, limit: int | None) -> None:
        self.request = dataclasses.replace(request, offset=0, cursor=None)
        self.page_size = page_size
        self.limit = limit
        self.seen = 0
        self.asked = 0
        self.done = False

    def next_call(self) -> _Call[SearchResult] | None:
        """The next page's request, or None when the walk is over."""
        if self.done or (self.limit is not None and self.seen >= self.limit):
            return None
        left = self.page_size if self.limit is None else self.limit - self.seen
        self.asked = min(self.page_size, left)
        return _search(dataclasses.replace(self.request, k=self.asked))

    def hits(self, page: SearchResult) -> list[Hit]:
        """The page's hits; the walk ends where the server gives no next cursor (past `total`,
        exactly what paging yields, or the deepest offset a request may ask for), or on a short
        page."""
        self.seen += len(page.hits)
        self.done = len(page.hits) < self.asked or page.next_cursor is None
        self.request = dataclasses.replace(self.request, cursor=page.next_cursor)
        return page.hits


def _pager(
    q: str | SearchRequest, page_size: int, limit: int | None, options: Mapping[str, Any]
) -> _Pager:
    if paging := _PAGING & options.keys():
        raise TypeError(
            f"iter_search pages with page_size and limit, not {', '.join(sorted(paging))}"
        )
    return _Pager(SearchRequest.of(q, options), page_size, limit)


def _body(article: ArticleLike) -> dict[str, Any]:
    """The JSON body of a write: a URL string, a mapping of fields, or an article dataclass."""
    if isinstance(article, str):
        return {"url": article}
    if isinstance(article, Mapping):
        return {str(key): _jsonable(value) for key, value in article.items()}
    if dataclasses.is_dataclass(article) and not isinstance(article, type):
        values = {f.name: getattr(article, f.name) for f in dataclasses.fields(article)}
        return {
            name: _jsonable(values[name])
            for name in _ARTICLE_FIELDS
            if values.get(name) is not None and not (name == "tags" and not values[name])
        }
    raise TypeError(
        "expected an Article, an ArticleInput, a mapping of fields or a URL string, "
        f"not {type(article).__name__}"
    )


def _jsonable(value: object) -> object:
    return list(value) if isinstance(value, tuple | set | frozenset) else value


def _headers(call: _Call[Any], api_key: str | None) -> dict[str, str]:
    # A feed is Atom; its errors still come as the one JSON error body.
    accept = "application/atom+xml, application/json" if call.record is str else "application/json"
    headers = {"Accept": accept}
    if call.write and api_key is not None:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def _excerpt(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


_NOT_JSON = object()


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _NOT_JSON


def _error(response: httpx.Response, call: _Call[Any]) -> SearchAPIError:
    """The one error of a non-2xx response: the API's `error`, else reason and body excerpt."""
    status = response.status_code
    data = _json(response)
    if isinstance(data, dict):
        for key in ("error", "detail"):
            if isinstance(data.get(key), str) and data[key]:
                return SearchAPIError(status, data[key])
    message = f"{call.method} {call.path}: {response.reason_phrase or 'HTTP error'}"
    body = _excerpt(response.text) if response.content else ""
    return SearchAPIError(status, f"{message}: {body}" if body else message)


def _result(response: httpx.Response, call: _Call[_T]) -> _T:
    """Parse a response: raise SearchAPIError on an error status or an unexpected body."""
    if not response.is_success:
        raise _error(response, call)
    if call.record is type(None):  # 204: nothing to read
        return typing.cast(_T, None)
    if call.record is str:  # a text answer (the Atom feed), as it came
        return typing.cast(_T, response.text)
    data = _json(response)
    if data is _NOT_JSON:
        kind = response.headers.get("content-type", "no content type")
        raise SearchAPIError(
            response.status_code,
            f"unexpected response to {call.method} {call.path}: not JSON ({kind}): "
            f"{_excerpt(response.text) or '(empty body)'}",
        )
    try:
        return parse(call.record, data)
    except WireError as exc:
        raise SearchAPIError(
            response.status_code, f"unexpected response to {call.method} {call.path}: {exc}"
        ) from None


def _reason(exc: BaseException) -> str:
    """A short reason for a transport failure, from the deepest OS error if there is one."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror[:1].lower() + seen.strerror[1:]
        seen = seen.__cause__ or seen.__context__
    text = str(exc).strip()
    if text.startswith("[Errno"):
        text = text.partition("] ")[2]
    return text[:1].lower() + text[1:] if text else type(exc).__name__


def _transport_error(
    exc: httpx.RequestError, base_url: str, call: _Call[Any], timeout: httpx.Timeout
) -> SearchAPIError:
    """A SearchTimeout or SearchConnectionError naming the server and the request."""
    where = f"{call.method} {call.path}"
    if isinstance(exc, httpx.TimeoutException):
        kind = type(exc).__name__.removesuffix("Timeout").lower()  # connect, read, write, pool
        seconds = getattr(timeout, kind, None)
        limit = f" after {seconds:g}s" if isinstance(seconds, int | float) else ""
        return SearchTimeout(
            0, f"no answer from {base_url} in time ({where}: {kind} timeout{limit})"
        )
    if isinstance(exc, httpx.ConnectError):
        return SearchConnectionError(0, f"cannot reach {base_url}: {_reason(exc)}")
    if isinstance(exc, httpx.TransportError):
        return SearchConnectionError(
            0, f"connection to {base_url} failed ({where}): {_reason(exc)}"
        )
    return SearchAPIError(0, f"bad response from {base_url} ({where}): {exc}")


def _base(base_url: str) -> str:
    base = base_url.strip().rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ValueError(f"base_url must start with http:// or https://, not {base_url!r}")
    return base


# -- clients -----------------------------------------------------------------------------
# Both clients build each call with the functions above and read each answer with `_result`;
# only the sending differs (a blocking call, or a coroutine). Each method is one line of each.


class _BaseClient(Generic[_H]):
    """What both clients share: the server, the key, the connection pool and building calls."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        timeout: float = 10.0,
        http: _H | None = None,
    ) -> None:
        """Talk to `base_url`; `http` replaces the own connection pool (and is left open)."""
        self.base_url = _base(base_url)
        self.api_key = api_key
        self._owned = http is None
        self._http: _H = http if http is not None else self._new_pool(timeout)

    def _new_pool(self, timeout: float) -> _H:
        """The connection pool the client makes for itself."""
        raise NotImplementedError

    def __repr__(self) -> str:
        """The client and its server."""
        return f"{type(self).__name__}({self.base_url!r})"

    def _build(self, call: _Call[Any]) -> httpx.Request:
        return self._http.build_request(
            call.method, self.base_url + call.path, params=call.params, json=call.body,
            headers=_headers(call, self.api_key),
        )  # fmt: skip

    @contextlib.contextmanager
    def _transport(self, call: _Call[Any]) -> Iterator[None]:
        """A failure to get an answer, as SearchTimeout or SearchConnectionError."""
        try:
            yield
        except httpx.RequestError as exc:
            raise _transport_error(exc, self.base_url, call, self._http.timeout) from exc


class Client(_BaseClient[httpx.Client]):
    """A synchronous client of the policy-search API."""

    def _new_pool(self, timeout: float) -> httpx.Client:
        return httpx.Client(timeout=timeout)

    def __enter__(self) -> Client:
        """Use as a context manager; closes on exit."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the client."""
        self.close()

    def close(self) -> None:
        """Close the connection pool (not an injected `http` client)."""
        if self._owned:
            self._http.close()

    def _send(self, call: _Call[_T]) -> _T:
        with self._transport(call):
            response = self._http.send(self._build(call))
        return _result(response, call)

    def search(self, q: str | SearchRequest, **options: Unpack[SearchOptions]) -> SearchResult:
        """One page of ranked passages (or articles, with `group`) for `q` (SearchOptions)."""
        return self._send(_search(SearchRequest.of(q, options)))

    def iter_search(
        self,
        q: str | SearchRequest,
        *,
        page_size: int = 10,
        limit: int | None = None,
        **options: Unpack[QueryOptions],
    ) -> Iterator[Hit]:
        """Every hit for `q`, page after page, until the results (or `limit`) run out; each
        page follows the one before's `next_cursor`, so the walk reads the first page's commit
        of the index whatever is written meanwhile."""
        pager = _pager(q, page_size, limit, options)
        while (call := pager.next_call()) is not None:
            yield from pager.hits(self._send(call))

    def article(self, article_id: str) -> Article:
        """The whole article, with its text (404 if unknown)."""
        return self._send(_Call("GET", _path(article_id), Article))

    def cite(self, article_id: str, **options: Unpack[CiteOptions]) -> Citation:
        """The article, or its text's span [start, end), cited in `style`, with the quote and
        a permalink that shows it highlighted."""
        return self._send(_cite(article_id, options))

    def export(
        self, q: str | SearchRequest, *, format: ExportFormat, **options: Unpack[QueryOptions]
    ) -> Iterator[bytes]:
        """Every hit for `q` (up to the server's export limit) as a file in `format` (csv,
        jsonl, bibtex, ris), in chunks as they arrive; errors come at the first chunk."""
        call = _export(SearchRequest.of(q, options), format)
        with self._transport(call):
            response = self._http.send(self._build(call), stream=True)
        try:
            if not response.is_success:
                response.read()
                raise _error(response, call)
            with self._transport(call):
                yield from response.iter_bytes()
        finally:
            response.close()

    def similar(self, article_id: str, *, k: int = 10) -> list[Similar]:
        """The `k` articles nearest to this one, not itself."""
        return self._send(_similar(article_id, k)).results

    def add(self, article: ArticleLike) -> WriteResult:
        """Add an article (fields, a dataclass, or a URL to fetch); 409 if its id exists."""
        return self._send(_write("POST", "/articles", article))

    def update(self, article_id: str, article: ArticleLike) -> WriteResult:
        """Create or replace the article with this id."""
        return self._send(_write("PUT", _path(article_id), article))

    def remove(self, article_id: str) -> WriteResult:
        """Remove the article (404 if unknown)."""
        return self._send(_write("DELETE", _path(article_id)))

    def follow(self, q: str | AlertRequest, **options: Unpack[AlertOptions]) -> AlertCreated:
        """Save the search `q` (its mode, floor and filters: AlertOptions) as an alert: the
        passages of articles written from now on that match it go to its Atom feed (`feed`)."""
        return self._send(_follow(q, options))

    def alerts(self) -> list[Alert]:
        """The saved alerts, newest first, each with its feed URL and how many entries it has."""
        return self._send(_ALERTS).alerts

    def unfollow(self, alert_id: str) -> None:
        """Delete the alert and its feed (404 if unknown)."""
        self._send(_unfollow(alert_id))

    def feed(self, alert_id: str) -> str:
        """The alert's Atom feed, as XML text: its matches, newest first (404 if unknown)."""
        return self._send(_feed(alert_id))

    def stats(self) -> Stats:
        """Articles, passages, sources, date range, generation and size of the index."""
        return self._send(_Call("GET", "/stats", Stats))

    def health(self) -> Health:
        """The served index's generation, counts and model (503 while none is loaded)."""
        return self._send(_Call("GET", "/health", Health))


class AsyncClient(_BaseClient[httpx.AsyncClient]):
    """An asyncio client of the policy-search API: `Client`'s methods as coroutines."""

    def _new_pool(self, timeout: float) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=timeout)

    async def __aenter__(self) -> AsyncClient:
        """Use as an async context manager; closes on exit."""
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Close the client."""
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (not an injected `http` client)."""
        if self._owned:
            await self._http.aclose()

    async def _send(self, call: _Call[_T]) -> _T:
        with self._transport(call):
            response = await self._http.send(self._build(call))
        return _result(response, call)

    async def search(
        self, q: str | SearchRequest, **options: Unpack[SearchOptions]
    ) -> SearchResult:
        """`Client.search`."""
        return await self._send(_search(SearchRequest.of(q, options)))

    async def iter_search(
        self,
        q: str | SearchRequest,
        *,
        page_size: int = 10,
        limit: int | None = None,
        **options: Unpack[QueryOptions],
    ) -> AsyncIterator[Hit]:
        """`Client.iter_search`, as an async iterator."""
        pager = _pager(q, page_size, limit, options)
        while (call := pager.next_call()) is not None:
            for hit in pager.hits(await self._send(call)):
                yield hit

    async def article(self, article_id: str) -> Article:
        """`Client.article`."""
        return await self._send(_Call("GET", _path(article_id), Article))

    async def cite(self, article_id: str, **options: Unpack[CiteOptions]) -> Citation:
        """`Client.cite`."""
        return await self._send(_cite(article_id, options))

    async def export(
        self, q: str | SearchRequest, *, format: ExportFormat, **options: Unpack[QueryOptions]
    ) -> AsyncIterator[bytes]:
        """`Client.export`, as an async iterator."""
        call = _export(SearchRequest.of(q, options), format)
        with self._transport(call):
            response = await self._http.send(self._build(call), stream=True)
        try:
            if not response.is_success:
                await response.aread()
                raise _error(response, call)
            with self._transport(call):
                async for chunk in response.aiter_bytes():
                    yield chunk
        finally:
            await response.aclose()

    async def similar(self, article_id: str, *, k: int = 10) -> list[Similar]:
        """`Client.similar`."""
        return (await self._send(_similar(article_id, k))).results

    async def add(self, article: ArticleLike) -> WriteResult:
        """`Client.add`."""
        return await self._send(_write("POST", "/articles", article))

    async def update(self, article_id: str, article: ArticleLike) -> WriteResult:
        """`Client.update`."""
        return await self._send(_write("PUT", _path(article_id), article))

    async def remove(self, article_id: str) -> WriteResult:
        """`Client.remove`."""
        return await self._send(_write("DELETE", _path(article_id)))

    async def follow(self, q: str | AlertRequest, **options: Unpack[AlertOptions]) -> AlertCreated:
        """`Client.follow`."""
        return await self._send(_follow(q, options))

    async def alerts(self) -> list[Alert]:
        """`Client.alerts`."""
        return (await self._send(_ALERTS)).alerts

    async def unfollow(self, alert_id: str) -> None:
        """`Client.unfollow`."""
        await self._send(_unfollow(alert_id))

    async def feed(self, alert_id: str) -> str:
        """`Client.feed`."""
        return await self._send(_feed(alert_id))

    async def stats(self) -> Stats:
        """`Client.stats`."""
        return await self._send(_Call("GET", "/stats", Stats))

    async def health(self) -> Health:
        """`Client.health`."""
        return await self._send(_Call("GET", "/health", Health))
