"""GET /metrics in process: Prometheus' text format, counters that move, labels without content."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import uvicorn
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from policy_search.api.app import create_app
from policy_search.api.metrics import MULTIPROCESS_DIR, Workers
from policy_search.api.settings import Settings
from tests.fakes import FakeEmbedder
from tests.search.test_shards import cut_into_shards

KEY = "metrics-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
WORD = "zanzibarquokka"  # in no article: it may only appear in /metrics by leaking a query


def samples(client: TestClient) -> dict[tuple[str, frozenset], float]:
    """Every sample of /metrics, by name and labels (parsed by prometheus_client's parser)."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(found: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def client(fake_index: Path) -> Iterator[TestClient]:
    app = create_app(Settings(index_dir=fake_index, api_key=KEY), embedder=FakeEmbedder())
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_a_search_and_a_write_move_their_counters(client: TestClient) -> None:
    before = samples(client)
    assert client.get("/search", params={"q": "pipeline", "mode": "lexical"}).status_code == 200
    assert client.post("/search", json={"q": "Baku", "mode": "dense"}).status_code == 200
    exported = client.get("/search", params={"q": "pipeline", "mode": "lexical", "format": "csv"})
    assert exported.status_code == 200, exported.text
    article = {"id": "metered", "title": "Metered", "text": "A gas pipeline to Baku."}
    assert client.post("/articles", json=article, headers=AUTH).status_code == 201
    after = samples(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("policy_search_searches_total", mode="lexical") == 2  # a page, an export
    assert moved("policy_search_searches_total", mode="dense") == 1
    get = {"route": "/search", "method": "GET", "status": "200"}
    assert moved("policy_search_http_requests_total", **get) == 2
    assert moved("policy_search_http_request_duration_seconds_count", **get) == 2
    assert moved("policy_search_writes_total", outcome="ok") == 1
    assert moved("policy_search_write_duration_seconds_count") == 1
    # The dense query and the written article were embedded: the model's time was observed.
    assert moved("policy_search_model_encode_seconds_count") >= 2
    assert value(after, "policy_search_index_articles") == 4
    assert value(after, "policy_search_index_generation") == 2
    assert value(after, "policy_search_index_segments") >= 1
    assert value(after, "policy_search_index_passages") > 0


def test_labels_hold_route_templates_not_what_was_asked(client: TestClient) -> None:
    client.get("/search", params={"q": f"{WORD} pipeline"})
    client.post("/search", json={"q": WORD})
    client.get(f"/articles/{WORD}")  # 404: the template is the label, not the id
    client.get(f"/{WORD}")  # no such route
    found = samples(client)
    text = client.get("/metrics").text
    assert WORD not in text and KEY not in text
    routes = {dict(labels).get("route") for _, labels in found}
    assert "/articles/{article_id}" in routes and "unmatched" in routes
    assert value(found, "policy_search_http_requests_total", route="unmatched", method="GET",
                 status="404") >= 1  # fmt: skip


def test_metrics_can_be_turned_off(fake_index: Path) -> None:
    settings = Settings(index_dir=fake_index, metrics=False)
    with TestClient(create_app(settings, embedder=FakeEmbedder())) as client:
        assert client.get("/metrics").status_code == 404


def test_metrics_is_not_in_the_api_schema(client: TestClient) -> None:
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_a_sharded_index_has_its_counts_without_segments(fake_index: Path, tmp_path: Path) -> None:
    cut_into_shards(fake_index, tmp_path / "sharded", 2)
    app = create_app(Settings(index_dir=tmp_path / "sharded"), embedder=FakeEmbedder())
    with TestClient(app) as client:
        found = samples(client)
    assert value(found, "policy_search_index_articles") == 3
    assert value(found, "policy_search_index_passages") > 0
    assert ("policy_search_index_segments", frozenset()) not in found  # each shard has its own


def test_a_worker_that_exits_leaves_no_requests_in_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The supervisor drops the live gauge files of a worker it no longer runs."""
    monkeypatch.setenv(MULTIPROCESS_DIR, str(tmp_path))
    for pid in (4242, 4343):
        (tmp_path / f"gauge_livesum_{pid}.db").write_bytes(b"")
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        workers = Workers(uvicorn.Config(create_app), sockets=[])
    finally:  # uvicorn's supervisor takes the signals: pytest's own are put back
        for s, handler in handlers.items():
            signal.signal(s, handler)
    workers.processes = [SimpleNamespace(pid=4242), SimpleNamespace(pid=4343)]
    with workers._forgetting():
        workers.processes = [SimpleNamespace(pid=4343), SimpleNamespace(pid=4444)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gauge_livesum_4343.db"]
