"""Cursors (api/cursors.py): every page of a walk is a slice of the first page's ranking, at the
first page's commit, whatever is written between pages; a cursor that cannot be followed is a
422 in the one error shape that says to start again. In process (fake embedder, real index);
the walk against a real server under a concurrent writer is tests/e2e/test_cursor_paging.py."""

from __future__ import annotations

import json
import random
import string
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from policy_search.api.app import create_app
from policy_search.api.cli import cli
from policy_search.api.cursors import PAGE_FIELDS, PointsInTime, Position, _Codec
from policy_search.api.settings import Settings
from policy_search.index.build import build_index
from policy_search.index.readers.article import Article
from tests.api.test_cli import fake_model  # noqa: F401  (the CLI embeds with the fake)
from tests.fakes import FakeEmbedder

KEY = "cursor-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
ARTICLES = 50
K = 20
AGAIN = "start the search again without the cursor"
MODES = ("hybrid", "dense", "lexical")


def _text(rng: random.Random) -> str:
    """One short passage: the shared word, then four words no other article has."""
    words = ["".join(rng.choices(string.ascii_lowercase, k=9)) for _ in range(4)]
    return f"Zephyr {' '.join(words)}."


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    rng = random.Random(3)
    articles = [Article(id=f"z{i}", title="Zephyr note", text=_text(rng)) for i in range(ARTICLES)]
    build_index(articles, tmp_path / "index", FakeEmbedder())
    return tmp_path / "index"


def _client(index_dir: Path, **settings: Any) -> TestClient:
    options = {"api_key": KEY, "cursor_key": "shared-secret", **settings}
    return TestClient(create_app(Settings(index_dir=index_dir, **options), embedder=FakeEmbedder()))


@pytest.fixture
def client(index_dir: Path) -> Iterator[TestClient]:
    with _client(index_dir) as client:
        yield client


def _query(mode: str = "hybrid", **more: Any) -> dict[str, Any]:
    return {"q": "zephyr", "mode": mode, "min_score": -1, "min_confidence": 0, **more}


def _write(client: TestClient, rng: random.Random, step: int) -> None:
    """Add two matching articles, replace one and remove one: each its own commit."""
    body = {"title": "Zephyr note"}
    for n in range(2):
        made = {"id": f"new{step}-{n}", "text": _text(rng), **body}
        assert client.post("/articles", json=made, headers=AUTH).status_code == 201
    put = client.put(f"/articles/z{step}", json={"text": _text(rng), **body}, headers=AUTH)
    assert put.status_code == 200
    assert client.delete(f"/articles/z{ARTICLES - 1 - step}", headers=AUTH).status_code == 200


def _error(response: Any, fragment: str = AGAIN) -> str:
    """The one error shape, 422, saying `fragment`."""
    body = response.json()
    assert response.status_code == 422, body
    assert body["ok"] is False and body["status"] == 422 and set(body) == {"ok", "error", "status"}
    assert fragment in body["error"], body["error"]
    return str(body["error"])


@pytest.mark.parametrize("mode", MODES)
def test_a_cursor_walk_reads_the_first_pages_commit_through_writes(
    client: TestClient, mode: str
) -> None:
    """Every page full, no passage twice, each page's total the first's: the walk is exactly
    the first commit's one ranking, though every page comes after four more commits."""
    whole = client.get("/search", params=_query(mode, k=100)).json()
    reference = [h["passage"]["id"] for h in whole["results"]]
    assert whole["total"] == len(reference) == ARTICLES and whole["next_cursor"] is None
    rng, seen, cursor, step = random.Random(9), [], None, 0
    while True:
        params = _query(mode, k=K, **({"cursor": cursor} if cursor else {}))
        page = client.get("/search", params=params).json()
        hits = page["results"]
        assert page["total"] == whole["total"]
        assert len(hits) == min(K, page["total"] - len(seen))
        assert [h["rank"] for h in hits] == list(range(len(seen) + 1, len(seen) + 1 + len(hits)))
        seen += [h["passage"]["id"] for h in hits]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        _write(client, rng, step)
        step += 1
    assert seen == reference and step == 2
    # Offsets read the newest commit: the same walk now sees the writes.
    again = client.get("/search", params=_query(mode, k=100)).json()
    assert again["total"] == ARTICLES + step  # each step: two added, one removed


def test_offset_paging_is_unchanged_and_the_last_page_has_no_cursor(client: TestClient) -> None:
    first = client.get("/search", params=_query(k=K)).json()
    by_cursor = client.get("/search", params=_query(k=K, cursor=first["next_cursor"])).json()
    by_offset = client.get("/search", params=_query(k=K, offset=K)).json()
    assert by_cursor["results"] == by_offset["results"] and by_offset["next_cursor"]
    last = client.get("/search", params=_query(k=K, offset=40)).json()
    assert len(last["results"]) == ARTICLES - 40 and last["next_cursor"] is None
    nothing = client.get("/search", params={"q": "qqqqqq", "mode": "lexical"}).json()
    assert nothing["results"] == [] and nothing["next_cursor"] is None


def test_a_cursor_may_change_k_and_explain_and_works_over_post(client: TestClient) -> None:
    first = client.post("/search", json=_query(k=5)).json()
    body = _query(k=30, explain=True, cursor=first["next_cursor"])
    page = client.post("/search", json=body).json()
    assert [h["rank"] for h in page["results"]] == list(range(6, 36))
    assert page["results"][0]["explain"] is not None
    last = client.get("/search", params=_query(k=100, cursor=page["next_cursor"])).json()
    assert [h["rank"] for h in last["results"]] == list(range(36, ARTICLES + 1))
    assert last["next_cursor"] is None


def _tampered(cursor: str) -> str:
    body, _, signature = cursor.partition(".")
    i = len(body) // 2
    return f"{body[:i]}{'A' if body[i] != 'A' else 'B'}{body[i + 1 :]}.{signature}"


def test_forged_tampered_and_malformed_cursors_are_422(client: TestClient) -> None:
    cursor = client.get("/search", params=_query(k=K)).json()["next_cursor"]
    mine = _Codec(b"shared-secret").decode(cursor)
    assert mine.offset == K
    further = Position(mine.query, mine.commit, 40, mine.expires)
    forged = _Codec(b"another server's key").encode(further)
    for bad in (forged, _tampered(cursor), cursor + "x", "nonsense", "a.b", "x" * 600, ""):
        for response in (
            client.get("/search", params=_query(k=K, cursor=bad)),
            client.post("/search", json=_query(k=K, cursor=bad)),
        ):
            _error(response)
    _error(client.get("/search", params=_query(k=K, cursor=forged)), "signature")
    # Signed with the key but not of our making: still refused, never a 500.
    odd = _Codec(b"shared-secret")
    for offset in (-1, 10**9):
        made = odd.encode(Position(mine.query, mine.commit, offset, mine.expires))
        _error(client.get("/search", params=_query(k=K, cursor=made)), "malformed")
    assert client.get("/search", params=_query(k=K, cursor=cursor)).status_code == 200


@pytest.mark.parametrize(
    "change",
    [
        {"q": "zephyr note"},
        {"mode": "lexical"},
        {"tag": "x"},
        {"sort": "newest"},
        {"min_confidence": 0.5},
        {"facets": "year"},
        {"group": True},
    ],
)
def test_a_cursor_of_another_query_is_422(client: TestClient, change: dict[str, Any]) -> None:
    cursor = client.get("/search", params=_query(k=K)).json()["next_cursor"]
    said = _error(client.get("/search", params={**_query(k=K, cursor=cursor), **change}))
    assert "another query" in said
    assert set(change).isdisjoint(PAGE_FIELDS)


def test_a_cursor_with_an_offset_is_422(client: TestClient) -> None:
    cursor = client.get("/search", params=_query(k=K)).json()["next_cursor"]
    _error(client.get("/search", params=_query(cursor=cursor, offset=3)), "not both")


def test_an_expired_cursor_is_422(index_dir: Path) -> None:
    with _client(index_dir, cursor_ttl=0.05) as client:
        cursor = client.get("/search", params=_query(k=K)).json()["next_cursor"]
        time.sleep(0.2)
        said = _error(client.get("/search", params=_query(k=K, cursor=cursor)), "expired")
        assert "0.05 s" in said


def test_past_the_points_kept_the_oldest_is_dropped(index_dir: Path) -> None:
    with _client(index_dir, cursor_points=1) as client:
        old = client.get("/search", params=_query(k=K)).json()["next_cursor"]
        _write(client, random.Random(1), 0)
        new = client.get("/search", params=_query(k=K)).json()["next_cursor"]
        _error(client.get("/search", params=_query(k=K, cursor=old)), "no longer holds")
        assert client.get("/search", params=_query(k=K, cursor=new)).status_code == 200


def test_another_process_follows_a_cursor_of_its_own_newest_commit_only(index_dir: Path) -> None:
    """Two apps on one index and one key stand for two workers: the second serves the first's
    cursor while its own newest commit is the cursor's, and refuses one of a commit it never
    answered from; the first, which holds that commit, still pages through it."""
    with _client(index_dir) as one, _client(index_dir) as two:
        first = one.get("/search", params=_query(k=K)).json()
        page = two.get("/search", params=_query(k=K, cursor=first["next_cursor"])).json()
        same = one.get("/search", params=_query(k=K, offset=K)).json()
        assert page["results"] == same["results"]
        rng = random.Random(2)
        _write(one, rng, 0)
        newer = one.get("/search", params=_query(k=K)).json()["next_cursor"]
        _write(one, rng, 1)
        two.app.state.live.refresh()
        _error(two.get("/search", params=_query(k=K, cursor=newer)), "no longer holds")
        assert one.get("/search", params=_query(k=K, cursor=newer)).status_code == 200
        # Two answered from the first commit, so it holds it now, as one does.
        for either in (one, two):
            followed = either.get("/search", params=_query(k=K, cursor=page["next_cursor"]))
            assert followed.status_code == 200
    with _client(index_dir, cursor_key="another") as three:
        _error(three.get("/search", params=_query(k=K, cursor=first["next_cursor"])), "signature")


def test_the_cli_prints_and_follows_a_cursor(index_dir: Path) -> None:
    runner = CliRunner()
    base = ["search", "zephyr", "-k", "20", "--mode", "lexical", "--min-score", "-1",
            "--min-confidence", "0", "--index-dir", str(index_dir)]  # fmt: skip
    first = runner.invoke(cli, [*base, "--json"])
    assert first.exit_code == 0, first.output
    cursor = json.loads(first.output)["next_cursor"]
    assert isinstance(cursor, str)
    human = runner.invoke(cli, base)
    assert "Next page: --cursor " in human.output  # (its expiry is later than the first's)
    second = runner.invoke(cli, [*base, "--json", "--cursor", cursor])
    assert second.exit_code == 0, second.output
    assert [h["rank"] for h in json.loads(second.output)["results"]] == list(range(21, 41))
    bad = runner.invoke(cli, [*base, "--cursor", _tampered(cursor)])
    assert bad.exit_code == 1 and AGAIN in bad.output


def test_points_in_time_drop_the_one_held_longest_ago_and_the_expired() -> None:
    """A walk in progress holds its commit again at each page, so it is not the one dropped."""
    a, b, c = (
        SimpleNamespace(generation=g, manifest=SimpleNamespace(built_at="t")) for g in (1, 2, 3)
    )
    points = PointsInTime(limit=2)
    points.hold(a, until=100, now=0)  # type: ignore[arg-type]
    points.hold(b, until=100, now=0)  # type: ignore[arg-type]
    points.hold(a, until=150, now=10)  # type: ignore[arg-type]  (a's next page)
    points.hold(c, until=100, now=20)  # type: ignore[arg-type]
    assert points.find((2, "t"), now=20) is None
    assert points.find((1, "t"), now=20) is a and points.find((3, "t"), now=20) is c
    assert points.find((3, "t"), now=120) is None and points.find((1, "t"), now=120) is a
    assert len(points) == 1


def test_a_cursor_whose_commit_a_shard_let_go_is_422_not_another_commit(tmp_path: Path) -> None:
    """On a sharded index a later page reads the shards at the first page's commit or not at
    all: a shard that keeps one commit lets it go once a newer one is read, and the cursor
    then says to start again rather than page another commit's ranking."""
    from policy_search.search.shards import LocalShard, ShardedSnapshot, ShardReader
    from tests.search.test_shards import cut_into_shards

    rng = random.Random(3)
    articles = [Article(id=f"z{i}", title="Zephyr note", text=_text(rng)) for i in range(ARTICLES)]
    build_index(articles, tmp_path / "single", FakeEmbedder())
    shards = cut_into_shards(tmp_path / "single", tmp_path / "sharded", 2)

    def one_commit_each(index_dir: Path) -> ShardedSnapshot:
        readers = [LocalShard(ShardReader(d, most=1)) for d in shards.dirs]
        return ShardedSnapshot(index_dir, readers)

    settings = Settings(index_dir=tmp_path / "sharded", api_key=KEY, cursor_key="k")
    app = create_app(settings, embedder=FakeEmbedder(), corpus=one_commit_each)
    with TestClient(app) as client:
        first = client.get("/search", params=_query(k=K)).json()
        following = client.get("/search", params=_query(k=K, cursor=first["next_cursor"]))
        assert following.status_code == 200  # nothing written: the commit is still held
        _write(client, random.Random(9), 0)
        assert client.get("/search", params=_query(k=K)).json()["total"] == ARTICLES + 1
        gone = client.get("/search", params=_query(k=K, cursor=first["next_cursor"]))
        _error(gone, "no longer holds the commit")
