"""A Python client of the policy-search HTTP API, built on httpx alone.

    from policy_search.client import Client

    with Client("http://127.0.0.1:8000") as client:
        for hit in client.search("Middle Corridor").hits:
            print(hit.rank, hit.article.title, hit.article.source)

`Client` is synchronous; `AsyncClient` has the same methods as coroutines (and `iter_search` as
an async iterator). Results are frozen dataclasses mirroring the JSON of the API; keys the client
does not know are ignored. Writes (`add`, `update`, `remove`) send `Authorization: Bearer
<api_key>`; reads never send the key.

Every failure is one exception family:

    SearchAPIError              the server answered with a non-2xx status (.status, .message),
    │                           or with a body that is not the expected JSON
    ├── SearchConnectionError   no answer: refused, unknown host, connection dropped (.status 0)
    └── SearchTimeout           no answer within the timeout (.status 0)

This module imports only httpx and the standard library, so importing it is instant.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast
from urllib.parse import quote

import httpx

__all__ = [
    "Article",
    "ArticleInput",
    "ArticleLike",
    "ArticleMeta",
    "AsyncClient",
    "Client",
    "Explanation",
    "Health",
    "Hit",
    "Passage",
    "SearchAPIError",
    "SearchConnectionError",
    "SearchResult",
    "SearchTimeout",
    "Similar",
    "SourceCount",
    "Stats",
    "WriteResult",
]

DEFAULT_URL = "http://127.0.0.1:8000"
Mode = Literal["hybrid", "dense", "lexical"]
_T = TypeVar("_T")


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


# -- results -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Passage:
    """A passage, its `[start, end)` place in the article text, and matched-word spans."""

    id: int
    text: str
    start: int
    end: int
    highlights: list[tuple[int, int]]


@dataclass(frozen=True, slots=True)
class ArticleMeta:
    """An article's metadata."""

    id: str
    title: str
    source: str | None
    author: str | None
    date: str | None
    url: str | None
    tags: list[str]


@dataclass(frozen=True, slots=True)
class Article:
    """A whole article: its metadata and text."""

    id: str
    title: str
    source: str | None
    author: str | None
    date: str | None
    url: str | None
    tags: list[str]
    text: str


@dataclass(frozen=True, slots=True)
class Explanation:
    """The dense and lexical rankings behind a hit's score."""

    dense_rank: int | None
    dense_score: float | None
    lexical_rank: int | None
    lexical_score: float | None
    fusion: str


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked passage with its article (`more`: other matching passages, with group)."""

    rank: int
    score: float
    passage: Passage
    article: ArticleMeta
    explain: Explanation | None = None
    more: int | None = None


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A page of ranked hits and how many passed the relevance floor."""

    query: str
    mode: str
    took_ms: float
    total: int
    hits: list[Hit]


@dataclass(frozen=True, slots=True)
class Similar:
    """An article near another one, and how near."""

    score: float
    article: ArticleMeta


@dataclass(frozen=True, slots=True)
class SourceCount:
    """A source and how many articles it has."""

    source: str
    articles: int


@dataclass(frozen=True, slots=True)
class Stats:
    """What the index holds."""

    articles: int
    passages: int
    sources: list[SourceCount]
    date_min: str | None
    date_max: str | None
    generation: int
    built_at: str
    model: str
    bytes_on_disk: int


@dataclass(frozen=True, slots=True)
class Health:
    """The loaded index: generation, counts, model."""

    generation: int
    articles: int
    passages: int
    model: str
    built_at: str


@dataclass(frozen=True, slots=True)
class WriteResult:
    """A durable, served write: the ids written and the new generation's counts."""

    ids: list[str]
    generation: int
    articles: int
    passages: int
    added: list[str]
    updated: list[str]
    removed: list[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleInput:
    """An article to add or replace (`id` or `url` required; `title` and `text` unless URL)."""

    id: str | None = None
    title: str | None = None
    text: str | None = None
    source: str | None = None
    author: str | None = None
    date: str | None = None
    url: str | None = None
    tags: Sequence[str] = field(default_factory=tuple)


ArticleLike = Article | ArticleInput | Mapping[str, Any] | str
_ARTICLE_FIELDS = ("id", "title", "text", "source", "author", "date", "url", "tags")


# -- parsing -----------------------------------------------------------------------------


class _Malformed(Exception):
    """A response body that is not the expected JSON (turned into SearchAPIError)."""


class _Obj:
    """Typed, defensive access to one JSON object; `where` names it in errors."""

    __slots__ = ("data", "where")

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise _Malformed(f"{where} is {_kind(data)}, not an object")
        self.data: dict[str, object] = data
        self.where = where

    def _get(self, key: str, check: Callable[[object], bool], kind: str, optional: bool) -> Any:
        if key not in self.data:
            if optional:
                return None
            raise _Malformed(f"{self.where} has no {key!r}")
        value = self.data[key]
        if (value is None and optional) or check(value):
            return value
        raise _Malformed(f"{self.where}.{key} is {_kind(value)}, not {kind}")

    def text(self, key: str) -> str:
        return cast(str, self._get(key, _is_str, "a string", False))

    def opt_text(self, key: str) -> str | None:
        return cast("str | None", self._get(key, _is_str, "a string", True))

    def integer(self, key: str) -> int:
        return cast(int, self._get(key, _is_int, "an integer", False))

    def opt_integer(self, key: str) -> int | None:
        return cast("int | None", self._get(key, _is_int, "an integer", True))

    def number(self, key: str) -> float:
        return float(self._get(key, _is_number, "a number", False))

    def opt_number(self, key: str) -> float | None:
        value = self._get(key, _is_number, "a number", True)
        return None if value is None else float(value)

    def obj(self, key: str) -> _Obj:
        return _Obj(self._get(key, _is_dict, "an object", False), f"{self.where}.{key}")

    def opt_obj(self, key: str) -> _Obj | None:
        value = self._get(key, _is_dict, "an object", True)
        return None if value is None else _Obj(value, f"{self.where}.{key}")

    def items(self, key: str, item: Callable[[object, str], _T]) -> list[_T]:
        values = self._get(key, lambda v: isinstance(v, list), "a list", False)
        return [item(v, f"{self.where}.{key}[{i}]") for i, v in enumerate(values)]

    def texts(self, key: str) -> list[str]:
        return self.items(key, _string)


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _is_dict(value: object) -> bool:
    return isinstance(value, dict)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _string(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise _Malformed(f"{where} is {_kind(value)}, not a string")
    return value


def _span(value: object, where: str) -> tuple[int, int]:
    if not (isinstance(value, list) and len(value) == 2 and all(map(_is_int, value))):
        raise _Malformed(f"{where} is not a [start, end] pair of integers")
    return (value[0], value[1])


def _meta(o: _Obj) -> ArticleMeta:
    return ArticleMeta(
        id=o.text("id"), title=o.text("title"), source=o.opt_text("source"),
        author=o.opt_text("author"), date=o.opt_text("date"), url=o.opt_text("url"),
        tags=o.texts("tags"),
    )  # fmt: skip


def _hit(data: object, where: str) -> Hit:
    o = _Obj(data, where)
    p = o.obj("passage")
    passage = Passage(
        id=p.integer("id"), text=p.text("text"), start=p.integer("start"), end=p.integer("end"),
        highlights=p.items("highlights", _span),
    )  # fmt: skip
    explain = None
    if (e := o.opt_obj("explain")) is not None:
        explain = Explanation(
            dense_rank=e.opt_integer("dense_rank"), dense_score=e.opt_number("dense_score"),
            lexical_rank=e.opt_integer("lexical_rank"),
            lexical_score=e.opt_number("lexical_score"), fusion=e.text("fusion"),
        )  # fmt: skip
    return Hit(
        rank=o.integer("rank"), score=o.number("score"), passage=passage,
        article=_meta(o.obj("article")), explain=explain, more=o.opt_integer("more"),
    )  # fmt: skip


def _search_result(data: object) -> SearchResult:
    o = _Obj(data, "the response")
    return SearchResult(
        query=o.text("query"), mode=o.text("mode"), took_ms=o.number("took_ms"),
        total=o.integer("total"), hits=o.items("results", _hit),
    )  # fmt: skip


def _article(data: object) -> Article:
    o = _Obj(data, "the response")
    meta = _meta(o)
    fields = {f.name: getattr(meta, f.name) for f in dataclasses.fields(meta)}
    return Article(**fields, text=o.text("text"))


def _similar_one(data: object, where: str) -> Similar:
    o = _Obj(data, where)
    return Similar(score=o.number("score"), article=_meta(o.obj("article")))


def _similar(data: object) -> list[Similar]:
    return _Obj(data, "the response").items("results", _similar_one)


def _source_count(data: object, where: str) -> SourceCount:
    o = _Obj(data, where)
    return SourceCount(source=o.text("source"), articles=o.integer("articles"))


def _stats(data: object) -> Stats:
    o = _Obj(data, "the response")
    return Stats(
        articles=o.integer("articles"), passages=o.integer("passages"),
        sources=o.items("sources", _source_count), date_min=o.opt_text("date_min"),
        date_max=o.opt_text("date_max"), generation=o.integer("generation"),
        built_at=o.text("built_at"), model=o.text("model"),
        bytes_on_disk=o.integer("bytes_on_disk"),
    )  # fmt: skip


def _health(data: object) -> Health:
    o = _Obj(data, "the response")
    return Health(
        generation=o.integer("generation"), articles=o.integer("articles"),
        passages=o.integer("passages"), model=o.text("model"), built_at=o.text("built_at"),
    )  # fmt: skip


def _write(data: object) -> WriteResult:
    o = _Obj(data, "the response")
    return WriteResult(
        ids=o.texts("ids"), generation=o.integer("generation"), articles=o.integer("articles"),
        passages=o.integer("passages"), added=o.texts("added"), updated=o.texts("updated"),
        removed=o.texts("removed"),
    )  # fmt: skip


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


def _search_call(
    q: str,
    *,
    k: int,
    mode: str,
    offset: int,
    source: str | None,
    author: str | None,
    tag: str | None,
    date_from: str | None,
    date_to: str | None,
    group: bool,
    explain: bool,
    min_score: float | None,
) -> _Call:
    params = {"q": q, "k": str(k), "mode": mode, "offset": str(offset)}
    optional = {
        "source": source, "author": author, "tag": tag, "date_from": date_from,
        "date_to": date_to, "min_score": None if min_score is None else repr(float(min_score)),
        "group": "true" if group else None, "explain": "true" if explain else None,
    }  # fmt: skip
    params.update({name: value for name, value in optional.items() if value is not None})
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


def _result(response: httpx.Response, call: _Call, parse: Callable[[object], _T]) -> _T:
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
        return parse(data)
    except _Malformed as exc:
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

    def _send(self, call: _Call, parse: Callable[[object], _T]) -> _T:
        try:
            response = self._http.request(
                call.method, self.base_url + call.path, params=call.params,
                json=call.body, headers=_headers(call, self.api_key),
            )  # fmt: skip
        except httpx.RequestError as exc:
            raise _transport_error(exc, self.base_url, call, self._http.timeout) from exc
        return _result(response, call, parse)

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
        return self._send(call, _search_result)

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
        return self._send(_Call("GET", _path(article_id)), _article)

    def similar(self, article_id: str, *, k: int = 10) -> list[Similar]:
        """The `k` articles nearest to this one, not itself."""
        return self._send(_Call("GET", _path(article_id, "/similar"), {"k": str(k)}), _similar)

    def add(self, article: ArticleLike) -> WriteResult:
        """Add an article (fields, a dataclass, or a URL to fetch); 409 if its id exists."""
        return self._send(_Call("POST", "/articles", body=_body(article), write=True), _write)

    def update(self, article_id: str, article: ArticleLike) -> WriteResult:
        """Create or replace the article with this id."""
        call = _Call("PUT", _path(article_id), body=_body(article), write=True)
        return self._send(call, _write)

    def remove(self, article_id: str) -> WriteResult:
        """Remove the article (404 if unknown)."""
        return self._send(_Call("DELETE", _path(article_id), write=True), _write)

    def stats(self) -> Stats:
        """Articles, passages, sources, date range, generation and size of the index."""
        return self._send(_Call("GET", "/stats"), _stats)

    def health(self) -> Health:
        """The served index's generation, counts and model (503 while none is loaded)."""
        return self._send(_Call("GET", "/health"), _health)


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

    async def _send(self, call: _Call, parse: Callable[[object], _T]) -> _T:
        try:
            response = await self._http.request(
                call.method, self.base_url + call.path, params=call.params,
                json=call.body, headers=_headers(call, self.api_key),
            )  # fmt: skip
        except httpx.RequestError as exc:
            raise _transport_error(exc, self.base_url, call, self._http.timeout) from exc
        return _result(response, call, parse)

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
        return await self._send(call, _search_result)

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
        return await self._send(_Call("GET", _path(article_id)), _article)

    async def similar(self, article_id: str, *, k: int = 10) -> list[Similar]:
        """The `k` articles nearest to this one, not itself."""
        call = _Call("GET", _path(article_id, "/similar"), {"k": str(k)})
        return await self._send(call, _similar)

    async def add(self, article: ArticleLike) -> WriteResult:
        """Add an article (fields, a dataclass, or a URL to fetch); 409 if its id exists."""
        call = _Call("POST", "/articles", body=_body(article), write=True)
        return await self._send(call, _write)

    async def update(self, article_id: str, article: ArticleLike) -> WriteResult:
        """Create or replace the article with this id."""
        call = _Call("PUT", _path(article_id), body=_body(article), write=True)
        return await self._send(call, _write)

    async def remove(self, article_id: str) -> WriteResult:
        """Remove the article (404 if unknown)."""
        return await self._send(_Call("DELETE", _path(article_id), write=True), _write)

    async def stats(self) -> Stats:
        """Articles, passages, sources, date range, generation and size of the index."""
        return await self._send(_Call("GET", "/stats"), _stats)

    async def health(self) -> Health:
        """The served index's generation, counts and model (503 while none is loaded)."""
        return await self._send(_Call("GET", "/health"), _health)


def _last_page(page: SearchResult, asked: int) -> bool:
    """No page after this one: it came back short (or empty).

    A full page that reaches `total` is not the end: the server counts `total` among at most
    max(200, offset + k) candidates per side, so a deeper page can hold more; when the results
    do end on a full page, one more request comes back empty.
    """
    return len(page.hits) < asked
