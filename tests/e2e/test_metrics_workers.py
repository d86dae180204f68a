"""GET /metrics from a real server with two worker processes: whichever worker answers a scrape,
it counts both workers' requests (prometheus_client's multiprocess mode under `serve_workers`)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from harness.server import running_server

KEY = "metrics-e2e-key"
WORD = "quokkazanzibar"  # in no article: in /metrics only if a query leaked into it


def _scrape(base: str) -> tuple[str, dict[tuple[str, frozenset], float], str]:
    """One scrape on a new connection (so either worker may answer): who answered, the samples,
    the text."""
    response = httpx.get(f"{base}/metrics", timeout=30)
    assert response.status_code == 200, response.text
    found = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    return response.headers["X-Worker"], found, response.text


def test_both_workers_requests_are_summed_in_metrics(fake_index: Path) -> None:
    env = {"POLICY_SEARCH_WORKERS": "2", "POLICY_SEARCH_API_KEY": KEY}
    with running_server(fake_index, fake=True, env=env) as live:
        searched: dict[str, int] = {}  # searches answered by each worker
        deadline = time.monotonic() + 120  # the second worker may still be starting
        while len(searched) < 2 or sum(searched.values()) < 6:
            assert time.monotonic() < deadline, f"every search went to one worker: {searched}"
            query = {"q": f"{WORD} pipeline", "mode": "lexical"}
            answer = httpx.get(f"{live.url}/search", params=query, timeout=30)
            assert answer.status_code == 200, answer.text
            worker = answer.headers["X-Worker"]
            searched[worker] = searched.get(worker, 0) + 1
        article = {"id": "metered", "title": "Metered", "text": "A gas pipeline to Baku."}
        written = httpx.post(f"{live.url}/articles", json=article,
                             headers={"Authorization": f"Bearer {KEY}"}, timeout=60)  # fmt: skip
        assert written.status_code == 201, written.text

        scraped: set[str] = set()
        while len(scraped) < 2:
            assert time.monotonic() < deadline, "every scrape went to one worker"
            worker, found, text = _scrape(live.url)
            scraped.add(worker)
            searches = found[("policy_search_searches_total", frozenset({("mode", "lexical")}))]
            assert searches == sum(searched.values()), (worker, searched)
            labels = frozenset({("route", "/search"), ("method", "GET"), ("status", "200")})
            assert found[("policy_search_http_requests_total", labels)] == sum(searched.values())
            assert found[("policy_search_writes_total", frozenset({("outcome", "ok")}))] == 1
            assert WORD not in text and KEY not in text
