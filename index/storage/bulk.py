"""A build streamed in: an index made to hold exactly the articles that arrive, batch after
batch, chunked and embedded elsewhere (a Ray cluster: index/distributed/ray_ingest.py), committed
once.

    with BulkWriter.begin(index_dir, model_id=m, dim=384, settings=s, lexical=l) as writer:
        writer.add(batch)            # [(article, its PreparedArticle with vectors, first id)]
        report = writer.commit()     # one transaction: what changed (BuildReport)

It does what `build_index` does, a batch at a time: an article the index holds with the same
content hash is kept (its passages and vectors; its metadata updated), a changed one replaced,
a new one added, and at the commit every article that did not arrive is removed; another model
or other settings build everything anew. New passages gather into segments of
`segment_passages`, each staged (durable, named by no commit) as soon as it is full, so the
writer holds one segment's vectors at a time, never the corpus. Every row goes into one catalog
transaction that `begin` opens and `commit` commits: until then readers see the index as it
was, and a writer closed without a commit (or a process killed) leaves it so, its staged
segments discarded (or removed by the next writer's clean-up).

Unlike a local build, an edited article's unchanged passages take the vectors that arrive
(made in their new batch) rather than the stored ones: the cluster embedded them already.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from policy_search.index.analysis.chunk import ChunkSettings
from policy_search.index.analysis.embed import Embedder
from policy_search.index.defaults import BULK_SEGMENT_PASSAGES, WRITER_WAIT
from policy_search.index.distributed.shards import PreparedModel
from policy_search.index.errors import CorpusError, IndexInternalError
from policy_search.index.readers.article import Article
from policy_search.index.storage.catalog import pack_text
from policy_search.index.storage.lexical import LexicalSettings
from policy_search.index.storage.store import clean, open_catalog
from policy_search.index.storage.transaction import (
    Chunk,
    Embedding,
    PreparedArticle,
    Transaction,
    content_hash,
    metadata,
)
from policy_search.index.storage.writer import BuildReport, IndexWriter, OpenMode, WriteOptions

__all__ = ["Arrival", "BulkWriter"]

# One article as it arrives: its chunks and vectors, and the id of its first passage (None:
# the catalog's counter numbers it; a shard of a new set is given one index's numbering).
Arrival = tuple[Article, PreparedArticle, int | None]


class _Abandoned(Exception):
    """Thrown into the open catalog transaction to roll it back."""


class BulkWriter(IndexWriter):
    """The writer of a build streamed in (see the module's docstring)."""

    def __init__(self, index_dir: Path, embedder: Embedder | None, options: WriteOptions) -> None:
        super().__init__(index_dir, embedder, options)
        self.segment_passages = BULK_SEGMENT_PASSAGES
        self._tx: Transaction | None = None
        self._open: contextlib.AbstractContextManager[None] | None = None
        self._existing: dict[str, tuple[int, str]] = {}  # the live articles: rowid, hash
        self._arrived: set[str] = set()
        self._chunks: list[Chunk] = []  # passages of the segment being gathered
        self._vectors: list[np.ndarray] = []
        self._rowids: dict[str, int] = {}
        self._first_ids: dict[str, int] = {}
        self._added: list[str] = []
        self._updated: list[str] = []
        self._kept = 0
        self._embedded = 0

    @classmethod
    def begin(
        cls,
        index_dir: Path,
        *,
        model_id: str,
        dim: int,
        settings: ChunkSettings,
        lexical: LexicalSettings,
        vectors: str | None = None,
        wait: float = WRITER_WAIT,
        segment_passages: int = BULK_SEGMENT_PASSAGES,
    ) -> BulkWriter:
        """Take the writer lock and open the build's transaction (a damaged index, or one of
        another model or settings, is built anew, as `build_index` would)."""
        options = WriteOptions(settings=settings, lexical=lexical, vectors=vectors)
        model = PreparedModel(model_id, dim)
        writer = cls.open(index_dir, model, mode=OpenMode.REBUILD, options=options, wait=wait)
        assert isinstance(writer, BulkWriter)
        try:
            writer.segment_passages = segment_passages
            writer._start()
        except BaseException:
            writer.close()
            raise
        return writer

    def _start(self) -> None:
        catalog = self._catalog or open_catalog(self.index_dir, readonly=False, create=True)
        self._catalog = catalog
        opened = catalog.transaction()
        opened.__enter__()
        self._open = opened
        self._tx = self._begin(catalog)
        if self.manifest is not None and not self.fresh:
            self._existing = catalog.existing()

    def _transaction(self) -> Transaction:
        if self._tx is None:
            raise IndexInternalError("a bulk writer used after its commit or close")
        return self._tx

    # -- arrivals ------------------------------------------------------------------------

    def add(self, batch: Iterable[Arrival]) -> None:
        """Record these articles (kept, replaced or added); a full segment is staged."""
        tx = self._transaction()
        assert self._catalog is not None
        for article, ready, first in batch:
            if article.id in self._arrived:
                raise CorpusError(f"duplicate article id {article.id!r}")
            self._arrived.add(article.id)
            digest = content_hash(article)
            old = self._existing.get(article.id)
            if old is not None and old[1] == digest:
                self._catalog.upsert_article(metadata(article), None, old[0])
                self._kept += 1
                continue
            if ready.vectors is None or ready.content_hash != digest:
                raise IndexInternalError(f"article {article.id!r} arrived without its vectors")
            if old is not None:
                tx.remove(old[0])
            (self._updated if old is not None else self._added).append(article.id)
            body = pack_text(article.text)
            self._rowids[article.id] = self._catalog.upsert_article(metadata(article), body, None)
            if first is not None:
                self._first_ids[article.id] = first
            self._chunks += [(article, p, t) for p, t in zip(ready.passages, ready.terms,
                                                              strict=True)]  # fmt: skip
            self._vectors.append(np.asarray(ready.vectors, dtype=np.float32))
            if len(self._chunks) >= self.segment_passages:
                self._flush()

    def _flush(self) -> None:
        """Stage the gathered passages as one segment, with their rows."""
        if not self._chunks:
            return
        assert self.embedder is not None
        given = self._first_ids or None
        options = dataclasses.replace(self.options, passage_ids=given)
        embedding = Embedding(self.embedder, self.settings, self.lexical, options)
        vectors = np.concatenate(self._vectors).reshape(len(self._chunks), self.dim)
        self._transaction().add_prepared(self._chunks, vectors, self._rowids, embedding)
        self._embedded += len(self._chunks)
        self._chunks, self._vectors, self._rowids, self._first_ids = [], [], {}, {}

    # -- the end -------------------------------------------------------------------------

    def commit(self) -> BuildReport:
        """Remove what did not arrive and commit it all in the one transaction."""
        tx = self._transaction()
        assert self._catalog is not None and self._open is not None
        if not self._arrived:
            raise CorpusError("no articles found: nothing to index")
        self._flush()
        removed = [aid for aid in self._existing if aid not in self._arrived]
        for aid in removed:
            tx.remove(self._existing[aid][0])
        articles, passages = self._catalog.counts()
        self._approximate(tx, passages)
        generation = tx.commit_manifest(self._next_manifest(tx, articles, passages))
        opened, self._open, self._tx = self._open, None, None
        try:
            opened.__exit__(None, None, None)  # COMMIT: the build is published
        except BaseException:
            for staged in tx.staged:
                staged.discard()
            raise
        for staged in tx.staged:
            staged.release()
        clean(self.index_dir, self._catalog)
        return BuildReport(
            self.index_dir, generation, articles, passages, time.perf_counter() - self.started,
            added=self._added,
            updated=self._updated, unchanged=self._kept, removed=removed,
            embedded=self._embedded,
        )  # fmt: skip

    def close(self) -> None:
        """Without a commit: roll the transaction back and discard the staged segments."""
        opened, tx = self._open, self._tx
        self._open = self._tx = None
        if opened is not None:
            opened.__exit__(_Abandoned, _Abandoned(), None)  # ROLLBACK
        for staged in tx.staged if tx is not None else []:
            staged.discard()
        super().close()
