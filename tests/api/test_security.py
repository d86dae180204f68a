"""Who may write, what ids can reach, what a browser may do, what is never said (fake embedder)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from policy_search.api.settings import Settings
from tests.api.test_api_writes import _client

KEY = "k3y-that-must-never-show"
AUTH = {"Authorization": f"Bearer {KEY}"}
NEW = {"title": "A note", "text": "A note about Caspian ports."}


@pytest.fixture
def client(fake_index: Path) -> Iterator[TestClient]:
    with _client(fake_index, api_key=KEY, reload_seconds=0.2) as c:
        yield c


def _tree(root: Path) -> set[Path]:
    return set(root.rglob("*"))


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_an_unauthenticated_writer_learns_nothing_about_articles(
    client: TestClient, headers: dict
) -> None:
    """Existing or not, valid body or not: the same answer, byte for byte."""
    answers = set()
    for method, path, body in [
        ("POST", "/articles", {"id": "corridor", **NEW}),  # exists: would be 409
        ("POST", "/articles", {"id": "nothing-here", **NEW}),
        ("POST", "/articles", {"id": "bad id!", "title": ""}),  # invalid: would be 422
        ("PUT", "/articles/corridor", NEW),
        ("PUT", "/articles/nothing-here", NEW),
        ("DELETE", "/articles/corridor", None),  # would be 200
        ("DELETE", "/articles/nothing-here", None),  # would be 404
    ]:
        response = client.request(method, path, json=body, headers=headers)
        answers.add((response.status_code, response.text))
    assert len(answers) == 1, answers
    status, _ = answers.pop()
    assert status == (401 if not headers else 403)
    assert client.get("/articles/corridor").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/articles/..%2F..%2Foutside",
        "/articles/%2E%2E/%2E%2E/outside",
        "/articles/a/..%2F..%2F..%2Foutside",
        "/articles/%2Fetc%2Fpasswd",
        "/articles/..%5C..%5Coutside",
        "/articles/a%00b",
    ],
)
def test_ids_cannot_leave_the_index(client: TestClient, fake_index: Path, path: str) -> None:
    around = fake_index.parent
    before = {p for p in _tree(around) if fake_index not in p.parents}
    put = client.put(path, json=NEW, headers=AUTH)
    assert put.status_code in (404, 405, 422), put.text
    assert client.delete(path, headers=AUTH).status_code in (404, 405)
    assert client.get(path).status_code in (404, 405)
    after = {p for p in _tree(around) if fake_index not in p.parents}
    assert after == before
    assert client.get("/stats").json()["articles"] == 3


def test_static_files_stay_in_their_folder(client: TestClient) -> None:
    for path in ("/static/../app.py", "/static/%2E%2E/app.py", "/static/..%2Fsettings.py"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "create_app" not in response.text


def test_cors_is_off_unless_configured(fake_index: Path) -> None:
    preflight = {"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET"}
    with _client(fake_index) as client:
        assert client.options("/search", headers=preflight).status_code == 405
        got = client.get(
            "/search", params={"q": "Caspian"}, headers={"Origin": preflight["Origin"]}
        )
        assert got.status_code == 200
        assert not any(h.startswith("access-control-") for h in got.headers)
    with _client(fake_index, cors_origins=("https://elsewhere.example",)) as client:
        allowed = client.options("/search", headers=preflight)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://elsewhere.example"
        other = client.options("/search", headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_cors_origins_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLICY_SEARCH_CORS_ORIGINS", "https://a.example/, https://b.example")
    assert Settings().cors_origins == ("https://a.example", "https://b.example")


def test_the_key_is_never_said(
    client: TestClient, fake_index: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings(index_dir=fake_index, api_key=KEY)
    assert KEY not in repr(settings) and KEY not in str(settings.model_dump())
    wrong = "Bearer " + KEY[::-1]
    for response in (
        client.post("/articles", json={"id": "n", **NEW}, headers={"Authorization": wrong}),
        client.post("/articles", json={"id": "n", **NEW}, headers=AUTH),
        client.get("/openapi.json"),
        client.get("/stats"),
    ):
        assert KEY not in response.text and KEY[::-1] not in response.text
    assert KEY not in caplog.text


def test_a_big_query_is_bounded(client: TestClient) -> None:
    """The largest query allowed (k=100, 1,000 characters) answers; one over is 422."""
    words = "Caspian corridor Azerbaijan Abraham Accords Baku Europe shipping rain spring "
    query = (words * 20)[:1000]
    # min_confidence 0: the fake embedder's scores say nothing of confidence; this is the size.
    asked = {"q": query, "k": 100, "explain": "true", "min_confidence": 0}
    response = client.get("/search", params=asked)
    assert response.status_code == 200 and response.json()["results"]
    assert client.get("/search", params={"q": query + "x", "k": 10}).status_code == 422
    assert client.get("/search", params={"q": "x", "k": 101}).status_code == 422
