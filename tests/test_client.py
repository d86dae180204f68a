"""The Python client: request building and parsing through a mock transport, then a live server."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import dataclasses
import io
import json
import re
import socket
import subprocess
import sys
import typing
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

import policy_search
import policy_search.client
from harness.server import free_port, running_server
from policy_search import (
    AlertOptions,
    AlertRequest,
    Article,
    ArticleInput,
    ArticleMeta,
    AsyncClient,
    Client,
    Explanation,
    Hit,
    SearchAPIError,
    SearchConnectionError,
    SearchOptions,
    SearchRequest,
    SearchResult,
    SearchTimeout,
    WriteResult,
    records,
)
from policy_search.index.build import build_index
from tests.conftest import ARTICLES, ROOT
from tests.fakes import FakeEmbedder

BASE = "http://search.test"
KEY = "client-test-key"

# -- canned responses, shaped exactly like policy_search/records/ (plus keys to ignore) ---

META = {
    "id": "un/1990/a b",
    "title": "Trade routes across the Caspian",
    "source": "Example Wire",
    "author": None,
    "date": "2024-05-01",
    "url": "https://example.org/corridor",
    "tags": ["trade", "Caspian"],
    "added_later": "ignored",
}


def hit_json(rank: int, *, explain: bool = False, more: int | None = None) -> dict[str, Any]:
    """One Hit (records.Hit)."""
    return {
        "rank": rank,
        "score": 0.5 / rank,
        "passage": {
            "id": 100 + rank,
            "text": "The Middle Corridor links China to Europe.",
            "start": 0,
            "end": 42,
            "highlights": [[4, 10], [11, 19]],
            "countries": ["CN"],
            "unknown": True,
        },
        "snippet": {"text": "Middle Corridor", "start": 4, "end": 19, "highlights": [[0, 6]]},
        "article": META,
        "explain": {
            "dense_rank": 1,
            "dense_score": 0.61,
            "lexical_rank": None,
            "lexical_score": 0,
            "fusion": "score",
        }
        if explain
        else None,
        "more": more,
    }


def search_json(hits: list[dict[str, Any]], total: int | None = None) -> dict[str, Any]:
    """One SearchResult (records.SearchResult)."""
    return {
        "query": "Middle Corridor",
        "mode": "hybrid",
        "took_ms": 3,
        "total": len(hits) if total is None else total,
        "results": hits,
        "facets": {"country": [{"value": "CN", "name": "China", "count": 2}]},
        "facets_more": {"country": 0},
        "server_version": "ignored",
    }


WRITE = {
    "ok": True,
    "ids": ["pipeline"],
    "generation": 7,
    "articles": 4,
    "passages": 9,
    "added": ["pipeline"],
    "updated": [],
    "removed": [],
}
STATS = {
    "articles": 3,
    "passages": 5,
    "sources": [{"source": "Example Wire", "articles": 1}, {"source": "Other", "articles": 1}],
    "date_min": "2024-05-01",
    "date_max": None,
    "generation": 2,
    "built_at": "2026-05-01T10:00:00Z",
    "model": "fake/bow",
    "bytes_on_disk": 12345,
}
HEALTH = {
    "ok": True,
    "generation": 2,
    "articles": 3,
    "passages": 5,
    "model": "fake/bow",
    "built_at": "2026-05-01T10:00:00Z",
}

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A mock server: answers with `handler` and keeps every request it saw."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def answer(body: object, status: int = 200) -> Handler:
    return lambda request: httpx.Response(status, json=body)


def mock(handler: Handler, *, api_key: str | None = None) -> tuple[Client, Recorder]:
    """A Client whose requests go to `handler` (through an injected httpx.Client)."""
    recorder = Recorder(handler)
    http = httpx.Client(transport=httpx.MockTransport(recorder))
    return Client(BASE, api_key=api_key, http=http), recorder


def amock(handler: Handler, *, api_key: str | None = None) -> tuple[AsyncClient, Recorder]:
    """An AsyncClient whose requests go to `handler`."""
    recorder = Recorder(handler)
    http = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    return AsyncClient(BASE, api_key=api_key, http=http), recorder


def raising(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


# -- request building ------------------------------------------------------------------------


def test_search_sends_only_the_defaults_and_no_key() -> None:
    client, seen = mock(answer(search_json([])), api_key=KEY)
    client.search("Middle Corridor")
    request = seen.last
    assert request.method == "GET"
    assert request.url.path == "/search"
    assert dict(request.url.params) == {
        "q": "Middle Corridor",
        "k": "10",
        "mode": "hybrid",
        "offset": "0",
        "sort": "relevance",
    }
    assert "authorization" not in request.headers  # reads never carry the key


def test_search_sends_filters_group_explain_and_min_score() -> None:
    client, seen = mock(answer(search_json([])))
    client.search(
        "Azerbaijan",
        k=3,
        mode="lexical",
        offset=6,
        source="Example Wire",
        author="A. Writer",
        tag="Caspian",
        date_from="2023",
        date_to="2024-06-30",
        group=True,
        explain=True,
        min_score=0.25,
        country=["AZ", "Armenia"],
        facets=["year", "country"],
        sort="newest",
    )
    assert seen.last.url.params.get_list("country") == ["AZ", "Armenia"]
    assert seen.last.url.params.get_list("facets") == ["year", "country"]
    assert dict(seen.last.url.params) == {
        "q": "Azerbaijan",
        "k": "3",
        "mode": "lexical",
        "offset": "6",
        "source": "Example Wire",
        "author": "A. Writer",
        "tag": "Caspian",
        "date_from": "2023",
        "date_to": "2024-06-30",
        "group": "true",
        "explain": "true",
        "min_score": "0.25",
        "country": "AZ",  # dict() keeps the first of a repeated key
        "facets": "year",
        "sort": "newest",
    }


def test_the_search_options_are_the_query_records_fields() -> None:
    """SearchOptions types the keywords; SearchRequest defines them: the same names and types."""
    fields = typing.get_type_hints(SearchRequest)
    del fields["q"]
    assert typing.get_type_hints(SearchOptions) == fields
    assert SearchOptions.__required_keys__ == frozenset()  # each left out is the record's default


def test_search_takes_the_query_record_itself() -> None:
    client, seen = mock(answer(search_json([])))
    client.search(SearchRequest(q="Azerbaijan", k=3, tag="Caspian", explain=True))
    asked = dict(seen.last.url.params)
    assert asked == {
        "q": "Azerbaijan", "k": "3", "mode": "hybrid", "offset": "0", "tag": "Caspian",
        "explain": "true", "sort": "relevance",
    }  # fmt: skip
    client.search(SearchRequest(q="Azerbaijan", k=3, tag="Caspian"), k=5, source="Wire")
    assert dict(seen.last.url.params) == {
        "q": "Azerbaijan", "k": "5", "mode": "hybrid", "offset": "0", "tag": "Caspian",
        "source": "Wire", "sort": "relevance",
    }  # fmt: skip


def test_an_unknown_search_option_is_a_type_error() -> None:
    client, seen = mock(answer(search_json([])))
    with pytest.raises(TypeError, match="colour"):
        client.search("x", colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="page_size and limit, not k, offset"):
        next(client.iter_search("x", k=5, offset=2))  # type: ignore[call-arg]
    assert seen.requests == []


def test_article_ids_are_quoted_in_paths_keeping_slashes() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/similar"):
            return httpx.Response(200, json={"article_id": META["id"], "results": []})
        return httpx.Response(200, json={**META, "text": "…"})

    client, seen = mock(handler)
    client.article("un/1990/a b%?#")
    assert seen.last.url.raw_path == b"/articles/un/1990/a%20b%25%3F%23"
    assert seen.last.url.query == b""
    client.similar("un/1990/a b", k=3)
    assert seen.last.url.raw_path == b"/articles/un/1990/a%20b/similar?k=3"


def test_writes_send_json_bodies_and_the_key() -> None:
    client, seen = mock(answer(WRITE, 201), api_key=KEY)

    client.add(ArticleInput(id="pipeline", title="A pipeline", text="Gas.", tags=("energy",)))
    assert (seen.last.method, seen.last.url.path) == ("POST", "/articles")
    assert seen.last.headers["authorization"] == f"Bearer {KEY}"
    assert json.loads(seen.last.content) == {
        "id": "pipeline",
        "title": "A pipeline",
        "text": "Gas.",
        "tags": ["energy"],
    }

    client.add({"id": "x", "title": "T", "text": "Body.", "date": "2024", "tags": ("a", "b")})
    assert json.loads(seen.last.content) == {
        "id": "x",
        "title": "T",
        "text": "Body.",
        "date": "2024",
        "tags": ["a", "b"],
    }

    client.add("https://example.org/some-article")
    assert json.loads(seen.last.content) == {"url": "https://example.org/some-article"}

    whole = Article(
        id="un/1990/a b",
        title="Trade routes across the Caspian",
        source="Example Wire",
        author=None,
        date="2024-05-01",
        url="https://example.org/corridor",
        tags=["trade", "Caspian"],
        text="Body.",
    )
    client.update("un/1990/a b", whole)
    assert (seen.last.method, seen.last.url.raw_path) == ("PUT", b"/articles/un/1990/a%20b")
    assert json.loads(seen.last.content) == {
        "id": "un/1990/a b",
        "title": "Trade routes across the Caspian",
        "text": "Body.",
        "source": "Example Wire",
        "date": "2024-05-01",
        "url": "https://example.org/corridor",
        "tags": ["trade", "Caspian"],
    }

    client.remove("un/1990/a b")
    assert (seen.last.method, seen.last.url.raw_path) == ("DELETE", b"/articles/un/1990/a%20b")
    assert seen.last.content == b""
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in seen.requests)


def test_writes_without_an_api_key_send_no_authorization() -> None:
    client, seen = mock(answer(WRITE))
    client.add({"id": "x", "title": "T", "text": "Body."})
    client.remove("x")
    assert [r.method for r in seen.requests] == ["POST", "DELETE"]
    assert all("authorization" not in r.headers for r in seen.requests)


ALERT = {
    "id": "a1/b?c",
    "q": "pipeline tariffs",
    "mode": "lexical",
    "min_confidence": None,
    "source": "Energy Desk",
    "country": ["AZ"],
    "created": "2026-12-07T22:00:00Z",
    "feed": f"{BASE}/alerts/a1/feed",
    "matched": 2,
}
ATOM = '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"/>'


def test_the_alert_options_are_the_alert_records_fields() -> None:
    """AlertOptions types follow's keywords; AlertRequest defines them: the same names and types."""
    fields = typing.get_type_hints(AlertRequest)
    del fields["q"]
    assert typing.get_type_hints(AlertOptions) == fields
    assert AlertOptions.__required_keys__ == frozenset()


def alerts_server(request: httpx.Request) -> httpx.Response:
    """POST, GET and DELETE /alerts, and a feed, answered as the API does."""
    if request.method == "POST":
        return httpx.Response(201, json={"id": "a1", "feed": ALERT["feed"]})
    if request.method == "DELETE":
        return httpx.Response(204)
    if request.url.path.endswith("/feed"):
        return httpx.Response(200, text=ATOM, headers={"content-type": "application/atom+xml"})
    return httpx.Response(200, json={"alerts": [ALERT]})


def test_follow_alerts_unfollow_and_feed_send_the_key_but_to_the_feed() -> None:
    client, seen = mock(alerts_server, api_key=KEY)
    created = client.follow(
        "pipeline tariffs", mode="lexical", source="Energy Desk", country=["AZ"]
    )
    assert (created.id, created.feed) == ("a1", ALERT["feed"])
    assert (seen.last.method, seen.last.url.path) == ("POST", "/alerts")
    assert json.loads(seen.last.content) == {
        "q": "pipeline tariffs", "mode": "lexical", "source": "Energy Desk", "country": ["AZ"],
    }  # fmt: skip
    client.follow(AlertRequest(q="Baku", tag="energy"), mode="dense")
    assert json.loads(seen.last.content) == {
        "q": "Baku", "mode": "dense", "tag": "energy", "country": [],
    }  # fmt: skip

    (alert,) = client.alerts()
    assert (alert.id, alert.q, alert.country, alert.matched) == ("a1/b?c", ALERT["q"], ["AZ"], 2)
    assert client.unfollow("a1/b?c") is None
    assert (seen.last.method, seen.last.url.raw_path) == ("DELETE", b"/alerts/a1%2Fb%3Fc")
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in seen.requests)

    assert client.feed("a1") == ATOM
    assert seen.last.url.raw_path == b"/alerts/a1/feed"
    assert "authorization" not in seen.last.headers  # the feed's URL is its capability


def test_alert_errors_are_search_api_errors() -> None:
    client, _ = mock(answer({"ok": False, "error": "no alert with id 'x'", "status": 404}, 404))
    for call in (lambda: client.feed("x"), lambda: client.unfollow("x")):
        with pytest.raises(SearchAPIError) as missing:
            call()
        assert (missing.value.status, missing.value.message) == (404, "no alert with id 'x'")
    with pytest.raises(TypeError):
        client.follow("x", k=3)  # type: ignore[call-arg]  # an alert has no page


def test_the_async_client_follows_too() -> None:
    async def main() -> tuple[Any, ...]:
        client, seen = amock(alerts_server, api_key=KEY)
        created = await client.follow("pipeline", tag="energy")
        listed = await client.alerts()
        feed = await client.feed(created.id)
        await client.unfollow(created.id)
        return created, listed, feed, [(r.method, r.url.path) for r in seen.requests]

    created, listed, feed, asked = asyncio.run(main())
    assert (created.id, [a.id for a in listed], feed) == ("a1", ["a1/b?c"], ATOM)
    assert asked == [
        ("POST", "/alerts"), ("GET", "/alerts"), ("GET", "/alerts/a1/feed"),
        ("DELETE", "/alerts/a1"),
    ]  # fmt: skip


def test_add_refuses_what_is_not_an_article() -> None:
    client, seen = mock(answer(WRITE))
    with pytest.raises(TypeError, match="not int"):
        client.add(42)  # type: ignore[arg-type]
    assert seen.requests == []


def test_base_url_is_checked_and_trimmed() -> None:
    with pytest.raises(ValueError, match="http://"):
        Client("localhost:8000")
    client, seen = mock(answer(HEALTH))
    trimmed = Client(BASE + "/", http=client._http)
    trimmed.health()
    assert str(seen.last.url) == f"{BASE}/health"


# -- parsing ---------------------------------------------------------------------------------


def test_search_result_is_parsed_into_dataclasses() -> None:
    body = search_json([hit_json(1, explain=True, more=2), hit_json(2)], total=7)
    client, _ = mock(answer(body))
    result = client.search("Middle Corridor")
    assert isinstance(result, SearchResult)
    assert (result.query, result.mode, result.took_ms, result.total) == (
        "Middle Corridor",
        "hybrid",
        3.0,
        7,
    )
    first, second = result.hits
    assert isinstance(first, Hit)
    assert (first.rank, first.score, first.more) == (1, 0.5, 2)
    assert first.passage.id == 101
    assert first.passage.highlights == [(4, 10), (11, 19)]
    text = first.passage.text
    assert [text[a:b] for a, b in first.passage.highlights] == ["Middle", "Corridor"]
    assert first.article == ArticleMeta(
        id="un/1990/a b",
        title="Trade routes across the Caspian",
        source="Example Wire",
        author=None,
        date="2024-05-01",
        url="https://example.org/corridor",
        tags=["trade", "Caspian"],
    )
    assert first.explain == Explanation(
        dense_rank=1, dense_score=0.61, lexical_rank=None, lexical_score=0.0, fusion="score"
    )
    assert (second.explain, second.more) == (None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.rank = 5  # type: ignore[misc]


def test_article_similar_stats_health_and_writes_are_parsed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/similar"):
            results = [{"score": 0.8, "article": META, "extra": 1}]
            return httpx.Response(200, json={"article_id": "corridor", "results": results})
        if path.startswith("/articles/") and request.method == "GET":
            return httpx.Response(200, json={**META, "text": "The whole text."})
        return httpx.Response(200, json={"/stats": STATS, "/health": HEALTH}.get(path, WRITE))

    client, _ = mock(handler, api_key=KEY)

    article = client.article("corridor")
    assert isinstance(article, Article)
    assert (article.id, article.text, article.tags) == (
        "un/1990/a b",
        "The whole text.",
        META["tags"],
    )

    [near] = client.similar("corridor")
    assert near.score == 0.8 and near.article.title == META["title"]

    stats = client.stats()
    assert (stats.articles, stats.passages, stats.generation) == (3, 5, 2)
    assert [(s.source, s.articles) for s in stats.sources] == [("Example Wire", 1), ("Other", 1)]
    assert (stats.date_min, stats.date_max, stats.bytes_on_disk) == ("2024-05-01", None, 12345)

    health = client.health()
    assert (health.generation, health.articles, health.passages, health.model) == (
        2,
        3,
        5,
        "fake/bow",
    )

    written = client.remove("pipeline")
    assert written == WriteResult(
        ids=["pipeline"],
        generation=7,
        articles=4,
        passages=9,
        added=["pipeline"],
        updated=[],
        removed=[],
    )


@pytest.mark.parametrize(
    ("response", "fragment"),
    [
        (httpx.Response(200, text="<html>hello</html>"), "not JSON (text/plain"),
        (httpx.Response(200, json=[1, 2]), "the response is list, not an object"),
        (httpx.Response(200, json={"query": "q", "mode": "hybrid"}), "has no 'took_ms'"),
        (
            httpx.Response(200, json={**search_json([]), "total": "many"}),
            "the response.total is str, not an integer",
        ),
        (
            httpx.Response(200, json=search_json([{**hit_json(1), "passage": None}])),
            "results[0].passage is null, not an object",
        ),
    ],
)
def test_unexpected_bodies_raise_a_clear_error(response: httpx.Response, fragment: str) -> None:
    client, _ = mock(lambda request: response)
    with pytest.raises(SearchAPIError) as caught:
        client.search("x")
    assert caught.value.status == 200
    assert "unexpected response to GET /search" in caught.value.message
    assert fragment in caught.value.message


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (422, "q: the query is empty: give some words to search for"),
        (404, "no article with id 'nope'"),
        (401, "this route needs `Authorization: Bearer <API key>`"),
        (403, "the API key is wrong"),
        (503, "no index at var/index: run `policy-search index`"),
    ],
)
def test_json_errors_raise_search_api_error(status: int, message: str) -> None:
    body = {"ok": False, "error": message, "status": status}
    client, _ = mock(answer(body, status))
    with pytest.raises(SearchAPIError) as caught:
        client.article("nope")
    assert type(caught.value) is SearchAPIError
    assert (caught.value.status, caught.value.message) == (status, message)
    assert str(caught.value) == f"{message} (HTTP {status})"


def test_a_non_json_error_body_gives_reason_and_excerpt() -> None:
    page = "<html><body><h1>502 Bad Gateway</h1>\n\n<p>nginx</p></body></html>"
    client, _ = mock(lambda request: httpx.Response(502, text=page))
    with pytest.raises(SearchAPIError) as caught:
        client.search("x")
    assert caught.value.status == 502
    assert caught.value.message.startswith("GET /search: Bad Gateway: <html>")
    assert "nginx" in caught.value.message


def test_connection_failures_and_timeouts_have_their_own_errors() -> None:
    client, _ = mock(raising(httpx.ConnectError("[Errno 111] Connection refused")))
    with pytest.raises(SearchConnectionError) as refused:
        client.health()
    assert refused.value.status == 0
    assert refused.value.message == f"cannot reach {BASE}: connection refused"

    client, _ = mock(raising(httpx.ReadTimeout("timed out")))
    with pytest.raises(SearchTimeout) as slow:
        client.search("x")
    assert isinstance(slow.value, SearchAPIError) and slow.value.status == 0
    assert BASE in slow.value.message and "GET /search: read timeout" in slow.value.message

    client, _ = mock(raising(httpx.RemoteProtocolError("Server disconnected")))
    with pytest.raises(SearchConnectionError, match=r"connection to .* failed .*disconnected"):
        client.stats()


def test_a_real_read_timeout_is_a_search_timeout() -> None:
    with socket.socket() as listener:  # accepts connections (backlog), never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = Client(f"http://127.0.0.1:{port}", timeout=0.3)
        with client, pytest.raises(SearchTimeout) as caught:
            client.health()
    assert "read timeout after 0.3s" in caught.value.message


def test_a_closed_port_is_a_connection_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with Client(url) as client, pytest.raises(SearchConnectionError) as caught:
        client.search("Middle Corridor")
    assert str(caught.value) == f"cannot reach {url}: connection refused"

    async def main() -> None:
        async with AsyncClient(url) as aclient:
            await aclient.health()

    with pytest.raises(SearchConnectionError, match="connection refused"):
        asyncio.run(main())


# -- pagination ------------------------------------------------------------------------------


def paged_server(count: int) -> Handler:
    """A mock /search holding `count` hits, honouring k and offset, or k and a cursor (here the
    next offset, spelt `at-N`), and giving each page but the last a `next_cursor`."""

    def handler(request: httpx.Request) -> httpx.Response:
        k, offset = int(request.url.params["k"]), int(request.url.params["offset"])
        if "cursor" in request.url.params:
            assert offset == 0, "a cursor says where its page starts"
            offset = int(request.url.params["cursor"].removeprefix("at-"))
        hits = [hit_json(rank) for rank in range(offset + 1, min(offset + k, count) + 1)]
        following = offset + len(hits)
        body = search_json(hits, total=count)
        body["next_cursor"] = f"at-{following}" if hits and following < count else None
        return httpx.Response(200, json=body)

    return handler


def _pages(seen: Recorder) -> list[str | None]:
    """Each request's cursor (None for the first page)."""
    return [r.url.params.get("cursor") for r in seen.requests]


def test_iter_search_walks_every_page_by_cursor() -> None:
    client, seen = mock(paged_server(23))
    hits = list(client.iter_search("Middle Corridor", page_size=10, tag="trade", group=True))
    assert [h.rank for h in hits] == list(range(1, 24))
    assert _pages(seen) == [None, "at-10", "at-20"]
    assert {r.url.params["offset"] for r in seen.requests} == {"0"}
    assert {(r.url.params["tag"], r.url.params["group"]) for r in seen.requests} == {
        ("trade", "true")
    }


def test_iter_search_stops_where_no_next_cursor_comes() -> None:
    """The server gives no cursor past the last page: a full page that reaches it is the last."""
    client, seen = mock(paged_server(20))
    assert len(list(client.iter_search("x", page_size=10))) == 20
    assert _pages(seen) == [None, "at-10"]


def test_iter_search_stops_at_the_limit_and_asks_no_more_than_it_needs() -> None:
    client, seen = mock(paged_server(100))
    hits = list(client.iter_search("x", page_size=10, limit=15))
    assert [h.rank for h in hits] == list(range(1, 16))
    assert [(r.url.params.get("cursor"), r.url.params["k"]) for r in seen.requests] == [
        (None, "10"),
        ("at-10", "5"),
    ]
    assert list(client.iter_search("x", limit=0)) == []
    assert len(seen.requests) == 2


def test_iter_search_walks_a_query_record() -> None:
    client, seen = mock(paged_server(7))
    query = SearchRequest(q="x", mode="lexical", k=99, offset=50, cursor="stale")
    assert len(list(client.iter_search(query, page_size=5, tag="trade"))) == 7
    asked = [dict(r.url.params) for r in seen.requests]
    assert [(p["offset"], p.get("cursor"), p["k"], p["mode"], p["tag"]) for p in asked] == [
        ("0", None, "5", "lexical", "trade"),  # the pager sets k, offset and cursor
        ("0", "at-5", "5", "lexical", "trade"),
    ]


def test_search_sends_a_cursor() -> None:
    client, seen = mock(paged_server(30))
    page = client.search("x", k=10)
    assert page.next_cursor == "at-10"
    following = client.search("x", k=10, cursor=page.next_cursor)
    assert [h.rank for h in following.hits] == list(range(11, 21))
    assert seen.last.url.params["cursor"] == "at-10"
    with pytest.raises(TypeError, match="page_size and limit, not cursor"):
        next(client.iter_search("x", cursor="at-10"))  # type: ignore[call-arg]


def test_iter_search_is_lazy() -> None:
    client, seen = mock(paged_server(100))
    first = next(client.iter_search("x", page_size=10))
    assert first.rank == 1 and len(seen.requests) == 1


# -- the client's own resources --------------------------------------------------------------


def test_an_injected_http_client_is_left_open() -> None:
    client, _ = mock(answer(HEALTH))
    with client:
        assert client.health().model == "fake/bow"
    assert not client._http.is_closed
    client._http.close()

    own = Client(BASE)
    with own:
        pass
    assert own._http.is_closed


# -- the async client through the mock transport ---------------------------------------------


def test_async_client_builds_parses_and_maps_errors() -> None:
    async def main() -> None:
        client, seen = amock(paged_server(12), api_key=KEY)
        result = await client.search("Middle Corridor", k=5, source="Example Wire")
        assert [h.rank for h in result.hits] == [1, 2, 3, 4, 5]
        assert seen.last.url.params["source"] == "Example Wire"
        assert "authorization" not in seen.last.headers
        ranks = [hit.rank async for hit in client.iter_search("x", page_size=5)]
        assert ranks == list(range(1, 13))

        writer, seen = amock(answer(WRITE, 201), api_key=KEY)
        written = await writer.update("a/b", ArticleInput(title="T", text="Body."))
        assert written.added == ["pipeline"]
        assert (seen.last.method, seen.last.url.raw_path) == ("PUT", b"/articles/a/b")
        assert seen.last.headers["authorization"] == f"Bearer {KEY}"
        assert json.loads(seen.last.content) == {"title": "T", "text": "Body."}

        failing, _ = amock(
            answer({"ok": False, "error": "the API key is wrong", "status": 403}, 403)
        )
        with pytest.raises(SearchAPIError) as caught:
            await failing.remove("x")
        assert (caught.value.status, caught.value.message) == (403, "the API key is wrong")

        down, _ = amock(raising(httpx.ConnectTimeout("timed out")))
        with pytest.raises(SearchTimeout, match="connect timeout"):
            await down.health()

        async with client:
            assert (await client.search("x", k=1)).total == 12
        assert not client._http.is_closed
        await client._http.aclose()

    asyncio.run(main())


# -- the module imports nothing heavy --------------------------------------------------------

HEAVY = ("numpy", "torch", "faiss", "fastapi", "pydantic", "starlette", "sentence_transformers")


def test_importing_the_client_loads_nothing_heavy() -> None:
    probe = (
        "import sys, json; from policy_search.client import Client; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def imports(module: str) -> set[str]:
    """Top-level names `policy_search/<module>.py` (or each file of the package
    `policy_search/<module>/`) imports, its own package's modules aside; `policy_search.x` stays
    whole."""
    package = ROOT / "policy_search" / module
    paths = sorted(package.glob("*.py")) if package.is_dir() else [package.with_suffix(".py")]
    trees = [ast.parse(path.read_text()) for path in paths]
    imported = set()
    for node in (node for tree in trees for node in ast.walk(tree)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative (project) imports"
            names = [node.module or ""]
        else:
            continue
        imported |= {n if n.startswith("policy_search.") else n.partition(".")[0] for n in names}
    own = f"policy_search.{module}."
    return {n for n in imported if not n.startswith(own)}


def test_the_package_exports_the_clients_names_and_the_wire_records() -> None:
    shared = set(policy_search.__all__) & set(records.__all__)
    # the others are the client's, imported on first use
    assert set(policy_search.__all__) - shared == set(policy_search.client.__all__)
    assert all(getattr(policy_search, n) is getattr(records, n) for n in shared)


def test_the_client_imports_only_httpx_the_wire_and_the_standard_library() -> None:
    imported = imports("client")
    wire = {"httpx", "policy_search.records", "policy_search.facets"}
    assert wire <= imported
    assert imported - wire <= set(sys.stdlib_module_names), imported


def test_the_wire_records_import_the_standard_library_alone() -> None:
    for module in ("records", "facets", "patterns"):
        imported = imports(module) - {"policy_search.patterns", "policy_search.facets"}
        assert imported <= set(sys.stdlib_module_names), (module, imported)
    probe = (
        "import sys; sys.modules['httpx'] = None; "  # as if httpx were not installed
        "from policy_search import records, SearchResult; "
        "assert SearchResult is records.SearchResult; "
        "print(sorted(m for m in ('httpx', 'pydantic', 'numpy') if sys.modules.get(m)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_client_reads_the_wire_records_and_refuses_their_wrong_shapes() -> None:
    hit = records.parse(records.Hit, hit_json(1, explain=True), "hit")
    assert hit.explain is not None and hit.explain.lexical_score == 0.0
    assert isinstance(hit.explain.lexical_score, float)
    assert records.parse(records.ArticleMeta, {"id": "a", "title": "T", "tags": []}).source is None
    assert records.parse(records.ArticleMeta, {"id": "a", "title": "T"}).tags == []  # a default
    for data, fragment in [
        ({**hit_json(1), "rank": True}, "hit.rank is bool, not an integer"),
        ({**hit_json(1), "score": "1"}, "hit.score is str, not a number"),
        ({**hit_json(1), "more": 1.5}, "hit.more is float, not an integer"),
        ({**hit_json(1), "explain": []}, "hit.explain is list, not an object"),
        (
            {**hit_json(1), "passage": {**hit_json(1)["passage"], "highlights": [[1]]}},
            "hit.passage.highlights[0] has 1 items, not 2",
        ),
        ({**hit_json(1), "article": {"id": "a", "tags": []}}, "hit.article has no 'title'"),
    ]:
        with pytest.raises(records.WireError, match=re.escape(fragment)):
            records.parse(records.Hit, data, "hit")
    with pytest.raises(records.WireError, match="ok is False, not True"):
        records.parse(records.Health, {**HEALTH, "ok": False})
    assert records.parse(records.Health, HEALTH) == records.Health(
        generation=2, articles=3, passages=5, model="fake/bow", built_at="2026-05-01T10:00:00Z"
    )


# -- against a live server (real app, fake embedder) -----------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a real server over ARTICLES, with writes enabled by KEY."""
    index_dir = tmp_path_factory.mktemp("client-index") / "index"
    build_index(ARTICLES, index_dir, FakeEmbedder())
    with running_server(index_dir, fake=True, env={"POLICY_SEARCH_API_KEY": KEY}) as server:
        yield server.url


@pytest.fixture
def client(live: str) -> Iterator[Client]:
    with Client(live, api_key=KEY) as c:
        yield c


@pytest.mark.e2e
def test_live_search_returns_passages_placed_in_their_articles(client: Client) -> None:
    result = client.search("Middle Corridor", k=3)
    assert result.query == "Middle Corridor" and result.mode == "hybrid"
    top = result.hits[0]
    assert (top.rank, top.article.id, top.article.source) == (1, "corridor", "Example Wire")
    assert top.article.tags == ["trade", "Caspian"]
    words = {top.passage.text[a:b].lower() for a, b in top.passage.highlights}
    assert {"middle", "corridor"} <= words
    article = client.article("corridor")
    assert article.text[top.passage.start : top.passage.end] == top.passage.text
    assert article.title == "Trade routes across the Caspian" and article.date == "2024-05-01"


@pytest.mark.e2e
def test_live_group_filters_and_explain(client: Client) -> None:
    grouped = client.search("Azerbaijan", group=True)
    ids = [hit.article.id for hit in grouped.hits]
    assert sorted(ids) == ["accords", "corridor"] and grouped.total == 2
    assert all(isinstance(hit.more, int) for hit in grouped.hits)

    assert {h.article.id for h in client.search("Azerbaijan", source="example wire").hits} == {
        "corridor"
    }
    assert {h.article.id for h in client.search("Azerbaijan", tag="caspian").hits} == {"corridor"}
    assert {h.article.id for h in client.search("Azerbaijan", date_from="2025").hits} == {"accords"}
    assert client.search("Azerbaijan", author="Nobody").hits == []

    explained = client.search("Azerbaijan", explain=True, k=1).hits[0]
    assert explained.explain is not None and explained.explain.fusion == "score"
    assert client.search("Azerbaijan", k=1).hits[0].explain is None


@pytest.mark.e2e
def test_live_iter_search_matches_one_big_page(client: Client) -> None:
    query = "Azerbaijan Caspian rain"
    # Every match, loose or not: a tiny corpus's BM25 is low, and this is about paging.
    everything = client.search(query, mode="lexical", k=100, min_confidence=0.0)
    walked = list(client.iter_search(query, mode="lexical", page_size=1, min_confidence=0.0))
    assert len(walked) == len(everything.hits) == everything.total >= 3
    assert [(h.rank, h.passage.id) for h in walked] == [
        (h.rank, h.passage.id) for h in everything.hits
    ]


@pytest.mark.e2e
def test_live_iter_search_walks_one_commit_through_a_write(client: Client) -> None:
    """iter_search follows cursors: an article written after the first page, which ranks
    first, is not in the walk, which is the first commit's ranking to the end."""
    q = "Azerbaijan Caspian"
    whole = client.search(q, k=100, mode="lexical", min_confidence=0.0)
    walk = client.iter_search(q, page_size=1, mode="lexical", min_confidence=0.0)
    seen = [next(walk).passage.id]
    written = "walk/written-meanwhile"
    try:
        client.add({"id": written, "title": q, "text": f"{q}, {q}, {q}."})
        top = client.search(q, k=1, mode="lexical", min_confidence=0.0).hits[0]
        assert top.article.id == written
        seen += [hit.passage.id for hit in walk]
    finally:
        client.remove(written)
    assert seen == [hit.passage.id for hit in whole.hits] and len(seen) >= 2


@pytest.mark.e2e
def test_live_similar_stats_and_health(client: Client) -> None:
    similar = client.similar("corridor", k=2)
    assert 1 <= len(similar) <= 2
    assert "corridor" not in {s.article.id for s in similar}
    assert all(-1.0 <= s.score <= 1.0 for s in similar)

    # A merge of earlier tests' writes may commit between two requests: stats answers from a
    # generation health saw before it or saw after it.
    before = client.health().generation
    stats = client.stats()
    assert stats.articles == 3 and before <= stats.generation <= client.health().generation
    assert {s.source: s.articles for s in stats.sources} == {"Example Wire": 1, "Other Source": 1}
    assert (stats.date_min, stats.model) == ("2024-05-01", "fake/bow")
    assert stats.bytes_on_disk > 0

    health = client.health()
    assert (health.articles, health.passages, health.model) == (3, stats.passages, "fake/bow")


@pytest.mark.e2e
def test_live_errors(live: str, client: Client) -> None:
    with pytest.raises(SearchAPIError) as unknown:
        client.article("no/such-article")
    assert unknown.value.status == 404 and "no/such-article" in unknown.value.message
    with pytest.raises(SearchAPIError) as empty:
        client.search("   ")
    assert empty.value.status == 422 and "empty" in empty.value.message
    with pytest.raises(SearchAPIError) as too_many:
        client.search("x", k=1000)
    assert too_many.value.status == 422 and too_many.value.message.startswith("k:")

    with Client(live, api_key="wrong") as wrong, pytest.raises(SearchAPIError) as forbidden:
        wrong.remove("corridor")
    assert (forbidden.value.status, forbidden.value.message) == (403, "the API key is wrong")
    with Client(live) as anonymous, pytest.raises(SearchAPIError) as unauthorized:
        anonymous.add({"id": "x", "title": "T", "text": "Body."})
    assert unauthorized.value.status == 401
    assert client.article("corridor").id == "corridor"  # nothing was written or removed
    assert client.stats().articles == 3


@pytest.mark.e2e
def test_live_add_search_update_remove(client: Client) -> None:
    article_id = "pipelines/trans-caspian"
    draft = ArticleInput(
        id=article_id,
        title="A pipeline under the Caspian",
        text="The trans-Caspian gas pipeline would link Turkmenistan to Azerbaijan.",
        source="Example Wire",
        date="2024-03",
        tags=("energy",),
    )
    removed = None
    try:
        added = client.add(draft)
        assert (added.ids, added.added, added.articles) == ([article_id], [article_id], 4)
        found = client.search("Turkmenistan pipeline", k=1).hits
        assert found[0].article.id == article_id and found[0].article.tags == ["energy"]

        with pytest.raises(SearchAPIError) as exists:
            client.add(draft)
        assert exists.value.status == 409

        stored = client.article(article_id)
        renamed = dataclasses.replace(stored, title="The Trans-Caspian pipeline")
        updated = client.update(article_id, renamed)
        assert updated.updated == [article_id] and updated.generation > added.generation
        assert client.article(article_id).title == "The Trans-Caspian pipeline"
        assert article_id not in {s.article.id for s in client.similar(article_id)}
        removed = client.remove(article_id)
    finally:
        if removed is None:  # leave the shared server as the other tests expect it
            with contextlib.suppress(SearchAPIError):
                client.remove(article_id)
    assert removed.removed == [article_id] and removed.articles == 3
    with pytest.raises(SearchAPIError) as gone:
        client.article(article_id)
    assert gone.value.status == 404
    with pytest.raises(SearchAPIError) as twice:
        client.remove(article_id)
    assert twice.value.status == 404


@pytest.mark.e2e
def test_live_follow_a_search_then_read_its_feed(live: str, client: Client) -> None:
    """A followed search's feed gets the passages of an article written afterwards that match;
    the alert is listed with its entries, and gone (its feed too) once unfollowed."""
    # (no confidence floor: a lexical alert holds to the search's, which this tiny index's
    # BM25 never reaches; the feed's plumbing is what is tested)
    created = client.follow("Turkmenistan pipeline", mode="lexical", source="Follow Wire",
                            min_confidence=0.0)  # fmt: skip
    assert created.feed == f"{live}/alerts/{created.id}/feed"
    written = "follow/trans-caspian"
    try:
        text = "A Turkmenistan pipeline would cross the Caspian to Baku."
        client.add({"id": written, "title": "Gas under the Caspian", "source": "Follow Wire",
                    "text": text})  # fmt: skip
        listed = {a.id: a for a in client.alerts()}
        alert = listed[created.id]
        assert (alert.q, alert.mode, alert.source, alert.matched) == (
            "Turkmenistan pipeline", "lexical", "Follow Wire", 1,
        )  # fmt: skip
        feed = client.feed(created.id)
        assert feed.lstrip().startswith("<?xml") and "Gas under the Caspian" in feed
        with Client(live) as anonymous:  # the feed's URL is all a reader needs
            assert anonymous.feed(created.id) == feed
    finally:
        client.unfollow(created.id)
        client.remove(written)
    assert created.id not in {a.id for a in client.alerts()}
    for gone in (lambda: client.feed(created.id), lambda: client.unfollow(created.id)):
        with pytest.raises(SearchAPIError) as missing:
            gone()
        assert missing.value.status == 404


@pytest.mark.e2e
def test_live_follow_errors(live: str, client: Client) -> None:
    with pytest.raises(SearchAPIError) as bad:
        client.follow("pipeline", date_from="2024-13")
    assert bad.value.status == 422 and "date_from" in bad.value.message
    with Client(live) as anonymous, pytest.raises(SearchAPIError) as unauthorized:
        anonymous.follow("pipeline")
    assert unauthorized.value.status == 401
    with Client(live, api_key="wrong") as wrong, pytest.raises(SearchAPIError) as forbidden:
        wrong.alerts()
    assert (forbidden.value.status, forbidden.value.message) == (403, "the API key is wrong")


@pytest.mark.e2e
def test_live_async_client(live: str) -> None:
    async def main() -> tuple[Any, ...]:
        async with AsyncClient(live, api_key=KEY) as client:
            result, article, health, stats = await asyncio.gather(
                client.search("Middle Corridor", k=2),
                client.article("corridor"),
                client.health(),
                client.stats(),
            )
            walked = [hit async for hit in client.iter_search("Azerbaijan", page_size=1)]
            similar = await client.similar("accords", k=1)
            added = await client.add({"id": "async-note", "title": "Note", "text": "Rain in Baku."})
            removed = await client.remove("async-note")
            with pytest.raises(SearchAPIError) as missing:
                await client.article("async-note")
        return result, article, health, stats, walked, similar, added, removed, missing.value

    result, article, health, stats, walked, similar, added, removed, missing = asyncio.run(main())
    assert result.hits[0].article.id == "corridor"
    assert article.text.startswith("The Middle Corridor")
    assert health.articles == stats.articles == 3
    assert len(walked) >= 2 and [h.rank for h in walked] == list(range(1, len(walked) + 1))
    assert len(similar) == 1 and similar[0].article.id != "accords"
    assert added.added == ["async-note"] and removed.removed == ["async-note"]
    assert missing.status == 404


@pytest.mark.e2e
def test_readme_example_runs_against_a_live_server(live: str) -> None:
    readme = (ROOT / "README.md").read_text()
    # The first screen's example: the first Python block of the README.
    code = re.search(r"```python\n(.*?)```", readme, re.DOTALL)
    assert code is not None, "the README has no ```python block"
    source = code.group(1)
    assert "http://127.0.0.1:8000" in source
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(source.replace("http://127.0.0.1:8000", live), {"__name__": "readme"})
    printed = out.getvalue().splitlines()
    assert printed, "the example printed nothing"
    assert printed[0].startswith("1. Trade routes across the Caspian")
    assert "Example Wire" in printed[0]
