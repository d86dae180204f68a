"""A Python client of the policy-search HTTP API, built on httpx alone.

    from policy_search.client import Client

    with Client("http://127.0.0.1:8000") as client:
        for hit in client.search("Middle Corridor").hits:
            print(hit.rank, hit.article.title, hit.article.source)

`Client` is synchronous; `AsyncClient` has the same methods as coroutines (and `iter_search` as
an async iterator). Results are the API's own records (`policy_search.records`, frozen dataclasses
shaped as its JSON), read strictly: a body of the wrong shape is a SearchAPIError, while keys the
client does not know are ignored. Writes (`add`, `update`, `remove`) send `Authorization: Bearer
<api_key>`; reads never send the key.

Every failure is one exception family:

    SearchAPIError              the server answered with a non-2xx status (.status, .message),
    │                           or with a body that is not the expected JSON
    ├── SearchConnectionError   no answer: refused, unknown host, connection dropped (.status 0)
    └── SearchTimeout           no answer within the timeout (.status 0)

This module imports only httpx, the standard library and `policy_search.records` (standard library
only), so importing it is instant.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from policy_search.records import (
    Article,
    ArticleInput,
    Health,
    Hit,
    Mode,
    SearchRequest,
    SearchResult,
    Similar,
    SimilarResult,
    Stats,
    WireError,
    WriteResult,
    parse,
    to_json,
)

# The client's own names; its records are the wire's (`policy_search` exports both).
__all__ = [
    "ArticleLike",
    "AsyncClient",
    "Client",
    "SearchAPIError",
    "SearchConnectionError",
    "SearchTimeout",
]

DEFAULT_URL = "http://127.0.0.1:8000"
_T = TypeVar("_T")
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


@dataclass(frozen=True, slots=True)
class _Call:
    """One API request, before it is sent."""

    method: str
    path: str
    params: dict[str, str] | None = None
    body: dict[str, Any] | None = None
    write: bool = False


def _path(article_id: str, suffix: str = "") -> str:
    """`/articles/{id}{suffix}` with the id quoted (its '/' kept: the route takes a path)."""
    return f"/articles/{quote(article_id, safe='/')}{suffix}"


def _search_call(q: str, **options: Any) -> _Call:
    """GET /search with the query's fields as parameters, leaving out the unset ones."""
    request = SearchRequest(q=q, **options)
    params = {}
    for name, value in to_json(request, drop_none=True).items():
        if isinstance(value, bool):
            if value:
                params[name] = "true"
        else:
            params[name] = repr(float(value)) if name == "min_score" else str(value)
    return _Call("GET", "/search", params=params)


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


def _headers(call: _Call, api_key: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json"}
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


def _error(response: httpx.Response, call: _Call) -> SearchAPIError:
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


def _result(response: httpx.Response, call: _Call, record: type[_T]) -> _T:
    """Parse a response: raise SearchAPIError on an error status or an unexpected body."""
    if not response.is_success:
        raise _error(response, call)
    data = _json(response)
    if data is _NOT_JSON:
        kind = response.headers.get("content-type", "no content type")
        raise SearchAPIError(
            response.status_code,
            f"unexpected response to {call.method} {call.path}: not JSON ({kind}): "
            f"{_excerpt(response.text) or '(empty body)'}",
        )
    try:
        return parse(record, data)
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
    exc: httpx.RequestError, base_url: str, call: _Call, timeout: httpx.Timeout
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


class Client:
    """A synchronous client of the policy-search API."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        timeout: float = 10.0,
        http: httpx.Client | None = None,
    ) -> None:
        """Talk to `base_url`; `http` replaces the own connection pool (and is left open)."""
        self.base_url = _base(base_url)
        self.api_key = api_key
        self._owned = http is None
        self._http = http if http is not None else httpx.Client(timeout=timeout)

    def __repr__(self) -> str:
        """The client and its server."""
        return f"Client({self.base_url!r})"

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

    def _send(self, call: _Call, record: type[_T]) -> _T:
        try:
            response = self._http.request(
                call.method, self.base_url + call.path, params=call.params,
                json=call.body, headers=_headers(call, self.api_key),
            )  # fmt: skip
        except httpx.RequestError as exc:
            raise _transport_error(exc, self.base_url, call, self._http.timeout) from exc
        return _result(response, call, record)

    def search(
        self,
        q: str,
        *,
        k: int = 10,
        mode: Mode = "hybrid",
        offset: int = 0,
        source: str | None = None,
        author: str | None = None,
        tag: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        group: bool = False,
        explain: bool = False,
        min_score: float | None = None,
    ) -> SearchResult:
        """One page of ranked passages (or articles, with `group`) for `q`."""
        call = _search_call(
            q, k=k, mode=mode, offset=offset, source=source, author=author, tag=tag,
            date_from=date_from, date_to=date_to, group=group, explain=explain,
            min_score=min_score,
        )  # fmt: skip
        return self._send(call, SearchResult)

    def iter_search(
        self,
        q: str,
        *,
        page_size: int = 10,
        limit: int | None = None,
        mode: Mode = "hybrid",
        source: str | None = None,
        author: str | None = None,
        tag: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        group: bool = False,
        explain: bool = False,
        min_score: float | None = None,
    ) -> Iterator[Hit]:
        """Every hit for `q`, page after page, until the results (or `limit`) run out."""
        offset = 0
        while limit is None or offset < limit:
            k = page_size if limit is None else min(page_size, limit - offset)
            page = self.search(
                q, k=k, mode=mode, offset=offset, source=source, author=author, tag=tag,
                date_from=date_from, date_to=date_to, group=group, explain=explain,
                min_score=min_score,
            )  # fmt: skip
            yield from page.hits
            offset += len(page.hits)
            if _last_page(page, k):
                return

    def article(self, article_id: str) -> Article:
        """The whole article, with its text (404 if unknown)."""
        return self._send(_Call("GET", _path(article_id)), Article)

    def similar(self, article_id: str, *, k: int = 10) -> list[Similar]:
        """The `k` articles nearest to this one, not itself."""
        call = _Call("GET", _path(article_id, "/similar"), {"k": str(k)})
        return self._send(call, SimilarResult).results

    def add(self, article: ArticleLike) -> WriteResult:
        """Add an article (fields, a dataclass, or a URL to fetch); 409 if its id exists."""
        return self._send(_Call("POST", "/articles", body=_body(article), write=True), WriteResult)

    def update(self, article_id: str, article: ArticleLike) -> WriteResult:
        """Create or replace the article with this id."""
        call = _Call("PUT", _path(article_id), body=_body(article), write=True)
        return self._send(call, WriteResult)

    def remove(self, article_id: str) -> WriteResult:
        """Remove the article (404 if unknown)."""
        return self._send(_Call("DELETE", _path(article_id), write=True), WriteResult)

    def stats(self) -> Stats:
        """Articles, passages, sources, date range, generation and size of the index."""
        return self._send(_Call("GET", "/stats"), Stats)

    def health(self) -> Health:
        """The served index's generation, counts and model (503 while none is loaded)."""
        return self._send(_Call("GET", "/health"), Health)


class AsyncClient:
    """An asyncio client of the policy-search API: `Client`'s methods as coroutines."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        timeout: float = 10.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        """Talk to `base_url`; `http` replaces the own connection pool (and is left open)."""
        self.base_url = _base(base_url)
        self.api_key = api_key
        self._owned = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=timeout)

    def __repr__(self) -> str:
        """The client and its server."""
        return f"AsyncClient({self.base_url!r})"

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

    async def _send(self, call: _Call, record: type[_T]) -> _T:
        try:
            response = await self._http.request(
                call.method, self.base_url + call.path, params=call.params,
                json=call.body, headers=_headers(call, self.api_key),
            )  # fmt: skip
        except httpx.RequestError as exc:
            raise _transport_error(exc, self.base_url, call, self._http.timeout) from exc
        return _result(response, call, record)

    async def search(
        self,
        q: str,
        *,
        k: int = 10,
        mode: Mode = "hybrid",
        offset: int = 0,
        source: str | None = None,
        author: str | None = None,
        tag: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        group: bool = False,
        explain: bool = False,
        min_score: float | None = None,
    ) -> SearchResult:
        """One page of ranked passages (or articles, with `group`) for `q`."""
        call = _search_call(
            q, k=k, mode=mode, offset=offset, source=source, author=author, tag=tag,
            date_from=date_from, date_to=date_to, group=group, explain=explain,
            min_score=min_score,
        )  # fmt: skip
        return await self._send(call, SearchResult)

    async def iter_search(
        self,
        q: str,
        *,
        page_size: int = 10,
        limit: int | None = None,
        mode: Mode = "hybrid",
        source: str | None = None,
        author: str | None = None,
        tag: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        group: bool = False,
        explain: bool = False,
        min_score: float | None = None,
    ) -> AsyncIterator[Hit]:
        """Every hit for `q`, page after page, until the results (or `limit`) run out."""
        offset = 0
        while limit is None or offset < limit:
            k = page_size if limit is None else min(page_size, limit - offset)
            page = await self.search(
                q, k=k, mode=mode, offset=offset, source=source, author=author, tag=tag,
                date_from=date_from, date_to=date_to, group=group, explain=explain,
                min_score=min_score,
            )  # fmt: skip
            for hit in page.hits:
                yield hit
            offset += len(page.hits)
            if _last_page(page, k):
                return

    async def article(self, article_id: str) -> Article:
        """The whole article, with its text (404 if unknown)."""
        return await self._send(_Call("GET", _path(article_id)), Article)

    async def similar(self, article_id: str, *, k: int = 10) -> list[Similar]:
        """The `k` articles nearest to this one, not itself."""
        call = _Call("GET", _path(article_id, "/similar"), {"k": str(k)})
        return (await self._send(call, SimilarResult)).results

    async def add(self, article: ArticleLike) -> WriteResult:
        """Add an article (fields, a dataclass, or a URL to fetch); 409 if its id exists."""
        call = _Call("POST", "/articles", body=_body(article), write=True)
        return await self._send(call, WriteResult)

    async def update(self, article_id: str, article: ArticleLike) -> WriteResult:
        """Create or replace the article with this id."""
        call = _Call("PUT", _path(article_id), body=_body(article), write=True)
        return await self._send(call, WriteResult)

    async def remove(self, article_id: str) -> WriteResult:
        """Remove the article (404 if unknown)."""
        return await self._send(_Call("DELETE", _path(article_id), write=True), WriteResult)

    async def stats(self) -> Stats:
        """Articles, passages, sources, date range, generation and size of the index."""
        return await self._send(_Call("GET", "/stats"), Stats)

    async def health(self) -> Health:
        """The served index's generation, counts and model (503 while none is loaded)."""
        return await self._send(_Call("GET", "/health"), Health)


def _last_page(page: SearchResult, asked: int) -> bool:
    """No page after this one: it came back short (or empty).

    A full page that reaches `total` is not the end: the server counts `total` among at most
    max(200, offset + k) candidates per side, so a deeper page can hold more; when the results
    do end on a full page, one more request comes back empty.
    """
    return len(page.hits) < asked
