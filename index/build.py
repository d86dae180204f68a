"""Write the index: build, sync, add and remove, re-embedding only what changed.

A write costs what it changes: the passages of new or changed articles (by a hash of their
title and text) are chunked and embedded into one new small segment, the passages of removed or
replaced ones become tombstones, and one catalog transaction commits it all (store.py). An
edited article keeps the vectors of its unchanged passages. Bad input fails before anything is
embedded; a write that fails leaves the index as it was. Small segments are merged afterwards
(policy_search.index.merge), outside the writer lock but for the merge's own commit.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from policy_search.index.article import Article, date_range
from policy_search.index.catalog import Catalog, SegmentRow, pack_text, unpack_text
from policy_search.index.chunk import (
    ChunkSettings,
    Passage,
    chunk_article,
    embed_text,
    title_prefix,
)
from policy_search.index.embed import Embedder
from policy_search.index.errors import (
    ArticleExists,
    ArticleNotFound,
    CorpusError,
    IndexCorrupt,
    IndexMismatch,
    IndexMissing,
    IndexStoreError,
)
from policy_search.index.lexical import Analyzer, LexicalIndex, LexicalSettings
from policy_search.index.manifest import Manifest
from policy_search.index.segment import (
    Segment,
    StagedSegment,
    read_vectors,
    segment_ids,
    write_segment,
)
from policy_search.index.store import (
    clean,
    new_segment_name,
    open_catalog,
    read_manifest,
    read_quantizer,
    remove_index,
    save_quantizer,
    segments_dir,
    write_manifest,
    writer_lock,
)
from policy_search.index.upgrade import upgrade_locked
from policy_search.index.vectors import VECTOR_INDEXES, describe_kind, kind_described, new_index

__all__ = ["BuildReport", "add_articles", "build_index", "content_hash", "remove_articles"]

WRITER_WAIT = 60.0  # seconds a writer waits for another one to finish


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


@dataclass(frozen=True, slots=True)
class _Options:
    settings: ChunkSettings
    lexical: LexicalSettings
    batch_size: int
    progress: bool
    on_chunked: Callable[[int, int], None] | None
    vectors: str | None = (
        None  # the kind of vector index (policy_search.index.vectors); None: keep, or flat
    )


def content_hash(article: Article) -> str:
    """Hash of what is embedded: a change here means new passages and vectors."""
    return hashlib.sha256(f"{article.title}\x00{article.text}".encode()).hexdigest()


def _unique(articles: Iterable[Article]) -> list[Article]:
    kept: dict[str, Article] = {}
    for article in articles:
        if article.id in kept:
            raise CorpusError(f"duplicate article id {article.id!r}")
        kept[article.id] = article
    return list(kept.values())


def _live(index_dir: Path, *, rebuild: bool) -> tuple[Catalog, Manifest] | None:
    """The index's catalog (open for writing) and manifest, if any; with `rebuild`, a damaged
    or outdated index counts as none (and is removed: `index` builds everything anew)."""
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


def _compatible(manifest: Manifest, embedder: Embedder | None, options: _Options) -> bool:
    if embedder is None:  # removal only: nothing is embedded, the live model stays
        return True
    return (manifest.model_id, manifest.dim, manifest.chunking, manifest.lexical) == (
        embedder.model_id, embedder.dim, options.settings, options.lexical,
    )  # fmt: skip


class _Transaction:
    """One write: catalog changes in one transaction, new passages in one new segment."""

    def __init__(
        self, index_dir: Path, catalog: Catalog, dim: int, kind: str, quantizer: str | None
    ) -> None:
        self.index_dir = index_dir
        self.catalog = catalog
        self.dim = dim
        self.kind = kind
        self.quantizer = quantizer  # the file of the trained IVF index, for IVF kinds
        self.generation = int(catalog.meta("generation", 0)) + 1
        self.dead: list[int] = []
        self.staged: list[StagedSegment] = []

    def remove(self, rowid: int) -> None:
        """Drop an article; its passages become tombstones."""
        self.dead += self.catalog.remove_article(rowid)

    def stored_vectors(self, ids: list[int]) -> np.ndarray:
        """The vectors of live passages, read from the segments that hold them."""
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        wanted = np.asarray(ids, dtype=np.int64)
        for row in self.catalog.segments():
            directory = segments_dir(self.index_dir) / row.name
            mine = np.isin(wanted, segment_ids(directory))
            if mine.any():
                out[mine] = read_vectors(directory).reconstruct_batch(wanted[mine])
        return out

    def vector_index(self, vectors: np.ndarray, ids: np.ndarray) -> Any:
        """A vector index of `kind` holding these vectors (IVF: from the shared quantizer)."""
        import faiss

        if self.kind.startswith("ivf"):
            if self.quantizer is None:  # the first IVF segment trains the lists, once
                self.quantizer = save_quantizer(
                    self.index_dir, new_index(self.kind, self.dim, vectors)
                )
            index = faiss.clone_index(read_quantizer(self.index_dir, self.quantizer))
        else:
            index = new_index(self.kind, self.dim, vectors)
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        return index

    def add_segment(self, vectors: np.ndarray, lexical: LexicalIndex, articles: np.ndarray) -> None:
        """Stage a durable segment of these passages, named by this transaction's commit."""
        name = new_segment_name()
        staged = StagedSegment(segments_dir(self.index_dir), name)
        self.staged.append(staged)  # held until the commit is done (or discarded)
        index = self.vector_index(vectors, lexical.ids)
        files = write_segment(staged.path, index, lexical, articles)
        staged.publish()
        # Deletions up to the generation before this one are left out; this commit's apply.
        self.catalog.add_segment(SegmentRow(name, len(lexical), files, self.generation - 1))

    def convert(self) -> None:
        """Rewrite every live vector into one segment of this transaction's kind."""
        manifest = read_manifest(self.catalog)
        rows = self.catalog.segments()
        parts = []
        dead = self.catalog.deletions(-1)[0]
        for row in rows:
            segment = Segment(segments_dir(self.index_dir) / row.name, files=row.files,
                              passages=row.passages, lexical=manifest.lexical, dim=self.dim,
                              checksums=False)  # fmt: skip
            keep = ~np.isin(segment.ids, dead)
            parts.append((segment, keep))
        if not parts:
            return
        lexical = LexicalIndex.merged(
            [s.lexical.without(s.ids[~keep]) for s, keep in parts], manifest.lexical
        )
        vectors = np.concatenate([s.reconstruct(s.ids[keep]) for s, keep in parts])
        articles = np.concatenate([s.articles[keep] for s, keep in parts])
        for segment, _ in parts:
            segment.close()
        self.catalog.drop_segments([r.name for r in rows])
        self.catalog.forget_deletions(dead.tolist())
        self.add_segment(vectors, lexical, articles)

    def commit_manifest(self, manifest: Manifest) -> int:
        """Record the manifest and deletions; the new generation."""
        self.catalog.add_deletions(self.dead, self.generation)
        return write_manifest(self.catalog, manifest)


# Every column of the articles table but the packed text, which content_hash stands for.
def _metadata(article: Article) -> tuple:
    """An article's row of the articles table (policy_search.index.catalog.METADATA's columns)."""
    start, end = date_range(article.date)
    return (
        article.id, article.title, article.source, article.author, article.date, article.url,
        json.dumps(list(article.tags), ensure_ascii=False), start, end, content_hash(article),
    )  # fmt: skip


def _chunk(
    articles: list[Article], embedder: Embedder, options: _Options
) -> tuple[list[tuple[Article, Passage, list[str]]], list[str]]:
    """Chunk first: bad input fails before minutes of embedding."""
    analyzer = Analyzer(options.lexical.language)
    chunks: list[tuple[Article, Passage, list[str]]] = []
    texts: list[str] = []
    for article in articles:
        prefix = title_prefix(article, embedder, options.settings)
        for passage in chunk_article(article, embedder, options.settings):
            text = embed_text(prefix, passage.text)
            chunks.append((article, passage, analyzer.terms(text)))
            texts.append(text)
    return chunks, texts


def _write(
    index_dir: Path,
    embedder: Embedder | None,
    options_of: Callable[[Manifest | None], _Options],
    *,
    upserts: list[Article],
    deletes: list[str],
    sync: bool,
    wait: float,
    replace: bool = True,
    merge: bool = True,
) -> BuildReport:
    started = time.perf_counter()
    with writer_lock(index_dir, wait=wait):
        try:
            upgrade_locked(index_dir)  # format 5 becomes segments, keeping its vectors
        except (IndexMismatch, IndexCorrupt):
            if not sync:
                raise
            remove_index(index_dir)  # `index` over an index too old to upgrade: anew
        live = _live(index_dir, rebuild=sync)
        options = options_of(live[1] if live else None)
        fresh = live is None
        if live is not None and not _compatible(live[1], embedder, options):
            if not sync:
                assert embedder is not None
                live[0].close()
                live[1].check(model_id=embedder.model_id, dim=embedder.dim, index_dir=index_dir)
                raise IndexMismatch(
                    f"the index at {index_dir} was built with other chunking or BM25 settings; "
                    f"rebuild it with `policy-search index --index-dir {index_dir}`"
                )
            fresh = True  # `index` with another model or settings: everything anew
        if embedder is not None:
            model_id, dim = embedder.model_id, embedder.dim
        elif live is not None:
            model_id, dim = live[1].model_id, live[1].dim
        else:
            raise IndexMissing(f"no index at {index_dir}")
        old_kind = kind_described(live[1].faiss_index) if live else None
        kind = options.vectors or old_kind or "flat"
        unchanged = live and not fresh and sync and kind == old_kind and not deletes
        if live and unchanged and live[0].metadata() == {_metadata(a) for a in upserts}:
            # Nothing to do: no commit (`make serve` syncs corpus/ on every start).
            live[0].close()
            return BuildReport(
                index_dir, live[1].generation, live[1].articles, live[1].passages,
                time.perf_counter() - started, unchanged=len(upserts),
            )  # fmt: skip
        catalog = live[0] if live else open_catalog(index_dir, readonly=False, create=True)
        tx: _Transaction | None = None
        try:
            with catalog.transaction():
                if live is None:
                    catalog.create()
                elif fresh:
                    catalog.clear()
                quantizer = None
                if live and not fresh and kind == old_kind and live[1].extra.get("quantizer"):
                    quantizer = str(live[1].extra["quantizer"])
                tx = _Transaction(index_dir, catalog, dim, kind, quantizer)
                if live and not fresh and kind != old_kind:
                    tx.convert()  # another kind of vector index: convert, re-embedding nothing
                report = _apply(tx, embedder, options, upserts, deletes, sync, replace)
                articles, passages = catalog.counts()
                extra: dict[str, object] = {"quantizer": tx.quantizer} if tx.quantizer else {}
                number = tx.commit_manifest(
                    Manifest(
                        model_id=model_id, dim=dim, chunking=options.settings,
                        lexical=options.lexical, articles=articles, passages=passages,
                        generation=tx.generation,
                        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
                        build_seconds=round(time.perf_counter() - started, 2),
                        faiss_index=describe_kind(kind, _quantizer(index_dir, tx.quantizer)),
                        extra=extra,
                    )
                )  # fmt: skip
        except BaseException:
            for staged in tx.staged if tx else []:
                staged.discard()  # never committed
            catalog.close()
            raise
        try:
            for staged in tx.staged:
                staged.release()
            clean(index_dir, catalog)
        finally:
            catalog.close()
    if merge:
        from policy_search.index.merge import merge_segments

        merge_segments(index_dir, wait=wait)
    return BuildReport(
        index_dir, number, articles, passages, time.perf_counter() - started, **report
    )


def _quantizer(index_dir: Path, name: str | None) -> Any:
    return read_quantizer(index_dir, name) if name else None


def _known_vectors(
    tx: _Transaction, rowids: list[int], embedder: Embedder, settings: ChunkSettings
) -> dict[str, np.ndarray]:
    """The stored vectors of these articles' passages, by the exact text that was embedded.

    An edited article keeps the vectors of its unchanged passages (same text, same title).
    """
    rows = tx.catalog.passage_texts(rowids)
    articles: dict[int, tuple[str, str]] = {}  # rowid → (title prefix, text), unpacked once
    texts: dict[str, int] = {}
    for pid, start, end, rowid, title, body in rows:
        if rowid not in articles:
            stub = Article(id=str(rowid), title=title, text=unpack_text(body))
            articles[rowid] = (title_prefix(stub, embedder, settings), stub.text)
        prefix, text = articles[rowid]
        texts[embed_text(prefix, text[start:end])] = pid
    if not texts:
        return {}
    stored = tx.stored_vectors(list(texts.values()))
    return {text: stored[i] for i, text in enumerate(texts)}


def _apply(
    tx: _Transaction,
    embedder: Embedder | None,
    options: _Options,
    upserts: list[Article],
    deletes: list[str],
    sync: bool,
    replace: bool = True,
) -> dict:
    catalog = tx.catalog
    existing = catalog.existing(None if sync else [a.id for a in upserts] + list(deletes))
    taken = [a.id for a in upserts if a.id in existing]
    if taken and not replace:
        raise ArticleExists(f"an article with id {taken[0]!r} exists; replace it instead")
    missing = [aid for aid in deletes if aid not in existing]
    if missing:
        raise ArticleNotFound(f"no article with id {missing[0]!r} in the index")
    given = {a.id for a in upserts}
    removed = list(deletes) + ([aid for aid in existing if aid not in given] if sync else [])
    changed = [a for a in upserts if existing.get(a.id, (0, ""))[1] != content_hash(a)]
    changed_ids = {a.id for a in changed}
    chunks: list[tuple[Article, Passage, list[str]]] = []
    vectors = np.zeros((0, tx.dim), dtype=np.float32)
    embedded = 0
    if changed:
        if embedder is None:
            raise CorpusError("internal: articles to embed but no embedding model")
        chunks, texts = _chunk(changed, embedder, options)
        if options.on_chunked:
            options.on_chunked(len(changed), len(chunks))
        replaced = [existing[a.id][0] for a in changed if a.id in existing]
        known = _known_vectors(tx, replaced, embedder, options.settings)
        fresh = [i for i, text in enumerate(texts) if text not in known]
        vectors = np.zeros((len(texts), tx.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            if text in known:
                vectors[i] = known[text]
        if fresh:
            vectors[fresh] = embedder.encode(
                [texts[i] for i in fresh], batch_size=options.batch_size,
                progress=options.progress,
            )  # fmt: skip
        embedded = len(fresh)
    for aid in removed:
        tx.remove(existing[aid][0])
    rowids: dict[str, int] = {}
    for article in upserts:
        old = existing.get(article.id)
        if old is not None and article.id in changed_ids:
            tx.remove(old[0])
            old = None
        body = None if old else pack_text(article.text)
        rowids[article.id] = catalog.upsert_article(
            _metadata(article), body, old[0] if old else None
        )
    if chunks:
        ids = catalog.new_passage_ids(len(chunks))
        catalog.add_passages(
            [(int(pid), rowids[a.id], p.ordinal, p.start, p.end)
             for pid, (a, p, _) in zip(ids, chunks, strict=True)]
        )  # fmt: skip
        lexical = LexicalIndex.from_terms([t for _, _, t in chunks], ids, options.lexical)
        articles = np.fromiter((rowids[a.id] for a, _, _ in chunks), np.int64, len(chunks))
        tx.add_segment(vectors, lexical, articles)
    return {
        "added": [a.id for a in changed if a.id not in existing],
        "updated": [a.id for a in changed if a.id in existing],
        "unchanged": len(upserts) - len(changed),
        "removed": removed,
        "embedded": embedded,
    }


def _options(
    settings: ChunkSettings | None,
    lexical: LexicalSettings | None,
    batch_size: int,
    progress: bool,
    on_chunked: Callable[[int, int], None] | None,
    vectors: str | None = None,
) -> _Options:
    if vectors is not None and vectors not in VECTOR_INDEXES:
        raise IndexStoreError(
            f"unknown vector index {vectors!r}; use one of {', '.join(VECTOR_INDEXES)}"
        )
    return _Options(settings or ChunkSettings(), lexical or LexicalSettings(), batch_size, progress,
                    on_chunked, vectors)  # fmt: skip


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
) -> BuildReport:
    """Make the index hold exactly `articles`, embedding only new or changed ones.

    `vectors`: the kind of vector index (vectors.VECTOR_INDEXES); None keeps the live
    index's kind (flat for a new index). Changing kind converts the stored vectors, re-embedding
    nothing.
    """
    kept = _unique(articles)
    if not kept:
        raise CorpusError("no articles found: nothing to index")
    options = _options(settings, lexical, batch_size, progress, on_chunked, vectors)
    return _write(
        index_dir, embedder, lambda _: options, upserts=kept, deletes=[], sync=True, wait=wait,
        merge=merge,
    )  # fmt: skip


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
) -> BuildReport:
    """Add articles to the live index (which must exist, built with this model).

    `merge`: merge small segments afterwards (merge.py); a server's writer leaves that to its
    background merger. An article whose id is there replaces it, or with `replace=False` fails
    with ArticleExists (checked under the writer lock, so two concurrent adds of one id cannot
    both succeed).
    """
    kept = _unique(articles)
    if not kept:
        raise CorpusError("no articles given: nothing to add")
    options = partial(_live_options, index_dir, batch_size, progress)
    return _write(
        index_dir, embedder, options, upserts=kept, deletes=[], sync=False, wait=wait,
        replace=replace, merge=merge,
    )  # fmt: skip


def remove_articles(
    article_ids: Iterable[str], index_dir: Path, *, wait: float = WRITER_WAIT, merge: bool = True
) -> BuildReport:
    """Remove articles by id from the live index; an unknown id fails and removes nothing."""
    ids = list(dict.fromkeys(article_ids))
    options = partial(_live_options, index_dir, 64, False)
    return _write(
        index_dir, None, options, upserts=[], deletes=ids, sync=False, wait=wait, merge=merge
    )


def _live_options(
    index_dir: Path, batch_size: int, progress: bool, manifest: Manifest | None
) -> _Options:
    """A write's options for an index that must exist: its own chunking and BM25 settings."""
    if manifest is None:
        open_catalog(index_dir, readonly=True)  # raises IndexMissing with its advice
        raise IndexMissing(f"no index at {index_dir}")
    return _Options(manifest.chunking, manifest.lexical, batch_size, progress, None)
