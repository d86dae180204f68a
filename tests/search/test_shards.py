"""A sharded index answers exactly what one index over the same articles answers: same hits,
same scores, same totals, pages, groups, explanations, similar articles and statistics.

Plumbing and exactness on the fake embedder (its vectors are real vectors in a real FAISS index;
only their meaning is fake). The shards here are cut from one built index (each copy keeps the
articles `shard_of` gives it), so their passage ids are the single index's; the real sharded
build (`policy-search index --shards`) is tested to give the same ids in tests/test_sharded_build.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from policy_search.index.analysis.embed import Embedder
from policy_search.index.build import build_index, remove_articles
from policy_search.index.distributed.shards import ShardSet, shard_of
from policy_search.index.errors import IndexMismatch, ShardUnavailable
from policy_search.records import SearchResult
from policy_search.search.searcher import Searcher
from policy_search.search.shards import (
    LocalShard,
    ShardedSnapshot,
    ShardReader,
    open_corpus,
)
from tests.fakes import FakeEmbedder
from tests.search.test_paging import QUERIES, _articles

SHARDS = 3


def cut_into_shards(single: Path, root: Path, count: int) -> ShardSet:
    """A sharded index of the same articles as `single`, with its passage ids: each shard a
    copy of it keeping only the articles that hash to it."""
    shard_set = ShardSet.fresh(root, count)
    snapshot = open_corpus(single)
    ids = set(snapshot.passage_articles().values())
    snapshot.close()
    for s, directory in enumerate(shard_set.dirs):
        shutil.copytree(single, directory)
        others = sorted({a for a in ids if shard_of(a, count) != s})
        if others:
            remove_articles(others, directory, merge=False)
    shard_set.publish()
    return ShardSet.open(root)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Searcher, Searcher]:
    base = tmp_path_factory.mktemp("shards")
    articles = _articles(160)
    for i, article in enumerate(articles):  # sources, dates and a tag for the filters
        object.__setattr__(article, "source", ("Think", "Tank", "Desk")[i % 3])
        object.__setattr__(article, "date", f"20{10 + i % 12}-0{1 + i % 9}-1{i % 10}")
        object.__setattr__(article, "tags", ["energy"] if i % 4 == 0 else [])
    build_index(articles, base / "single", FakeEmbedder())
    cut_into_shards(base / "single", base / "sharded", SHARDS)
    embedder = FakeEmbedder()
    single = Searcher.load(base / "single", embedder)
    sharded = Searcher.load(base / "sharded", embedder)
    assert isinstance(sharded.snapshot, ShardedSnapshot)
    return single, sharded


def _same(a: SearchResult, b: SearchResult) -> None:
    assert a.total == b.total and a.loose == b.loose
    assert [h.confidence for h in a.results] == [h.confidence for h in b.results]  # to the bit
    assert [h.rank for h in a.results] == [h.rank for h in b.results]
    assert [h.passage.id for h in a.results] == [h.passage.id for h in b.results]
    assert [h.score for h in a.results] == [h.score for h in b.results]  # to the bit
    assert [h.article for h in a.results] == [h.article for h in b.results]
    assert [h.passage for h in a.results] == [h.passage for h in b.results]
    assert [h.explain for h in a.results] == [h.explain for h in b.results]
    assert [h.more for h in a.results] == [h.more for h in b.results]
    assert a.facets == b.facets and a.facets_more == b.facets_more


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
@pytest.mark.parametrize("query", QUERIES)
def test_a_sharded_index_ranks_exactly_as_one_index(
    pair: tuple[Searcher, Searcher], query: str, mode: str
) -> None:
    single, sharded = pair
    floor = single.search(query, mode=mode).results[-1].score / 2
    for options in ({}, {"offset": 37, "k": 20}, {"group": True}, {"explain": True},
                    {"source": "Tank"}, {"tag": "energy", "date_from": "2014"},
                    {"min_score": floor}, {"min_confidence": 0.3},
                    {"min_confidence": 0.3, "group": True, "facets": ["source"]},
                    {"sort": "newest", "facets": ["source", "year", "tag", "country"]},
                    ):  # fmt: skip
        asked = {"mode": mode, "k": 50, **options}
        one, many = single.search(query, **asked), sharded.search(query, **asked)
        # (Lexical confidences on this 12-word corpus are all below any floor.)
        assert one.results or "min_confidence" in options, (query, mode, options)
        _same(one, many)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_a_sharded_index_reads_the_query_syntax_as_one_index(
    pair: tuple[Searcher, Searcher], mode: str
) -> None:
    single, sharded = pair
    for query in ('"gas pipeline" energy', "energy routes -russia", 'grid -"solar wind"',
                  "gas tag:energy year:2014.."):  # fmt: skip
        for options in ({}, {"offset": 7, "k": 20}, {"group": True}):
            asked = {"mode": mode, "k": 50, **options}
            one, many = single.search(query, **asked), sharded.search(query, **asked)
            assert one.results, (query, mode, options)
            _same(one, many)
            assert one.reading == many.reading


def test_the_sharded_index_really_is_split(pair: tuple[Searcher, Searcher]) -> None:
    _, sharded = pair
    corpus = sharded.snapshot
    assert isinstance(corpus, ShardedSnapshot)
    counts = [info.manifest.articles for info in corpus.infos]
    assert len(counts) == SHARDS and all(0 < c < 160 for c in counts) and sum(counts) == 160


def test_paging_through_every_shard_yields_total_once_each(
    pair: tuple[Searcher, Searcher],
) -> None:
    _, sharded = pair
    first = sharded.search("gas pipeline", k=100)
    seen = [h.passage.id for h in first.results]
    offset = 100
    while offset < first.total:
        seen += [h.passage.id for h in sharded.search("gas pipeline", k=100, offset=offset).results]
        offset += 100
    assert len(seen) == first.total == len(set(seen))


def test_articles_similar_and_stats_add_up(pair: tuple[Searcher, Searcher]) -> None:
    single, sharded = pair
    for article_id in ("a0", "a7", "a151"):
        assert single.article(article_id) == sharded.article(article_id)
        assert single.similar(article_id, k=8) == sharded.similar(article_id, k=8)
    one, many = single.stats(), sharded.stats()
    assert (many.articles, many.passages, many.sources, many.date_min, many.date_max) == (
        one.articles, one.passages, one.sources, one.date_min, one.date_max
    )  # fmt: skip
    assert single.passage_articles() == sharded.passage_articles()
    assert sharded.health().passages == single.health().passages


def test_a_write_to_one_shard_is_seen_by_the_next_refresh(tmp_path: Path) -> None:
    build_index(_articles(30), tmp_path / "single", FakeEmbedder())
    shard_set = cut_into_shards(tmp_path / "single", tmp_path / "sharded", 2)
    searcher = Searcher.load(tmp_path / "sharded", FakeEmbedder())
    owner = shard_set.owner("a3")
    remove_articles(["a3"], shard_set.dirs[owner])
    fresh = searcher.refreshed()
    assert fresh is not searcher
    assert fresh.stats().articles == 29
    assert all(h.article.id != "a3" for h in fresh.search("gas pipeline", k=100).results)
    assert fresh.refreshed() is fresh  # nothing changed since


def test_shards_built_with_another_model_are_refused(tmp_path: Path) -> None:
    build_index(_articles(12), tmp_path / "a", FakeEmbedder())
    build_index(_articles(12), tmp_path / "b", FakeEmbedder(dim=48))
    readers = [LocalShard(ShardReader(tmp_path / name)) for name in ("a", "b")]
    with pytest.raises(IndexMismatch, match="shard 1"):
        ShardedSnapshot(tmp_path, readers)


def test_a_missing_shard_is_a_clear_error(tmp_path: Path) -> None:
    build_index(_articles(12), tmp_path / "single", FakeEmbedder())
    shard_set = cut_into_shards(tmp_path / "single", tmp_path / "sharded", 2)
    shutil.rmtree(shard_set.dirs[1])
    with pytest.raises(IndexMismatch, match="lacks shard"):
        open_corpus(tmp_path / "sharded")


class _Silent:
    """A shard whose answers never come."""

    def submit(self, method: str, *args: object) -> _Silent:
        return self

    def result(self, timeout: float) -> object:
        raise TimeoutError


def test_a_shard_that_does_not_answer_is_unavailable_not_a_hang(tmp_path: Path) -> None:
    build_index(_articles(12), tmp_path / "single", FakeEmbedder())
    reader = ShardReader(tmp_path / "single")
    info = reader.info()
    corpus = ShardedSnapshot(tmp_path, [LocalShard(reader), _Silent()], timeout=0.5,
                             infos=[info, info])  # fmt: skip
    with pytest.raises(ShardUnavailable, match=r"did not answer within 0\.5 s"):
        corpus.dense_top(np.ones(corpus.manifest.dim, dtype=np.float32), 5)


@pytest.mark.model
def test_the_demo_corpus_sharded_answers_as_one_index(
    corpus_index: Path, real_embedder: Embedder, tmp_path: Path
) -> None:
    """corpus/ with the real model, cut into 4 shards: the analysts' questions get the same
    hits with the same scores in every mode, and the same article groups."""
    cut_into_shards(corpus_index, tmp_path / "sharded", 4)
    single = Searcher.load(corpus_index, real_embedder)
    sharded = Searcher.load(tmp_path / "sharded", real_embedder)
    for query in ("Middle Corridor", "Azerbaijan and the Abraham Accords",
                  "who argues the US should follow Israel's lead in Baku?"):  # fmt: skip
        for mode in ("hybrid", "dense", "lexical"):
            for group in (False, True):
                asked = {"mode": mode, "k": 30, "group": group, "explain": True}
                _same(single.search(query, **asked), sharded.search(query, **asked))
