"""Write routes over HTTP: the key, add/replace/remove, and reads that follow (fake embedder)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from policy_search.api.app import create_app
from policy_search.api.settings import Settings
from policy_search.index.build import add_articles
from policy_search.index.readers import read_paths
from tests.conftest import CORPUS
from tests.fakes import FakeEmbedder

KEY = "s3cret-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
ARTICLE = {
    "id": "pipeline",
    "title": "A pipeline under the Caspian",
    "text": "The trans-Caspian gas pipeline would link Turkmenistan to Azerbaijan.",
    "source": "Example Wire",
    "date": "2024-03",
    "tags": ["energy"],
}


def _client(index_dir: Path, **settings) -> TestClient:
    app = create_app(Settings(index_dir=index_dir, **settings), embedder=FakeEmbedder())
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(fake_index: Path) -> Iterator[TestClient]:
    with _client(fake_index, api_key=KEY, reload_seconds=0.2) as c:
        yield c


def error(response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["ok"] is False and body["status"] == status
    assert fragment.lower() in body["error"].lower()


def test_writes_are_off_without_a_key(fake_index: Path) -> None:
    with _client(fake_index) as client:
        for response in (
            client.post("/articles", json=ARTICLE, headers=AUTH),
            client.put("/articles/pipeline", json=ARTICLE, headers=AUTH),
            client.delete("/articles/corridor", headers=AUTH),
        ):
            error(response, 403, "POLICY_SEARCH_API_KEY")


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer wrong"}, 403), ({"Authorization": KEY}, 401),
     ({"Authorization": f"Basic {KEY}"}, 401)],
)  # fmt: skip
def test_a_missing_or_wrong_key_is_refused(client: TestClient, headers: dict, status: int) -> None:
    error(client.post("/articles", json=ARTICLE, headers=headers), status, "key")
    # Whether the article exists makes no difference to an unauthenticated writer.
    error(client.delete("/articles/corridor", headers=headers), status, "key")
    error(client.delete("/articles/no-such-thing", headers=headers), status, "key")
    assert client.get("/articles/corridor").status_code == 200


def test_add_then_search_then_remove(client: TestClient) -> None:
    response = client.post("/articles", json=ARTICLE, headers=AUTH)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["ok"] is True and body["added"] == ["pipeline"] and body["generation"] == 2
    hits = client.get("/search", params={"q": "Turkmenistan pipeline"}).json()["results"]
    assert hits[0]["article"]["id"] == "pipeline"  # visible at once to the next request
    assert client.get("/articles/pipeline").json()["date"] == "2024-03"
    error(client.post("/articles", json=ARTICLE, headers=AUTH), 409, "exists; replace it")
    removed = client.delete("/articles/pipeline", headers=AUTH)
    assert removed.status_code == 200 and removed.json()["removed"] == ["pipeline"]
    error(client.get("/articles/pipeline"), 404, "pipeline")
    error(client.delete("/articles/pipeline", headers=AUTH), 404, "pipeline")


def test_put_creates_then_replaces(client: TestClient) -> None:
    body = {k: v for k, v in ARTICLE.items() if k != "id"}
    assert client.put("/articles/pipeline", json=body, headers=AUTH).status_code == 201
    body["text"] = "The pipeline plan was shelved."
    replaced = client.put("/articles/pipeline", json=body, headers=AUTH)
    assert replaced.status_code == 200 and replaced.json()["updated"] == ["pipeline"]
    assert client.get("/articles/pipeline").json()["text"] == "The pipeline plan was shelved."
    error(
        client.put("/articles/pipeline", json={**body, "id": "other"}, headers=AUTH), 422, "differs"
    )


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"title": "No id", "text": "Body."}, "id"),
        ({"id": "x", "text": "No title."}, "title"),
        ({"id": "x", "title": "No text"}, "missing text"),
        ({"id": "bad id!", "title": "T", "text": "Body."}, "id"),
        ({"id": "x", "title": "T", "text": "Body.", "date": "someday"}, "date"),
        ({"id": "x", "title": "T", "text": "Body.", "surprise": 1}, "surprise"),
        ({"url": "ftp://example.org/x"}, "http"),
    ],
)
def test_bad_articles_are_422(client: TestClient, body: dict, fragment: str) -> None:
    error(client.post("/articles", json=body, headers=AUTH), 422, fragment)
    assert client.get("/health").json()["generation"] == 1  # nothing was written


def test_id_from_url(client: TestClient) -> None:
    body = {k: v for k, v in ARTICLE.items() if k != "id"} | {"url": "https://example.org/a/b"}
    response = client.post("/articles", json=body, headers=AUTH)
    assert response.status_code == 201 and response.json()["ids"] == ["example-org-a-b"]


def test_a_write_from_another_process_shows_up(client: TestClient, fake_index: Path) -> None:
    import time

    article = next(iter(read_paths([CORPUS])))
    add_articles([article], fake_index, FakeEmbedder())  # as `policy-search add` would
    deadline = time.monotonic() + 10
    while client.get("/health").json()["generation"] != 2:
        assert time.monotonic() < deadline, "the server did not pick up the new generation"
        time.sleep(0.1)
    assert client.get(f"/articles/{article.id}").status_code == 200


def test_similar_and_stats(client: TestClient) -> None:
    similar = client.get("/articles/corridor/similar", params={"k": 5}).json()
    assert similar["article_id"] == "corridor"
    assert "corridor" not in {r["article"]["id"] for r in similar["results"]}
    error(client.get("/articles/nope/similar"), 404, "nope")
    error(client.get("/articles/corridor/similar", params={"k": 0}), 422, "k")
    stats = client.get("/stats").json()
    assert stats["articles"] == 3 and stats["generation"] == 1
    assert {"source": "Example Wire", "articles": 1, "source_name": "Example Wire"} in stats[
        "sources"
    ]
    assert stats["date_min"] == "2024-05-01" and stats["bytes_on_disk"] > 0


def test_filters_and_grouping_over_http(client: TestClient) -> None:
    params = {"q": "Azerbaijan Caspian", "source": "other source", "min_score": -1}
    body = client.get("/search", params=params).json()
    assert {r["article"]["id"] for r in body["results"]} == {"accords"}
    grouped = client.post("/search", json={"q": "Azerbaijan Caspian", "group": True}).json()
    ids = [r["article"]["id"] for r in grouped["results"]]
    assert len(ids) == len(set(ids)) and all(r["more"] is not None for r in grouped["results"])
    error(client.get("/search", params={"q": "x", "date_from": "nope"}), 422, "date_from")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The loopback server of saved pages that the format tests use."""
    from tests.index.readers.test_formats import serve_pages

    with serve_pages() as url:
        yield url


@pytest.fixture
def url_client(fake_index: Path) -> Iterator[TestClient]:
    with _client(fake_index, api_key=KEY, fetch_timeout=0.5, fetch_private=True) as c:
        yield c


@pytest.mark.parametrize(
    "url",
    ["/article", "http://127.0.0.1:9/x", "http://localhost/x", "http://10.1.2.3/",
     "http://169.254.169.254/latest/meta-data/", "http://127.1/x", "http://0.0.0.0/"],
)  # fmt: skip
def test_the_api_fetches_no_private_address(fake_index: Path, server: str, url: str) -> None:
    """By default a writer cannot make the server fetch from its own network (SSRF)."""
    url = server + url if url.startswith("/") else url
    with _client(fake_index, api_key=KEY, fetch_timeout=0.5) as client:
        error(client.post("/articles", json={"url": url}, headers=AUTH), 422, "not a public")
        assert client.get("/health").json()["generation"] == 1


def test_a_redirect_to_a_private_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    from policy_search.index.errors import FetchError
    from policy_search.index.readers.fetch import fetch_article

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://127.0.0.1/admin"})

    monkeypatch.setattr(
        socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("93.184.215.14", 80))]
    )
    with (
        httpx.Client(transport=httpx.MockTransport(answer)) as client,
        pytest.raises(FetchError, match=r"127\.0\.0\.1: not a public"),
    ):
        fetch_article("http://example.org/", client=client, public_only=True)


def test_post_a_url_fetches_the_page(url_client: TestClient, server: str) -> None:
    response = url_client.post("/articles", json={"url": f"{server}/article"}, headers=AUTH)
    assert response.status_code == 201, response.text
    [article_id] = response.json()["ids"]
    article = url_client.get(f"/articles/{article_id}").json()
    assert article["url"] == f"{server}/article" and "Middle Corridor" in article["title"]
    # Every match (min_confidence 0): the fake embedder's scores say nothing of confidence.
    asked = {"q": "Caspian summit", "mode": "lexical", "min_confidence": 0}
    hits = url_client.get("/search", params=asked).json()
    assert article_id in {h["article"]["id"] for h in hits["results"]}


@pytest.mark.parametrize(
    ("path", "status"), [("/broken", 502), ("/slow", 504), ("/missing", 422), ("/big", 422)]
)
def test_post_a_bad_url_says_why(
    url_client: TestClient, server: str, path: str, status: int
) -> None:
    response = url_client.post("/articles", json={"url": f"{server}{path}"}, headers=AUTH)
    error(response, status, server)
    assert url_client.get("/health").json()["generation"] == 1


def test_no_article_can_be_named_like_the_similar_route(client: TestClient) -> None:
    """`/articles/a/similar` lists a's neighbours, so no id may end in `/similar`."""
    body = {"id": "a/similar", "title": "T", "text": "Body."}
    error(client.post("/articles", json=body, headers=AUTH), 422, "/similar")
    put = client.put("/articles/a/similar", json={"title": "T", "text": "Body."}, headers=AUTH)
    error(put, 405, "method")
    assert put.headers["allow"] == "GET"
    assert client.request("OPTIONS", "/articles/corridor").headers["allow"] == "GET, PUT, DELETE"
