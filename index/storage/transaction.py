"""One write's transaction: a writer's recorded changes applied to the catalog, with new
passages in one new segment, re-embedding only what changed.

A write costs what it changes: the passages of new or changed articles (by a hash of their
title and text) are chunked and embedded into one new small segment, the passages of removed or
replaced ones become tombstones. An edited article keeps the vectors of its unchanged passages.
Bad input fails before anything is embedded. Used by policy_search.index.storage.writer, inside its
catalog transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from policy_search.index.analysis.chunk import (
    ChunkSettings,
    Passage,
    chunk_article,
    embed_text,
    title_prefix,
)
from policy_search.index.analysis.countries import detector
from policy_search.index.analysis.embed import Embedder
from policy_search.index.defaults import APPROXIMATE_ABOVE
from policy_search.index.errors import (
    ArticleExists,
    ArticleNotFound,
    CorpusError,
    IndexInternalError,
)
from policy_search.index.readers.article import Article, date_range
from policy_search.index.storage.alerts import (
    NewPassages,
    Percolator,
    new_passages,
    percolate,
)
from policy_search.index.storage.catalog import Catalog, SegmentRow, pack_text, unpack_text
from policy_search.index.storage.lexical import Analyzer, LexicalIndex, LexicalSettings
from policy_search.index.storage.manifest import Manifest
from policy_search.index.storage.merge import merge_into
from policy_search.index.storage.segment import (
    LiveSegment,
    StagedSegment,
    read_vectors,
    segment_ids,
    write_segment,
)
from policy_search.index.storage.store import (
    new_segment_name,
    read_quantizer,
    save_quantizer,
    segments_dir,
    write_manifest,
)
from policy_search.index.storage.vectors import VectorKind, vector_kind

__all__ = [
    "Changes", "Embedding", "Pending", "Prepared", "PreparedArticle", "Transaction",
    "WriteOptions", "content_hash", "metadata", "prepare_article", "unique",
]  # fmt: skip

Chunk = tuple[Article, Passage, list[str]]  # an article's passage and its analysed terms


def content_hash(article: Article) -> str:
    """Hash of what is embedded: a change here means new passages and vectors."""
    return hashlib.sha256(f"{article.title}\x00{article.text}".encode()).hexdigest()


# Every column of the articles table but the packed text, which content_hash stands for.
def metadata(article: Article) -> tuple:
    """An article's row of the articles table (policy_search.index.storage.catalog.METADATA's
    columns)."""
    start, end = date_range(article.date)
    return (
        article.id, article.title, article.source, article.author, article.date, article.url,
        json.dumps(list(article.tags), ensure_ascii=False), start, end, content_hash(article),
    )  # fmt: skip


def unique(articles: Iterable[Article]) -> list[Article]:
    """The articles, refusing a duplicate id (CorpusError)."""
    kept: dict[str, Article] = {}
    for article in articles:
        if article.id in kept:
            raise CorpusError(f"duplicate article id {article.id!r}")
        kept[article.id] = article
    return list(kept.values())


@dataclass(slots=True)
class Pending:
    """The changes a writer recorded, applied by its commit."""

    upserts: dict[str, Article] = field(default_factory=dict)
    exclusive: set[str] = field(default_factory=set)  # upserted ids that may not replace
    deletes: dict[str, None] = field(default_factory=dict)  # ordered
    keep: set[str] | None = None  # keep_only: the rest of the index goes


@dataclass(frozen=True, slots=True)
class PreparedArticle:
    """One article chunked, analysed and embedded elsewhere (a Ray worker:
    index/distributed/ray_ingest.py): exactly what a transaction would compute for it, made from
    the article whose content hash this is."""

    content_hash: str
    prefix: str  # the title prefix of each embedded text (chunk.title_prefix)
    passages: tuple[Passage, ...]  # in order, ordinals 0, 1, …
    terms: tuple[list[str], ...]  # each passage's analysed terms (lexical.Analyzer.terms)
    vectors: np.ndarray | None = None  # (passages, dim) float32 unit vectors; None: chunks only


@dataclass(frozen=True, slots=True)
class Prepared:
    """Articles prepared elsewhere, by id, with the model and settings they were made with: a
    write uses them only when those are the write's own (else the index would mix models)."""

    model_id: str
    settings: ChunkSettings
    lexical: LexicalSettings
    articles: Mapping[str, PreparedArticle]


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """How a writer chunks, analyses, embeds and stores. None: the live index's own (a new
    index: the defaults, and flat vectors)."""

    settings: ChunkSettings | None = None
    lexical: LexicalSettings | None = None
    vectors: str | None = (
        None  # the kind of vector index (policy_search.index.storage.vectors.KINDS)
    )
    # None above: `flat` vectors until the index holds more passages than this, then approximate
    # ones (writer.AUTOMATIC)
    approximate_above: int = APPROXIMATE_ABOVE
    batch_size: int = 64
    progress: bool = False
    on_chunked: Callable[[int, int], None] | None = None  # (articles, passages) once chunked
    # Chunks and vectors made elsewhere (a sharded build embeds every shard's at once): an
    # article found there with its content hash is neither chunked nor embedded again.
    prepared: Prepared | None = None
    # Ids of new passages chosen by the caller: article id → the id of its first passage (the
    # others follow by ordinal). A sharded build numbers each shard's passages as one index
    # over all shards would (shards.build_sharded). None: the catalog's counter.
    passage_ids: Mapping[str, int] | None = None
    first_passage_id: int = 0  # new passage ids are never below this (a shard: above all shards)
    # Matches new passages against the saved alerts in the write's transaction (alerts.py);
    # None: no matching (a rebuild, tools), the alerts are kept all the same.
    percolator: Percolator | None = None

    def __post_init__(self) -> None:
        if self.vectors is not None:
            vector_kind(self.vectors)  # an unknown kind fails before anything is done


@dataclass(frozen=True, slots=True)
class Embedding:
    """How new passages are chunked, analysed and embedded: the model, the write's chunking and
    BM25 settings (its options' or the live index's), and its options."""

    embedder: Embedder
    settings: ChunkSettings
    lexical: LexicalSettings
    options: WriteOptions


@dataclass(frozen=True, slots=True)
class Changes:
    """What a transaction changed."""

    added: list[str]
    updated: list[str]
    unchanged: int
    removed: list[str]
    embedded: int  # passages embedded
    alerts_matched: int = 0  # matches of saved alerts recorded (alerts.percolate)


class Transaction:
    """One write: catalog changes in one transaction, new passages in one new segment."""

    def __init__(
        self, index_dir: Path, catalog: Catalog, dim: int, kind: VectorKind, quantizer: str | None
    ) -> None:
        self.index_dir = index_dir
        self.catalog = catalog
        self.dim = dim
        self.kind = kind
        self.quantizer = quantizer  # the file of the trained index, for trained kinds
        self.generation = int(catalog.meta("generation", 0)) + 1
        self.dead: list[int] = []
        self.staged: list[StagedSegment] = []
        self.alerts_matched = 0

    def remove(self, rowid: int) -> None:
        """Drop an article; its passages become tombstones."""
        self.dead += self.catalog.remove_article(rowid)

    def trained(self, training: np.ndarray | None) -> object:
        """The trained, empty index of this kind, trained on `training` (once) if none yet."""
        if self.quantizer is None:
            assert training is not None
            self.quantizer = save_quantizer(self.index_dir, self.kind.empty(self.dim, training))
        return read_quantizer(self.index_dir, self.quantizer)

    def stored_vectors(self, ids: list[int]) -> np.ndarray:
        """The vectors of live passages, read from the segments that hold them."""
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        wanted = np.asarray(ids, dtype=np.int64)
        for row in self.catalog.segments():
            directory = segments_dir(self.index_dir) / row.name
            mine = np.isin(wanted, segment_ids(directory))
            if mine.any():
                # (after a conversion, the live segments are this transaction's kind too)
                out[mine] = self.kind.reconstruct(read_vectors(directory), wanted[mine])
        return out

    def stage(self) -> StagedSegment:
        """A new segment's staging folder, held until the commit is done (or discarded)."""
        staged = StagedSegment(segments_dir(self.index_dir), new_segment_name())
        self.staged.append(staged)
        return staged

    def add_segment(self, vectors: np.ndarray, lexical: LexicalIndex, articles: np.ndarray) -> None:
        """Stage a durable segment of these passages, named by this transaction's commit."""
        staged = self.stage()
        trained = self.trained(vectors) if self.kind.trains else None
        index = self.kind.build(self.dim, vectors, lexical.ids, trained)
        files = write_segment(staged.path, index, lexical, articles)
        staged.publish()
        # Deletions up to the generation before this one are left out; this commit's apply.
        self.catalog.add_segment(SegmentRow(staged.name, len(lexical), files, self.generation - 1))

    def convert(self, manifest: Manifest) -> None:
        """Merge every live segment into one of this transaction's kind (merge.merge_into)."""
        rows = self.catalog.segments()
        if not rows:
            return
        deleted = self.catalog.deletions(-1)[0]
        root = segments_dir(self.index_dir)
        parts = [LiveSegment.open(root, row, manifest, deleted, checksums=False) for row in rows]
        staged = self.stage()
        merged = merge_into(staged, parts, self.kind, manifest, self.trained)
        for part in parts:
            part.segment.close()
        self.catalog.drop_segments([r.name for r in rows])
        self.catalog.forget_deletions(merged.dropped.tolist())
        row = SegmentRow(staged.name, merged.passages, merged.files, self.generation - 1)
        self.catalog.add_segment(row)

    def commit_manifest(self, manifest: Manifest) -> int:
        """Record the manifest and deletions; the new generation."""
        self.catalog.add_deletions(self.dead, self.generation)
        return write_manifest(self.catalog, manifest)

    def apply(self, pending: Pending, embedding: Embedding | None) -> Changes:
        """Check the pending changes, embed what changed, and write it all in the catalog."""
        upserts = list(pending.upserts.values())
        deletes = list(pending.deletes)
        wanted = None if pending.keep is not None else [a.id for a in upserts] + deletes
        existing = self.catalog.existing(wanted)
        taken = [a.id for a in upserts if a.id in existing and a.id in pending.exclusive]
        if taken:
            raise ArticleExists(f"an article with id {taken[0]!r} exists; replace it instead")
        missing = [aid for aid in deletes if aid not in existing]
        if missing:
            raise ArticleNotFound(f"no article with id {missing[0]!r} in the index")
        removed = deletes + self._dropped(pending, existing)
        changed = [a for a in upserts if existing.get(a.id, (0, ""))[1] != content_hash(a)]
        chunks: list[Chunk] = []
        vectors = np.zeros((0, self.dim), dtype=np.float32)
        embedded = 0
        if changed:
            if embedding is None:
                raise IndexInternalError("articles to embed but no embedding model")
            replaced = [existing[a.id][0] for a in changed if a.id in existing]
            chunks, vectors, embedded = self._embed(changed, replaced, embedding)
        for aid in removed:
            self.remove(existing[aid][0])
        rowids = self._upsert_rows(upserts, existing, {a.id for a in changed})
        if chunks:
            self._add_passages(chunks, vectors, rowids, embedding)
        return Changes(
            added=[a.id for a in changed if a.id not in existing],
            updated=[a.id for a in changed if a.id in existing],
            unchanged=len(upserts) - len(changed), removed=removed, embedded=embedded,
            alerts_matched=self.alerts_matched,
        )  # fmt: skip

    @staticmethod
    def _dropped(pending: Pending, existing: dict[str, tuple[int, str]]) -> list[str]:
        """The articles a `keep_only` drops (none without one)."""
        if pending.keep is None:
            return []
        kept = pending.keep | set(pending.upserts) | set(pending.deletes)
        return [aid for aid in existing if aid not in kept]

    def _embed(
        self, changed: list[Article], replaced: list[int], embedding: Embedding
    ) -> tuple[list[Chunk], np.ndarray, int]:
        """Chunks of the changed articles, their vectors and how many were embedded anew."""
        chunks, texts, given = _chunk(changed, embedding)
        if embedding.options.on_chunked:
            embedding.options.on_chunked(len(changed), len(chunks))
        known = self._known_vectors(replaced, embedding)
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        fresh: list[int] = []
        for i, text in enumerate(texts):
            if text in known:  # a stored vector first: a local write would keep it too
                vectors[i] = known[text]
            elif i in given:
                vectors[i] = given[i]
            else:
                fresh.append(i)
        embedded = len(fresh) + sum(1 for i in given if texts[i] not in known)
        if fresh:
            vectors[fresh] = _encode([texts[i] for i in fresh], embedding)
        return chunks, vectors, embedded

    def _known_vectors(self, rowids: list[int], embedding: Embedding) -> dict[str, np.ndarray]:
        """The stored vectors of these articles' passages, by the exact text that was embedded.

        An edited article keeps the vectors of its unchanged passages (same text, same title).
        """
        rows = self.catalog.passage_texts(rowids)
        articles: dict[int, tuple[str, str]] = {}  # rowid → (title prefix, text), unpacked once
        texts: dict[str, int] = {}
        for pid, start, end, rowid, title, body in rows:
            if rowid not in articles:
                stub = Article(id=str(rowid), title=title, text=unpack_text(body))
                prefix = title_prefix(stub, embedding.embedder, embedding.settings)
                articles[rowid] = (prefix, stub.text)
            prefix, text = articles[rowid]
            texts[embed_text(prefix, text[start:end])] = pid
        if not texts:
            return {}
        stored = self.stored_vectors(list(texts.values()))
        return {text: stored[i] for i, text in enumerate(texts)}

    def _upsert_rows(
        self, upserts: list[Article], existing: dict[str, tuple[int, str]], changed: set[str]
    ) -> dict[str, int]:
        """Write the upserted articles' rows (a changed one anew); their rowids by id."""
        rowids: dict[str, int] = {}
        for article in upserts:
            old = existing.get(article.id)
            if old is not None and article.id in changed:
                self.remove(old[0])
                old = None
            body = None if old else pack_text(article.text)
            rowids[article.id] = self.catalog.upsert_article(
                metadata(article), body, old[0] if old else None
            )
        return rowids

    def _add_passages(
        self,
        chunks: list[Chunk],
        vectors: np.ndarray,
        rowids: dict[str, int],
        embedding: Embedding | None,
    ) -> None:
        """Record new passages and stage their segment."""
        assert embedding is not None
        ids = self._passage_ids(chunks, embedding.options)
        self.catalog.add_passages(
            [(int(pid), rowids[a.id], p.ordinal, p.start, p.end)
             for pid, (a, p, _) in zip(ids, chunks, strict=True)]
        )  # fmt: skip
        detect = detector().detect  # every write path adds passages here, so all get countries
        countries = [detect(p.text) for _, p, _ in chunks]
        self.catalog.add_passage_countries(
            (int(pid), code, rowids[a.id])
            for pid, (a, _, _), named in zip(ids, chunks, countries, strict=True)
            for code in named
        )  # fmt: skip
        if embedding.options.percolator is not None:
            self._percolate(embedding.options.percolator, chunks, ids, vectors, countries,
                            embedding.lexical)  # fmt: skip
        lexical = LexicalIndex.from_terms([t for _, _, t in chunks], ids, embedding.lexical)
        articles = np.fromiter((rowids[a.id] for a, _, _ in chunks), np.int64, len(chunks))
        self.add_segment(vectors, lexical, articles)

    def _percolate(
        self,
        percolator: Percolator,
        chunks: list[Chunk],
        ids: np.ndarray,
        vectors: np.ndarray,
        countries: list[list[str]],
        analysis: LexicalSettings,
    ) -> None:
        """Match the new passages against the saved alerts, with BM25's statistics of the
        index as this write leaves it (its tombstones so far, these passages)."""
        terms = [t for _, _, t in chunks]
        dead = list(self.dead)
        root = segments_dir(self.index_dir)

        def passages() -> NewPassages:
            stats = percolator.stats.after(self.catalog, root, analysis, dead, terms)
            return new_passages(chunks, ids, vectors, countries, analysis, stats)

        self.alerts_matched += percolate(self.catalog, percolator, self.generation, passages)

    def add_prepared(
        self,
        chunks: list[Chunk],
        vectors: np.ndarray,
        rowids: dict[str, int],
        embedding: Embedding,
    ) -> None:
        """Record passages chunked and embedded elsewhere (a streamed build: index/storage/bulk.py),
        whose articles' rows are written, and stage their segment."""
        self._add_passages(chunks, vectors, rowids, embedding)

    def _passage_ids(self, chunks: list[Chunk], options: WriteOptions) -> np.ndarray:
        """The new passages' ids: the caller's (options.passage_ids), or the counter's."""
        if options.passage_ids is None:
            return self.catalog.new_passage_ids(len(chunks), floor=options.first_passage_id)
        try:
            ids = np.fromiter(
                (options.passage_ids[a.id] + p.ordinal for a, p, _ in chunks), np.int64, len(chunks)
            )
        except KeyError as missing:
            raise IndexInternalError(f"no passage id given for article {missing}") from None
        if len(ids) and int(ids.min()) < options.first_passage_id:
            raise IndexInternalError("a passage id given is below first_passage_id")
        self.catalog.claim_passage_ids(ids)
        return ids


def _encode(texts: list[str], embedding: Embedding) -> np.ndarray:
    """The model's vectors of these texts."""
    options = embedding.options
    return embedding.embedder.encode(
        texts, batch_size=options.batch_size, progress=options.progress
    )


def _chunk(
    articles: list[Article], embedding: Embedding
) -> tuple[list[Chunk], list[str], dict[int, np.ndarray]]:
    """Chunk first: bad input fails before minutes of embedding. Articles prepared elsewhere
    (options.prepared) come with their chunks and vectors: the vectors by chunk number."""
    analyzer = Analyzer.of(embedding.lexical)
    prepared = _usable(embedding)
    chunks: list[Chunk] = []
    texts: list[str] = []
    given: dict[int, np.ndarray] = {}
    for article in articles:
        ready = prepared.get(article.id)
        if ready is not None and ready.content_hash == content_hash(article):
            for n, (passage, terms) in enumerate(zip(ready.passages, ready.terms, strict=True)):
                if ready.vectors is not None:
                    given[len(chunks)] = ready.vectors[n]
                chunks.append((article, passage, terms))
                texts.append(embed_text(ready.prefix, passage.text))
            continue
        ready = prepare_article(article, embedding.embedder, embedding.settings, analyzer)
        for passage, terms in zip(ready.passages, ready.terms, strict=True):
            chunks.append((article, passage, terms))
            texts.append(embed_text(ready.prefix, passage.text))
    return chunks, texts, given


def prepare_article(
    article: Article, embedder: Embedder, settings: ChunkSettings, analyzer: Analyzer
) -> PreparedArticle:
    """An article's passages and their analysed terms (no vectors): what a write stores for
    it besides vectors, made the one way whether here or on a Ray worker."""
    prefix = title_prefix(article, embedder, settings)
    passages = tuple(chunk_article(article, embedder, settings))
    terms = tuple(analyzer.terms(embed_text(prefix, p.text)) for p in passages)
    return PreparedArticle(content_hash(article), prefix, passages, terms)


def _usable(embedding: Embedding) -> Mapping[str, PreparedArticle]:
    """The prepared articles, when they were made with this write's model and settings."""
    prepared = embedding.options.prepared
    if prepared is None:
        return {}
    made = (prepared.model_id, prepared.settings, prepared.lexical)
    if made != (embedding.embedder.model_id, embedding.settings, embedding.lexical):
        raise IndexInternalError(
            "articles prepared with another model or other settings than this write's"
        )
    return prepared.articles
