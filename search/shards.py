"""A sharded index searched as one: each shard answers its part of a query, the searcher fuses.

The searcher ranks over a *corpus*: one index's `Snapshot`, or a `ShardedSnapshot` over the
shards of a sharded index (policy_search.index.shards), which answers the same calls by asking
every shard and merging. Each call is exact, so a sharded index answers what one index over
the same articles answers, to the bit:

- BM25 scores with the whole index's statistics: the shards' live passage counts and lengths
  (`Totals`) and each query term's document frequency are summed first, and every shard scores
  with those (`ShardReader.lexical_top`, `bm25_of`).
- A side's best `n` of the whole index are among the union of each shard's best `n`, and the
  merge orders them as one index does (score, then passage id: ids are unique across shards).
- Cosines, vectors and passage rows are per passage, so asking the passage's own shard changes
  nothing; article keys are `rowid · S + shard`, unique across shards.

Shards are reached through `ShardClient`s: `LocalShard` calls a `ShardReader` in this process
(a sharded index served or searched on one machine); api/ray_serve.py reaches a Ray Serve
deployment of one. Every wait on a shard is bounded (`timeout`): one that does not answer is
`ShardUnavailable` (HTTP 503), never a hang.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from policy_search.index.catalog import PassageRow
from policy_search.index.errors import IndexMismatch, ShardUnavailable
from policy_search.index.lexical import Totals
from policy_search.index.manifest import Manifest
from policy_search.index.shards import ShardSet, is_sharded, shard_of
from policy_search.index.snapshot import LexicalQuery, Restriction, Snapshot
from policy_search.records import Article, ArticleMeta, SourceCount, Stats

__all__ = [
    "Corpus",
    "LocalShard",
    "ShardClient",
    "ShardInfo",
    "ShardReader",
    "ShardedSnapshot",
    "open_corpus",
]

DEFAULT_TIMEOUT = 30.0  # seconds a query waits on a shard


@dataclasses.dataclass(frozen=True, slots=True)
class ShardInfo:
    """What a shard's latest commit is: its generation, BM25 totals and manifest."""

    generation: int
    totals: Totals
    manifest: Manifest
    passages: int


Corpus = tuple[Totals, np.ndarray]  # a whole index's BM25 totals and a query's frequencies


class ShardReader:
    """One shard's half of every query, over its latest commit (refreshed as each call comes):
    plain data in and out, so that it can answer from another process or machine."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir
        self.snapshot = Snapshot.open(index_dir)
        self._lock = threading.Lock()
        # The last queries' BM25 scores and filters' passages: a query asks for its lexical
        # top and then for the scores of other candidates, each computed once.
        self._lexical: OrderedDict[tuple, LexicalQuery] = OrderedDict()
        self._allowed: OrderedDict[tuple, np.ndarray | None] = OrderedDict()

    def _current(self) -> Snapshot:
        with self._lock:
            fresh = self.snapshot.refresh()
            if fresh is not self.snapshot:
                self.snapshot = fresh
                self._lexical.clear()
                self._allowed.clear()
            return fresh

    def _restricted(self, snapshot: Snapshot, filters: Restriction | None) -> np.ndarray | None:
        if filters is None:
            return None
        key = (snapshot.generation, filters)
        with self._lock:
            if key in self._allowed:
                return self._allowed[key]
        allowed = snapshot.restrict(filters)
        with self._lock:
            _remember(self._allowed, key, allowed)
        return allowed

    def _query(self, terms: list[str], filters: Restriction | None, corpus: Corpus) -> LexicalQuery:
        snapshot = self._current()
        key = (snapshot.generation, tuple(terms), filters, corpus[0], corpus[1].tobytes())
        with self._lock:
            if key in self._lexical:
                return self._lexical[key]
        query = snapshot.lexical(terms, self._restricted(snapshot, filters), corpus)
        with self._lock:
            _remember(self._lexical, key, query)
        return query

    # -- the calls ------------------------------------------------------------------------

    def info(self) -> ShardInfo:
        snapshot = self._current()
        return ShardInfo(snapshot.generation, snapshot.totals, snapshot.manifest,
                         snapshot.passages)  # fmt: skip

    def lexical_stats(self, terms: list[str]) -> tuple[Totals, np.ndarray]:
        """This shard's BM25 totals and its frequency of each of `sorted(set(terms))`."""
        snapshot = self._current()
        return snapshot.totals, snapshot.document_frequencies(terms)

    def lexical_top(
        self,
        terms: list[str],
        n: int,
        min_score: float | None,
        filters: Restriction | None,
        corpus: Corpus,
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """This shard's best `n` by BM25 with the whole index's statistics, and its count of
        matches (at least `min_score`)."""
        query = self._query(terms, filters, corpus)
        ids, scores = query.top(n)
        return ids, scores, query.matched(min_score)

    def bm25_of(
        self, terms: list[str], filters: Restriction | None, corpus: Corpus, ids: np.ndarray
    ) -> np.ndarray:
        return self._query(terms, filters, corpus).of(ids)

    def dense_top(
        self, vector: np.ndarray, n: int, filters: Restriction | None
    ) -> tuple[np.ndarray, np.ndarray]:
        snapshot = self._current()
        return snapshot.dense_top(vector, n, self._restricted(snapshot, filters))

    def cosine(self, vector: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return self._current().cosine(vector, ids)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        return self._current().vectors(ids)

    def passages(self, ids: np.ndarray) -> dict[int, PassageRow]:
        return self._current().view.passages([int(i) for i in ids])

    def article_keys(self, ids: np.ndarray) -> np.ndarray:
        return self._current().article_keys(ids)

    def articles(self, rowids: list[int]) -> dict[int, ArticleMeta]:
        return self._current().view.articles(rowids)

    def centroid(self, article_id: str) -> tuple[int, int, np.ndarray] | None:
        return self._current().centroid(article_id)

    def article(self, article_id: str) -> Article | None:
        return self._current().view.article(article_id)

    def passage_articles(self) -> dict[int, str]:
        return self._current().view.passage_articles()

    def stats(self) -> Stats:
        return self._current().stats()


def _remember(cache: OrderedDict, key: tuple, value: Any, size: int = 16) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)


class Reply(Protocol):
    """A shard's answer on its way."""

    def result(self, timeout: float) -> Any: ...


class ShardClient(Protocol):
    """How the searcher reaches one shard: `submit(name, *args)` calls `ShardReader.name`."""

    def submit(self, method: str, *args: Any) -> Reply: ...


class _Done:
    """A reply already there (a call made in this process)."""

    def __init__(self, call: Callable[[], Any]) -> None:
        try:
            self.value, self.error = call(), None
        except Exception as exc:  # re-raised to the caller by result(), as a remote one is
            self.value, self.error = None, exc

    def result(self, timeout: float) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


class LocalShard:
    """A shard read in this process."""

    def __init__(self, reader: ShardReader) -> None:
        self.reader = reader

    def submit(self, method: str, *args: Any) -> Reply:
        return _Done(lambda: getattr(self.reader, method)(*args))


@dataclasses.dataclass(frozen=True, slots=True)
class _Restricted:
    """A query's filters, applied by each shard to its own passages."""

    filters: Restriction


class ShardedSnapshot:
    """The shards of one index, searched as one index (see the module docstring)."""

    def __init__(
        self,
        index_dir: Path,
        shards: Sequence[ShardClient],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        infos: list[ShardInfo] | None = None,
        owners: _Owners | None = None,
    ) -> None:
        self.index_dir = index_dir
        self.shards = list(shards)
        self.timeout = timeout
        self.infos = infos if infos is not None else self._gather("info")
        self.manifest = _one_manifest(index_dir, self.infos)
        self.generation = self.manifest.generation
        self.vector_kind = self.manifest.vector_kind
        self.passages = sum(i.passages for i in self.infos)
        self.totals = sum((i.totals for i in self.infos), Totals(0, 0))
        self.view = ShardedView(self)
        self._owners = owners or _Owners()

    # -- fan-out ----------------------------------------------------------------------------

    def _gather(self, method: str, *args: Any, per_shard: list[tuple] | None = None) -> list[Any]:
        """Every shard's answer to one call (its own arguments from `per_shard`)."""
        calls = per_shard or [args] * len(self.shards)
        replies = [s.submit(method, *a) for s, a in zip(self.shards, calls, strict=True)]
        return [self._wait(r, s) for s, r in enumerate(replies)]

    def _wait(self, reply: Reply, shard: int) -> Any:
        try:
            return reply.result(self.timeout)
        except TimeoutError:
            raise ShardUnavailable(
                f"shard {shard} of the index at {self.index_dir} did not answer within "
                f"{self.timeout:g} s; try again, or raise POLICY_SEARCH_SHARD_TIMEOUT"
            ) from None

    def _by_shard(self, ids: np.ndarray) -> dict[int, np.ndarray]:
        """Positions in `ids` of each shard's passages (ids no shard answered with: none)."""
        owners = self._owners.of(ids)
        return {s: np.flatnonzero(owners == s) for s in np.unique(owners[owners >= 0]).tolist()}

    def _per_passage(
        self, method: str, ids: np.ndarray, *args: Any
    ) -> list[tuple[np.ndarray, Any]]:
        """Ask each shard about its own of `ids` (the call's last argument): (positions in
        `ids`, answer) of each."""
        ids = np.asarray(ids, dtype=np.int64)
        groups = self._by_shard(ids)
        replies = {s: self.shards[s].submit(method, *args, ids[where])
                   for s, where in groups.items()}  # fmt: skip
        return [(groups[s], self._wait(r, s)) for s, r in replies.items()]

    def _top(self, found: list[tuple[np.ndarray, np.ndarray]], n: int) -> tuple[np.ndarray, ...]:
        for s, (ids, _) in enumerate(found):
            self._owners.note(ids, s)
        ids = np.concatenate([np.zeros(0, np.int64), *(f[0] for f in found)])
        scores = np.concatenate([np.zeros(0, np.float32), *(f[1] for f in found)])
        order = np.lexsort((ids, -scores))[:n]
        return ids[order], scores[order].astype(np.float32)

    # -- what Searcher asks of a corpus ------------------------------------------------------

    def refresh(self) -> ShardedSnapshot:
        """The shards' latest commits: this snapshot when none changed."""
        infos = self._gather("info")
        if [i.generation for i in infos] == [i.generation for i in self.infos]:
            return self
        return ShardedSnapshot(self.index_dir, self.shards, timeout=self.timeout, infos=infos,
                               owners=self._owners)  # fmt: skip

    def close(self) -> None:
        """Nothing to release here: each shard holds its own commit."""

    def restrict(self, filters: Restriction) -> _Restricted:
        return _Restricted(filters)

    def lexical(self, terms: list[str], allowed: _Restricted | None = None) -> ShardedLexical:
        stats = self._gather("lexical_stats", terms)
        totals = sum((t for t, _ in stats), Totals(0, 0))
        df = np.sum([d for _, d in stats], axis=0) if stats else np.zeros(0)
        filters = allowed.filters if allowed is not None else None
        return ShardedLexical(self, terms, filters, (totals, np.asarray(df, dtype=np.float64)))

    def dense_top(
        self, vector: np.ndarray, n: int, allowed: _Restricted | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        filters = allowed.filters if allowed is not None else None
        return self._top(self._gather("dense_top", vector, n, filters), n)  # type: ignore[return-value]

    def cosine(self, vector: np.ndarray, ids: np.ndarray) -> np.ndarray:
        out = np.zeros(len(ids), dtype=np.float32)
        for where, scores in self._per_passage("cosine", ids, vector):
            out[where] = scores
        return out

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        out = np.zeros((len(ids), self.manifest.dim), dtype=np.float32)
        for where, vectors in self._per_passage("vectors", ids):
            out[where] = vectors
        return out

    def article_keys(self, ids: np.ndarray) -> np.ndarray:
        out = np.full(len(ids), -1, dtype=np.int64)
        count = len(self.shards)
        for where, rowids in self._per_passage("article_keys", ids):
            out[where] = np.asarray(rowids, dtype=np.int64) * count + self._owners.of(
                np.asarray(ids)[where]
            )
        return out

    def centroid(self, article_id: str) -> tuple[int, int, np.ndarray] | None:
        s = shard_of(article_id, len(self.shards))
        found = self._wait(self.shards[s].submit("centroid", article_id), s)
        if found is None:
            return None
        rowid, own, centroid = found
        return rowid * len(self.shards) + s, own, centroid

    def stats(self) -> Stats:
        """The shards' statistics added up: what one index of their articles reports."""
        parts: list[Stats] = self._gather("stats")
        sources: dict[str, int] = {}
        for part in parts:
            for count in part.sources:
                sources[count.source] = sources.get(count.source, 0) + count.articles
        dates_min = [p.date_min for p in parts if p.date_min]
        dates_max = [p.date_max for p in parts if p.date_max]
        ordered = sorted(sources.items(), key=lambda item: (-item[1], item[0]))
        return Stats(
            articles=sum(p.articles for p in parts), passages=sum(p.passages for p in parts),
            sources=[SourceCount(source=name, articles=n) for name, n in ordered],
            date_min=min(dates_min, default=None), date_max=max(dates_max, default=None),
            generation=self.generation, built_at=self.manifest.built_at,
            model=self.manifest.model_id, bytes_on_disk=sum(p.bytes_on_disk for p in parts),
        )  # fmt: skip


class ShardedLexical:
    """One query's BM25 over every shard, with the whole index's statistics."""

    def __init__(
        self,
        corpus: ShardedSnapshot,
        terms: list[str],
        filters: Restriction | None,
        stats: Corpus,
    ) -> None:
        self.corpus, self.terms, self.filters, self.stats = corpus, terms, filters, stats
        self._matched: dict[float | None, int] = {}

    def top(self, n: int, min_score: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        found = self.corpus._gather("lexical_top", self.terms, n, min_score, self.filters,
                                    self.stats)  # fmt: skip
        self._matched[min_score] = sum(int(m) for _, _, m in found)
        return self.corpus._top([(i, s) for i, s, _ in found], n)  # type: ignore[return-value]

    def of(self, ids: np.ndarray) -> np.ndarray:
        out = np.zeros(len(ids), dtype=np.float32)
        answers = self.corpus._per_passage("bm25_of", ids, self.terms, self.filters, self.stats)
        for where, scores in answers:
            out[where] = scores
        return out

    def matched(self, min_score: float | None = None) -> int:
        if min_score not in self._matched:
            self.top(1, min_score)
        return self._matched[min_score]


class ShardedView:
    """The rows of a sharded index, each read from its own shard."""

    def __init__(self, corpus: ShardedSnapshot) -> None:
        self.corpus = corpus

    def passages(self, ids: Sequence[int]) -> dict[int, PassageRow]:
        rows: dict[int, PassageRow] = {}
        for _, found in self.corpus._per_passage("passages", np.asarray(ids, dtype=np.int64)):
            rows.update(found)
        return rows

    def articles(self, keys: Sequence[int]) -> dict[int, ArticleMeta]:
        count = len(self.corpus.shards)
        wanted: dict[int, list[int]] = {}
        for key in keys:
            wanted.setdefault(int(key) % count, []).append(int(key) // count)
        out: dict[int, ArticleMeta] = {}
        for s, rowids in wanted.items():
            found = self.corpus._wait(self.corpus.shards[s].submit("articles", rowids), s)
            out.update({rowid * count + s: meta for rowid, meta in found.items()})
        return out

    def article(self, article_id: str) -> Article | None:
        s = shard_of(article_id, len(self.corpus.shards))
        found: Article | None = self.corpus._wait(
            self.corpus.shards[s].submit("article", article_id), s
        )
        return found

    def passage_articles(self) -> dict[int, str]:
        merged: dict[int, str] = {}
        for part in self.corpus._gather("passage_articles"):
            merged.update(part)
        return merged


class _Owners:
    """Which shard holds each passage id, learnt from the shards' answers (ids are unique
    across shards and never move, so what is learnt stays true)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shard = np.full(0, -1, dtype=np.int16)

    def note(self, ids: np.ndarray, shard: int) -> None:
        if len(ids) == 0:
            return
        with self._lock:
            top = int(np.max(ids)) + 1
            if top > len(self._shard):
                grown = np.full(max(top, 2 * len(self._shard)), -1, dtype=np.int16)
                grown[: len(self._shard)] = self._shard
                self._shard = grown
            self._shard[ids] = shard

    def of(self, ids: np.ndarray) -> np.ndarray:
        shard = self._shard
        ids = np.asarray(ids, dtype=np.int64)
        inside = (ids >= 0) & (ids < len(shard))
        out = np.full(len(ids), -1, dtype=np.int64)
        out[inside] = shard[ids[inside]]
        return out


def _one_manifest(index_dir: Path, infos: list[ShardInfo]) -> Manifest:
    """The manifest of the shards taken as one index, refusing shards built differently."""
    first = infos[0].manifest
    for s, info in enumerate(infos[1:], start=1):
        m = info.manifest
        same = (m.model_id, m.dim, m.chunking, m.lexical, m.vector_kind) == (
            first.model_id, first.dim, first.chunking, first.lexical, first.vector_kind
        )  # fmt: skip
        if not same:
            raise IndexMismatch(
                f"shard {s} of the index at {index_dir} was built with model {m.model_id!r} "
                f"({m.vector_kind}, {m.chunking}) but shard 0 with {first.model_id!r} "
                f"({first.vector_kind}, {first.chunking}); rebuild it with `policy-search "
                "index --shards S`"
            )
    return dataclasses.replace(
        first,
        articles=sum(i.manifest.articles for i in infos),
        passages=sum(i.manifest.passages for i in infos),
        generation=sum(i.generation for i in infos),
        built_at=max(i.manifest.built_at for i in infos),
    )


def open_corpus(index_dir: Path, *, timeout: float = DEFAULT_TIMEOUT) -> Snapshot | ShardedSnapshot:
    """The latest commit of an index directory: one index's snapshot, or a sharded index's
    shards read in this process."""
    if not is_sharded(index_dir):
        return Snapshot.open(index_dir)
    shards = ShardSet.open(index_dir)
    return ShardedSnapshot(
        index_dir, [LocalShard(ShardReader(d)) for d in shards.dirs], timeout=timeout
    )
