"""Write the index: build, sync, add and remove, each one IndexWriter commit (writer.py).

A write costs what it changes (transaction.py): only new or changed articles are embedded, into
one new small segment; bad input fails before anything is embedded; a write that fails leaves
the index as it was. Small segments are merged afterwards (policy_search.index.storage.merge),
outside the writer lock but for the merge's own commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from policy_search.index.analysis.chunk import ChunkSettings
from policy_search.index.analysis.embed import Embedder
from policy_search.index.defaults import WRITER_WAIT
from policy_search.index.distributed.shard_write import (
    add_to_shards,
    merge_shards,
    remove_from_shards,
)
from policy_search.index.distributed.shards import is_sharded
from policy_search.index.errors import CorpusError
from policy_search.index.readers.article import Article
from policy_search.index.storage.alerts import Percolator
from policy_search.index.storage.lexical import LexicalSettings
from policy_search.index.storage.transaction import content_hash, unique
from policy_search.index.storage.writer import BuildReport, IndexWriter, OpenMode, WriteOptions

__all__ = [
    "BuildReport", "add_articles", "build_index", "content_hash", "merge_small", "remove_articles",
]  # fmt: skip


def build_index(
    articles: Iterable[Article],
    index_dir: Path,
    embedder: Embedder,
    *,
    settings: ChunkSettings | None = None,
    lexical: LexicalSettings | None = None,
    batch_size: int = 64,
    progress: bool = False,
    on_chunked: Callable[[int, int], None] | None = None,
    wait: float = WRITER_WAIT,
    vectors: str | None = None,
    merge: bool = True,
    percolator: Percolator | None = None,
) -> BuildReport:
    """Make the index hold exactly `articles`, embedding only new or changed ones.

    `vectors`: the kind of vector index (vectors.VECTOR_INDEXES), kept from then on; None keeps
    the live index's kind (automatic for a new index: writer.AUTOMATIC). Changing kind converts
    the stored vectors, re-embedding nothing. An index built with another model or settings, or
    one damaged or too old to upgrade, is built anew. `percolator`: new passages are matched
    against the saved alerts.
    """
    kept = unique(articles)
    if not kept:
        raise CorpusError("no articles found: nothing to index")
    options = WriteOptions(
        settings=settings or ChunkSettings(), lexical=lexical or LexicalSettings(),
        vectors=vectors, batch_size=batch_size, progress=progress, on_chunked=on_chunked,
        percolator=percolator,
    )  # fmt: skip
    with IndexWriter.open(
        index_dir, embedder, mode=OpenMode.REBUILD, options=options, wait=wait
    ) as writer:
        writer.keep_only(a.id for a in kept)
        writer.upsert(kept)
        report, changed = _commit(writer)
    return _merged(report, changed and merge, wait)


def add_articles(
    articles: Iterable[Article],
    index_dir: Path,
    embedder: Embedder,
    *,
    batch_size: int = 64,
    progress: bool = False,
    wait: float = WRITER_WAIT,
    replace: bool = True,
    merge: bool = True,
    percolator: Percolator | None = None,
) -> BuildReport:
    """Add articles to the live index (which must exist, built with this model).

    `percolator`: match the new passages against the saved alerts in the same commit
    (index/storage/alerts.py); None leaves the alerts unmatched.

    `merge`: merge small segments afterwards (merge.py); a server's writer leaves that to its
    background merger. An article whose id is there replaces it, or with `replace=False` fails
    with ArticleExists (checked under the writer lock, so two concurrent adds of one id cannot
    both succeed).
    """
    kept = unique(articles)
    if not kept:
        raise CorpusError("no articles given: nothing to add")
    if is_sharded(index_dir):  # each article to the shard that owns it
        report = add_to_shards(kept, index_dir, embedder, replace=replace, batch_size=batch_size,
                               wait=wait, percolator=percolator)  # fmt: skip
        return _merged(report, merge, wait)
    options = WriteOptions(batch_size=batch_size, progress=progress, percolator=percolator)
    with IndexWriter.open(index_dir, embedder, options=options, wait=wait) as writer:
        writer.upsert(kept, replace=replace)
        report, changed = _commit(writer)
    return _merged(report, changed and merge, wait)


def remove_articles(
    article_ids: Iterable[str], index_dir: Path, *, wait: float = WRITER_WAIT, merge: bool = True
) -> BuildReport:
    """Remove articles by id from the live index; an unknown id fails and removes nothing."""
    if is_sharded(index_dir):  # each from the shard that owns it
        return _merged(remove_from_shards(article_ids, index_dir, wait=wait), merge, wait)
    with IndexWriter.open(index_dir, wait=wait) as writer:
        writer.delete(dict.fromkeys(article_ids))
        report, changed = _commit(writer)
    return _merged(report, changed and merge, wait)


def _commit(writer: IndexWriter) -> tuple[BuildReport, bool]:
    """The writer's commit, and whether it committed anything."""
    before = writer.manifest.generation if writer.manifest else None
    report = writer.commit()
    return report, report.generation != before


def _merged(report: BuildReport, merge: bool, wait: float) -> BuildReport:
    """Merge small segments when asked (after the writer lock is released)."""
    if merge:
        merge_small(report.index_dir, wait=wait)
    return report


def merge_small(index_dir: Path, *, wait: float = WRITER_WAIT) -> int:
    """Merge the index's small segments (merge.py's policy), each shard's in a sharded index;
    the merges done."""
    if is_sharded(index_dir):
        return merge_shards(index_dir, wait=wait)
    from policy_search.index.storage.merge import merge_segments

    return merge_segments(index_dir, wait=wait)
