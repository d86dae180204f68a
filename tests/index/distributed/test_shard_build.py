"""Building a sharded index: each shard an ordinary index of the articles that hash to it,
numbered and embedded as one index over them all would be (plumbing: the fake embedder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from policy_search.index.build import add_articles, build_index
from policy_search.index.distributed.shards import (
    SHARDS_FILE,
    ShardJob,
    ShardSet,
    build_sharded,
    next_passage_id,
    shard_of,
)
from policy_search.index.errors import IndexInternalError
from policy_search.index.readers import read_paths
from policy_search.index.readers.article import Article
from policy_search.index.storage.store import open_catalog
from policy_search.index.storage.writer import IndexWriter, WriteOptions
from tests.conftest import CORPUS
from tests.fakes import FakeEmbedder
from tests.index_dump import dump


@pytest.fixture(scope="module")
def corpus() -> list[Article]:
    return list(read_paths([CORPUS]))[:120]


def test_three_shards_hold_what_one_index_holds(
    tmp_path: Path, corpus: list[Article], fake_embedder: FakeEmbedder
) -> None:
    single, sharded = tmp_path / "single", tmp_path / "sharded"
    build_index(corpus, single, fake_embedder)
    report = build_sharded(corpus, sharded, fake_embedder, shards=3)
    shard_set = ShardSet.open(sharded)
    assert shard_set.count == 3 and report.articles == len(corpus)
    seen: dict[str, int] = {}
    for number, directory in enumerate(shard_set.dirs):
        for article_id in dump(directory).articles:
            assert article_id not in seen, "an article in two shards"
            assert shard_of(article_id, 3) == number
            seen[article_id] = number
    assert sorted(seen) == sorted(a.id for a in corpus)  # every article in exactly one shard
    assert len(set(seen.values())) == 3
    one, many = dump(single), dump(sharded)
    assert many.passages == one.passages  # the same ids, articles, offsets and texts
    assert many.articles == one.articles
    ids, vectors = one.matrix()
    ids_sharded, vectors_sharded = many.matrix()
    assert np.array_equal(ids, ids_sharded) and np.array_equal(vectors, vectors_sharded)
    assert report.passages == len(one.passages)


def test_a_later_write_numbers_above_every_shard(
    tmp_path: Path, corpus: list[Article], fake_embedder: FakeEmbedder
) -> None:
    build_sharded(corpus[:30], tmp_path, fake_embedder, shards=3)
    shard_set = ShardSet.open(tmp_path)
    floor = next_passage_id(shard_set)
    assert floor == len(dump(tmp_path).passages) + 1
    new = Article(id="late", title="A late article", text="Baku and Astana signed a deal.")
    owner = shard_set.dirs[shard_set.owner(new.id)]
    with IndexWriter.open(owner, fake_embedder, options=WriteOptions(first_passage_id=floor)) as w:
        w.upsert([new])
        w.commit()
    late = [pid for pid, row in dump(tmp_path).passages.items() if row[0] == "late"]
    assert late and min(late) >= floor
    assert next_passage_id(ShardSet.open(tmp_path)) == max(late) + 1


def test_ids_given_below_the_counter_are_refused(
    fake_index: Path, fake_embedder: FakeEmbedder
) -> None:
    new = Article(id="given", title="Given ids", text="Tbilisi hosted the talks.")
    options = WriteOptions(passage_ids={"given": 1})  # 1 is taken
    with IndexWriter.open(fake_index, fake_embedder, options=options) as writer:
        writer.upsert([new])
        with pytest.raises(IndexInternalError, match="passage ids"):
            writer.commit()
    catalog = open_catalog(fake_index, readonly=True)
    try:
        counter = catalog.next_passage_id()
    finally:
        catalog.close()
    options = WriteOptions(passage_ids={"given": counter + 10})
    with IndexWriter.open(fake_index, fake_embedder, options=options) as writer:
        writer.upsert([new])
        writer.commit()
    assert min(p for p, row in dump(fake_index).passages.items() if row[0] == "given") == (
        counter + 10
    )
    add_articles(  # the counter moved above the ids given: the next write never collides
        [Article(id="after", title="After", text="Yerevan answered.")], fake_index, fake_embedder
    )
    after = [p for p, row in dump(fake_index).passages.items() if row[0] == "after"]
    assert min(after) > counter + 10


def test_a_rebuild_replaces_the_set_at_once_and_a_failed_one_leaves_it(
    tmp_path: Path, corpus: list[Article], fake_embedder: FakeEmbedder
) -> None:
    build_sharded(corpus[:40], tmp_path, fake_embedder, shards=3)
    first = ShardSet.open(tmp_path)
    before = dump(tmp_path)

    def fail_on_the_last(jobs: list[ShardJob]) -> list:
        from policy_search.index.distributed.shards import build_shard

        for job in jobs[:-1]:
            build_shard(job)
        raise RuntimeError("a shard's task failed")

    with pytest.raises(RuntimeError, match="task failed"):
        build_sharded(corpus[:60], tmp_path, fake_embedder, shards=3, run=fail_on_the_last)
    assert ShardSet.open(tmp_path).dirs == first.dirs  # the old set, whole
    assert dump(tmp_path).passages == before.passages
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == sorted(
        d.name for d in first.dirs
    )  # the failed build's folders are gone

    build_sharded(corpus[:60], tmp_path, fake_embedder, shards=3)
    second = ShardSet.open(tmp_path)
    assert set(second.dirs).isdisjoint(first.dirs)
    assert not any(d.exists() for d in first.dirs)  # the replaced set's folders went
    assert len(dump(tmp_path).articles) == 60
    assert (tmp_path / SHARDS_FILE).is_file()


def test_a_shard_with_no_articles_is_an_empty_index(
    tmp_path: Path, fake_embedder: FakeEmbedder
) -> None:
    one = [Article(id="solo", title="Solo", text="Only one article here.")]
    build_sharded(one, tmp_path, fake_embedder, shards=4)
    assert list(dump(tmp_path).articles) == ["solo"]
    assert ShardSet.open(tmp_path).count == 4


def test_the_cli_builds_shards_and_rebuilds_them_as_many(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`index --shards 3` (locally, the fake embedder), then `index` alone rebuilds 3 shards."""
    import shutil

    from click.testing import CliRunner

    import policy_search.index.analysis.embed
    from policy_search.api.cli import cli

    monkeypatch.setattr(
        policy_search.index.analysis.embed, "load_embedder", lambda *a, **k: FakeEmbedder()
    )
    source = tmp_path / "articles"
    source.mkdir()
    for path in sorted((CORPUS / "un-general-debates").glob("*.md"))[:12]:
        shutil.copy(path, source)
    index_dir = tmp_path / "index"
    runner = CliRunner()
    args = ["index", str(source), "--index-dir", str(index_dir), "--json"]
    result = runner.invoke(cli, [*args, "--shards", "3"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    first = ShardSet.open(index_dir)
    assert first.count == 3 and len(dump(index_dir).articles) == 12
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    second = ShardSet.open(index_dir)
    assert second.count == 3 and set(second.dirs).isdisjoint(first.dirs)
    single = tmp_path / "single"
    result = runner.invoke(cli, ["index", str(source), "--index-dir", str(single)])
    assert result.exit_code == 0
    result = runner.invoke(cli, ["index", str(source), "--index-dir", str(single), "--shards", "2"])
    assert result.exit_code == 1 and "holds an index of one shard" in result.output
