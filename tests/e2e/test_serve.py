"""End to end: `policy-search serve` (real uvicorn, real model) queried over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import running_server

pytestmark = [pytest.mark.e2e, pytest.mark.model]


@pytest.fixture(scope="module")
def base_url(corpus_index: Path) -> Iterator[str]:
    with running_server(corpus_index) as server:
        yield server.url


def test_middle_corridor_over_http(base_url: str) -> None:
    response = httpx.get(f"{base_url}/search", params={"q": "Middle Corridor"}, timeout=30)
    assert response.status_code == 200
    body = response.json()
    top = body["results"][0]
    assert "Middle Corridor" in top["passage"]["text"]
    assert top["article"]["source"] == "World Israel News"
    assert top["article"]["author"] == "Vered Weiss"
    assert "Hajiyev" in top["article"]["title"]
    article = httpx.get(f"{base_url}/articles/{top['article']['id']}", timeout=30).json()
    assert (
        article["text"][top["passage"]["start"] : top["passage"]["end"]] == top["passage"]["text"]
    )


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
    assert health["ok"] is True and health["articles"] == 1
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
        assert all(h["results"][0]["article"]["author"] == "Vered Weiss" for h in hits)
        pid = server.proc.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        commands = [Path(f"/proc/{c}/cmdline").read_bytes() for c in children]
        assert sum(b"multiprocessing.spawn" in c for c in commands) == 2
