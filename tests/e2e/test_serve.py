"""End to end: `policy-search serve` (real uvicorn, real model) queried over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.server import running_server
from policy_search.index.readers import iter_files
from tests.conftest import CORPUS
from tests.test_corpus import MIDDLE_CORRIDOR, SEED

pytestmark = [pytest.mark.e2e, pytest.mark.model]


@pytest.fixture(scope="module")
def base_url(corpus_index: Path) -> Iterator[str]:
    with running_server(corpus_index) as server:
        yield server.url


def test_middle_corridor_over_http(base_url: str) -> None:
    params = {"q": "Middle Corridor", "group": "true", "k": 15}
    response = httpx.get(f"{base_url}/search", params=params, timeout=30)
    assert response.status_code == 200
    results = response.json()["results"]
    assert "Middle Corridor" in results[0]["passage"]["text"]
    by_id = {r["article"]["id"]: r for r in results}
    assert set(by_id) >= MIDDLE_CORRIDOR | {SEED}  # the seed article and the five UN statements
    seed = by_id[SEED]
    assert seed["article"]["source"] == "World Israel News"
    assert seed["article"]["author"] == "Vered Weiss"
    assert "Hajiyev" in seed["article"]["title"]
    for hit in (results[0], seed):
        article = httpx.get(f"{base_url}/articles/{hit['article']['id']}", timeout=30).json()
        passage = hit["passage"]
        assert article["text"][passage["start"] : passage["end"]] == passage["text"]


def test_errors_over_http_have_one_shape(base_url: str) -> None:
    for response in (
        httpx.get(f"{base_url}/search", params={"q": " "}, timeout=30),
        httpx.post(f"{base_url}/search", content=b"{oops", timeout=30),
        httpx.get(f"{base_url}/articles/missing", timeout=30),
    ):
        body = response.json()
        assert response.status_code in (404, 422)
        assert body["ok"] is False and body["status"] == response.status_code and body["error"]


def test_health_and_docs(base_url: str) -> None:
    health = httpx.get(f"{base_url}/health", timeout=30).json()
    assert health["ok"] is True and health["articles"] == len(list(iter_files(CORPUS)))
    assert health["model"] == "sentence-transformers/all-MiniLM-L6-v2+onnx-int8"  # the default
    assert httpx.get(f"{base_url}/docs", timeout=30).status_code == 200


def test_server_without_index_answers_503(tmp_path: Path) -> None:
    with running_server(tmp_path / "no-index") as server:
        response = httpx.get(f"{server.url}/search", params={"q": "Middle Corridor"}, timeout=30)
    assert response.status_code == 503
    assert "policy-search index" in response.json()["error"]


@pytest.mark.parametrize(
    "query", ['"Middle Corridor', "Corridor*", "(Hajiyev OR", "a.*b[", "NEAR(x)"]
)
def test_query_metacharacters_answer_200(base_url: str, query: str) -> None:
    response = httpx.get(f"{base_url}/search", params={"q": query}, timeout=30)
    assert response.status_code == 200, response.text


def test_two_worker_processes_serve_the_same_index(corpus_index: Path) -> None:
    with running_server(corpus_index, env={"POLICY_SEARCH_WORKERS": "2"}) as server:
        hits = [
            httpx.get(f"{server.url}/search", params={"q": "Middle Corridor"}, timeout=30).json()
            for _ in range(6)
        ]
        tops = {(h["results"][0]["article"]["id"], h["results"][0]["passage"]["id"]) for h in hits}
        assert len(tops) == 1 and "Middle Corridor" in hits[0]["results"][0]["passage"]["text"]
        pid = server.proc.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        commands = [Path(f"/proc/{c}/cmdline").read_bytes() for c in children]
        assert sum(b"multiprocessing.spawn" in c for c in commands) == 2
