"""End to end: walking a search by cursor while a writer adds, replaces and deletes matching
articles, on one index and on a two-shard index (a real server, fake embedder, loopback).

Offsets rank every page at the newest commit, so such a walk meets passages twice (the writer's
new articles push earlier hits down a page); a cursor walk reads every page from the commit of
its first, so it meets no passage twice, every page is full while hits remain, and every page
counts the first page's total. Then the same over two workers: a cursor one worker gave is
followed by the other (no write between), as `policy-search serve --workers 2` runs them.
"""

from __future__ import annotations

import random
import string
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from harness.server import running_server
from policy_search.index.build import build_index
from policy_search.index.readers.article import Article
from tests.fakes import FakeEmbedder
from tests.search.test_shards import cut_into_shards

pytestmark = [pytest.mark.e2e]

KEY = "cursor-paging"
ARTICLES = 120
SECONDS = 4.0
DEADLINE = 300.0
K = 20


def _text(rng: random.Random) -> str:
    """One short passage: the shared word, then four words no other article has."""
    words = ["".join(rng.choices(string.ascii_lowercase, k=9)) for _ in range(4)]
    return f"Zephyr {' '.join(words)}."


def _build(root: Path, shards: int) -> Path:
    rng = random.Random(5)
    articles = [Article(id=f"z{i}", title="Zephyr note", text=_text(rng)) for i in range(ARTICLES)]
    build_index(articles, root / "single", FakeEmbedder())
    if shards == 1:
        return root / "single"
    cut_into_shards(root / "single", root / "sharded", shards)
    return root / "sharded"


@pytest.fixture(scope="module", params=[1, 2], ids=["one-index", "two-shards"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    index_dir = _build(tmp_path_factory.mktemp("cursor-paging"), request.param)
    with running_server(index_dir, fake=True, env={"POLICY_SEARCH_API_KEY": KEY}) as live:
        yield live.url


def _write(base: str, stop: threading.Event, done: list[str]) -> None:
    """Add (most often), replace and delete matching articles until `stop`, one at a time."""
    rng = random.Random(11)
    alive = [f"z{i}" for i in range(ARTICLES)]
    added = 0
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        while not stop.is_set():
            op = rng.choice(("add", "add", "delete", "replace"))
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
    """Walk the search by cursor; every page full while hits remain, and of the first total."""
    seen: list[int] = []
    query = {"q": "zephyr", "k": K, "mode": mode, "min_score": -1, "min_confidence": 0}
    page = client.get("/search", params=query).json()
    total = page["total"]
    while True:
        hits = page["results"]
        assert page["total"] == total, (mode, len(seen))
        assert len(hits) == min(K, total - len(seen)), (mode, len(seen), total, len(hits))
        assert [h["rank"] for h in hits] == list(range(len(seen) + 1, len(seen) + 1 + len(hits)))
        seen += [h["passage"]["id"] for h in hits]
        if page["next_cursor"] is None:
            assert len(seen) == total
            return seen
        response = client.get("/search", params={**query, "cursor": page["next_cursor"]})
        assert response.status_code == 200, response.text
        page = response.json()


def test_a_cursor_walk_never_repeats_a_passage_under_writes(server: str) -> None:
    stop, done = threading.Event(), []
    writer = threading.Thread(target=_write, args=(server, stop, done), daemon=True)
    walks: dict[str, int] = {"hybrid": 0, "dense": 0, "lexical": 0}
    writer.start()
    try:
        # Walk for a few seconds, and on (a loaded machine is slow) until each mode has walked
        # twice through at least five writes; the deadline only stops a server that hangs.
        began = time.monotonic()
        with httpx.Client(base_url=server, timeout=30) as client:
            while writer.is_alive() and time.monotonic() < began + DEADLINE:
                enough = len(done) >= 5 and min(walks.values()) >= 2
                if enough and time.monotonic() > began + SECONDS:
                    break
                for mode in walks:
                    seen = _walk(client, mode)
                    assert len(set(seen)) == len(seen), f"{mode}: a passage came back twice"
                    walks[mode] += 1
    finally:
        stop.set()
        writer.join(timeout=30)
    assert not writer.is_alive()
    assert len(done) >= 5 and min(walks.values()) >= 2, (done, walks)


# -- two workers -----------------------------------------------------------------------------


QUERY = {"q": "zephyr", "k": K, "mode": "lexical", "min_score": -1, "min_confidence": 0}


def _cross(base: str) -> tuple[httpx.Response, httpx.Response] | None:
    """A first page from one worker and the page its cursor leads to from the other, or None
    when this try's connections all went to one worker (opened at once, they land on whichever
    accepts first)."""
    clients = [httpx.Client(base_url=base, timeout=30) for _ in range(8)]
    try:
        with ThreadPoolExecutor(8) as pool:
            firsts = list(pool.map(lambda c: c.get("/search", params=QUERY), clients))
        by_worker = {r.headers["X-Worker"]: (c, r) for c, r in zip(clients, firsts, strict=True)}
        if len(by_worker) < 2:
            return None
        (_, (_, first)), (b, (other, _)) = list(by_worker.items())[:2]
        followed = other.get("/search", params={**QUERY, "cursor": first.json()["next_cursor"]})
        return (first, followed) if followed.headers["X-Worker"] == b else None
    finally:
        for client in clients:
            client.close()


def test_a_worker_follows_the_cursor_another_worker_gave(tmp_path: Path) -> None:
    index_dir = _build(tmp_path, 1)
    env = {"POLICY_SEARCH_WORKERS": "2"}  # no cursor key: serve_workers makes one for both
    with running_server(index_dir, fake=True, env=env) as live:
        deadline = time.monotonic() + 120  # the second worker may still be starting
        while (pair := _cross(live.url)) is None:
            assert time.monotonic() < deadline, "every connection went to one worker"
            time.sleep(0.2)
        first, followed = pair
        assert first.headers["X-Worker"] != followed.headers["X-Worker"]
        assert followed.status_code == 200, followed.text
        with httpx.Client(base_url=live.url, timeout=30) as client:
            by_offset = client.get("/search", params={**QUERY, "offset": K}).json()
        assert followed.json()["results"] == by_offset["results"]
