"""End to end: paging through a search while a writer deletes and replaces articles (issue 19).

A real server (fake embedder) on a loopback port; a writer thread deletes, replaces and adds
articles over the API while readers page through a search. Every page comes back full while
its own `total` says more exist: the hits of a page are built from the commit that ranked them,
so a passage deleted meanwhile cannot drop out of a page. In lexical mode every article ties
(one passage each, of one shape), so the ranking is by passage id: a deletion moves later
passages up, and a replaced or added article's new passage goes to the end; a reader paging
through must then never see a passage twice.
"""

from __future__ import annotations

import random
import string
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from harness.server import running_server
from policy_search.index.build import build_index
from policy_search.index.readers.article import Article
from tests.fakes import FakeEmbedder

pytestmark = [
    pytest.mark.e2e,
]

KEY = "paging-under-writes"
ARTICLES = 120
SECONDS = 4.0  # walk at least this long, and on until each mode has walked twice
PATIENCE = 120.0  # a bound against a hang on a loaded machine, not a timing
K = 7


def _text(rng: random.Random) -> str:
    """One short passage: the shared word, then four words no other article has."""
    words = ["".join(rng.choices(string.ascii_lowercase, k=9)) for _ in range(4)]
    return f"Zephyr {' '.join(words)}."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    rng = random.Random(5)
    index_dir = tmp_path_factory.mktemp("paging-under-writes") / "index"
    articles = [Article(id=f"z{i}", title="Zephyr note", text=_text(rng)) for i in range(ARTICLES)]
    build_index(articles, index_dir, FakeEmbedder())
    with running_server(index_dir, fake=True, env={"POLICY_SEARCH_API_KEY": KEY}) as live:
        yield live.url


def _write(base: str, stop: threading.Event, done: list[str]) -> None:
    """Delete, replace and add articles until `stop`, one write at a time."""
    rng = random.Random(11)
    alive = [f"z{i}" for i in range(ARTICLES)]
    added = 0
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        while not stop.is_set():
            op = rng.choice(("delete", "replace", "replace", "add"))
            body = {"title": "Zephyr note", "text": _text(rng)}
            if op == "delete" and len(alive) > ARTICLES // 2:
                response = client.delete(f"/articles/{alive.pop(rng.randrange(len(alive)))}")
            elif op == "add":
                added += 1
                alive.append(f"new{added}")
                response = client.post("/articles", json={"id": alive[-1], **body})
            else:
                response = client.put(f"/articles/{rng.choice(alive)}", json=body)
            assert response.status_code in (200, 201), response.text
            done.append(op)


def _walk(client: httpx.Client, mode: str) -> list[int]:
    """Page through the search; every page full while its own total says k more exist."""
    seen: list[int] = []
    while True:
        params = {"q": "zephyr", "k": K, "offset": len(seen), "mode": mode, "min_score": -1}
        page = client.get("/search", params=params).json()
        hits = page["results"]
        expected = min(K, max(page["total"] - len(seen), 0))
        assert len(hits) == expected, (mode, len(seen), page["total"], len(hits))
        assert [h["rank"] for h in hits] == list(range(len(seen) + 1, len(seen) + 1 + len(hits)))
        seen += [h["passage"]["id"] for h in hits]
        if len(hits) < K:
            return seen


def _going_on(elapsed: float, walks: dict[str, int], done: list[str]) -> bool:
    """Walk for SECONDS, then until every mode has walked twice among at least five writes (a
    loaded machine may finish one walk a mode in that time), never past PATIENCE."""
    enough = min(walks.values()) >= 2 and len(done) >= 5
    return elapsed < SECONDS or (not enough and elapsed < PATIENCE)


def test_pages_stay_full_and_never_repeat_under_writes(server: str) -> None:
    stop, done = threading.Event(), []
    writer = threading.Thread(target=_write, args=(server, stop, done), daemon=True)
    walks: dict[str, int] = {"hybrid": 0, "dense": 0, "lexical": 0}
    writer.start()
    try:
        began = time.monotonic()
        with httpx.Client(base_url=server, timeout=30) as client:
            while writer.is_alive() and _going_on(time.monotonic() - began, walks, done):
                for mode in walks:
                    seen = _walk(client, mode)
                    walks[mode] += 1
                    if mode == "lexical":
                        assert len(set(seen)) == len(seen), "a passage came back on two pages"
    finally:
        stop.set()
        writer.join(timeout=30)
    assert not writer.is_alive()
    assert len(done) >= 5 and min(walks.values()) >= 2, (done, walks)
