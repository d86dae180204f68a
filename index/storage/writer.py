"""The one writer of an index, as Lucene's and Tantivy's IndexWriter: open, change, commit.

    with IndexWriter.open(index_dir, embedder, mode=OpenMode.CREATE, options=options) as writer:
        writer.keep_only(ids)        # drop every article not named (nor upserted)
        writer.upsert(articles)      # add, or replace an article of the same id
        writer.delete(["old-id"])    # remove (each must be in the index)
        report = writer.commit()     # one transaction → what changed (BuildReport)

`open` takes the writer lock, upgrades a format-5 index, and reads the live manifest and
settings once; changes are only recorded until `commit`, which checks them (ArticleExists,
ArticleNotFound), chunks before it embeds (bad input fails before minutes of embedding), embeds
only new or changed passages into one new segment, turns removed and replaced passages into
tombstones and commits it all in one catalog transaction. A writer closed without a commit, or a
commit that fails, leaves the index as it was. `close` releases the lock.

The kind of vector index is the one the write names (`WriteOptions.vectors`: the user's choice,
kept from then on), else the live index's; an index whose kind nobody named starts `flat` and
turns `ivf-rerank` (AUTOMATIC) at the commit of the write that leaves it more passages than
`WriteOptions.approximate_above` (defaults.APPROXIMATE_ABOVE): its segments are converted in
that commit's transaction. It never turns back; merges keep the kind.
"""

from __future__ import annotations

import contextlib
import enum
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from policy_search.index.analysis.chunk import ChunkSettings
from policy_search.index.analysis.embed import Embedder
from policy_search.index.defaults import WRITER_WAIT
from policy_search.index.errors import (
    IndexCorrupt,
    IndexInternalError,
    IndexMismatch,
    IndexMissing,
)
from policy_search.index.readers.article import Article
from policy_search.index.storage.catalog import Catalog
from policy_search.index.storage.closing import Closing
from policy_search.index.storage.lexical import LexicalSettings
from policy_search.index.storage.manifest import Manifest
from policy_search.index.storage.store import (
    clean,
    open_catalog,
    read_manifest,
    read_quantizer,
    remove_index,
    writer_lock,
)
from policy_search.index.storage.transaction import (
    Changes,
    Embedding,
    Pending,
    Transaction,
    WriteOptions,
    metadata,
    unique,
)
from policy_search.index.storage.upgrade import upgrade_locked
from policy_search.index.storage.vectors import vector_kind

__all__ = ["AUTOMATIC", "BuildReport", "IndexWriter", "OpenMode", "WriteOptions"]

AUTOMATIC = ("flat", "ivf-rerank")  # the kinds of an index that named none: exact, approximate
CHOSEN = "chosen"  # manifest.extra["vectors"] of an index whose kind a user named


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a write did."""

    index_dir: Path
    generation: int
    articles: int  # in the index afterwards
    passages: int
    seconds: float
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    embedded: int = 0  # passages embedded by this write
    alerts_matched: int = 0  # matches of saved alerts this write recorded (a metric's hook)


class OpenMode(enum.Enum):
    """What `IndexWriter.open` does with what it finds."""

    APPEND = "append"  # the index must exist; its model and settings must be the writer's
    CREATE = "create"  # made when missing; another model or other settings: made anew
    REBUILD = "rebuild"  # as CREATE, and a damaged or outdated index is removed, made anew


class IndexWriter(Closing):
    """The one writer of an index directory (see the module's docstring)."""

    def __init__(self, index_dir: Path, embedder: Embedder | None, options: WriteOptions) -> None:
        self.index_dir = index_dir
        self.embedder = embedder
        self.options = options
        self.started = time.perf_counter()
        self._lock = contextlib.ExitStack()
        self._catalog: Catalog | None = None
        self.manifest: Manifest | None = None  # the live one; None for a new index
        self.fresh = False  # everything anew: the commit drops what the index holds
        self._pending = Pending()
        self._closed = False

    @classmethod
    def open(
        cls,
        index_dir: Path,
        embedder: Embedder | None = None,
        *,
        mode: OpenMode = OpenMode.APPEND,
        options: WriteOptions | None = None,
        wait: float = WRITER_WAIT,
    ) -> IndexWriter:
        """Take the writer lock and read the live index (see OpenMode); `embedder` None: a writer
        that only deletes."""
        writer = cls(index_dir, embedder, options or WriteOptions())
        writer._lock.enter_context(writer_lock(index_dir, wait=wait))
        try:
            writer._read(mode)
        except BaseException:
            writer.close()
            raise
        return writer

    def _read(self, mode: OpenMode) -> None:
        rebuild = mode is OpenMode.REBUILD
        try:
            upgrade_locked(self.index_dir, embedder=self.embedder)  # keeping its vectors
        except (IndexMismatch, IndexCorrupt):
            if not rebuild:
                raise
            remove_index(self.index_dir)  # too old to upgrade: anew
        live = _live(self.index_dir, rebuild=rebuild)
        if live is None:
            if mode is OpenMode.APPEND:
                open_catalog(self.index_dir, readonly=True)  # raises IndexMissing with its advice
            if mode is OpenMode.APPEND or self.embedder is None:
                raise IndexMissing(f"no index at {self.index_dir}")
            return
        self._catalog, self.manifest = live
        if self._compatible(self.manifest):
            return
        if mode is not OpenMode.APPEND:
            self.fresh = True  # another model or settings: everything anew
            return
        assert self.embedder is not None
        self.manifest.check(
            model_id=self.embedder.model_id, dim=self.embedder.dim, index_dir=self.index_dir
        )
        raise IndexMismatch(
            f"the index at {self.index_dir} was built with other chunking or BM25 settings; "
            f"rebuild it with `policy-search index --index-dir {self.index_dir}`"
        )

    def _compatible(self, manifest: Manifest) -> bool:
        if self.embedder is None:  # removal only: nothing is embedded, the live model stays
            return True
        return (manifest.model_id, manifest.dim, manifest.chunking, manifest.lexical) == (
            self.embedder.model_id, self.embedder.dim, self.settings, self.lexical,
        )  # fmt: skip

    # -- what the commit will use --------------------------------------------------------

    @property
    def settings(self) -> ChunkSettings:
        """The chunking of this write."""
        kept = self.manifest.chunking if self.manifest else ChunkSettings()
        return self.options.settings or kept

    @property
    def lexical(self) -> LexicalSettings:
        """The BM25 settings of this write."""
        kept = self.manifest.lexical if self.manifest else LexicalSettings()
        return self.options.lexical or kept

    @property
    def kind(self) -> str:
        """The kind of vector index after this write."""
        return self.options.vectors or (self.manifest.vector_kind if self.manifest else "flat")

    @property
    def chosen(self) -> bool:
        """Whether a user named the kind of vector index (now or at an earlier write)."""
        named = self.manifest is not None and self.manifest.extra.get("vectors") == CHOSEN
        return self.options.vectors is not None or named

    def _approximate(self, tx: Transaction, passages: int) -> None:
        """Turn an exact index whose kind nobody named approximate once it holds more than
        `approximate_above` passages: its segments converted in this transaction."""
        exact, approximate = AUTOMATIC
        if self.chosen or tx.kind.name != exact or passages <= self.options.approximate_above:
            return
        segments = self._next_manifest(tx, 0, passages)  # the kind they have so far
        tx.kind, tx.quantizer = vector_kind(approximate), None
        tx.convert(segments)

    # -- changes -------------------------------------------------------------------------

    def upsert(self, articles: Iterable[Article], *, replace: bool = True) -> None:
        """Add these articles; one whose id is in the index replaces it, or with
        `replace=False` makes the commit fail with ArticleExists."""
        if self.embedder is None:
            raise IndexInternalError("a writer opened without an embedding model cannot upsert")
        pending = self._pending
        for article in unique(articles):
            pending.deletes.pop(article.id, None)
            pending.upserts[article.id] = article
            if replace:
                pending.exclusive.discard(article.id)
            else:
                pending.exclusive.add(article.id)

    def delete(self, article_ids: Iterable[str]) -> None:
        """Remove these articles; one that is not in the index makes the commit fail with
        ArticleNotFound (and remove nothing)."""
        pending = self._pending
        for aid in article_ids:
            pending.upserts.pop(aid, None)
            pending.exclusive.discard(aid)
            pending.deletes[aid] = None

    def keep_only(self, article_ids: Iterable[str]) -> None:
        """Remove every article of the index but these and the upserted ones."""
        self._pending.keep = set(article_ids)

    # -- commit --------------------------------------------------------------------------

    def commit(self) -> BuildReport:
        """Apply the changes in one transaction; what changed. Nothing changed (a `keep_only`
        of exactly what the index holds): no commit at all."""
        if self._closed:
            raise IndexInternalError("commit on a closed writer")
        pending, self._pending = self._pending, Pending()
        if self._unchanged(pending):
            assert self.manifest is not None
            return BuildReport(
                self.index_dir, self.manifest.generation, self.manifest.articles,
                self.manifest.passages, time.perf_counter() - self.started,
                unchanged=len(pending.upserts),
            )  # fmt: skip
        catalog = self._catalog or open_catalog(self.index_dir, readonly=False, create=True)
        self._catalog = catalog
        tx: Transaction | None = None
        try:
            with catalog.transaction():
                tx = self._begin(catalog)
                changes = tx.apply(pending, self._embedding())
                articles, passages = catalog.counts()
                self._approximate(tx, passages)
                number = tx.commit_manifest(self._next_manifest(tx, articles, passages))
        except BaseException:
            for staged in tx.staged if tx else []:
                staged.discard()  # never committed
            raise
        for staged in tx.staged:
            staged.release()
        clean(self.index_dir, catalog)
        report = self._report(number, articles, passages, changes)
        self.manifest, self.fresh = read_manifest(catalog), False  # the next commit's base
        self.started = time.perf_counter()
        return report

    def _unchanged(self, pending: Pending) -> bool:
        """Whether a commit would change nothing (`make serve` syncs corpus/ on every start)."""
        if self._catalog is None or self.manifest is None or self.fresh:
            return False
        if pending.keep is None or pending.deletes or self.kind != self.manifest.vector_kind:
            return False
        return self._catalog.metadata() == {metadata(a) for a in pending.upserts.values()}

    def _embedding(self) -> Embedding | None:
        if self.embedder is None:
            return None
        return Embedding(self.embedder, self.settings, self.lexical, self.options)

    def _begin(self, catalog: Catalog) -> Transaction:
        """The transaction's start: a new or emptied catalog, the vector kind converted."""
        live = self.manifest
        if live is None:
            catalog.create()
        elif self.fresh:
            catalog.clear()
        same_kind = live is not None and not self.fresh and self.kind == live.vector_kind
        quantizer = live.extra.get("quantizer") if live and same_kind else None
        tx = Transaction(
            self.index_dir, catalog, self.dim, vector_kind(self.kind),
            str(quantizer) if quantizer else None,
        )  # fmt: skip
        if live is not None and not self.fresh and not same_kind:
            tx.convert(live)  # another kind of vector index: convert, re-embedding nothing
        return tx

    @property
    def dim(self) -> int:
        """The vectors' dimension."""
        if self.embedder is not None:
            return self.embedder.dim
        assert self.manifest is not None  # (open refused a new index without a model)
        return self.manifest.dim

    @property
    def model_id(self) -> str:
        """The embedding model's id."""
        if self.embedder is not None:
            return self.embedder.model_id
        assert self.manifest is not None
        return self.manifest.model_id

    def _next_manifest(self, tx: Transaction, articles: int, passages: int) -> Manifest:
        quantizer = read_quantizer(self.index_dir, tx.quantizer) if tx.quantizer else None
        extra: dict[str, object] = {"quantizer": tx.quantizer} if tx.quantizer else {}
        if self.chosen:
            extra["vectors"] = CHOSEN
        return Manifest(
            model_id=self.model_id, dim=self.dim, chunking=self.settings, lexical=self.lexical,
            articles=articles, passages=passages, generation=tx.generation,
            built_at=datetime.now(UTC).isoformat(timespec="seconds"),
            build_seconds=round(time.perf_counter() - self.started, 2),
            faiss_index=tx.kind.describe(quantizer),
            extra=extra, vector_kind=tx.kind.name,
        )  # fmt: skip

    def _report(self, generation: int, articles: int, passages: int, c: Changes) -> BuildReport:
        return BuildReport(
            self.index_dir, generation, articles, passages, time.perf_counter() - self.started,
            added=c.added, updated=c.updated, unchanged=c.unchanged, removed=c.removed,
            embedded=c.embedded, alerts_matched=c.alerts_matched,
        )  # fmt: skip

    # -- closing -------------------------------------------------------------------------

    def close(self) -> None:
        """Release the catalog and the writer lock; uncommitted changes are dropped."""
        self._closed = True
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None
        self._lock.close()


def _live(index_dir: Path, *, rebuild: bool) -> tuple[Catalog, Manifest] | None:
    """The index's catalog (open for writing) and manifest, if any; with `rebuild`, a damaged
    or outdated index counts as none (and is removed: everything is built anew)."""
    try:
        catalog = open_catalog(index_dir, readonly=False)
    except IndexMissing:
        return None
    except (IndexMismatch, IndexCorrupt):
        if not rebuild:
            raise
        remove_index(index_dir)
        return None
    try:  # (no full check of the catalog here: that is a reader's, when it opens)
        return catalog, read_manifest(catalog)
    except (IndexMismatch, IndexCorrupt):
        catalog.close()
        if not rebuild:
            raise
        remove_index(index_dir)
        return None
