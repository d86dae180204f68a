"""Answer queries over a built index: dense (FAISS), lexical (BM25) or hybrid (both, fused)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Literal

import numpy as np

from index.embed import Embedder
from index.errors import IndexCorrupt
from index.lexical import LexicalIndex
from index.manifest import Manifest, read_manifest
from index.store import (
    LEXICAL,
    STORE,
    VECTORS,
    current_generation,
    hold_generation,
    open_store,
    unpack_text,
)
from index.vectors import EXACT_BELOW, kind_of, search_params
from search.cache import QueryCache
from search.errors import ArticleNotFound, QueryError
from search.filters import Filters
from search.fusion import FusionSettings, fuse
from search.highlight import highlight_spans
from search.records import (
    ArticleRecord,
    Explanation,
    Hit,
    IndexStats,
    Ranking,
    SearchResult,
    SimilarArticle,
)

__all__ = [
    "DENSE_FLOOR",
    "MAX_K",
    "MAX_OFFSET",
    "MAX_QUERY_CHARS",
    "MEANING_FLOOR",
    "MODES",
    "ArticleRecord",
    "Explanation",
    "Filters",
    "Hit",
    "IndexStats",
    "Mode",
    "Ranking",
    "SearchResult",
    "Searcher",
    "SimilarArticle",
    "check_query",
    "index_stats",
]

MAX_QUERY_CHARS = 1000
MAX_K = 100
MAX_OFFSET = 10_000
Mode = Literal["hybrid", "dense", "lexical"]
MODES: tuple[str, ...] = ("hybrid", "dense", "lexical")
# The default relevance floor, chosen on SciFact's training judgments (README, "Relevance floor"):
# dense mode shows passages with cosine >= DENSE_FLOOR (keeps every judged relevant pair, drops
# 97.7% of off-topic queries' best hits); hybrid mode shows passages that share a word with the
# query, or, sharing none, have cosine >= MEANING_FLOOR (keeps 99.35% of relevant pairs).
DENSE_FLOOR = 0.12
GROUP_DEPTH = 1000  # candidates per side when grouping, so k distinct articles can be found
MEANING_FLOOR = 0.30


def check_query(query: str, *, k: int, offset: int = 0, mode: str = "hybrid") -> str:
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


def _order(ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Indices that sort by score descending, ties by passage id (a stable order for paging)."""
    return np.lexsort((ids, -scores))


class Searcher:
    """Searches one index generation; safe to share between threads."""

    def __init__(
        self,
        index_dir: Path,
        generation: Path,
        embedder: Embedder,
        *,
        fusion: FusionSettings | None = None,
        queries: QueryCache | None = None,
    ) -> None:
        self.index_dir = index_dir
        self.generation_dir = generation
        self._hold = hold_generation(generation)  # writers keep it on disk while this lives
        self.embedder = embedder
        self.queries = queries or QueryCache(embedder)
        self.fusion = fusion or FusionSettings()
        self.manifest: Manifest = read_manifest(generation)
        self.manifest.check(model_id=embedder.model_id, dim=embedder.dim, index_dir=index_dir)
        self._vectors = self._read_vectors(generation / VECTORS)
        self.vector_kind = kind_of(self._vectors)
        self.lexical = LexicalIndex.load(generation / LEXICAL, self.manifest.lexical)
        if len(self.lexical) != self.manifest.passages:
            raise IndexCorrupt(f"{generation / LEXICAL} does not match its manifest; rebuild")
        self._row_of = np.full(int(self.lexical.ids.max(initial=-1)) + 1, -1, dtype=np.int64)
        self._row_of[self.lexical.ids] = np.arange(len(self.lexical.ids))
        self._db_path = generation / STORE
        self._local = threading.local()
        rows = self._db().execute("SELECT id, article_rowid FROM passages").fetchall()
        self._article_of = np.zeros(len(self._row_of), dtype=np.int64)
        if rows:
            pairs = np.asarray(rows, dtype=np.int64)
            self._article_of[pairs[:, 0]] = pairs[:, 1]

    def _read_vectors(self, path: Path):  # type: ignore[no-untyped-def]
        import faiss

        try:
            vectors = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexCorrupt(
                f"{path} is unreadable ({str(exc).splitlines()[0]}); rebuild with "
                f"`policy-search index --index-dir {self.index_dir}`"
            ) from None
        if vectors.d != self.embedder.dim or vectors.ntotal != self.manifest.passages:
            raise IndexCorrupt(
                f"{path} does not match its manifest; rebuild with "
                f"`policy-search index --index-dir {self.index_dir}`"
            )
        return vectors

    @classmethod
    def load(
        cls,
        index_dir: Path,
        embedder: Embedder,
        *,
        fusion: FusionSettings | None = None,
        queries: QueryCache | None = None,
    ) -> Searcher:
        """Open the live generation of `index_dir`, checking it against the embedder.

        `queries`: a cache of query vectors to share with other searchers of the same model.
        """
        return cls(index_dir, current_generation(index_dir), embedder, fusion=fusion,
                   queries=queries)  # fmt: skip

    @property
    def generation(self) -> int:
        """The number of the generation being searched."""
        return self.manifest.generation

    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = open_store(self._db_path, readonly=True)
        return conn

    # -- ranking -------------------------------------------------------------------------

    def _cosine(self, vector: np.ndarray, ids: np.ndarray) -> np.ndarray:
        if len(ids) == 0:
            return np.zeros(0, dtype=np.float32)
        stored = self._vectors.reconstruct_batch(ids.astype(np.int64))
        return stored @ vector

    def _bm25(self, scores: np.ndarray, ids: np.ndarray) -> np.ndarray:
        rows = self._row_of[ids]
        return np.where(rows >= 0, scores[np.maximum(rows, 0)], 0.0).astype(np.float32)

    def _dense_top(
        self, vector: np.ndarray, n: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        n = min(n, self._vectors.ntotal if allowed is None else len(allowed))
        if n == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        approximate = self.vector_kind not in ("flat", "flat-fp32")
        if allowed is not None and approximate and len(allowed) <= EXACT_BELOW:
            # Graphs and lists lose recall under a filter: score the allowed passages directly.
            scores = self._cosine(vector, allowed)
            top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(n)
            top = top[_order(allowed[top], scores[top])]
            return allowed[top], scores[top]
        params, selector = search_params(self._vectors, allowed)
        scores, ids = self._vectors.search(vector.reshape(1, -1), n, params=params)
        del selector  # kept alive until the search is done
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def _lexical_top(self, scores: np.ndarray, n: int) -> np.ndarray:
        matched = np.flatnonzero(scores > 0)
        if len(matched) > n:
            matched = matched[np.argpartition(-scores[matched], n - 1)[:n]]
        rows = matched[_order(self.lexical.ids[matched], scores[matched])]
        return self.lexical.ids[rows]

    def rank(
        self,
        vector: np.ndarray,
        terms: list[str],
        *,
        mode: str,
        depth: int,
        min_score: float | None = None,
        allowed: np.ndarray | None = None,
    ) -> Ranking:
        """All candidates for a query in rank order, after the relevance floor.

        `allowed` (sorted passage ids) restricts both sides before ranking, so a filtered query
        still finds its best passages among the allowed ones.
        """
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        lexical = self.lexical.scores(terms) if mode != "dense" else None
        if lexical is not None and allowed is not None:
            mask = np.zeros(len(lexical), dtype=bool)
            mask[self._row_of[allowed]] = True
            lexical = np.where(mask, lexical, 0.0).astype(np.float32)
        dense_ids = np.zeros(0, dtype=np.int64)
        dense_scores = np.zeros(0, dtype=np.float32)
        lexical_ids = np.zeros(0, dtype=np.int64)
        if mode != "lexical":
            dense_ids, dense_scores = self._dense_top(vector, depth, allowed)
        if lexical is not None:
            lexical_ids = self._lexical_top(lexical, depth)
        ids = np.unique(np.concatenate([dense_ids, lexical_ids]))
        dense_ranks = _ranks_of(ids, dense_ids)
        lexical_ranks = _ranks_of(ids, lexical_ids)
        cosine = np.zeros(len(ids), dtype=np.float32)
        if mode != "lexical":  # FAISS scored its own candidates; score the lexical side's here
            cosine[dense_ranks > 0] = dense_scores[dense_ranks[dense_ranks > 0] - 1]
            cosine[dense_ranks == 0] = self._cosine(vector, ids[dense_ranks == 0])
        bm25 = self._bm25(lexical, ids) if lexical is not None else np.zeros(len(ids), np.float32)
        if mode == "dense":
            scores = cosine.astype(np.float64)
        elif mode == "lexical":
            scores = bm25.astype(np.float64)
        else:
            scores = fuse(cosine, bm25, dense_ranks, lexical_ranks, self.fusion)
        keep = self._floor(mode, scores, cosine, bm25, min_score)
        ranking = [a[keep] for a in (ids, scores, cosine, bm25, dense_ranks, lexical_ranks)]
        order = _order(ranking[0], ranking[1])
        total = int(keep.sum())
        if lexical is not None and (min_score is None or mode == "lexical"):
            # Every passage with a query word passes; count them all, not only the candidates.
            matched = lexical > 0 if min_score is None else (lexical > 0) & (lexical >= min_score)
            total += int(matched.sum()) - int((keep & (bm25 > 0)).sum())
        ids, scores, cosine, bm25, dense_ranks, lexical_ranks = (a[order] for a in ranking)
        return Ranking(ids, scores, cosine, bm25, dense_ranks, lexical_ranks, total)

    @staticmethod
    def _floor(
        mode: str,
        scores: np.ndarray,
        cosine: np.ndarray,
        bm25: np.ndarray,
        min_score: float | None,
    ) -> np.ndarray:
        """Which candidates are relevant enough to show (see DENSE_FLOOR, MEANING_FLOOR)."""
        if min_score is not None:
            keep = scores >= min_score
        elif mode == "dense":
            keep = cosine >= DENSE_FLOOR
        elif mode == "lexical":
            keep = np.ones(len(scores), dtype=bool)
        else:
            keep = (bm25 > 0) | (cosine >= MEANING_FLOOR)
        if mode == "lexical":
            keep &= bm25 > 0
        return keep

    # -- the public query ----------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        offset: int = 0,
        mode: str = "hybrid",
        explain: bool = False,
        min_score: float | None = None,
        filters: Filters | None = None,
        group: bool = False,
    ) -> SearchResult:
        """Rank passages for `query`; return hits `offset..offset+k` and how many passed.

        With `group`, hits are articles (each with its best passage) and `total` counts articles.
        """
        started = time.perf_counter()
        query = check_query(query, k=k, offset=offset, mode=mode)
        allowed = None
        if filters and filters.active:
            allowed = filters.passage_ids(self._db(), articles=self.manifest.articles)
        vector = self.queries.vector(query) if mode != "lexical" else self._zero()
        terms = self.lexical.analyzer.terms(query)
        depth = max(self.fusion.depth, offset + k, GROUP_DEPTH if group else 0)
        ranking = self.rank(
            vector, terms, mode=mode, depth=depth, min_score=min_score, allowed=allowed
        )
        if group:
            positions, more = self._groups(ranking)
            total = len(positions)
        else:
            positions, more, total = np.arange(len(ranking.ids)), None, ranking.total
        page = positions[offset : offset + k]
        hits = self.hits(
            terms, ranking, page, first_rank=offset + 1, mode=mode, explain=explain, more=more
        )
        took = (time.perf_counter() - started) * 1000
        return SearchResult(query, mode, round(took, 2), total, hits)

    def _groups(self, ranking: Ranking) -> tuple[np.ndarray, dict[int, int]]:
        """Positions of each article's best passage, in rank order, and its other matches."""
        articles = self._article_of[ranking.ids]
        _, first, counts = np.unique(articles, return_index=True, return_counts=True)
        order = np.argsort(first, kind="stable")
        return first[order], {int(p): int(c) - 1 for p, c in zip(first, counts, strict=True)}

    def _zero(self) -> np.ndarray:
        return np.zeros(self.embedder.dim, dtype=np.float32)

    def hits(
        self,
        terms: list[str],
        ranking: Ranking,
        positions: np.ndarray,
        *,
        first_rank: int = 1,
        mode: str = "hybrid",
        explain: bool = False,
        more: dict[int, int] | None = None,
    ) -> list[Hit]:
        """Turn positions of a ranking into hits (ranked from `first_rank`) with their articles."""
        ids = [int(ranking.ids[i]) for i in positions]
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._db().execute(
            "SELECT p.id AS pid, p.start, p.end, a.* FROM passages p "
            f"JOIN articles a ON a.rowid = p.article_rowid WHERE p.id IN ({marks})",
            ids,
        )
        by_id = {row["pid"]: row for row in rows}
        hits = []
        texts: dict[int, str] = {}  # each article's text unpacked once per page
        for rank, (i, pid) in enumerate(zip(positions, ids, strict=True), start=first_rank):
            row = by_id[pid]
            whole = texts.get(row["rowid"])
            if whole is None:
                whole = texts[row["rowid"]] = unpack_text(row["body"])
            text = whole[row["start"] : row["end"]]
            spans = highlight_spans(text, terms, self.lexical.analyzer)
            why = self._explain(ranking, int(i), mode) if explain else None
            hits.append(
                Hit(rank, float(ranking.scores[i]), pid, row["start"], row["end"], text, spans,
                    _article(row, with_text=False), why,
                    more.get(int(i)) if more is not None else None)
            )  # fmt: skip
        return hits

    def _explain(self, ranking: Ranking, i: int, mode: str) -> Explanation:
        return Explanation(
            dense_rank=int(ranking.dense_ranks[i]) or None,
            dense_score=float(ranking.cosine[i]) if mode != "lexical" else None,
            lexical_rank=int(ranking.lexical_ranks[i]) or None,
            lexical_score=float(ranking.bm25[i]) if mode != "dense" else None,
            fusion=self.fusion.method if mode == "hybrid" else "none",
        )

    # -- articles ------------------------------------------------------------------------

    def passage_articles(self) -> dict[int, str]:
        """Every passage id with its article id (for evaluation over a whole index)."""
        rows = self._db().execute(
            "SELECT p.id, a.id FROM passages p JOIN articles a ON a.rowid = p.article_rowid"
        )
        return {int(pid): str(aid) for pid, aid in rows}

    def similar(self, article_id: str, *, k: int = 10) -> list[SimilarArticle]:
        """The `k` articles nearest to this one (by the mean of its passage vectors), not itself."""
        if not 1 <= k <= MAX_K:
            raise QueryError(f"k must be between 1 and {MAX_K}, not {k}")
        row = (
            self._db().execute("SELECT rowid FROM articles WHERE id = ?", (article_id,)).fetchone()
        )
        if row is None:
            raise ArticleNotFound(f"no article with id {article_id!r}")
        own = np.flatnonzero(self._article_of == row[0])
        own = own[np.isin(own, self.lexical.ids)]
        if len(own) == 0:
            return []
        centroid = self._vectors.reconstruct_batch(own.astype(np.int64)).mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        ids, scores = self._dense_top(centroid, len(own) + 20 * k + 50)
        best: dict[int, float] = {}
        for pid, score in zip(ids, scores, strict=True):
            rowid = int(self._article_of[pid])
            if rowid != row[0] and rowid not in best:
                best[rowid] = float(score)
                if len(best) == k:
                    break
        records = self._articles_by_rowid(list(best))
        return [SimilarArticle(records[r], s) for r, s in best.items()]

    def _articles_by_rowid(self, rowids: list[int]) -> dict[int, ArticleRecord]:
        marks = ",".join("?" * len(rowids))
        rows = self._db().execute(f"SELECT * FROM articles WHERE rowid IN ({marks})", rowids)
        return {row["rowid"]: _article(row, with_text=False) for row in rows}

    def stats(self) -> IndexStats:
        """Counts, sources, date range, generation and size on disk."""
        return index_stats(self.generation_dir, self._db())

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


def _ranks_of(ids: np.ndarray, ranked: np.ndarray) -> np.ndarray:
    """1-based rank of each of the sorted `ids` in `ranked` (a subset of them), 0 where absent."""
    ranks = np.zeros(len(ids), dtype=np.int64)
    ranks[np.searchsorted(ids, ranked)] = np.arange(1, len(ranked) + 1)
    return ranks


def _article(row: sqlite3.Row, *, with_text: bool) -> ArticleRecord:
    return ArticleRecord(
        id=row["id"],
        title=row["title"],
        source=row["source"],
        author=row["author"],
        date=row["date"],
        url=row["url"],
        tags=tuple(json.loads(row["tags"])),
        text=unpack_text(row["body"]) if with_text else None,
    )


def index_stats(generation: Path, conn: sqlite3.Connection | None = None) -> IndexStats:
    """What a generation holds; needs no model."""
    manifest = read_manifest(generation)
    db = conn or open_store(generation / STORE, readonly=True)
    try:
        sources = db.execute(
            "SELECT COALESCE(source, ''), COUNT(*) FROM articles GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
        low, high = db.execute("SELECT MIN(date), MAX(date) FROM articles").fetchone()
    finally:
        if conn is None:
            db.close()
    size = sum(p.stat().st_size for p in generation.rglob("*") if p.is_file())
    return IndexStats(
        articles=manifest.articles, passages=manifest.passages,
        sources=[(name, int(count)) for name, count in sources if name],
        date_min=low, date_max=high, generation=manifest.generation,
        built_at=manifest.built_at, model=manifest.model_id, bytes_on_disk=size,
    )  # fmt: skip
