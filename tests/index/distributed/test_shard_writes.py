"""Writes to a sharded index go to the shard that owns the article, and the index then answers
exactly what one index given the same writes answers (same passage ids, hits, scores, totals,
stats). Over the API, shards read in this process (fake embedder); the Ray Serve half is
tests/api/test_ray_serve.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from policy_search.api.app import create_app
from policy_search.api.settings import Settings
from policy_search.index.build import build_index
from policy_search.search.searcher import Searcher
from tests.fakes import FakeEmbedder
from tests.search.test_paging import QUERIES, _articles
from tests.search.test_shards import cut_into_shards

KEY = "shard-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
WRITES: list[tuple[str, str, dict | None]] = [
    ("POST", "/articles", {"id": "new-1", "title": "Gas", "text": "A gas pipeline to Baku."}),
    ("POST", "/articles", {"id": "new-2", "title": "Grid", "text": "Solar and wind on the grid."}),
    ("PUT", "/articles/a3", {"title": "Routes", "text": "Energy routes that avoid Russia."}),
    ("PUT", "/articles/new-3", {"title": "More", "text": "Wind grid energy routes, again."}),
    ("DELETE", "/articles/a5", None),
    ("DELETE", "/articles/new-1", None),
]


def _write_all(index_dir: Path) -> list[dict]:
    settings = Settings(index_dir=index_dir, api_key=KEY, reload_seconds=0.2)
    answers = []
    with TestClient(create_app(settings, embedder=FakeEmbedder())) as client:
        for method, path, body in WRITES:
            response = client.request(method, path, json=body, headers=AUTH)
            assert response.status_code in (200, 201), response.text
            answers.append(response.json())
        assert client.post("/articles", json=WRITES[1][2], headers=AUTH).status_code == 409
        assert client.delete("/articles/nowhere", headers=AUTH).status_code == 404
    return answers


def test_writes_to_a_sharded_index_answer_as_one_index(tmp_path: Path) -> None:
    build_index(_articles(40), tmp_path / "single", FakeEmbedder())
    shard_set = cut_into_shards(tmp_path / "single", tmp_path / "sharded", 2)
    one, many = _write_all(tmp_path / "single"), _write_all(tmp_path / "sharded")
    for a, b in zip(one, many, strict=True):
        assert (a["ids"], a["articles"], a["passages"], a["added"], a["updated"],
                a["removed"]) == (b["ids"], b["articles"], b["passages"], b["added"],
                                  b["updated"], b["removed"])  # fmt: skip
    single = Searcher.load(tmp_path / "single", FakeEmbedder())
    sharded = Searcher.load(tmp_path / "sharded", FakeEmbedder())
    for query in QUERIES:
        for mode in ("hybrid", "dense", "lexical"):
            x, y = single.search(query, mode=mode, k=50), sharded.search(query, mode=mode, k=50)
            assert x.total == y.total
            assert [(h.passage.id, h.score, h.article.id) for h in x.results] == [
                (h.passage.id, h.score, h.article.id) for h in y.results
            ]
    assert single.passage_articles() == sharded.passage_articles()
    x, y = single.stats(), sharded.stats()
    assert (x.articles, x.passages) == (y.articles, y.passages) == (40 + 2 - 1, x.passages)
    # each article went to its own shard, and only there
    shards = [Searcher.load(d, FakeEmbedder()) for d in shard_set.dirs]
    for aid in ("new-2", "new-3", "a3"):
        held = [s for s, shard in enumerate(shards) if aid in shard.passage_articles().values()]
        assert held == [shard_set.owner(aid)]


def test_writers_on_two_shards_at_once_never_share_a_passage_id(tmp_path: Path) -> None:
    import threading

    from policy_search.index.distributed.shard_write import add_to_shards
    from policy_search.index.readers.article import Article

    build_index(_articles(10), tmp_path / "single", FakeEmbedder())
    shard_set = cut_into_shards(tmp_path / "single", tmp_path / "sharded", 2)
    ids = [f"w{i}" for i in range(40)]
    by_shard = [[a for a in ids if shard_set.owner(a) == s][:6] for s in (0, 1)]

    def write(mine: list[str]) -> None:
        for aid in mine:
            article = Article(id=aid, title=aid, text=f"Gas pipeline {aid}. Wind grid {aid}.")
            add_to_shards([article], tmp_path / "sharded", FakeEmbedder(), wait=30)

    threads = [threading.Thread(target=write, args=(mine,)) for mine in by_shard]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    per_shard = [Searcher.load(d, FakeEmbedder()).passage_articles() for d in shard_set.dirs]
    assert sum(len(p) for p in per_shard) == len(set(per_shard[0]) | set(per_shard[1]))
    assert Searcher.load(tmp_path / "sharded", FakeEmbedder()).stats().articles == 10 + 12


def test_the_cli_writes_to_a_sharded_index_shard_by_shard(tmp_path: Path) -> None:
    """`add` (here its function, on the fake embedder), `remove`, `optimize` and `upgrade` on
    a sharded index work shard by shard, and an unknown id removes nothing anywhere."""
    from click.testing import CliRunner

    from policy_search.api.cli import cli
    from policy_search.index.build import add_articles, remove_articles
    from policy_search.index.distributed.shards import ShardSet
    from policy_search.index.errors import ArticleNotFound

    build_index(_articles(20), tmp_path / "single", FakeEmbedder())
    shard_set = cut_into_shards(tmp_path / "single", tmp_path / "sharded", 3)
    root = tmp_path / "sharded"
    extra = _articles(24)[20:]
    report = add_articles(extra, root, FakeEmbedder())
    assert report.articles == 24 and sorted(report.added) == sorted(a.id for a in extra)
    for article in extra:
        owner = shard_set.owner(article.id)
        for s, directory in enumerate(ShardSet.open(root).dirs):
            held = Searcher.load(directory, FakeEmbedder()).article
            if s == owner:
                assert held(article.id).text == article.text
            else:
                with pytest.raises(ArticleNotFound):
                    held(article.id)
    with pytest.raises(ArticleNotFound, match="nope"):
        remove_articles(["a1", "a2", "a7", "nope"], root)
    assert Searcher.load(root, FakeEmbedder()).stats().articles == 24  # nothing removed
    runner = CliRunner()
    result = runner.invoke(cli, ["remove", "a1", "a2", "--index-dir", str(root)])
    assert result.exit_code == 0, result.output
    assert "22 articles" in result.output
    result = runner.invoke(cli, ["optimize", "--index-dir", str(root)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["upgrade", "--index-dir", str(root)])
    assert result.exit_code == 0, result.output
    assert result.output.count("already in the current format") == 3
    searcher = Searcher.load(root, FakeEmbedder())
    assert searcher.stats().articles == 22
    assert all(len(s.segments) == 1 for s in _shard_snapshots(searcher))


def _shard_snapshots(searcher: Searcher) -> list:
    from policy_search.search.shards import ShardedSnapshot

    corpus = searcher.snapshot
    assert isinstance(corpus, ShardedSnapshot)
    return [shard.reader.snapshot for shard in corpus.shards]  # type: ignore[attr-defined]
