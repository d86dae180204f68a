"""HTTP contract: response shape and one error shape for every error (fake embedder)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from policy_search.api.app import create_app
from policy_search.api.settings import Settings
from policy_search.records import SearchResult, parse
from tests.fakes import FakeEmbedder


def _client(index_dir: Path, **settings) -> TestClient:
    app = create_app(Settings(index_dir=index_dir, **settings), embedder=FakeEmbedder())
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(fake_index: Path) -> Iterator[TestClient]:
    with _client(fake_index) as c:
        yield c


@pytest.fixture
def empty_client(tmp_path: Path) -> Iterator[TestClient]:
    with _client(tmp_path / "no-index") as c:
        yield c


def assert_error(response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body == {"ok": False, "error": body["error"], "status": status}
    assert fragment.lower() in body["error"].lower()
    assert "Traceback" not in response.text


def test_search_get_shape(client: TestClient) -> None:
    body = client.get("/search", params={"q": "Middle Corridor", "k": 2}).json()
    # Every field of the result record, and only those: the JSON is the record.
    assert set(body) == {f.name for f in dataclasses.fields(SearchResult)}
    assert body["facets"] == {} == body["facets_more"]  # only when asked for
    assert body["query"] == "Middle Corridor" and body["mode"] == "hybrid"
    assert len(body["results"]) == body["total"] == 1  # the floor drops passages without a match
    hit = body["results"][0]
    assert set(hit) == {
        "rank",
        "score",
        "confidence",
        "passage",
        "snippet",
        "article",
        "explain",
        "more",
    }
    assert hit["explain"] is None and hit["more"] is None  # only when asked for
    assert set(hit["passage"]) == {"id", "text", "start", "end", "highlights", "countries"}
    snippet = hit["snippet"]
    assert hit["passage"]["text"][snippet["start"] : snippet["end"]] == snippet["text"]
    assert [snippet["text"][s:e] for s, e in snippet["highlights"]][:2] == ["Middle", "Corridor"]
    assert {"id", "title", "source", "author", "date", "url"} <= set(hit["article"])
    assert hit["rank"] == 1 and hit["article"]["id"] == "corridor"
    assert hit["article"]["source"] == "Example Wire" and hit["article"]["author"] == "A. Writer"
    text = hit["passage"]["text"]
    assert [text[s:e] for s, e in hit["passage"]["highlights"]][:2] == ["Middle", "Corridor"]


def test_explain_and_modes(client: TestClient) -> None:
    body = client.get("/search", params={"q": "Middle Corridor", "explain": "true"}).json()
    why = body["results"][0]["explain"]
    assert set(why) == {
        "dense_rank",
        "dense_score",
        "lexical_rank",
        "lexical_score",
        "feedback_score",
        "fusion",
    }
    assert why["lexical_rank"] == 1 and why["lexical_score"] > 0
    for mode in ("dense", "lexical", "hybrid"):
        response = client.post("/search", json={"q": "spring rain", "mode": mode})
        assert response.status_code == 200 and response.json()["mode"] == mode
    nothing = client.get("/search", params={"q": "xylophone", "mode": "lexical"}).json()
    assert nothing["results"] == [] and nothing["total"] == 0


@pytest.mark.parametrize("query", ['"unbalanced', "(a OR b", "x*", "NEAR(", "a^b\\", "💥 \u202e"])
def test_what_is_not_syntax_is_never_an_error(client: TestClient, query: str) -> None:
    for mode in ("hybrid", "lexical"):
        assert client.get("/search", params={"q": query, "mode": mode}).status_code == 200


def test_the_query_syntax_is_read_and_its_errors_point_at_the_spot(client: TestClient) -> None:
    body = client.get("/search", params={"q": '"Middle Corridor" -Baku country:AZ'}).json()
    assert body["reading"]["phrases"] == ["Middle Corridor"]
    assert body["reading"]["excluded"] == ["Baku"]
    assert body["reading"]["restrictions"] == [{"name": "country", "value": "AZ"}]
    assert [r["article"]["id"] for r in body["results"]] == ["corridor"]
    assert_error(client.get("/search", params={"q": "-Russia"}), 422, "nothing is left to rank")
    assert_error(client.get("/search", params={"q": "x year:20x4"}), 422, "at character 2")
    assert_error(client.get("/search", params={"q": "x country:Narnia"}), 422, "Narnia")


def test_search_post_matches_get(client: TestClient) -> None:
    got = client.get("/search", params={"q": "spring rain", "k": 3}).json()
    posted = client.post("/search", json={"q": "spring rain", "k": 3}).json()
    strip = lambda b: [(r["passage"]["id"], r["score"]) for r in b["results"]]  # noqa: E731
    assert strip(got) == strip(posted)


def test_search_bytes_are_the_response_models(client: TestClient) -> None:
    # The answer skips the response model's validation (api/app.py's RecordResponse): still
    # the bytes the route's response model writes, facets, explanations and nulls included.
    answer = client.get("/search", params={"q": "corridor trade", "facets": ["year", "source"],
                                           "explain": True})  # fmt: skip
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    record = parse(SearchResult, answer.json())
    assert record.results and record.facets
    assert answer.content == TypeAdapter(SearchResult).dump_json(record)


def test_article_and_health(client: TestClient) -> None:
    article = client.get("/articles/corridor").json()
    assert article["text"].startswith("The Middle Corridor") and article["tags"] == [
        "trade",
        "Caspian",
    ]
    health = client.get("/health").json()
    assert health["ok"] is True and health["generation"] == 1
    assert health["articles"] == 3 and health["model"] == "fake/bow"
    assert client.get("/openapi.json").json()["paths"]["/search"]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"q": ""}, "q"),
        ({"q": "   "}, "empty"),
        ({"q": "x" * 1001}, "1000"),
        ({"q": "ok", "k": 0}, "k"),
        ({"q": "ok", "k": 101}, "k"),
        ({"q": "ok", "k": "ten"}, "k"),
        ({"q": "ok", "mode": "magic"}, "mode"),
        ({"q": "ok", "min_score": "high"}, "min_score"),
        ({"q": "ok", "explain": "perhaps"}, "explain"),
        ({}, "q"),
        ({"q": "ok", "facets": "colour"}, "'source', 'year', 'country' or 'tag'"),
        ({"q": "ok", "facets": "year,colour"}, "'source', 'year', 'country' or 'tag'"),
        ({"q": "ok", "sort": "random"}, "'relevance', 'newest' or 'oldest'"),
        ({"q": "ok", "country": "Narnia"}, "alpha-2 or alpha-3 code or an English name"),
        ({"q": "ok", "country": ""}, "country"),
        ({"q": "ok", "country": ["AZ"] * 21}, "20"),
    ],
)
def test_bad_search_get_is_422(client: TestClient, params: dict, fragment: str) -> None:
    assert_error(client.get("/search", params=params), 422, fragment)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ('{"q": "ok", ', "malformed JSON"),
        ("not json at all", "malformed JSON"),
        ('["q"]', "object"),
        ('{"q": "  "}', "empty"),
        ('{"q": "ok", "k": 1000}', "k"),
        ('{"q": "ok", "surprise": 1}', "surprise"),
        ('{"q": "ok", "facets": ["tag", "mood"]}', "'source', 'year', 'country' or 'tag'"),
        ('{"q": "ok", "country": ["AZ", "Atlantis"]}', "Atlantis"),
    ],
)
def test_bad_search_post_is_422(client: TestClient, body: str, fragment: str) -> None:
    response = client.post("/search", content=body, headers={"content-type": "application/json"})
    assert_error(response, 422, fragment)


def test_unknown_article_is_404(client: TestClient) -> None:
    assert_error(client.get("/articles/does-not-exist"), 404, "does-not-exist")


def test_unknown_route_is_404(client: TestClient) -> None:
    assert_error(client.get("/nowhere"), 404, "not found")


def test_wrong_method_is_405(client: TestClient) -> None:
    assert_error(client.delete("/search"), 405, "method")


def test_no_index_is_503_with_advice(empty_client: TestClient) -> None:
    for response in (
        empty_client.get("/search", params={"q": "anything"}),
        empty_client.get("/health"),
        empty_client.get("/articles/x"),
    ):
        assert_error(response, 503, "policy-search index")


def test_oversized_body_is_413(fake_index: Path) -> None:
    with _client(fake_index, max_body_bytes=2048) as client:
        response = client.post("/search", json={"q": "x" * 5000})
    assert_error(response, 413, "limit")


def test_unexpected_failure_is_500_without_traceback(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(client.app.state.live.get(), "_search", explode)  # under search and answer
    response = client.get("/search", params={"q": "ok"})
    assert_error(response, 500, "internal error")
    assert "secret internals" not in response.text


def test_a_body_that_is_not_text_is_malformed_json(client: TestClient) -> None:
    response = client.post(
        "/search", content=b"\xff\xfe{\x00", headers={"content-type": "application/json"}
    )
    assert_error(response, 422, "malformed JSON")


def test_405_says_which_methods_are_allowed(client: TestClient) -> None:
    response = client.request("TRACE", "/stats")
    assert_error(response, 405, "method")
    assert "GET" in response.headers["allow"]


def test_dates_are_checked_by_shape_and_by_calendar(client: TestClient) -> None:
    assert_error(client.get("/search", params={"q": "x", "date_from": "S«"}), 422, "date_from")
    assert_error(client.get("/search", params={"q": "x", "date_to": "2024-02-30"}), 422, "date_to")
    ok = client.get("/search", params={"q": "Caspian", "date_from": "2024-05-01T00:00:00Z"})
    assert ok.status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"q": ""},
        {"q": "  \t"},
        {"q": "x" * 1001},
        {"q": "ok", "k": 0},
        {"q": "ok", "k": 101},
        {"q": "ok", "offset": -1},
        {"q": "ok", "offset": 10_001},
        {"q": "ok", "mode": "fuzzy"},
        {"q": "ok", "min_score": 1001},
        {"q": "ok", "date_from": "yesterday"},
    ],
)
def test_the_searcher_refuses_what_the_app_refuses(
    client: TestClient, fake_index: Path, params: dict
) -> None:
    """One set of rules (the request record's), read by the app's validation and the searcher."""
    from policy_search.search import QueryError, Searcher

    searcher = Searcher.load(fake_index, FakeEmbedder())
    assert client.get("/search", params=params).status_code == 422
    with pytest.raises(QueryError):
        searcher.search(params.pop("q"), **params)


def test_json_booleans_and_numbers_in_a_post_body(client: TestClient) -> None:
    for body, fragment in [
        ({"q": "ok", "group": 0}, "group"),
        ({"q": "ok", "explain": "true"}, "explain"),
        ({"q": "ok", "k": True}, "JSON number"),
        ({"q": "ok", "offset": "5"}, "JSON number"),
        ({"q": "ok", "min_score": "0.1"}, "JSON number"),
    ]:
        assert_error(client.post("/search", json=body), 422, fragment)
    # The same values as text are a query string's own: fine in GET.
    params = {"q": "Caspian", "group": "true", "k": "5", "min_score": "0.1"}
    assert client.get("/search", params=params).status_code == 200
    assert_error(client.get("/search", params={"q": "ok", "surprise": "1"}), 422, "surprise")


def test_facets_repeated_or_comma_separated_and_passage_countries(client: TestClient) -> None:
    repeated = [("q", "Middle Corridor"), ("facets", "year"), ("facets", "country")]
    one = client.get("/search", params=repeated).json()
    other = client.get("/search", params={"q": "Middle Corridor", "facets": "year,country"}).json()
    posted = client.post("/search", json={"q": "Middle Corridor", "facets": ["year", "country"]})
    assert one["facets"] == other["facets"] == posted.json()["facets"]
    assert list(one["facets"]) == ["year", "country"]
    countries = {v["value"]: v for v in one["facets"]["country"]}
    assert {"CN", "KZ"} <= set(countries) and countries["KZ"]["name"] == "Kazakhstan"
    hit = one["results"][0]
    assert {"CN", "KZ"} <= set(hit["passage"]["countries"])
    article = client.get("/articles/corridor").json()
    spans = [(p["start"], p["end"]) for p in article["passages"]]
    assert spans == sorted(spans) and (hit["passage"]["start"], hit["passage"]["end"]) in spans
    named = {c for p in article["passages"] for c in p["countries"]}
    assert set(hit["passage"]["countries"]) <= named
    assert (
        client.get("/search", params={"q": "Middle Corridor", "country": "Kazakhstan"}).json()[
            "total"
        ]
        == one["total"]
    )
