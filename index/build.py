"""Write index generations: build, sync, add and remove, re-embedding only what changed.

Every write makes a new generation from the live one: the SQLite store is copied, FAISS vectors
of unchanged passages are kept, passages of new or changed articles (by a hash of their title and
text) are chunked and embedded, removed ones dropped, and the BM25 postings of removed passages
are dropped and those of new ones appended (no other passage is re-read). Bad input fails before
anything is embedded.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from index.article import Article, date_range
from index.chunk import ChunkSettings, Passage, chunk_article, embed_text, title_prefix
from index.embed import Embedder
from index.errors import (
    ArticleExists,
    ArticleNotFound,
    CorpusError,
    IndexCorrupt,
    IndexMismatch,
    IndexMissing,
    IndexStoreError,
)
from index.lexical import Analyzer, LexicalIndex, LexicalSettings
from index.manifest import Manifest, read_manifest, write_manifest
from index.store import (
    CURRENT,
    LEXICAL,
    SCHEMA,
    STORE,
    VECTORS,
    current_generation,
    new_generation,
    open_store,
    pack_text,
    unpack_text,
    writer_lock,
)
from index.upgrade import upgrade, upgrade_locked
from index.vectors import (
    VECTOR_INDEXES,
    all_vectors,
    describe,
    kind_described,
    kind_of,
    new_index,
    remove_ids,
)

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
    vectors: str | None = None  # the kind of vector index (index.vectors); None: keep, or flat


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


def _live(index_dir: Path, *, rebuild: bool = False) -> tuple[Path, Manifest] | None:
    """The live generation, if any; with `rebuild`, a damaged or outdated one counts as none."""
    try:
        generation = current_generation(index_dir)
        return generation, read_manifest(generation)
    except IndexMissing:
        return None
    except (IndexMismatch, IndexCorrupt):
        if rebuild:  # `index` builds everything anew rather than refuse
            return None
        raise


def _compatible(manifest: Manifest, embedder: Embedder | None, options: _Options) -> bool:
    if embedder is None:  # removal only: nothing is embedded, the live model stays
        return True
    return (manifest.model_id, manifest.dim, manifest.chunking, manifest.lexical) == (
        embedder.model_id, embedder.dim, options.settings, options.lexical,
    )  # fmt: skip


class _Writer:
    """One generation being written from the live one."""

    def __init__(
        self, staging: Path, base: Path | None, dim: int, kind: str | None, lexical: LexicalSettings
    ) -> None:
        import faiss

        self.staging = staging
        self.dim = dim
        self.kind = kind or "flat"
        self.vectors: Any = None  # made when the first vectors arrive (IVF trains on them)
        self.lexical = LexicalIndex.from_terms([], np.zeros(0, np.int64), lexical)
        self._removed: list[np.ndarray] = []
        if base is not None:
            shutil.copyfile(base / STORE, staging / STORE)
            self.lexical = LexicalIndex.load(base / LEXICAL, lexical)
            self.vectors = faiss.read_index(str(base / VECTORS))
            self.kind = kind or kind_of(self.vectors)
            if kind_of(self.vectors) != self.kind:  # converted from the stored vectors
                ids, stored = all_vectors(self.vectors)
                self.vectors = None
                self.add_vectors(stored, ids)
        self.conn = open_store(staging / STORE, readonly=False)
        if base is None:
            self.conn.executescript(SCHEMA)

    def existing(self) -> dict[str, tuple[int, str]]:
        rows = self.conn.execute("SELECT id, rowid, content_hash FROM articles")
        return {aid: (rowid, digest) for aid, rowid, digest in rows}

    def remove(self, rowid: int) -> None:
        """Drop an article's passages (rows and vectors) and the article."""
        ids = [
            r[0]
            for r in self.conn.execute("SELECT id FROM passages WHERE article_rowid = ?", (rowid,))
        ]
        if ids:
            self._removed.append(np.asarray(ids, dtype=np.int64))
        self.conn.execute("DELETE FROM articles WHERE rowid = ?", (rowid,))

    def _flush_removals(self) -> None:
        """Remove collected ids in one go (HNSW rebuilds its graph for a removal), before any
        addition: a new passage may take the id of a removed one."""
        if self._removed:
            removed = np.concatenate(self._removed)
            if self.vectors is not None:
                self.vectors = remove_ids(self.vectors, removed)
            self.lexical = self.lexical.without(removed)
        self._removed = []

    def add_vectors(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Add vectors under passage ids, making the index (trained on them) if there is none."""
        self._flush_removals()
        if self.vectors is None and len(ids):
            self.vectors = new_index(self.kind, self.dim, vectors)
        if len(ids):
            self.vectors.add_with_ids(vectors, ids)

    def known_vectors(
        self, rowids: list[int], embedder: Embedder, settings: ChunkSettings
    ) -> dict[str, np.ndarray]:
        """The stored vectors of these articles' passages, by the exact text that was embedded.

        An edited article keeps the vectors of its unchanged passages (same text, same title).
        """
        if not rowids or self.vectors is None:
            return {}
        marks = ",".join("?" * len(rowids))
        rows = self.conn.execute(
            "SELECT p.id, p.start, p.end, a.rowid, a.title, a.body FROM passages p "
            f"JOIN articles a ON a.rowid = p.article_rowid WHERE a.rowid IN ({marks})",
            rowids,
        ).fetchall()
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
        stored = self.vectors.reconstruct_batch(np.fromiter(texts.values(), dtype=np.int64))
        return {text: stored[i] for i, text in enumerate(texts)}

    def upsert_metadata(self, article: Article, rowid: int | None) -> int:
        """Insert a new article, or update the metadata of one whose text is unchanged (an
        article whose text changed is removed and inserted anew), so only new texts are packed."""
        values = _metadata(article)
        if rowid is None:
            cursor = self.conn.execute(
                f"INSERT INTO articles ({_METADATA}, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*values, pack_text(article.text)),
            )
            rowid = int(cursor.lastrowid or 0)
        else:
            self.conn.execute(
                "UPDATE articles SET id = ?, title = ?, source = ?, author = ?, date = ?, "
                "url = ?, tags = ?, date_start = ?, date_end = ?, content_hash = ? "
                "WHERE rowid = ?",
                (*values, rowid),
            )
            self.conn.execute("DELETE FROM article_tags WHERE article_rowid = ?", (rowid,))
        self.conn.executemany(
            "INSERT INTO article_tags (article_rowid, tag) VALUES (?, ?)",
            [(rowid, tag) for tag in article.tags],
        )
        return rowid

    def add_passages(self, rows: list[tuple[int, Passage, list[str]]], vectors: np.ndarray) -> None:
        """Store passages (rowid, passage, analyzed words) with their vectors."""
        first = int(
            self.conn.execute("SELECT COALESCE(MAX(id), -1) + 1 FROM passages").fetchone()[0]
        )
        ids = np.arange(first, first + len(rows), dtype=np.int64)
        self.conn.executemany(
            "INSERT INTO passages (id, article_rowid, ordinal, start, end) VALUES (?, ?, ?, ?, ?)",
            [(int(pid), rowid, p.ordinal, p.start, p.end)
             for pid, (rowid, p, _) in zip(ids, rows, strict=True)],
        )  # fmt: skip
        self.add_vectors(vectors, ids)
        self.lexical = self.lexical.plus([terms for _, _, terms in rows], ids)

    def finish(self) -> tuple[int, int]:
        """Write vectors and the BM25 index; return (articles, passages)."""
        import faiss

        self._flush_removals()
        if self.vectors is None:  # no passages yet: an empty exact index (nothing to train on)
            kind = self.kind if self.kind.startswith("flat") else "flat"
            self.vectors = new_index(kind, self.dim, np.zeros((0, self.dim), np.float32))
        self.conn.commit()
        passages = int(self.conn.execute("SELECT COUNT(*) FROM passages").fetchone()[0])
        if not passages == self.vectors.ntotal == len(self.lexical):
            raise CorpusError("internal: passages, vectors and words disagree; nothing was changed")
        self.lexical.save(self.staging / LEXICAL)
        faiss.write_index(self.vectors, str(self.staging / VECTORS))
        count = int(self.conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0])
        self.conn.close()
        return count, passages


# Every column of the articles table but the packed text, which content_hash stands for.
_METADATA = "id, title, source, author, date, url, tags, date_start, date_end, content_hash"


def _metadata(article: Article) -> tuple:
    """An article's row of the articles table, the columns of _METADATA."""
    start, end = date_range(article.date)
    return (
        article.id, article.title, article.source, article.author, article.date, article.url,
        json.dumps(list(article.tags), ensure_ascii=False), start, end, content_hash(article),
    )  # fmt: skip


def _holds_exactly(generation: Path, articles: list[Article]) -> bool:
    """Whether a generation holds these articles, as they are, and no others."""
    conn = open_store(generation / STORE, readonly=True)
    try:
        stored = {tuple(row) for row in conn.execute(f"SELECT {_METADATA} FROM articles")}
    finally:
        conn.close()
    return stored == {_metadata(a) for a in articles}


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
    options: _Options,
    *,
    upserts: list[Article],
    deletes: list[str],
    sync: bool,
    wait: float,
    replace: bool = True,
) -> BuildReport:
    started = time.perf_counter()
    with writer_lock(index_dir, wait=wait):
        upgrade_locked(index_dir)  # an older format becomes current, keeping its vectors
        live = _live(index_dir, rebuild=sync)
        base = None
        if live is not None:
            if _compatible(live[1], embedder, options):
                base = live[0]
            elif not sync and embedder is not None:
                live[1].check(model_id=embedder.model_id, dim=embedder.dim, index_dir=index_dir)
                raise IndexMismatch(
                    f"the index at {index_dir} was built with other chunking or BM25 settings; "
                    f"rebuild it with `policy-search index --index-dir {index_dir}`"
                )
        if embedder is not None:
            model_id, dim = embedder.model_id, embedder.dim
        elif live is not None:
            model_id, dim = live[1].model_id, live[1].dim
        else:
            raise IndexMissing(f"no index at {index_dir}")
        same_kind = options.vectors in (None, kind_described(live[1].faiss_index) if live else None)
        if sync and live and base and same_kind and not deletes and _holds_exactly(base, upserts):
            # Nothing to do: no new generation (`make serve` syncs corpus/ on every start).
            return BuildReport(
                index_dir, live[1].generation, live[1].articles, live[1].passages,
                time.perf_counter() - started, unchanged=len(upserts),
            )  # fmt: skip
        with new_generation(index_dir) as (number, staging):
            writer = _Writer(staging, base, dim, options.vectors, options.lexical)
            report = _apply(writer, embedder, options, upserts, deletes, sync, replace)
            articles, passages = writer.finish()
            write_manifest(
                staging,
                Manifest(
                    model_id=model_id, dim=dim, chunking=options.settings,
                    lexical=options.lexical, articles=articles, passages=passages,
                    generation=number, built_at=datetime.now(UTC).isoformat(timespec="seconds"),
                    build_seconds=round(time.perf_counter() - started, 2),
                    faiss_index=describe(writer.vectors),
                ),
            )  # fmt: skip
    return BuildReport(
        index_dir, number, articles, passages, time.perf_counter() - started, **report
    )


def _apply(
    writer: _Writer,
    embedder: Embedder | None,
    options: _Options,
    upserts: list[Article],
    deletes: list[str],
    sync: bool,
    replace: bool = True,
) -> dict:
    existing = writer.existing()
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
    vectors = np.zeros((0, writer.dim), dtype=np.float32)
    embedded = 0
    if changed:
        if embedder is None:
            raise CorpusError("internal: articles to embed but no embedding model")
        chunks, texts = _chunk(changed, embedder, options)
        if options.on_chunked:
            options.on_chunked(len(changed), len(chunks))
        replaced = [existing[a.id][0] for a in changed if a.id in existing]
        known = writer.known_vectors(replaced, embedder, options.settings)
        fresh = [i for i, text in enumerate(texts) if text not in known]
        vectors = np.zeros((len(texts), writer.dim), dtype=np.float32)
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
        writer.remove(existing[aid][0])
    rowids: dict[str, int] = {}
    for article in upserts:
        old = existing.get(article.id)
        if old is not None and article.id in changed_ids:
            writer.remove(old[0])
            old = None
        rowids[article.id] = writer.upsert_metadata(article, old[0] if old else None)
    rows = [(rowids[a.id], p, terms) for a, p, terms in chunks]
    writer.add_passages(rows, vectors)
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
) -> BuildReport:
    """Make the index hold exactly `articles`, embedding only new or changed ones.

    `vectors`: the kind of vector index (index.vectors.VECTOR_INDEXES); None keeps the live
    index's kind (flat for a new index). Changing kind converts the stored vectors, re-embedding
    nothing.
    """
    kept = _unique(articles)
    if not kept:
        raise CorpusError("no articles found: nothing to index")
    options = _options(settings, lexical, batch_size, progress, on_chunked, vectors)
    return _write(index_dir, embedder, options, upserts=kept, deletes=[], sync=True, wait=wait)


def add_articles(
    articles: Iterable[Article],
    index_dir: Path,
    embedder: Embedder,
    *,
    batch_size: int = 64,
    progress: bool = False,
    wait: float = WRITER_WAIT,
    replace: bool = True,
) -> BuildReport:
    """Add articles to the live index (which must exist, built with this model).

    An article whose id is there replaces it, or with `replace=False` fails with ArticleExists
    (checked under the writer lock, so two concurrent adds of one id cannot both succeed).
    """
    kept = _unique(articles)
    if not kept:
        raise CorpusError("no articles given: nothing to add")
    options = _from_live(index_dir, batch_size, progress, wait)
    return _write(
        index_dir, embedder, options, upserts=kept, deletes=[], sync=False, wait=wait,
        replace=replace,
    )  # fmt: skip


def remove_articles(
    article_ids: Iterable[str], index_dir: Path, *, wait: float = WRITER_WAIT
) -> BuildReport:
    """Remove articles by id from the live index; an unknown id fails and removes nothing."""
    ids = list(dict.fromkeys(article_ids))
    options = _from_live(index_dir, 64, False, wait)
    return _write(index_dir, None, options, upserts=[], deletes=ids, sync=False, wait=wait)


def _from_live(index_dir: Path, batch_size: int, progress: bool, wait: float) -> _Options:
    if (index_dir / CURRENT).exists():
        upgrade(index_dir, wait=wait)  # so that an older format's manifest can be read
    live = _live(index_dir)
    if live is None:
        current_generation(index_dir)  # raises IndexMissing with its advice
        raise IndexMissing(f"no index at {index_dir}")
    manifest = live[1]
    return _Options(manifest.chunking, manifest.lexical, batch_size, progress, None)
