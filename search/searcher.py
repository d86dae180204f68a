"""Answer queries over a built index."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from index.embed import Embedder
from index.errors import IndexCorrupt
from index.manifest import Manifest, read_manifest
from index.store import STORE, VECTORS, current_generation, open_store
from search.errors import ArticleNotFound, QueryError
from search.highlight import highlight_spans

__all__ = [
    "MAX_K",
    "MAX_QUERY_CHARS",
    "ArticleRecord",
    "Hit",
    "Mode",
    "SearchResult",
    "Searcher",
]

MAX_QUERY_CHARS = 1000
MAX_K = 100
MAX_OFFSET = 10_000
Mode = Literal["dense"]
MODES: tuple[str, ...] = ("dense",)


@dataclass(frozen=True, slots=True)
class ArticleRecord:
    """An article's metadata, and its text when asked for."""

    id: str
    title: str
    source: str | None
    author: str | None
    date: str | None
    url: str | None
    tags: tuple[str, ...]
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked passage with its article."""

    rank: int
    score: float
    passage_id: int
    start: int
    end: int
    text: str
    highlights: list[tuple[int, int]]
    article: ArticleRecord


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The answer to one query."""

    query: str
    mode: str
    took_ms: float
    total: int
    hits: list[Hit]


def check_query(query: str, *, k: int, offset: int = 0, mode: str = "dense") -> str:
    """Validate a query and its options; return the query stripped of outer whitespace."""
    if not isinstance(query, str) or not query.strip():
        raise QueryError("the query is empty: give some words to search for")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is {len(query)} characters; the limit is {MAX_QUERY_CHARS}")
    if not 1 <= k <= MAX_K:
        raise QueryError(f"k must be between 1 and {MAX_K}, not {k}")
    if not 0 <= offset <= MAX_OFFSET:
        raise QueryError(f"offset must be between 0 and {MAX_OFFSET}, not {offset}")
    if mode not in MODES:
        raise QueryError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    return query.strip()


class Searcher:
    """Searches one index generation; cheap to share between threads."""

    def __init__(self, index_dir: Path, generation: Path, embedder: Embedder) -> None:
        import faiss

        self.index_dir = index_dir
        self.generation_dir = generation
        self.embedder = embedder
        self.manifest: Manifest = read_manifest(generation)
        self.manifest.check(model_id=embedder.model_id, dim=embedder.dim, index_dir=index_dir)
        try:
            self._vectors = faiss.read_index(str(generation / VECTORS))
        except RuntimeError as exc:
            raise IndexCorrupt(
                f"{generation / VECTORS} is unreadable ({str(exc).splitlines()[0]}); "
                f"rebuild with `policy-search index --index-dir {index_dir}`"
            ) from None
        if self._vectors.d != embedder.dim or self._vectors.ntotal != self.manifest.passages:
            raise IndexCorrupt(
                f"{generation / VECTORS} does not match its manifest; rebuild with "
                f"`policy-search index --index-dir {index_dir}`"
            )
        self._db_path = generation / STORE
        open_store(self._db_path, readonly=True).close()
        self._local = threading.local()

    @classmethod
    def load(cls, index_dir: Path, embedder: Embedder) -> Searcher:
        """Open the live generation of `index_dir`, checking it against the embedder."""
        return cls(index_dir, current_generation(index_dir), embedder)

    @property
    def generation(self) -> int:
        """The number of the generation being searched."""
        return self.manifest.generation

    def _db(self):  # one read-only connection per thread
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = open_store(self._db_path, readonly=True)
        return conn

    def dense(self, vectors: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-`n` passage ids and cosine scores for each query vector."""
        n = min(n, self._vectors.ntotal)
        if n == 0:
            empty = np.zeros((len(vectors), 0))
            return empty.astype(np.int64), empty.astype(np.float32)
        scores, ids = self._vectors.search(np.ascontiguousarray(vectors, dtype=np.float32), n)
        return ids, scores

    def search(
        self, query: str, *, k: int = 10, offset: int = 0, mode: str = "dense"
    ) -> SearchResult:
        """Rank passages for `query`; return hits `offset..offset+k`."""
        started = time.perf_counter()
        query = check_query(query, k=k, offset=offset, mode=mode)
        vector = self.embedder.encode([query])
        ids, scores = self.dense(vector, offset + k)
        pairs = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
        hits = self.hits(query, pairs[offset : offset + k], first_rank=offset + 1)
        took = (time.perf_counter() - started) * 1000
        return SearchResult(query, mode, round(took, 2), self._vectors.ntotal, hits)

    def hits(self, query: str, ranked: list[tuple[int, float]], *, first_rank: int) -> list[Hit]:
        """Turn (passage id, score) pairs into hits with text, highlights and article."""
        if not ranked:
            return []
        marks = ",".join("?" * len(ranked))
        rows = self._db().execute(
            "SELECT p.id AS pid, p.start, p.end, a.* FROM passages p "
            f"JOIN articles a ON a.rowid = p.article_rowid WHERE p.id IN ({marks})",
            [pid for pid, _ in ranked],
        )
        by_id = {row["pid"]: row for row in rows}
        hits = []
        for rank, (pid, score) in enumerate(ranked, start=first_rank):
            row = by_id.get(pid)
            if row is None:
                continue
            text = row["text"][row["start"] : row["end"]]
            hits.append(
                Hit(rank, score, pid, row["start"], row["end"], text,
                    highlight_spans(query, text), _article(row, with_text=False))
            )  # fmt: skip
        return hits

    def passage_articles(self) -> dict[int, str]:
        """Every passage id with its article id (for evaluation over a whole index)."""
        rows = self._db().execute(
            "SELECT p.id, a.id FROM passages p JOIN articles a ON a.rowid = p.article_rowid"
        )
        return {int(pid): str(aid) for pid, aid in rows}

    def article(self, article_id: str) -> ArticleRecord:
        """The whole article, or ArticleNotFound."""
        row = self._db().execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
        if row is None:
            raise ArticleNotFound(f"no article with id {article_id!r}")
        return _article(row, with_text=True)

    def close(self) -> None:
        """Close this thread's database connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _article(row, *, with_text: bool) -> ArticleRecord:
    return ArticleRecord(
        id=row["id"],
        title=row["title"],
        source=row["source"],
        author=row["author"],
        date=row["date"],
        url=row["url"],
        tags=tuple(json.loads(row["tags"])),
        text=row["text"] if with_text else None,
    )
