"""A sharded query reads one commit of each shard (search/shards.py): a held sharded searcher
pages through a query while a writer deletes, replaces and adds articles, and every page is
full, nothing repeats, and every page is the slice of the ranking read before the first write.
A shard asked for a commit it no longer holds raises GenerationGone; the searcher runs the
query again at the shards' latest commits, a bounded number of times. And both corpora, one
index and sharded, agree on ids they do not hold.

Fake embedder (plumbing); the shards are cut from one built index (tests/search/test_shards.py).
"""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from policy_search.index.build import build_index
from policy_search.index.distributed.shard_write import add_to_shards, remove_from_shards
from policy_search.index.distributed.shards import ShardSet
from policy_search.index.errors import GenerationGone, ShardUnavailable, UnknownPassages
from policy_search.index.readers.article import Article
from policy_search.index.storage.snapshot import Snapshot
from policy_search.search.searcher import Searcher
from policy_search.search.shards import LocalShard, ShardedSnapshot, ShardReader, _Done
from tests.fakes import FakeEmbedder
from tests.search.test_paging import QUERIES, WORDS, _articles
from tests.search.test_shards import cut_into_shards

K = 7
QUERY = QUERIES[1]  # "gas pipeline"
# Every mode, and articles (grouped): (mode, group).
WALKS = [("lexical", False), ("dense", False), ("hybrid", False), ("hybrid", True)]


def _text(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + "."


class Writer:
    """Deletes, replaces and adds articles of a sharded index in a thread, one commit at a
    time; `wait_for_more` lets a reader make sure a commit came between two of its pages."""

    def __init__(self, root: Path, ids: list[str]) -> None:
        self.root, self.alive, self.done = root, list(ids), 0
        self.changed = threading.Condition()
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        rng, embedder, added = random.Random(3), FakeEmbedder(), 0
        try:
            while not self.stop.is_set():
                op = rng.choice(("delete", "replace", "add"))
                if op == "delete" and len(self.alive) > 20:
                    remove_from_shards([self.alive.pop(rng.randrange(len(self.alive)))], self.root)
                elif op == "add":
                    added += 1
                    self.alive.append(f"new{added}")
                    article = Article(id=self.alive[-1], title="New", text=_text(rng))
                    add_to_shards([article], self.root, embedder)
                else:
                    article = Article(id=rng.choice(self.alive), title="Re", text=_text(rng))
                    add_to_shards([article], self.root, embedder)
                with self.changed:
                    self.done += 1
                    self.changed.notify_all()
        except BaseException as exc:  # seen by the test, not lost with the thread
            self.error = exc

    def wait_for_more(self, than: int) -> int:
        with self.changed:
            self.changed.wait_for(lambda: self.done > than or self.error is not None, timeout=60)
        assert self.error is None, self.error
        return self.done

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive() and self.error is None, self.error


def _key(hit: Any, group: bool) -> object:
    return hit.article.id if group else hit.passage.id


def walk_under_writes(searcher: Searcher, writer: Writer, mode: str, group: bool) -> int:
    """Page through QUERY (K a page) with a commit between every two pages: every page full
    while hits remain, nothing twice, and the whole the ranking read before the first page.
    The number of pages."""
    asked = {"mode": mode, "group": group, "min_score": -1.0}
    first = searcher.search(QUERY, k=100, **asked)
    everything = [_key(h, group) for h in first.hits]
    assert len(everything) == min(first.total, 100) > 3 * K, (mode, group, first.total)
    seen: list[object] = []
    done, pages = writer.done, 0
    while len(seen) < len(everything):
        done = writer.wait_for_more(done)  # a commit since the last page
        page = searcher.search(QUERY, k=K, offset=len(seen), **asked)
        pages += 1
        assert page.total == first.total, (mode, group, len(seen))
        expected = min(K, first.total - len(seen))
        assert len(page.hits) == expected, (mode, group, len(seen), len(page.hits))
        seen += [_key(h, group) for h in page.hits]
    assert len(set(seen)) == len(seen), "a hit came back on two pages"
    assert seen[: len(everything)] == everything  # every page read at the commit of the first
    return pages


@pytest.fixture
def sharded(tmp_path: Path) -> ShardSet:
    """60 articles of several passages (sources for the filters), cut into 2 shards."""
    articles = _articles(60)
    for i, article in enumerate(articles):
        object.__setattr__(article, "source", ("Think", "Tank")[i % 2])
    build_index(articles, tmp_path / "single", FakeEmbedder(max_tokens=24))
    return cut_into_shards(tmp_path / "single", tmp_path / "sharded", 2)


def test_a_held_sharded_searcher_pages_one_commit_under_writes(sharded: ShardSet) -> None:
    searcher = Searcher.load(sharded.root, FakeEmbedder(max_tokens=24))
    corpus = searcher.snapshot
    assert isinstance(corpus, ShardedSnapshot)
    readers = [shard.reader for shard in corpus.shards]  # type: ignore[attr-defined]
    with Writer(sharded.root, [f"a{i}" for i in range(60)]) as writer:
        for mode, group in WALKS:
            assert walk_under_writes(searcher, writer, mode, group) >= 4
    assert writer.done >= 4 * len(WALKS)
    # The shards moved on; the held searcher kept reading the commits it started with.
    assert searcher.refreshed().generation > searcher.generation
    for reader, generation in zip(readers, corpus.generations, strict=True):
        assert generation in reader.held_generations()


def test_a_shard_answers_at_the_generations_it_holds_and_no_other(sharded: ShardSet) -> None:
    reader = ShardReader(sharded.dirs[0], most=2)
    first = reader.info().generation
    rows = reader.call("passage_articles", first)
    mine = sorted(set(rows.values()))  # the articles of this shard
    embedder = FakeEmbedder(max_tokens=24)
    add_to_shards([Article(id=mine[0], title="Re", text="Gas pipeline.")], sharded.root, embedder)
    remove_from_shards([mine[1]], sharded.root)
    # Still held: the first commit answers as it did, whatever was committed since.
    assert reader.call("passage_articles", first) == rows
    latest = reader.info().generation
    assert latest > first and reader.held_generations() == [first, latest]
    assert reader.call("passage_articles", latest) != rows
    with pytest.raises(GenerationGone, match=f"no longer holds generation {first - 1}"):
        reader.call("passage_articles", first - 1)  # never given out
    # At most two held: a third commit given out releases the first (its view closed).
    old = reader._open[first].snapshot
    add_to_shards([Article(id=mine[2], title="Re", text="Wind grid.")], sharded.root, embedder)
    third = reader.info().generation
    assert reader.held_generations() == [latest, third]
    with pytest.raises(GenerationGone):
        reader.call("passage_articles", first)
    with pytest.raises(RuntimeError, match="closed"):
        old.passage_articles()
    # A hold of no time: only the latest commit answers.
    brief = ShardReader(sharded.dirs[0], hold=0.0)
    now = brief.info().generation
    add_to_shards([Article(id=mine[3], title="Re", text="Coal port.")], sharded.root, embedder)
    with pytest.raises(GenerationGone):
        brief.call("stats", now)
    assert brief.call("stats", now + 1).generation == now + 1  # the latest: every commit adds one


class _Counted:
    """A shard in this process that counts the calls it answered with GenerationGone."""

    def __init__(self, reader: ShardReader) -> None:
        self.local, self.gone = LocalShard(reader), 0

    def submit(self, method: str, *args: Any) -> Any:
        reply = self.local.submit(method, *args)
        self.gone += isinstance(getattr(reply, "error", None), GenerationGone)
        return reply


def test_the_searcher_runs_a_query_again_when_a_shard_lost_its_commit(sharded: ShardSet) -> None:
    shards = [_Counted(ShardReader(d, hold=0.0)) for d in sharded.dirs]
    searcher = Searcher(ShardedSnapshot(sharded.root, shards), FakeEmbedder(max_tokens=24))
    gone = sorted({h.article.id for h in searcher.search(QUERY, k=50).hits})[0]
    remove_from_shards([gone], sharded.root)
    found = searcher.search(QUERY, k=50)
    assert sum(s.gone for s in shards) >= 1  # the first run was refused, the second answered
    fresh = Searcher.load(sharded.root, FakeEmbedder(max_tokens=24))
    assert [h.passage.id for h in found.hits] == [
        h.passage.id for h in fresh.search(QUERY, k=50).hits
    ]
    assert gone not in {h.article.id for h in found.hits}
    assert searcher.article("a1") == fresh.article("a1")


class _Moving:
    """A shard whose every commit is gone by the time it is read."""

    def __init__(self, reader: ShardReader) -> None:
        self.reader = reader

    def submit(self, method: str, generation: int | None, *args: Any) -> Any:
        if method == "info":
            return _Done(self.reader.info)

        def gone() -> None:
            raise GenerationGone("moved on")

        return _Done(gone)


def test_a_query_that_never_finds_its_commit_is_unavailable_after_bounded_tries(
    sharded: ShardSet,
) -> None:
    corpus = ShardedSnapshot(sharded.root, [_Moving(ShardReader(d)) for d in sharded.dirs])
    searcher = Searcher(corpus, FakeEmbedder(max_tokens=24))
    with pytest.raises(ShardUnavailable, match="moved to new commits 3 times") as raised:
        searcher.search(QUERY)
    assert not isinstance(raised.value, GenerationGone)  # a 503 like any unavailable shard


def test_both_corpora_agree_on_passages_they_do_not_hold(sharded: ShardSet) -> None:
    one = Snapshot.open(sharded.root.parent / "single")
    many = ShardedSnapshot(sharded.root, [LocalShard(ShardReader(d)) for d in sharded.dirs])
    known = np.sort(one.ids[one.live])[:5]
    nowhere = np.array([known[0], 10**7], dtype=np.int64)
    unit = np.ones(one.manifest.dim, dtype=np.float32)
    for corpus in (one, many):
        for read in (corpus.vectors, corpus.article_keys, lambda ids: corpus.cosine(unit, ids)):  # noqa: B023
            with pytest.raises(UnknownPassages, match="10000000"):
                read(nowhere)
    # The sharded corpus has not seen these ids in an answer: it finds their shards.
    assert np.array_equal(one.vectors(known), many.vectors(known))
    assert one.passage_rows(nowhere) == many.passage_rows(nowhere) != {}
    assert one.passage_dates(nowhere) == many.passage_dates(nowhere)
    assert one.facet_counts(nowhere, ["source"]) == many.facet_counts(nowhere, ["source"])
    assert sum(many.facet_counts(nowhere, ["source"])["source"].values()) == 1
    one.close()
