"""Build an index generation from articles: read → chunk → embed → store."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from index.article import Article
from index.chunk import ChunkSettings, Passage, chunk_article, embed_text, title_prefix
from index.embed import Embedder
from index.errors import CorpusError
from index.lexical import LexicalIndex, LexicalSettings
from index.manifest import Manifest, write_manifest
from index.store import LEXICAL, SCHEMA, STORE, VECTORS, new_generation, open_store, writer_lock

__all__ = ["BuildReport", "build_index"]


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a build did."""

    index_dir: Path
    generation: int
    articles: int
    passages: int
    seconds: float


def _chunk_all(
    articles: Iterable[Article], embedder: Embedder, settings: ChunkSettings
) -> tuple[list[Article], list[Passage], list[str]]:
    """Read and chunk everything first, so bad input fails before minutes of embedding."""
    kept: list[Article] = []
    passages: list[Passage] = []
    texts: list[str] = []
    seen: set[str] = set()
    for article in articles:
        if article.id in seen:
            raise CorpusError(f"duplicate article id {article.id!r}")
        seen.add(article.id)
        kept.append(article)
        chunks = chunk_article(article, embedder, settings)
        prefix = title_prefix(article, embedder, settings)
        passages.extend(chunks)
        texts.extend(embed_text(prefix, p.text) for p in chunks)
    if not kept:
        raise CorpusError("no articles found: nothing to index")
    return kept, passages, texts


def _write_store(path: Path, articles: list[Article], passages: list[Passage]) -> None:
    conn = open_store(path, readonly=False)
    try:
        conn.executescript(SCHEMA)
        rowids: dict[str, int] = {}
        for rowid, a in enumerate(articles, start=1):
            rowids[a.id] = rowid
            conn.execute(
                "INSERT INTO articles (rowid, id, title, text, source, author, date, url, tags)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (rowid, a.id, a.title, a.text, a.source, a.author, a.date, a.url,
                 json.dumps(list(a.tags), ensure_ascii=False)),
            )  # fmt: skip
        conn.executemany(
            "INSERT INTO passages (id, article_rowid, ordinal, start, end) VALUES (?, ?, ?, ?, ?)",
            (
                (pid, rowids[p.article_id], p.ordinal, p.start, p.end)
                for pid, p in enumerate(passages)
            ),
        )
        conn.commit()
    finally:
        conn.close()


def _write_vectors(path: Path, vectors: np.ndarray) -> None:
    import faiss

    index = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    index.add_with_ids(vectors, np.arange(len(vectors), dtype=np.int64))
    faiss.write_index(index, str(path))


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
) -> BuildReport:
    """Build a new generation from `articles` and make it live; the old one stays on failure."""
    settings = settings or ChunkSettings()
    lexical = lexical or LexicalSettings()
    started = time.perf_counter()
    with writer_lock(index_dir):
        kept, passages, texts = _chunk_all(articles, embedder, settings)
        if on_chunked:
            on_chunked(len(kept), len(passages))
        vectors = embedder.encode(texts, batch_size=batch_size, progress=progress)
        with new_generation(index_dir) as (number, staging):
            _write_store(staging / STORE, kept, passages)
            _write_vectors(staging / VECTORS, vectors)
            ids = np.arange(len(passages), dtype=np.int64)
            LexicalIndex.build(texts, ids, lexical).save(staging / LEXICAL)
            write_manifest(
                staging,
                Manifest(
                    model_id=embedder.model_id,
                    dim=embedder.dim,
                    chunking=settings,
                    lexical=lexical,
                    articles=len(kept),
                    passages=len(passages),
                    generation=number,
                    built_at=datetime.now(UTC).isoformat(timespec="seconds"),
                    build_seconds=round(time.perf_counter() - started, 2),
                ),
            )
    return BuildReport(index_dir, number, len(kept), len(passages), time.perf_counter() - started)
