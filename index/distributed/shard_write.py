"""Writes to a sharded index: each article to the shard that owns it (index/distributed/shards.py).

An article lives in exactly one shard, `shard_of(id, S)`, so adding, replacing or removing it
is one commit of that shard's own writer; the other shards are not touched. New passages take
ids above every shard's (`next_passage_id`), so ids stay unique across the set and a sharded
index keeps ranking exactly as one index (ties are broken by passage id).

Writes to one set take its own writer lock (the set's folder) as well as the shard's, so two
writers, in this process or another, never pick the same first passage id.

The report is the set's, as one index of all the shards would give it: its articles and
passages added up, and its generation the sum of the shards' (as `ShardedSnapshot` counts it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from policy_search.index.analysis.embed import Embedder
from policy_search.index.defaults import WRITER_WAIT
from policy_search.index.distributed.shards import ShardSet, next_passage_id
from policy_search.index.errors import ArticleNotFound, CorpusError
from policy_search.index.readers.article import Article
from policy_search.index.storage.alerts import Percolator
from policy_search.index.storage.merge import merge_segments
from policy_search.index.storage.store import manifest_of, open_catalog, writer_lock
from policy_search.index.storage.transaction import unique
from policy_search.index.storage.writer import BuildReport, IndexWriter, WriteOptions

__all__ = ["add_to_shards", "merge_shards", "remove_from_shards"]


def add_to_shards(
    articles: Iterable[Article],
    index_dir: Path,
    embedder: Embedder,
    *,
    replace: bool = True,
    batch_size: int = 64,
    wait: float = WRITER_WAIT,
    percolator: Percolator | None = None,
) -> BuildReport:
    """Add (or with `replace`, replace) articles of a sharded index, each in its own shard; one
    commit per shard written to. `replace=False`: an id already there fails (ArticleExists).
    `percolator`: each shard matches its own new passages against the alerts it keeps."""
    kept = unique(articles)
    if not kept:
        raise CorpusError("no articles given: nothing to add")
    shard_set = ShardSet.open(index_dir)
    reports = []
    with writer_lock(shard_set.root, wait=wait):
        for shard, mine in enumerate(shard_set.split(kept, lambda a: a.id)):
            if not mine:
                continue
            first = next_passage_id(shard_set)
            options = WriteOptions(
                batch_size=batch_size, first_passage_id=first, percolator=percolator
            )
            with IndexWriter.open(
                shard_set.dirs[shard], embedder, options=options, wait=wait
            ) as writer:
                writer.upsert(mine, replace=replace)
                reports.append(writer.commit())
    return _report(shard_set, reports)


def remove_from_shards(
    article_ids: Iterable[str], index_dir: Path, *, wait: float = WRITER_WAIT
) -> BuildReport:
    """Remove articles of a sharded index by id, each from its own shard; an unknown id fails
    (ArticleNotFound) and no shard removes anything (every id is looked for first, under the
    set's lock, which every writer of the set holds)."""
    shard_set = ShardSet.open(index_dir)
    split = shard_set.split(dict.fromkeys(article_ids), str)
    owned = {shard: mine for shard, mine in enumerate(split) if mine}
    reports = []
    with writer_lock(shard_set.root, wait=wait):
        for shard, mine in owned.items():
            catalog = open_catalog(shard_set.dirs[shard], readonly=True)
            try:
                found = catalog.existing(mine)
            finally:
                catalog.close()
            missing = [aid for aid in mine if aid not in found]
            if missing:
                raise ArticleNotFound(f"no article with id {missing[0]!r} in the index")
        for shard, mine in owned.items():
            with IndexWriter.open(shard_set.dirs[shard], wait=wait) as writer:
                writer.delete(mine)
                reports.append(writer.commit())
    return _report(shard_set, reports)


def merge_shards(index_dir: Path, *, wait: float = WRITER_WAIT) -> int:
    """Merge each shard's small segments (merge.py's policy); the merges done."""
    return sum(merge_segments(d, wait=wait) for d in ShardSet.open(index_dir).dirs)


def _report(shard_set: ShardSet, reports: list[BuildReport]) -> BuildReport:
    """The shards' reports as one index's: what changed, and the whole set's counts."""
    manifests = [manifest_of(d) for d in shard_set.dirs]
    total = BuildReport(
        shard_set.root,
        generation=sum(m.generation for m in manifests),
        articles=sum(m.articles for m in manifests),
        passages=sum(m.passages for m in manifests),
        seconds=sum(r.seconds for r in reports),
    )
    return dataclasses.replace(
        total,
        added=[a for r in reports for a in r.added],
        updated=[a for r in reports for a in r.updated],
        unchanged=sum(r.unchanged for r in reports),
        removed=[a for r in reports for a in r.removed],
        embedded=sum(r.embedded for r in reports),
        alerts_matched=sum(r.alerts_matched for r in reports),
    )
