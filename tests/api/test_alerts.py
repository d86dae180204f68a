"""Alerts over HTTP: the key, the contract's statuses and limits, the Atom feed as a feed reader
and RFC 4287 read it, escaping of a hostile article, and a sharded index (fake embedder)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from fastapi.testclient import TestClient
from lxml import etree

from policy_search.api.app import create_app
from policy_search.api.settings import Settings
from policy_search.index.build import build_index
from tests.conftest import ARTICLES
from tests.fakes import FakeEmbedder
from tests.search.test_shards import cut_into_shards

KEY = "alert-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
XSS = '<script>window.__xss=1</script> <img src=x onerror="window.__xss=1">'
HOSTILE = {
    "id": "hostile",
    "title": f"Caspian pipeline notes {XSS}",
    "text": f"A gas pipeline to Baku. {XSS}",
    "source": f"Wire {XSS}",
    "author": f"Writer {XSS}",
}
ATOM = "{http://www.w3.org/2005/Atom}"


def _client(index_dir: Path, **settings: object) -> TestClient:
    given: dict[str, object] = {"api_key": KEY, "reload_seconds": 0.2, **settings}
    app = create_app(Settings(index_dir=index_dir, **given), embedder=FakeEmbedder())
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(fake_index: Path) -> Iterator[TestClient]:
    with _client(fake_index, max_alerts=3, public_url="https://search.example.org") as c:
        yield c


def _error(response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body == {"ok": False, "error": body["error"], "status": status}
    assert fragment.lower() in body["error"].lower()


def test_alerts_need_the_key_but_a_feed_does_not(client: TestClient) -> None:
    _error(client.post("/alerts", json={"q": "gas"}), 401, "Authorization")
    _error(client.post("/alerts", json={"q": "gas"}, headers={"Authorization": "Bearer no"}),
           403, "wrong")  # fmt: skip
    _error(client.get("/alerts"), 401, "Authorization")
    created = client.post("/alerts", json={"q": "gas"}, headers=AUTH)
    assert created.status_code == 201, created.text
    alert_id, feed = created.json()["id"], created.json()["feed"]
    assert len(alert_id) == 22 and feed == f"https://search.example.org/alerts/{alert_id}/feed"
    _error(client.delete(f"/alerts/{alert_id}"), 401, "Authorization")
    assert client.get(f"/alerts/{alert_id}/feed").status_code == 200
    with _client(client.app.state.settings.index_dir, api_key=None) as no_key:  # writes off
        _error(no_key.post("/alerts", json={"q": "gas"}, headers=AUTH), 403,
               "POLICY_SEARCH_API_KEY")  # fmt: skip


def test_save_list_delete_and_limits(client: TestClient) -> None:
    _error(client.post("/alerts", json={"q": "   "}, headers=AUTH), 422, "q")
    _error(client.post("/alerts", json={"q": "gas", "country": ["Atlantis"]}, headers=AUTH),
           422, "country")  # fmt: skip
    _error(client.post("/alerts", json={"q": "-gas"}, headers=AUTH), 422, "")
    _error(client.post("/alerts", json={"q": "gas", "k": 3}, headers=AUTH), 422, "k")
    ids = []
    for q in ("gas", "pipeline", "corridor"):
        ids.append(client.post("/alerts", json={"q": q, "tag": "trade"}, headers=AUTH).json()["id"])
    _error(client.post("/alerts", json={"q": "more"}, headers=AUTH), 409,
           "POLICY_SEARCH_MAX_ALERTS")  # fmt: skip
    listed = client.get("/alerts", headers=AUTH).json()["alerts"]
    assert [a["id"] for a in listed] == ids[::-1]  # newest first
    assert listed[0]["q"] == "corridor" and listed[0]["tag"] == "trade"
    assert listed[0]["matched"] == 0 and listed[0]["created"].endswith("+00:00")
    assert client.delete(f"/alerts/{ids[0]}", headers=AUTH).status_code == 204
    _error(client.delete(f"/alerts/{ids[0]}", headers=AUTH), 404, "no alert")
    _error(client.get(f"/alerts/{ids[0]}/feed"), 404, "no alert")
    _error(client.get("/alerts/not-an-id/feed"), 404, "no alert")
    assert client.post("/alerts", json={"q": "more"}, headers=AUTH).status_code == 201


def test_the_feed_is_atom_and_escapes_a_hostile_article(client: TestClient) -> None:
    # (no confidence floor: a feed's shape, whatever a tiny index's BM25 is sure of)
    body = {"q": "pipeline", "mode": "lexical", "min_confidence": 0.0}
    alert = client.post("/alerts", json=body, headers=AUTH).json()
    assert client.post("/articles", json=HOSTILE, headers=AUTH).status_code == 201
    response = client.get(f"/alerts/{alert['id']}/feed")
    assert response.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0 and parsed.version == "atom10"
    root = etree.fromstring(response.content)
    for essential in ("id", "title", "updated"):  # RFC 4287 4.1.1: a feed's
        assert root.find(f"{ATOM}{essential}") is not None
    entries = root.findall(f"{ATOM}entry")
    assert entries
    entry = entries[-1]  # the first passage (entries are newest first, passages in order)
    for essential in ("id", "title", "updated", "link"):  # 4.1.2: an entry's
        assert entry.find(f"{ATOM}{essential}") is not None
    assert entry.findtext(f"{ATOM}title") == HOSTILE["title"]  # text, never markup
    assert "<script>" in "".join(e.findtext(f"{ATOM}summary") for e in entries)
    assert b"<script>" not in response.content and b"<img" not in response.content
    link = entry.find(f"{ATOM}link").get("href")
    assert link.startswith("https://search.example.org/?article=hostile&start=0&end=")
    assert entry.findtext(f"{ATOM}author/{ATOM}name") == HOSTILE["author"]
    assert client.get("/alerts", headers=AUTH).json()["alerts"][0]["matched"] == len(entries)


def test_a_sharded_index_matches_in_each_shard_and_one_feed_reads_them(tmp_path: Path) -> None:
    build_index(ARTICLES, tmp_path / "single", FakeEmbedder())
    cut_into_shards(tmp_path / "single", tmp_path / "sharded", 2)
    with _client(tmp_path / "sharded") as client:
        body = {"q": "pipeline", "mode": "lexical", "min_confidence": 0.0}  # (every match)
        alert = client.post("/alerts", json=body, headers=AUTH)
        feed = alert.json()["feed"].replace("http://testserver", "")
        for n in range(6):  # spread over both shards
            body = {"id": f"p{n}", "title": f"Pipeline {n}", "text": f"A pipeline, number {n}."}
            assert client.post("/articles", json=body, headers=AUTH).status_code == 201
        entries = feedparser.parse(client.get(feed).content).entries
        assert sorted(e.title for e in entries) == [f"Pipeline {n}" for n in range(6)]
        assert client.get("/alerts", headers=AUTH).json()["alerts"][0]["matched"] == 6
    from policy_search.index.distributed.shards import ShardSet

    dirs = ShardSet.open(tmp_path / "sharded").dirs
    per_shard = [_matches(d) for d in dirs]
    assert all(per_shard) and sum(per_shard) == 6  # each shard matched its own


def _matches(index_dir: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(index_dir / "catalog.sqlite")
    try:
        return conn.execute("SELECT COUNT(*) FROM alert_matches").fetchone()[0]
    finally:
        conn.close()


def test_a_feed_holds_what_xml_cannot_as_a_replacement_character(client: TestClient) -> None:
    """A control character in an alert's query (XML 1.0 holds none but tab and newlines,
    escaped or not; articles holding one are refused) is replaced in its feed's title, never a
    500 (schemathesis found one)."""
    body = {"q": "pipeline \x1a\x00 ok", "mode": "lexical", "min_confidence": 0.0}
    created = client.post("/alerts", json=body, headers=AUTH)
    assert created.status_code == 201
    assert client.post("/articles", json=HOSTILE, headers=AUTH).status_code == 201
    response = client.get(f"/alerts/{created.json()['id']}/feed")
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    assert root.findtext(f"{ATOM}title") == "policy-search: pipeline \ufffd\ufffd ok"
    assert root.findall(f"{ATOM}entry")
