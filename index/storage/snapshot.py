"""A reader's snapshot of an index: one commit, its open segments and their tombstones.

A snapshot never changes; `refresh` returns the next one, which opens only the segments it does
not have yet and shares the rest (nothing unchanged is read again). Passages are addressed by
id; a snapshot also numbers them by position (segment after segment) for per-query arrays.
Searches rank with it (`dense_top`, `bm25`, `cosine`) and read articles and passages with it
(`passage_rows`, `article_metas`, ...), each read written here once: the catalog's rows through
its `view`, which holds the same commit open (index/storage/view.py), so segments and metadata alike
come from one commit. The view is released when the snapshot is dropped or closed.

A sharded index answers the same reads by asking its shards and combining their answers by one
rule a read (policy_search.search.shards); policy_search.search.corpus names what both answer.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, Required, TypedDict, Unpack

import numpy as np

from policy_search.index.errors import UnknownPassages
from policy_search.index.storage.catalog import Catalog, Conditions, PassageRow, Texts
from policy_search.index.storage.columns import ArticleColumns, Columns, PassageColumns
from policy_search.index.storage.lexical import (
    CorpusStats,
    Totals,
    corpus_scores,
    document_frequencies,
)
from policy_search.index.storage.manifest import Manifest
from policy_search.index.storage.segment import LiveSegment
from policy_search.index.storage.store import open_catalog, read_manifest, segments_dir
from policy_search.index.storage.vectors import EXACT_BELOW, vector_kind
from policy_search.index.storage.view import ReadView
from policy_search.records import Article, ArticleMeta, SourceCount, Stats

__all__ = ["Allowed", "Evidence", "LexicalQuery", "Pass", "Restriction", "Snapshot"]


class Restriction(Protocol):
    """A query's filters, as the snapshot applies them (policy_search.search.filters.Filters):
    on the articles' metadata (through the view), then on the passages' words (the terms every
    passage must hold, and those none may hold, through the lexical postings)."""

    @property
    def required(self) -> tuple[str, ...]: ...

    @property
    def excluded(self) -> tuple[str, ...]: ...

    def conditions(self, view: ReadView) -> Conditions | None: ...

    def excluded_ids(self, view: ReadView) -> np.ndarray | None: ...


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class Allowed:
    """A query's filters as a corpus's `restrict` returns them, handed back as they are to its
    ranking reads (`evidence`, `dense_top`): opaque to the searcher. A snapshot applies them
    once, to its own commit (`ids`); a sharded index hands them to each shard to apply there."""

    filters: Restriction
    ids: np.ndarray | None = None  # the sorted ids of the passages that pass (None: every one)
    commit: tuple[Path, int] | None = None  # the index and generation `ids` are of (None: none)


class Pass(TypedDict, total=False):
    """How a query's first pass reads a corpus (`evidence`, and the searcher's ranking calls
    that hand it on): its mode, each side's depth, a floor on the scores shown, the filters."""

    mode: Required[str]
    depth: Required[int]
    min_score: float | None
    allowed: Allowed | None


class _Catalogs(threading.local):
    """One read-only catalog connection a thread, shared by a snapshot and its successors: it
    sees the latest commit, which `refresh` compares with the snapshot's."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir
        self.catalog: Catalog | None = None

    def get(self) -> Catalog:
        if self.catalog is None:
            self.catalog = open_catalog(self.index_dir, readonly=True)
        return self.catalog


class Snapshot:
    """One commit of an index, open for reading; safe to share between threads."""

    def __init__(
        self,
        index_dir: Path,
        manifest: Manifest,
        parts: list[LiveSegment],
        catalogs: _Catalogs,
        view: ReadView,
    ) -> None:
        self.index_dir = index_dir
        self.manifest = manifest
        self.generation = manifest.generation
        self._parts = parts
        self._catalogs = catalogs
        self.view = view
        self._release = weakref.finalize(self, view.close)
        self.segments = [p.segment for p in parts]
        empty = np.zeros(0, dtype=np.int64)
        self.ids = np.concatenate([empty, *(p.segment.ids for p in parts)])
        self.articles = np.concatenate([empty, *(p.segment.articles for p in parts)])
        self.live = np.concatenate([np.zeros(0, bool), *(~p.dead for p in parts)])
        self._offsets = np.cumsum([0, *(len(p.segment) for p in parts)])
        self._position = np.full(int(self.ids.max(initial=-1)) + 1, -1, dtype=np.int64)
        self._position[self.ids] = np.arange(len(self.ids))
        self.passages = int(self.live.sum())
        self.kind = vector_kind(manifest.vector_kind)
        self.vector_kind = self.kind.name
        self.bytes = sum(p.segment.bytes for p in parts)
        self._lexical = [(p.segment.lexical, ~p.dead) for p in parts]
        self._stats = CorpusStats.of(self._lexical, manifest.lexical)  # once, not per query
        self.totals = CorpusStats.totals(self._lexical)
        self._columns: Columns | None = None  # what facets and date sorts read: on first use
        self._columns_lock = threading.Lock()

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, index_dir: Path, *, checksums: bool = True) -> Snapshot:
        """Open the index's latest commit, checking the catalog and each segment's files."""
        catalogs = _Catalogs(index_dir)
        catalog = catalogs.get()
        catalog.check()
        return cls._build(index_dir, catalogs, {}, -1, checksums=checksums)

    def refresh(self) -> Snapshot:
        """The latest commit: this snapshot when nothing was committed since."""
        catalog = self._catalogs.get()
        if catalog.replaced():  # rebuilt from nothing: every segment is new
            return Snapshot.open(self.index_dir)
        generation = catalog.meta("generation", 0)
        if generation == self.generation:
            self.view.settle()  # a quiet moment: let the write-ahead log start over
            return self
        held = {p.segment.name: p for p in self._parts}
        return self._build(
            self.index_dir, self._catalogs, held, self.generation, texts=self.view.texts
        )

    def close(self) -> None:
        """Release the snapshot's view of its commit now rather than when it is dropped."""
        self._release()

    @classmethod
    def _build(
        cls,
        index_dir: Path,
        catalogs: _Catalogs,
        held: dict[str, LiveSegment],
        since: int,
        *,
        checksums: bool = True,
        texts: Texts | None = None,
    ) -> Snapshot:
        view = ReadView.begin(catalogs.get().path, texts)  # holds the latest commit from now on
        try:
            return cls._assemble(index_dir, catalogs, held, since, view, checksums)
        except BaseException:
            view.close()
            raise

    @classmethod
    def _assemble(
        cls,
        index_dir: Path,
        catalogs: _Catalogs,
        held: dict[str, LiveSegment],
        since: int,
        view: ReadView,
        checksums: bool,
    ) -> Snapshot:
        with view.reading() as catalog:  # the segment list and the tombstones of its commit
            manifest = read_manifest(catalog)
            rows = catalog.segments()
            bases = [r.base for r in rows if r.name not in held]
            oldest = min([since, *bases]) if bases else since
            deleted, when = catalog.deletions(max(oldest, -1))
        root = segments_dir(index_dir)
        parts = []
        for row in rows:
            part = held.get(row.name)
            parts.append(
                part.deleting(deleted[when > since])
                if part is not None
                else LiveSegment.open(
                    root, row, manifest, deleted[when > row.base], checksums=checksums
                )
            )
        return cls(index_dir, manifest, parts, catalogs, view)

    # -- passages by position ------------------------------------------------------------

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Each passage id's position in this snapshot, -1 where it holds none."""
        ids = np.asarray(ids, dtype=np.int64)
        inside = (ids >= 0) & (ids < len(self._position))
        out = np.full(len(ids), -1, dtype=np.int64)
        out[inside] = self._position[ids[inside]]
        return out

    def live_ids(self, ids: np.ndarray) -> np.ndarray:
        """The ids among `ids` that are live passages of this snapshot."""
        positions = self.positions(ids)
        keep = positions >= 0
        keep[keep] = self.live[positions[keep]]
        return np.asarray(ids, dtype=np.int64)[keep]

    # -- scoring -------------------------------------------------------------------------

    def bm25(self, terms: list[str], corpus: tuple[Totals, np.ndarray] | None = None) -> np.ndarray:
        """BM25 of every position for the query terms, with the whole live index's statistics
        (0 for deleted passages), or a larger corpus's: its totals and the document frequency
        of each of `sorted(set(terms))` (the shards of one index score as one index)."""
        stats, df = self._stats, None
        if corpus is not None:
            stats = CorpusStats.of(self._lexical, self.manifest.lexical, corpus[0])
            df = corpus[1]
        scores = corpus_scores(self._lexical, terms, self.manifest.lexical, stats, df)
        return np.concatenate([np.zeros(0, np.float32), *scores])

    def document_frequencies(self, terms: list[str]) -> np.ndarray:
        """How many live passages hold each of `sorted(set(terms))`."""
        return document_frequencies(self._lexical, sorted(set(terms)))

    def lexical(
        self,
        terms: list[str],
        allowed: np.ndarray | None = None,
        corpus: tuple[Totals, np.ndarray] | None = None,
    ) -> LexicalQuery:
        """One query's BM25 over this snapshot, restricted to `allowed` (sorted ids)."""
        scores = self.bm25(terms, corpus)
        if allowed is not None:
            mask = np.zeros(len(scores), dtype=bool)
            positions = self.positions(allowed)
            mask[positions[positions >= 0]] = True
            scores = np.where(mask, scores, 0.0).astype(np.float32)
        return LexicalQuery(self, scores)

    def restrict(self, filters: Restriction) -> Allowed:
        """A query's filters applied: the passages that pass them."""
        return Allowed(filters, self._passing(filters), (self.index_dir, self.generation))

    def _allowed(self, allowed: Allowed | None) -> np.ndarray | None:
        """The sorted ids that `allowed` lets through in this commit (None: every one)."""
        if allowed is None:
            return None
        if allowed.commit != (self.index_dir, self.generation):  # another commit's, or none
            allowed = self.restrict(allowed.filters)
        return allowed.ids

    def _passing(self, filters: Restriction) -> np.ndarray | None:
        """The sorted ids of the passages that pass a query's filters (None: every one)."""
        allowed = self._meeting(filters.conditions(self.view))
        if filters.required:
            held = self.holding(filters.required, every=True)
            allowed = held if allowed is None else np.intersect1d(allowed, held)
        removed = [self.holding(filters.excluded, every=False)] if filters.excluded else []
        if (named := filters.excluded_ids(self.view)) is not None:
            removed.append(named)
        if removed:
            if allowed is None:
                allowed = np.sort(self.ids[self.live])
            allowed = np.setdiff1d(allowed, np.concatenate(removed))
        return allowed

    def _meeting(self, conditions: Conditions | None) -> np.ndarray | None:
        """The sorted ids of the live passages that meet the filters' conditions (None: every
        one; `conditions` None: none). Conditions on articles alone are met by articles in SQL
        (thousands of rows), whose passages are then this snapshot's own arrays: the passages
        of a ten-year range are tens of thousands, and reading them from SQL row by row took
        half of a loaded server's time."""
        if conditions is None:
            return np.zeros(0, dtype=np.int64)
        if not conditions.terms:
            return None
        if conditions.per_passage:
            return self.view.read(Catalog.matching_passages, conditions)
        rowids = self.view.read(Catalog.matching_articles, conditions)
        if rowids is None:
            return None
        size = max(int(self.articles.max(initial=-1)), int(rowids.max(initial=-1))) + 1
        wanted = np.zeros(size, dtype=bool)
        wanted[rowids] = True
        return np.sort(self.ids[wanted[self.articles] & self.live])

    def holding(self, terms: Sequence[str], *, every: bool) -> np.ndarray:
        """The sorted ids of the live passages that hold every one of `terms` (or any one)."""
        found = [np.zeros(0, dtype=np.int64)]
        for part, live in self._lexical:
            mask = np.ones(len(part), dtype=bool) if every else np.zeros(len(part), dtype=bool)
            for term in set(terms):
                rows, _ = part.postings(term)
                has = np.zeros(len(part), dtype=bool)
                has[rows] = True
                mask = mask & has if every else mask | has
            found.append(np.asarray(part.ids, dtype=np.int64)[mask & live])
        return np.sort(np.concatenate(found))

    # -- rows, from the catalog in this commit ----------------------------------------------

    def passage_rows(self, ids: Sequence[int]) -> dict[int, PassageRow]:
        """Live passages by id, with their text and their article's metadata (ids the commit
        lacks are left out)."""
        return self.view.read(Catalog.passage_rows, [int(i) for i in ids], self.view.texts)

    def article_metas(self, keys: Sequence[int]) -> dict[int, ArticleMeta]:
        """Articles' metadata by key (`article_keys`: their catalog rowids)."""
        return self.view.read(Catalog.article_metas, [int(k) for k in keys])

    def article(self, article_id: str) -> Article | None:
        """A whole article, or None."""
        return self.view.read(Catalog.article_record, article_id, self.view.texts)

    def passage_articles(self) -> dict[int, str]:
        """Every live passage id with its article id."""
        return self.view.read(Catalog.passage_articles)

    def facet_counts(self, ids: np.ndarray, facets: Sequence[str]) -> dict[str, dict[str, int]]:
        """For each facet, each value's count of the distinct articles of these passages that
        have it (a country: named by one of these passages of the article)."""
        positions = self.positions(self.live_ids(ids))
        return self.columns().facet_counts(positions, list(facets))

    def passage_dates(self, ids: np.ndarray) -> dict[int, str]:
        """The start of each dated passage's article date (ISO 8601), by passage id."""
        ids = self.live_ids(ids)
        dates = self.columns().dates(self.positions(ids))
        return {i: d for i, d in zip(ids.tolist(), dates, strict=True) if d is not None}

    def columns(self) -> Columns:
        """What facets and date sorts read, as arrays: read on first use, once a snapshot (and
        once a segment: index/storage/columns.py)."""
        with self._columns_lock:
            if self._columns is None:
                articles = self.view.read(ArticleColumns.read)
                # Not a method of self: the columns would hold the snapshot in a cycle, and its
                # view open until the garbage collector found it (index/storage/view.py).
                parts = functools.partial(_segment_columns, self.view, self._parts)
                self._columns = Columns(articles, self._offsets, self.articles, parts)
            return self._columns

    def passage_days(self, ids: np.ndarray) -> np.ndarray:
        """The day of each of these live passages' article date as a number to order by
        (2024-05-01 → 20240501, 2024 → 20240000; -1: undated)."""
        return self.columns().days(self._live_positions(ids))

    def stats(self) -> Stats:
        """Counts, sources, date range, generation and size on disk; needs no model."""
        view, manifest = self.view, self.manifest
        low, high = view.read(Catalog.date_span)
        sources = [SourceCount(source=name, articles=n) for name, n in view.read(Catalog.sources)]
        return Stats(
            articles=manifest.articles, passages=self.passages, sources=sources,
            date_min=low, date_max=high, generation=manifest.generation,
            built_at=manifest.built_at, model=manifest.model_id,
            bytes_on_disk=self.bytes + view.read(Catalog.size),
        )  # fmt: skip

    def evidence(
        self,
        vector: np.ndarray,
        terms: list[str],
        **options: Unpack[Pass],
    ) -> Evidence:
        """A query's first pass: each side's best `depth` passages (dense for `vector` unless
        `mode` is lexical, BM25 for `terms` unless it is dense) and their scores on the other
        side (`Evidence.again`: the same for another vector)."""
        passing = self._allowed(options.get("allowed"))
        mode = options["mode"]
        query = self.lexical(terms, passing) if mode != "dense" else None
        return Evidence(self, vector, query, mode=mode, depth=options["depth"],
                        min_score=options.get("min_score"), allowed=passing)  # fmt: skip

    def article_keys(self, ids: np.ndarray) -> np.ndarray:
        """The article (its catalog rowid) of each of these live passages."""
        return self.articles[self._live_positions(ids)]

    def _live_positions(self, ids: np.ndarray) -> np.ndarray:
        """The positions of these passage ids; UnknownPassages if one is not a live passage."""
        positions = self.positions(ids)
        live = positions >= 0
        live[live] = self.live[positions[live]]
        if not live.all():
            missing = np.asarray(ids, dtype=np.int64)[~live][:5].tolist()
            raise UnknownPassages(
                f"passages {missing} are not live in generation {self.generation} of "
                f"{self.index_dir}"
            )
        return positions

    def centroid(self, article_id: str) -> tuple[int, int, np.ndarray] | None:
        """An article's rowid, its live passage count and the normalised mean of their vectors
        (zeros when it has none); None when there is no such article."""
        found = self.view.read(Catalog.article_row, article_id)
        if found is None:
            return None
        own = self.live_ids(self.view.read(Catalog.article_passages, found.rowid))
        if len(own) == 0:
            return found.rowid, 0, np.zeros(self.manifest.dim, dtype=np.float32)
        centroid = self.vectors(own).mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        return found.rowid, len(own), centroid

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of these live passages, in order."""
        ids = np.asarray(ids, dtype=np.int64)
        out = np.zeros((len(ids), self.manifest.dim), dtype=np.float32)
        positions = self._live_positions(ids)
        which = np.searchsorted(self._offsets, positions, side="right") - 1
        for s in np.unique(which):
            mask = which == s
            out[mask] = self._parts[int(s)].segment.reconstruct(ids[mask])
        return out

    def cosine(self, vector: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """The inner product of `vector` with each passage's stored vector."""
        if len(ids) == 0:
            return np.zeros(0, dtype=np.float32)
        # Row by row (einsum), not a matrix product: BLAS sums a row otherwise by its place in
        # the batch, and places follow passage ids, so a segment layout would move a score.
        return np.einsum("ij,j->i", self.vectors(ids), vector)

    def dense_top(
        self, vector: np.ndarray, n: int, allowed: Allowed | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The `n` live passages nearest to `vector` (ids, scores; best first, ties by id),
        among those `allowed` (`restrict`) when given."""
        return self._dense_top(vector, n, self._allowed(allowed))

    def _dense_top(
        self, vector: np.ndarray, n: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        if allowed is not None:
            allowed = self.live_ids(allowed)
            if not self.kind.exact and len(allowed) <= EXACT_BELOW:
                # Graphs and lists lose recall under a filter: score the allowed passages directly.
                return _top(allowed, self.cosine(vector, allowed), n)
        found_ids, found_scores = [np.zeros(0, np.int64)], [np.zeros(0, np.float32)]
        which = None
        if allowed is not None:  # each allowed (live) id's segment, by its position
            which = np.searchsorted(self._offsets, self.positions(allowed), side="right") - 1
        for s, part in enumerate(self._parts):
            if which is None or allowed is None:
                mine = None
                excluded = part.dead_ids if len(part.dead_ids) else None
            else:
                mine = allowed[which == s]
                excluded = None
                if len(mine) == 0:
                    continue
            ids, scores = part.segment.search(vector, n, mine, excluded)
            found_ids.append(ids)
            found_scores.append(scores)
        return _top(np.concatenate(found_ids), np.concatenate(found_scores), n)


class LexicalQuery:
    """One query's BM25 scores over a snapshot: its best passages, any passage's score, and
    how many matched."""

    def __init__(self, snapshot: Snapshot, scores: np.ndarray) -> None:
        self.snapshot = snapshot
        self.scores = scores  # by position

    def top(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The ids and scores of the `n` best passages with a query word, by score and then
        id (so that the best `n` are always a prefix of the best `n + 1`)."""
        scores, ids = self.scores, self.snapshot.ids
        matched = np.flatnonzero(scores > 0)
        if len(matched) > n:
            found = scores[matched]  # gathered once; the n-th best value by partition alone
            kth = -np.partition(-found, n - 1)[n - 1]
            above = matched[found > kth]
            tied = matched[found == kth]
            tied = tied[np.argsort(ids[tied], kind="stable")][: n - len(above)]
            matched = np.concatenate([above, tied])
        rows = matched[np.lexsort((ids[matched], -scores[matched]))]
        return ids[rows], scores[rows]

    def of(self, ids: np.ndarray) -> np.ndarray:
        """The scores of these passage ids (0 for any the snapshot lacks)."""
        rows = self.snapshot.positions(ids)
        return np.where(rows >= 0, self.scores[np.maximum(rows, 0)], 0.0).astype(np.float32)

    def matched(self, min_score: float | None = None) -> int:
        """How many passages have a query word (and at least `min_score`)."""
        matched = self.scores > 0
        if min_score is not None:
            matched &= self.scores >= min_score
        return int(matched.sum())


class Evidence:
    """A query's first pass over a snapshot: both sides' candidates, and any passage's score on
    either side (policy_search.search.corpus.Evidence; search/shards.py's `ShardedEvidence` is
    its sharded twin)."""

    def __init__(
        self,
        snapshot: Snapshot,
        vector: np.ndarray,
        lexical: LexicalQuery | None,
        *,
        mode: str,
        depth: int,
        min_score: float | None,
        allowed: np.ndarray | None,
    ) -> None:
        self.snapshot, self.vector, self.lexical = snapshot, vector, lexical
        self.mode, self.depth, self.min_score, self.allowed = mode, depth, min_score, allowed
        self.lexical_ids = lexical.top(depth)[0] if lexical is not None else _NO_IDS
        # What paging yields in lexical mode: every match, candidate or not.
        self.matched = lexical.matched(min_score) if lexical and mode == "lexical" else 0
        self.dense_ids, self.dense_scores = _NO_IDS, np.zeros(0, dtype=np.float32)
        if mode != "lexical":
            self.dense_ids, self.dense_scores = snapshot._dense_top(vector, depth, allowed)

    def again(self, vector: np.ndarray) -> Evidence:
        """The same query's evidence for another vector (feedback's), its lexical side reused."""
        return Evidence(self.snapshot, vector, self.lexical, mode=self.mode, depth=self.depth,
                        min_score=self.min_score, allowed=self.allowed)  # fmt: skip

    def cosine(self, ids: np.ndarray) -> np.ndarray:
        """The query vector's cosine with each of these passages."""
        return self.snapshot.cosine(self.vector, ids)

    def bm25(self, ids: np.ndarray) -> np.ndarray:
        """Each of these passages' BM25 for the query (0 without a lexical side)."""
        if self.lexical is None:
            return np.zeros(len(ids), dtype=np.float32)
        return self.lexical.of(ids)


_NO_IDS = np.zeros(0, dtype=np.int64)


def _segment_columns(view: ReadView, parts: list[LiveSegment]) -> list[PassageColumns]:
    """Each segment's columns, read in the view's commit where those it keeps lack a live row."""
    return [p.segment.columns.get(~p.dead, functools.partial(
                view.read, PassageColumns.read, p.segment.ids, ~p.dead))
            for p in parts]  # fmt: skip


def _top(ids: np.ndarray, scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The best `n` by score, ties by id."""
    order = np.lexsort((ids, -scores))[:n]
    return ids[order], scores[order].astype(np.float32)
